"""Speed of the batched per-sample transforms against torchvision (image by image), Kornia and torchaug, same run.

Each image gets its own random parameters in every peer. ROT: rotation in [-25, 25] degrees, bilinear.
BLUR: sigma in [0.25, 2.25]; the peers with a 15x15 kernel (2 * ceil(3 * 2.25) + 1), learnedaug with its
per-image size (its cost does not depend on the size). ROT-BLUR: both. SHIFT-ROT: rotation in [-25, 25] degrees,
then a shift of up to 20 % of the width and height, bilinear, zero fill. torchaug (optional) runs its batch mode
(``batch_transform=True``): one sigma per image in a single blur call, and for rotations and affines one chunk per
image (``num_chunks=-1``), the only way it draws per-image angles; those write into their input, so its
geometric calls get a copy of the batch (the copy is timed). Reports images/s (median over repeats, or min with
``--stat min``) and learnedaug's speed-up over each peer; targets: >= 5x torchvision's loop, >= 1.2x Kornia on CPU.

    python benchmarks/bench_transforms.py [--threads 1] [--repeats 21] [--stat median|min] [--batch-size 256]
        [--device cpu --device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torchvision.transforms import v2

from learnedaug.transforms import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate

IMAGE_SHAPES = [(1, 28, 28), (3, 32, 32)]
NAMES = ("ROT", "BLUR", "ROT-BLUR", "SHIFT-ROT")
DEGREES, SIGMA, KSIZE, SHIFT = 25.0, (0.25, 2.25), 15, 0.2
TARGET_TV, TARGET_KORNIA = 5.0, 1.2


Batched = Callable[[torch.Tensor], torch.Tensor]


def _ours(name: str) -> Batched:
    if name == "ROT":
        return RandomRotation(DEGREES, generator=0)
    if name == "BLUR":
        return RandomGaussianBlur(SIGMA, generator=0)
    if name == "SHIFT-ROT":
        return ShiftRotate(DEGREES, SHIFT, padding_mode="constant", generator=0)
    return RotBlur(DEGREES, SIGMA, generator=0)


def _torchvision_loop(name: str) -> Batched:
    rot = v2.RandomRotation(DEGREES, interpolation=v2.InterpolationMode.BILINEAR)
    blur = v2.GaussianBlur(KSIZE, SIGMA)
    affine = v2.RandomAffine(DEGREES, translate=(SHIFT, SHIFT), interpolation=v2.InterpolationMode.BILINEAR)
    t = {"ROT": rot, "BLUR": blur, "ROT-BLUR": v2.Compose([rot, blur]), "SHIFT-ROT": affine}[name]
    return lambda x: torch.stack([t(image) for image in x])


def _kornia(name: str) -> Batched | None:
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    rot = K.RandomRotation(DEGREES, p=1.0)
    blur = K.RandomGaussianBlur((KSIZE, KSIZE), SIGMA, p=1.0)
    affine = K.RandomAffine(DEGREES, translate=(SHIFT, SHIFT), p=1.0)
    return {"ROT": rot, "BLUR": blur, "ROT-BLUR": nn.Sequential(rot, blur), "SHIFT-ROT": affine}[name]


def _torchaug(name: str) -> Batched | None:
    """torchaug's batch mode with per-image parameters; None when torchaug is not installed."""
    try:
        import torchaug.transforms as T
    except ImportError:
        return None
    bilinear = T.InterpolationMode.BILINEAR
    rot = T.RandomRotation(DEGREES, interpolation=bilinear, batch_transform=True, num_chunks=-1)
    blur = T.RandomGaussianBlur(KSIZE, SIGMA, p=1.0, batch_transform=True)
    if name == "BLUR":
        return blur
    geometric = {
        "ROT": rot,
        "ROT-BLUR": T.Compose([rot, blur]),
        "SHIFT-ROT": T.RandomAffine(
            DEGREES, translate=(SHIFT, SHIFT), interpolation=bilinear, batch_transform=True, num_chunks=-1
        ),
    }[name]
    return lambda x: geometric(x.clone())  # per-chunk geometric transforms overwrite their input


PEERS: dict[str, Callable[[str], Batched | None]] = {"tv": _torchvision_loop, "kornia": _kornia, "torchaug": _torchaug}


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=_positive, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=_positive, default=21, help="timed runs per batched method")
    parser.add_argument(
        "--stat",
        choices=["median", "min"],
        default="median",
        help="statistic of the repeats (min is steadier on a machine shared with other jobs)",
    )
    parser.add_argument("--loop-repeats", type=_positive, default=7, help="timed runs of the torchvision loop")
    parser.add_argument("--batch-size", type=_positive, default=256, help="images per batch (default 256)")
    parser.add_argument("--device", action="append", help="cpu and/or cuda (default: cpu, plus cuda if available)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # Kornia, torchaug and torchvision draw their parameters from the global generator
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    stat = {"median": statistics.median, "min": min}[args.stat]
    peers = {key: make for key, make in PEERS.items() if make(NAMES[0]) is not None}
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, repeats={args.repeats} ({args.stat})")
    for key in PEERS.keys() - peers.keys():
        print(f"{key}: not installed")
    header = f"{'transform':<9} {'batch':<14} {'device':<6} {'ours img/s':>11}"
    header += "".join(f" {key + ' img/s':>14}" for key in peers) + "".join(f" {'x ' + key:>10}" for key in peers)
    print(header)
    print("-" * len(header))
    missed = []
    for device_name in devices:
        device = torch.device(device_name)
        for image_shape in IMAGE_SHAPES:
            shape = (args.batch_size, *image_shape)
            x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
            for name in NAMES:
                fns = {"ours": _ours(name)} | {key: make(name) for key, make in peers.items()}
                calls = {key: (lambda fn=fn, x=x: fn(x)) for key, fn in fns.items()}
                reps = {key: args.loop_repeats if key == "tv" else args.repeats for key in fns}
                rates = {key: args.batch_size / s for key, s in _seconds(calls, reps, device, stat).items()}
                ratios = {key: rates["ours"] / rates[key] for key in peers}
                batch = "x".join(map(str, shape))
                print(
                    f"{name:<9} {batch:<14} {device_name:<6} {rates['ours']:>11.0f}"
                    + "".join(f" {rates[key]:>14.0f}" for key in peers)
                    + "".join(f" {ratios[key]:>10.2f}" for key in peers)
                )
                targets = {"tv": TARGET_TV, "kornia": TARGET_KORNIA}
                if device.type == "cpu" and any(
                    ratios[key] < target for key, target in targets.items() if key in ratios
                ):
                    missed.append(f"{name} {batch}")
    print(
        f"targets (CPU): >= {TARGET_TV}x torchvision loop, >= {TARGET_KORNIA}x Kornia; "
        f"missed: {', '.join(missed) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
