"""Training-loop overhead: images/s through ``fit`` vs a bare forward+backward+step loop, same run, same tensors.

For each family, both paths run the family's default objective on the same model init, batches and number of
optimizer steps. The bare loop iterates over pre-built device tensors and only calls ``training_step`` with a
minimal ``step`` (backward, optimizer step, zero_grad). Two ``fit`` figures: its epochs alone (the per-epoch
``seconds`` it logs: DataLoader, uint8 -> float on device, tqdm, finiteness checks, loss bookkeeping) and the whole
call (adding the up-front dataset check, the per-epoch checkpoint of model + optimizer state, history writes and the
final ``save_pretrained``). PNG reports are off (``sample_every=0``) and timed apart (one sample grid + loss curve).
Target: loop overhead (epochs alone) < 10 %; the fixed costs shrink with longer epochs than this short run's.

    python benchmarks/bench_training.py [--device cpu|cuda] [--images 1024] [--batch-size 64] [--epochs 2]
        [--repeats 3] [--threads 1] [--families cdcvae,cdcgan,classvae,dvae] [--size paper|small]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch

from learnedaug.data import ImageSet
from learnedaug.models import build_model
from learnedaug.train import fit, save_loss_curve, save_sample_grid
from learnedaug.train.objectives import objective_for

SMALL = {"cdcvae": {"fc_dim": 256, "base_channels": 32}, "cdcgan": {"fc_dim": 256, "base_channels": 32},
         "classvae": {"fc_dim": 64, "filters": 32}, "dvae": {"channels": (16, 32, 64), "latent_dim": 64}}


def digits(n: int, seed: int = 0) -> ImageSet:
    """``n`` MNIST images from ../shared/data if present, else random uint8 images (speed does not depend on them)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist" / "train.npz"
    if path.is_file():
        import numpy as np

        with np.load(path) as z:
            x, y = torch.from_numpy(z["x"][:n]).unsqueeze(1), torch.from_numpy(z["y"][:n])
    else:
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8), torch.arange(n) % 10
    return ImageSet(x.contiguous(), y, [str(i) for i in range(10)])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_model(family: str, size: str, device: torch.device):
    torch.manual_seed(0)
    config = SMALL[family] if size == "small" else {}
    return build_model(family, num_classes=10, image_shape=(1, 28, 28), **config).to(device)


def bare_loop(family: str, size: str, data: ImageSet, device: torch.device, batch_size: int, epochs: int) -> float:
    """Seconds for ``epochs`` passes of full batches over tensors already on the device."""
    model = make_model(family, size, device)
    objective = objective_for(model)
    optimizers = objective.configure_optimizers(model)
    steps = len(data) // batch_size
    x = data.float_images(device)[: steps * batch_size].view(steps, batch_size, *data.image_shape)
    y = data.labels.to(device)[: steps * batch_size].view(steps, batch_size)
    gen = torch.Generator(device=device).manual_seed(0)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def step(name: str, loss: torch.Tensor) -> None:
        loss.backward()
        optimizers[name].step()
        model.zero_grad(set_to_none=True)

    model.train()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for i in range(steps):
            with autocast:
                objective.training_step(model, x[i], y[i], step, generator=gen)
    sync(device)
    return time.perf_counter() - t0


def fit_time(family: str, size: str, data: ImageSet, device: torch.device, batch_size: int, epochs: int
             ) -> tuple[float, float]:
    """(seconds for the whole ``fit`` call, seconds of its epochs alone as logged in the history)."""
    model = make_model(family, size, device)
    with tempfile.TemporaryDirectory() as tmp:
        sync(device)
        t0 = time.perf_counter()
        result = fit(model, data, epochs=epochs, batch_size=batch_size, out_dir=tmp, device=device, progress=True,
                     sample_every=0, val_fraction=0.0)
        sync(device)
        return time.perf_counter() - t0, sum(row["seconds"] for row in result.history)


def report_time(family: str, size: str, device: torch.device) -> float:
    """Seconds for one epoch's PNG reports (10x8 sample grid + 50-epoch loss curve), after a warm-up call."""
    model = make_model(family, size, device)
    history = [{"epoch": e, "loss": 1.0 / e} for e in range(1, 51)]
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            save_sample_grid(model, Path(tmp) / "g.png", generator=torch.Generator(device=device).manual_seed(0))
            save_loss_curve(history, Path(tmp) / "l.png")
            times.append(time.perf_counter() - t0)
        return times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--families", default="cdcvae,cdcgan,classvae,dvae")
    parser.add_argument("--size", choices=("paper", "small"), default="paper", help="paper widths or the SMALL configs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    data = digits(args.images)
    steps = args.images // args.batch_size
    n = steps * args.batch_size * args.epochs
    print(f"device {device}, threads {torch.get_num_threads()}, {args.size} widths, {args.images} images 1x28x28, "
          f"batch {args.batch_size}, {args.epochs} epochs ({steps} steps each), best of {args.repeats} alternating runs")
    print("epochs: the epochs' own time (DataLoader, tqdm, logging; history 'seconds'); whole fit: plus data check,")
    print("checkpoint per epoch (model + optimizer state) and save_pretrained. PNG reports off, timed apart per epoch.")
    print(f"{'family':<9} {'params':>10} {'bare img/s':>11} {'epochs img/s':>13} {'overhead':>9} "
          f"{'fit img/s':>10} {'overhead':>9} {'reports s':>10}")
    for family in args.families.split(","):
        bare_loop(family, args.size, data, device, args.batch_size, 1)  # warm-up: allocator, kernels
        bare, whole, epochs_only = [], [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(family, args.size, data, device, args.batch_size, args.epochs))
            total, in_epochs = fit_time(family, args.size, data, device, args.batch_size, args.epochs)
            whole.append(total)
            epochs_only.append(in_epochs)
        tb, te, tf = (min(t) for t in (bare, epochs_only, whole))  # min: least disturbed by other load
        params = sum(p.numel() for p in make_model(family, args.size, device).parameters())
        print(f"{family:<9} {params:>10,} {n / tb:>11.1f} {n / te:>13.1f} {100 * (te - tb) / tb:>8.1f}% "
              f"{n / tf:>10.1f} {100 * (tf - tb) / tb:>8.1f}% {report_time(family, args.size, device):>10.3f}")


if __name__ == "__main__":
    main()
