"""Sampling speed of the generator families, measured against references taken in the same run.

    python benchmarks/bench_sampling.py                      # CPU: fp32, batches 256..4096
    python benchmarks/bench_sampling.py --device cuda        # + bf16/fp16, batches 256..65536
    python benchmarks/bench_sampling.py --device cuda --compile
    python benchmarks/bench_sampling.py --device cuda --cuda-graphs

Three tables (MNIST configs, untrained weights: speed does not depend on the weights):
1. ``sample`` throughput per family, batch size and dtype, with FLOPs per sample (torch.utils.flop_counter) and
   the achieved FLOP/s. Reduced precision runs under ``torch.autocast``. Then two checks: the best throughput
   against the target of 5 M MNIST samples/s, and the best achieved FLOP/s per dtype as a fraction of the GPU's
   dense peak (the FLOP floor; H100/H200 only, "n/a" elsewhere). ``--cuda-graphs`` times the replay of a CUDA
   graph captured from one call per cell instead: ``sample``'s device work (z ~ N(0, I), the decoder) on labels
   checked once before capture, since ``sample``'s label check reads the labels on the host, which capture forbids.
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

from learnedaug.classifiers import build_classifier
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
    speedup = p.add_mutually_exclusive_group()
    speedup.add_argument("--compile", action="store_true", help="torch.compile each model's sample")
    speedup.add_argument("--cuda-graphs", action="store_true", help="table 1: replay a CUDA graph of one call per cell")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per cell (median reported)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--skip", nargs="*", default=[], choices=["throughput", "classvae", "pool"])
    args = p.parse_args(argv)
    if args.cuda_graphs and torch.device(args.device).type != "cuda":
        p.error(f"--cuda-graphs needs a CUDA device (--device cuda), got --device {args.device}")
    return args


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


def device_work(model: torch.nn.Module, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """What ``sample`` runs on the device for checked (N,) labels: z ~ N(0, I) -> decoder -> (N, C, H, W) in [0, 1]."""
    z = torch.randn((labels.shape[0], model.latent_dim), generator=generator, device=labels.device)
    with torch.no_grad():
        if hasattr(model, "generate"):  # GAN
            return model.generate(z, labels).float()
        return model.decoder_mean(model.decode_logits(z, labels)).float()


def graph_replay(call: Callable[[], object], generator: torch.Generator, device: torch.device) -> Callable[[], None]:
    """``replay`` of a CUDA graph captured from one ``call``, after warm-up calls on a side stream (cuDNN's choice)."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            call()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    graph.register_generator_state(generator)
    with torch.cuda.graph(graph):
        call()
    return graph.replay


def throughput(args: argparse.Namespace, device: torch.device) -> list[tuple[str, str, int, float, float]]:
    """Print table 1; return its rows as (family, dtype, batch, samples/s, FLOP/s)."""
    sizes = args.batch_sizes or ([256, 1024, 4096, 16384, 65536] if device.type == "cuda" else [256, 1024, 4096])
    dtypes = args.dtypes or (["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32"])
    print("\n## sample throughput\n")
    print("| family | MFLOP/sample | dtype | batch | samples/s | GFLOP/s |")
    print("|---|---:|---|---:|---:|---:|")
    rows = []
    for family in args.families:
        model, sample = make_sampler(family, device, args.compile)
        flops = flops_per_sample(model.sample, device)
        g = torch.Generator(device=device).manual_seed(0)
        for name in dtypes:
            for n in sizes:
                labels = torch.arange(n, device=device) % MNIST["num_classes"]

                def call() -> torch.Tensor:
                    with torch.autocast(device.type, dtype=DTYPES[name], enabled=name != "fp32"):
                        return device_work(model, labels, g) if args.cuda_graphs else sample(labels, generator=g)

                try:
                    t = seconds(graph_replay(call, g, device) if args.cuda_graphs else call, device, args.repeats)
                except torch.OutOfMemoryError:
                    print(f"| {family} | {flops / 1e6:.1f} | {name} | {n} | out of memory | |")
                    torch.cuda.empty_cache()
                    continue
                except RuntimeError as e:  # graph capture: an op that syncs with the host
                    if not args.cuda_graphs:
                        raise
                    print(f"| {family} | {flops / 1e6:.1f} | {name} | {n} | capture failed: {str(e).splitlines()[0][:80]} | |")
                    torch.cuda.synchronize(device)
                    continue
                rows.append((family, name, n, n / t, flops * n / t))
                print(f"| {family} | {flops / 1e6:.1f} | {name} | {n} | {n / t:,.0f} | {flops * n / t / 1e9:,.1f} |", flush=True)
        del model, sample
    return rows


# Dense peak TFLOP/s from NVIDIA's datasheets (the sparse figures halved): FP32 on CUDA cores, TF32 and BF16/FP16
# tensor cores. First name contained in torch.cuda.get_device_name wins, so the NVL/PCIe names come first.
PEAK_TFLOPS = {
    "H200 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5},
    "H200": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5},
    "H100 NVL": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5},
    "H100 PCIe": {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0},
    "H100": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5},
}
TARGET_SAMPLES_PER_S = 5e6


def peak_flops(device_name: str, dtype: str, tf32: bool) -> float | None:
    """Dense peak FLOP/s of ``device_name`` for ``dtype`` (fp32 counts TF32's when cuDNN may use it), None if unknown."""
    for key, peaks in PEAK_TFLOPS.items():
        if key in device_name:
            column = {"fp32": "tf32" if tf32 else "fp32", "bf16": "bf16", "fp16": "bf16"}[dtype]
            return peaks[column] * 1e12
    return None


def report_targets(rows: list[tuple[str, str, int, float, float]], device_name: str) -> None:
    """Print the 5 M samples/s check and each dtype's best FLOP/s as a fraction of the device's dense peak."""
    print("\n## targets\n")
    if not rows:
        print("- no throughput measured")
        return
    family, dtype, n, best, _ = max(rows, key=lambda r: r[3])
    verdict = "PASS" if best >= TARGET_SAMPLES_PER_S else "MISS"
    print(f"- >= 5 M MNIST samples/s: best {best:,.0f} ({family} {dtype}, batch {n}): {verdict}")
    for dtype in dict.fromkeys(r[1] for r in rows):
        family, _, n, _, achieved = max((r for r in rows if r[1] == dtype), key=lambda r: r[4])
        peak = peak_flops(device_name, dtype, torch.backends.cudnn.allow_tf32)
        share = "n/a (no peak figure for this device)" if peak is None else (
            f"{achieved / peak:.1%} of {peak / 1e12:,.1f} TFLOP/s dense peak")
        print(f"- FLOP floor, {dtype}: best {achieved / 1e12:,.3f} TFLOP/s ({family}, batch {n}): {share}")


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
    print(f"# bench_sampling: torch {torch.__version__}, {name}, compile={args.compile}, cuda_graphs={args.cuda_graphs}")
    torch.backends.cudnn.benchmark = True
    if "throughput" not in args.skip:
        report_targets(throughput(args, device), name)
    if "classvae" not in args.skip:
        classvae_batched_vs_loop(args, device)
    if "pool" not in args.skip:
        pool_vs_classifier_epoch(args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
