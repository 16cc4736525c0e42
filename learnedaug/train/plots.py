"""PNG reports written during training: a sample grid (one row per class) and the loss curves."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from .._io import atomic_path


def sample_grid(model, *, per_class: int = 8, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``per_class`` samples of every class: a (C, H', W') float grid in [0, 1], one row per class."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    labels = torch.arange(model.num_classes, device=model.device).repeat_interleave(per_class)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            images = model.sample(labels, generator=generator)
    finally:
        model.train(was_training)
    return make_grid(images.float().cpu(), nrow=per_class, padding=2, pad_value=1.0)


def save_sample_grid(
    model, path: str | os.PathLike, *, per_class: int = 8, generator: torch.Generator | None = None
) -> Path:
    """Write :func:`sample_grid` to ``path`` as a PNG (atomically); return the path."""
    path = Path(path)
    grid = sample_grid(model, per_class=per_class, generator=generator)
    with atomic_path(path) as tmp:
        save_image(grid, tmp, format="png")
    return path


def save_loss_curve(history: Sequence[dict[str, float]], path: str | os.PathLike, *, title: str = "") -> Path:
    """Plot every loss in ``history`` (one dict per epoch, key "epoch" on the x axis) to a PNG; return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    names = sorted({k for row in history for k in row if k not in ("epoch", "seconds")})
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # fixed margins: tight_layout costs 0.3 s
    ax = fig.add_subplot(1, 1, 1)
    for name in names:
        pts = [(row["epoch"], row[name]) for row in history if name in row]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if names:
        ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
