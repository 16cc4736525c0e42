"""Speed of the batched per-sample transforms against torchvision (image by image) and Kornia, same run.

Each image gets its own random parameters in all three. ROT: rotation in [-25, 25] degrees, bilinear.
BLUR: sigma in [0.25, 2.25]; torchvision and Kornia with a 15x15 kernel (2 * ceil(3 * 2.25) + 1), learnedaug with
its per-image size (its cost does not depend on the size). ROT-BLUR: both. Reports images/s (median over
repeats, or min with ``--stat min``) and the speed-ups; targets: >= 5x torchvision's loop, >= 1.2x Kornia on CPU.

    python benchmarks/bench_transforms.py [--threads 1] [--repeats 21] [--stat median|min] [--device cpu --device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torchvision.transforms import v2

from learnedaug.transforms import RandomGaussianBlur, RandomRotation, RotBlur

SHAPES = [(256, 1, 28, 28), (256, 3, 32, 32)]
DEGREES, SIGMA, KSIZE = 25.0, (0.25, 2.25), 15
TARGET_TV, TARGET_KORNIA = 5.0, 1.2


def _ours(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "ROT":
        return RandomRotation(DEGREES, generator=0)
    if name == "BLUR":
        return RandomGaussianBlur(SIGMA, generator=0)
    return RotBlur(DEGREES, SIGMA, generator=0)


def _torchvision_loop(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    rot = v2.RandomRotation(DEGREES, interpolation=v2.InterpolationMode.BILINEAR)
    blur = v2.GaussianBlur(KSIZE, SIGMA)
    t = {"ROT": rot, "BLUR": blur, "ROT-BLUR": v2.Compose([rot, blur])}[name]
    return lambda x: torch.stack([t(image) for image in x])


def _kornia(name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    rot = K.RandomRotation(DEGREES, p=1.0)
    blur = K.RandomGaussianBlur((KSIZE, KSIZE), SIGMA, p=1.0)
    return {"ROT": rot, "BLUR": blur, "ROT-BLUR": nn.Sequential(rot, blur)}[name]


def _seconds(
    fns: dict[str, Callable[[], object]], repeats: dict[str, int], device: torch.device, stat: Callable
) -> dict[str, float]:
    """``stat`` (median or min) of each function's wall times; the functions take turns so noise hits them alike."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        fn()
    sync()
    for i in range(max(repeats.values())):
        for name, fn in fns.items():
            if i >= repeats[name]:
                continue
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: stat(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per batched method")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="statistic of the repeats (min is steadier on a machine shared with other jobs)")
    parser.add_argument("--loop-repeats", type=int, default=7, help="timed runs of the torchvision loop")
    parser.add_argument("--device", action="append", help="cpu and/or cuda (default: cpu, plus cuda if available)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, repeats={args.repeats} ({args.stat})")
    header = f"{'transform':<9} {'batch':<14} {'device':<6} {'ours img/s':>11} {'tv loop':>9} {'kornia':>9} {'x tv':>6} {'x kornia':>8}"
    print(header)
    print("-" * len(header))
    missed = []
    for device_name in devices:
        device = torch.device(device_name)
        for shape in SHAPES:
            x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
            n = shape[0]
            for name in ("ROT", "BLUR", "ROT-BLUR"):
                fns = {"ours": _ours(name), "tv": _torchvision_loop(name)}
                kornia_fn = _kornia(name)
                if kornia_fn is not None:
                    fns["kornia"] = kornia_fn
                calls = {key: (lambda fn=fn: fn(x)) for key, fn in fns.items()}
                reps = {"ours": args.repeats, "tv": args.loop_repeats, "kornia": args.repeats}
                seconds = _seconds(calls, reps, device, {"median": statistics.median, "min": min}[args.stat])
                ours, tv = n / seconds["ours"], n / seconds["tv"]
                kornia = n / seconds["kornia"] if "kornia" in seconds else float("nan")
                r_tv, r_k = ours / tv, ours / kornia
                batch = "x".join(map(str, shape))
                print(f"{name:<9} {batch:<14} {device_name:<6} {ours:>11.0f} {tv:>9.0f} {kornia:>9.0f} {r_tv:>6.1f} {r_k:>8.2f}")
                if device.type == "cpu" and (r_tv < TARGET_TV or r_k < TARGET_KORNIA):
                    missed.append(f"{name} {batch}")
    print(f"targets (CPU): >= {TARGET_TV}x torchvision loop, >= {TARGET_KORNIA}x Kornia; missed: {', '.join(missed) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
