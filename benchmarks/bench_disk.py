"""What a training run leaves on disk: run-folder sizes of one ClassVAE run under fit's disk options.

    python benchmarks/bench_disk.py                    # MNIST from ../shared/data; --root DIR otherwise

The paper-size ClassVAE (latent 3, filters 64, fc 128: 34 M parameters) trained for 3 epochs on 100 MNIST training
images (10 per class, seed 0), once per option set: the default; ``optimizer_state=False``;
``keep_checkpoint=False, export_dtype=torch.float16``. Prints the bytes of each file kind and the folder total, and
writes ``benchmarks/results/disk.md``. Sizes depend only on the architecture and options, not on the machine.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch

from learnedaug._io import atomic_write_text, disk_bytes
from learnedaug.data import balanced_subset, load_dataset
from learnedaug.models import ClassVAE, ClassVAEConfig
from learnedaug.train import fit

REPO = Path(__file__).resolve().parents[1]
OPTIONS = {
    "default": {},
    "optimizer_state=False": {"optimizer_state": False},
    "keep_checkpoint=False, export_dtype=float16": {"keep_checkpoint": False, "export_dtype": torch.float16},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "disk.md")
    args = p.parse_args(argv)
    train = load_dataset("mnist", "train", root=args.root)
    train = train.subset(balanced_subset(train.labels, per_class=10, seed=0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in OPTIONS.items():
            torch.manual_seed(0)
            model = ClassVAE(ClassVAEConfig(num_classes=10, image_shape=(1, 28, 28), latent_dim=3))
            out = Path(tmp) / str(len(rows))
            result = fit(model, train, out_dir=out, epochs=3, sample_every=0, progress=False, **options)
            ckpt = disk_bytes(result.checkpoint) if result.checkpoint is not None else 0
            rows.append((name, disk_bytes(result.model_dir), ckpt, result.disk_bytes))
    params = sum(p.numel() for p in model.parameters())
    lines = ["# Run-folder size by disk option (`benchmarks/bench_disk.py`)", "",
             f"ClassVAE, {params / 1e6:.1f} M parameters, 3 epochs on 100 MNIST images; machine: {platform.machine()} "
             f"CPU ({platform.node() or 'unknown host'}), torch {torch.__version__}. Sizes in MB (10^6 bytes).", "",
             "| options | model/ | checkpoint | folder total |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {m / 1e6:.1f} | {c / 1e6:.1f} | {t / 1e6:.1f} |" for n, m, c, t in rows]
    atomic_write_text(args.results, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
