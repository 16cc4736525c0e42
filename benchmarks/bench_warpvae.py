"""WarpVAE training: stability with and without gradient clipping, time, size, and the spread of the learned prior.

    python benchmarks/bench_warpvae.py --threads 1          # ~5 min on one CPU core -> results/warpvae.md

Every run is the benchmark's own per-cell generator (``learnedaug.bench.train_cell_generator``, seed 0):
- MNIST, seed 001's 50-image cell of seed 0, the ``budget`` scale's WARP spec (batch 64, 2,000 steps, Adam 1e-3,
  gradient norm clipped at 5), then the same without clipping, and without clipping at lr 3e-3;
- CIFAR-10, seed 000's 10 % cell (4,250 training images, 15 % validation), ``bench_cifar.py``'s WARP spec.
Per run: wall seconds, parameters, the loss after 100 steps, the largest epoch loss after that, the last one, and the
prior's spread (mean standard deviation of its affine and displacement parts, in half-image widths).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_downstream import extra_specs  # noqa: E402  (the budget scale's WARP spec)

from learnedaug._io import atomic_write_text  # noqa: E402
from learnedaug.bench import train_cell_generator  # noqa: E402
from learnedaug.bench.spec import GeneratorSpec  # noqa: E402
from learnedaug.data import balanced_subset, load_dataset, nested_subsets  # noqa: E402
from learnedaug.models.warpvae import AFFINE_DIM, UNIT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CIFAR_WARP = "warpvae:padding=reflection,likelihood=gaussian,epochs=30,batch_size=64,grad_clip=5,patience=none"


def runs(root: str) -> list[tuple[str, str, object, float]]:
    """(label, spec, cell, validation share) of every run."""
    mnist = load_dataset("mnist", root=root)
    mnist50 = mnist.subset(balanced_subset(mnist.labels, 50, seed=0))
    cifar = load_dataset("cifar10", root=root)
    cifar10pct = cifar.subset(nested_subsets(cifar.labels, [0.1], seed=0)[0.1])
    warp = extra_specs("budget", 50)["WARP"]
    return [
        ("MNIST 50, recipe (lr 1e-3, clip 5)", warp, mnist50, 0.0),
        ("MNIST 50, lr 1e-3, no clipping", warp.replace("grad_clip=5", "grad_clip=inf"), mnist50, 0.0),
        ("MNIST 50, lr 3e-3, no clipping", warp.replace("grad_clip=5", "grad_clip=inf") + ",lr=3e-3", mnist50, 0.0),
        ("CIFAR-10 10 %, bench_cifar's spec", CIFAR_WARP, cifar10pct, 0.15),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--out", type=Path, default=REPO / "bench_runs" / "warpvae")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = ["| run | seconds | parameters | loss at step 100 | largest loss after | last loss | affine spread | "
            "field spread |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for i, (label, spec, cell, val) in enumerate(runs(args.root)):
        spec = GeneratorSpec.parse(spec)
        out = args.out / f"run{i}"
        start = time.perf_counter()
        model = train_cell_generator(spec, cell, out, seed=0, val_fraction=val, progress=False)
        seconds = time.perf_counter() - start  # 0 when the run was already on disk: delete --out to time it
        losses = [row["loss"] for row in json.loads((out / "history.json").read_text())]
        step100 = max(1, math.ceil(100 / max(1, int(len(cell) * (1 - val)) // spec.batch_size))) - 1
        tril = model.prior_tril.detach()
        spread = (tril @ tril.T).diagonal().sqrt() * UNIT
        params = sum(t.numel() for t in model.parameters())
        rows.append(f"| {label} | {seconds:.0f} | {params:,} | {losses[step100]:.1f} | {max(losses[step100:]):.1f} | "
                    f"{losses[-1]:.1f} | {spread[:AFFINE_DIM].mean():.3f} | {spread[AFFINE_DIM:].mean():.3f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "# WarpVAE training - `benchmarks/bench_warpvae.py`", "",
        "Machine: 2-core CPU VM, no GPU, one thread. Losses are epoch means of the negative ELBO per pair (nats); "
        "spreads are mean prior standard deviations in half-image widths (affine entries / displacement per control "
        "point). Seconds: training only, 0 if the run was already on disk.", "", *rows, ""])
    atomic_write_text(REPO / "benchmarks" / "results" / "warpvae.md", text)
    print(text)


if __name__ == "__main__":
    main()
