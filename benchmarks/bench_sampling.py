"""Sampling speed of the generator families, measured against references taken in the same run.

    python benchmarks/bench_sampling.py                      # CPU: fp32, batches 256..4096
    python benchmarks/bench_sampling.py --device cuda        # + bf16/fp16, batches 256..65536
    python benchmarks/bench_sampling.py --device cuda --compile

Three tables (MNIST configs, untrained weights: speed does not depend on the weights):
1. ``sample`` throughput per family, batch size and dtype, with FLOPs per sample (torch.utils.flop_counter) and
   the achieved FLOP/s. Reduced precision runs under ``torch.autocast``.
2. ClassVAE: one batched ``sample`` over a balanced 10-class batch vs a loop of one ``sample`` call per class
   (target: batched >= 5x faster).
3. One epoch's SamplePool for a 1,000-image MNIST run (1,000 synthetic images) vs one training epoch of seed 001's
   CNN (``build_classifier("cnn")``, full width, Adam, batch 32) on 1,000 images (target: pool <= 25% of the epoch).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from learnedaug.metrics.classifiers import build_classifier
from learnedaug.mixing import SamplePool
from learnedaug.models import build_model

FAMILIES = ("cdcvae", "cdcgan", "classvae", "dvae")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MNIST = dict(num_classes=10, image_shape=(1, 28, 28))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--batch-sizes", nargs="+", type=int, help="default: 256 1024 4096 (CPU), up to 65536 (CUDA)")
    p.add_argument("--dtypes", nargs="+", choices=list(DTYPES), help="default: fp32 (CPU), fp32 bf16 fp16 (CUDA)")
    p.add_argument("--loop-sizes", nargs="+", type=int, help="ClassVAE batch sizes for table 2")
    p.add_argument("--compile", action="store_true", help="torch.compile each model's sample")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per cell (median reported)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--skip", nargs="*", default=[], choices=["throughput", "classvae", "pool"])
    return p.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def flops_per_sample(sample: Callable[[torch.Tensor], torch.Tensor], device: torch.device, n: int = 20) -> float:
    labels = torch.arange(n, device=device) % MNIST["num_classes"]
    with FlopCounterMode(display=False) as counter:
        sample(labels)
    return counter.get_total_flops() / n


def make_sampler(family: str, device: torch.device, compile_: bool) -> tuple[torch.nn.Module, Callable]:
    model = build_model(family, **MNIST).to(device).eval()
    sample = torch.compile(model.sample) if compile_ else model.sample
    return model, sample


def throughput(args: argparse.Namespace, device: torch.device) -> None:
    sizes = args.batch_sizes or ([256, 1024, 4096, 16384, 65536] if device.type == "cuda" else [256, 1024, 4096])
    dtypes = args.dtypes or (["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32"])
    print("\n## sample throughput\n")
    print("| family | MFLOP/sample | dtype | batch | samples/s | GFLOP/s |")
    print("|---|---:|---|---:|---:|---:|")
    for family in args.families:
        model, sample = make_sampler(family, device, args.compile)
        flops = flops_per_sample(model.sample, device)
        g = torch.Generator(device=device).manual_seed(0)
        for name in dtypes:
            for n in sizes:
                labels = torch.arange(n, device=device) % MNIST["num_classes"]

                def call() -> torch.Tensor:
                    with torch.autocast(device.type, dtype=DTYPES[name], enabled=name != "fp32"):
                        return sample(labels, generator=g)

                try:
                    t = seconds(call, device, args.repeats)
                except torch.OutOfMemoryError:
                    print(f"| {family} | {flops / 1e6:.1f} | {name} | {n} | out of memory | |")
                    torch.cuda.empty_cache()
                    continue
                print(f"| {family} | {flops / 1e6:.1f} | {name} | {n} | {n / t:,.0f} | {flops * n / t / 1e9:,.1f} |", flush=True)
        del model, sample


def classvae_batched_vs_loop(args: argparse.Namespace, device: torch.device) -> None:
    sizes = args.loop_sizes or ([1000, 10000, 65536] if device.type == "cuda" else [100, 1000, 4000])
    model, sample = make_sampler("classvae", device, args.compile)
    g = torch.Generator(device=device).manual_seed(0)
    print("\n## ClassVAE: one batched sample vs a per-class loop (target >= 5x)\n")
    print("| batch | batched ms | per-class loop ms | speed-up |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        labels = torch.arange(n, device=device) % model.num_classes
        members = [(labels == c).nonzero().squeeze(1) for c in range(model.num_classes)]

        def loop() -> torch.Tensor:
            out = torch.empty((n, *model.image_shape), device=device)
            for idx in members:
                out[idx] = sample(labels[idx], generator=g)
            return out

        batched = seconds(lambda: sample(labels, generator=g), device, args.repeats)
        looped = seconds(loop, device, args.repeats)
        print(f"| {n} | {batched * 1e3:.1f} | {looped * 1e3:.1f} | {looped / batched:.2f}x |", flush=True)


def pool_vs_classifier_epoch(args: argparse.Namespace, device: torch.device, n: int = 1000, batch: int = 32) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, *MNIST["image_shape"], generator=g).to(device)
    y = torch.randint(0, MNIST["num_classes"], (n,), generator=g).to(device)
    torch.manual_seed(0)
    clf = build_classifier("cnn", MNIST["image_shape"], MNIST["num_classes"]).to(device).train()
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)

    def epoch() -> None:
        for i in range(0, n, batch):
            loss = F.cross_entropy(clf(x[i : i + batch]), y[i : i + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    epoch_s = seconds(epoch, device, max(1, args.repeats - 1))
    print(f"\n## one epoch's SamplePool ({n} images) vs one CNN epoch ({n} images, batch {batch}: {epoch_s:.2f} s)")
    print("(target: pool <= 25% of the epoch)\n")
    print("| family | pool s | pool / epoch |")
    print("|---|---:|---:|")
    for family in args.families:
        model = build_model(family, **MNIST).to(device).eval()
        pool = SamplePool(model, n, batch_size=n)
        epoch_no = iter(range(1, 10**6))
        pool_s = seconds(lambda: pool.refill(next(epoch_no)), device, args.repeats)
        print(f"| {family} | {pool_s:.2f} | {pool_s / epoch_s:.1%} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# bench_sampling: torch {torch.__version__}, {name}, compile={args.compile}")
    torch.backends.cudnn.benchmark = True
    if "throughput" not in args.skip:
        throughput(args, device)
    if "classvae" not in args.skip:
        classvae_batched_vs_loop(args, device)
    if "pool" not in args.skip:
        pool_vs_classifier_epoch(args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
