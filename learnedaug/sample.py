"""``learnedaug sample``: labelled samples from a saved model directory or a zoo name, as a PNG grid or .npz."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import save_image

from ._io import atomic_path
from ._random import as_generator
from .models.base import GenerativeModel


def load_model(spec: str, *, device: str | torch.device | None = None) -> GenerativeModel:
    """A saved model directory (``config.json`` + ``model.safetensors``) or a zoo name."""
    if Path(spec).is_dir():
        return GenerativeModel.from_pretrained(spec, device=device)
    from . import zoo

    return zoo.load(spec, device=device)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """``n`` labels cycling through the classes: 0, 1, ..., K-1, 0, 1, ... (int64)."""
    return torch.arange(n) % num_classes


@torch.no_grad()
def sample_grid(model: GenerativeModel, per_class: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """(K * per_class, C, H, W) samples ordered class by class: one grid row per class."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class).to(model.device)
    return model.sample(labels, generator=generator).cpu()


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
    model = load_model(args.model, device=args.device)
    images = sample_grid(model, args.n, generator=as_generator(args.seed))
    labels = torch.arange(model.num_classes).repeat_interleave(args.n)
    with atomic_path(out) as tmp:
        if out.suffix == ".png":
            save_image(images, tmp, nrow=args.n, format="png")
        else:
            x = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).squeeze(-1).numpy()
            with open(tmp, "wb") as f:
                np.savez_compressed(f, x=x, y=labels.numpy())
    print(f"wrote {len(images)} samples of {model.family} to {out}")
    return 0
