"""``learnedaug sample``: labelled samples from a saved model directory or a zoo name, as a PNG grid or .npz."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

from ._io import atomic_path
from ._random import as_generator
from .models.base import GenerativeModel
from .train.plots import save_sample_grid
from .zoo import load


def load_model(spec: str, *, device: str | torch.device | None = None) -> GenerativeModel:
    """Deprecated alias of :func:`learnedaug.zoo.load` (a model directory or a zoo name)."""
    warnings.warn("learnedaug.sample.load_model is deprecated; use learnedaug.zoo.load", DeprecationWarning, stacklevel=2)
    return load(spec, device=device)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="saved model directory or zoo name")
    p.add_argument("--out", required=True, help="output .png (grid, one row per class) or .npz (x uint8, y int64)")
    p.add_argument("--n", type=int, default=10, help="samples per class (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise SystemExit(f"--n must be >= 1, got {args.n}")
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise SystemExit(f"--out must end in .png or .npz, got {out}")
    model = load(args.model, device=args.device)
    generator = as_generator(args.seed, device=args.device)
    if out.suffix == ".png":
        save_sample_grid(model, out, per_class=args.n, generator=generator)
    else:
        labels = torch.arange(model.num_classes, device=model.device).repeat_interleave(args.n)
        with torch.no_grad():
            images = model.sample(labels, generator=generator).cpu()
        x = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        if x.shape[-1] == 1:
            x = x[..., 0]
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, x=x, y=labels.cpu().numpy())
    print(f"wrote {model.num_classes * args.n} samples of {model.family} to {out}")
    return 0
