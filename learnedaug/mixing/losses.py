"""Loss helpers for batches that mix real and (down-weighted) synthetic samples."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted mean cross entropy: ``sum(w_i * CE_i) / sum(w_i)``.

    Args:
        logits: (N, K) float.
        target: (N,) class indices or (N, K) soft targets (rows summing to 1), as BatchMixer returns.
        weight: (N,) float >= 0 per-sample weights (None: all 1, i.e. plain mean cross entropy).

    Returns a scalar; raises ValueError on a weight of the wrong shape, negative weights or an all-zero weight.
    """
    losses = F.cross_entropy(logits, target, reduction="none")
    if weight is None:
        return losses.mean()
    if weight.shape != losses.shape:
        raise ValueError(f"weight must have shape {tuple(losses.shape)}, got {tuple(weight.shape)}")
    if bool((weight < 0).any()) or not bool((weight.sum() > 0)):
        raise ValueError(f"weight must be >= 0 with a positive sum, got min {weight.min().item()} sum {weight.sum().item()}")
    weight = weight.to(losses.dtype)
    return (losses * weight).sum() / weight.sum()
