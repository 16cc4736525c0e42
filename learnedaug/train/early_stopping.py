"""Early stopping on the validation loss, for the whole model or per class (ClassVAE), and the kept weights."""

from __future__ import annotations

import math
from typing import Any

import torch

from .checkpoint import cpu_copy


class EarlyStopping:
    """Patience on the validation loss, for the whole model or per class (ClassVAE: each class VAE stops alone).

    Slot ``i`` is the whole model, or class ``i``. A class without validation images (NaN loss) counts as improving,
    so it trains for every epoch and keeps its last weights.
    """

    def __init__(self, patience: int, slots: int) -> None:
        self.patience = patience
        self.best: list[float | None] = [None] * slots
        self.best_epoch: list[int | None] = [None] * slots
        self.bad: list[int] = [0] * slots
        self.stopped: list[bool] = [False] * slots

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad": self.bad, "stopped": self.stopped}

    def load(self, state: dict[str, Any]) -> None:
        if len(state["best"]) != len(self.best):
            raise ValueError(f"checkpoint tracks {len(state['best'])} early-stopping slots, this run {len(self.best)}")
        self.best, self.best_epoch, self.bad, self.stopped = state["best"], state["best_epoch"], state["bad"], state["stopped"]

    @property
    def done(self) -> bool:
        return all(self.stopped)

    def update(self, losses: list[float], epoch: int) -> list[int]:
        """Record one epoch's losses; return the slots that improved (their weights should be kept)."""
        improved = []
        for i, loss in enumerate(losses):
            if self.stopped[i]:
                continue
            if math.isnan(loss) or self.best[i] is None or loss < self.best[i]:
                if not math.isnan(loss):
                    self.best[i] = loss
                self.best_epoch[i], self.bad[i] = epoch, 0
                improved.append(i)
            else:
                self.bad[i] += 1
                self.stopped[i] = self.bad[i] >= self.patience
        return improved


def per_class_stopping(model, objective) -> bool:
    """ClassVAE-style models whose objective can mask stopped classes: early stopping runs per class."""
    return all(hasattr(o, a) for o, a in (
        (model, "copy_classes_from"), (objective, "per_class_validation_loss"), (objective, "active_classes")))


def keep_best(model: torch.nn.Module, best: dict[str, torch.Tensor] | None, classes: list[int] | None) -> dict[str, torch.Tensor]:
    """CPU copy of the weights to keep: the whole model, or (``classes``) only those classes' rows of a stacked model."""
    state = model.state_dict()
    if best is None or classes is None:
        return {k: cpu_copy(v) for k, v in state.items()}
    index = torch.tensor(classes, dtype=torch.long)
    for k, v in state.items():
        best[k][index] = v.detach()[index.to(v.device)].cpu()
    return best
