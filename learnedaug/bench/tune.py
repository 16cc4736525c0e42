"""Choose how much synthetic data to add - including none - by k-fold cross-validation on the training images.

A learned method should never end below its classic baseline by more than noise. :func:`choose_ratio` trains the
classifier once per (fold, candidate ratio) on the other folds plus ``ratio`` times as many fresh class-balanced
samples, scores macro-F1 on the held-out fold, and applies the one-standard-error rule to the paired fold scores:
the smallest ratio whose mean gap to the best one is within one standard error of that gap wins. Ratio 0 is a
candidate, so a generator that does not help (or hurts) is switched off.

The held-out fold must be new to the generator too, or its samples score it (a generator trained on all the
training images reproduces the held-out ones and the tuner favours synthetic data). Pass a generator *factory*
``(fit_part, fold) -> sampler`` to train one per fold on that fold's training part; a fixed sampler is right only
when it never saw ``train`` (a model trained on other data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from .._checks import check_int
from ..classifiers import evaluate, train_classifier
from ..data import ImageSet, stratified_folds
from ..mixing import SyntheticDataset
from ..models.base import ConditionalSampler, check_sampler

Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
SamplerFactory = Callable[[ImageSet, int], object]


@dataclass(frozen=True)
class TuneResult:
    """``chosen`` ratio; ``scores[ratio]``: held-out macro-F1 per fold (same fold order for every ratio)."""

    chosen: float
    scores: dict[float, list[float]]

    def mean(self, ratio: float) -> float:
        return sum(self.scores[ratio]) / len(self.scores[ratio])

    def to_dict(self) -> dict:
        return {"chosen": self.chosen, "scores": {str(r): s for r, s in self.scores.items()}}

    def summary(self) -> str:
        lines = ["ratio  mean macro-F1  folds"]
        for r, s in self.scores.items():
            mark = "  <- chosen" if r == self.chosen else ""
            lines.append(f"{r:5g}  {100 * self.mean(r):13.2f}  {' '.join(f'{100 * v:.1f}' for v in s)}{mark}")
        return "\n".join(lines)


def one_standard_error_choice(scores: Mapping[float, Sequence[float]]) -> float:
    """The smallest key whose paired gap to the best mean is at most one standard error of that gap.

    ``scores``: candidate -> one score per fold (higher is better), all the same length >= 2.
    """
    lengths = {len(v) for v in scores.values()}
    if not scores or len(lengths) != 1 or min(lengths) < 2:
        raise ValueError(f"need one score per fold (>= 2 folds, the same number for every candidate), got {dict(scores)}")
    k = lengths.pop()
    means = {c: sum(v) / k for c, v in scores.items()}
    best = max(means, key=lambda c: (means[c], -c))
    for c in sorted(scores):
        gaps = [b - v for b, v in zip(scores[best], scores[c])]
        mean_gap = sum(gaps) / k
        se = math.sqrt(sum((g - mean_gap) ** 2 for g in gaps) / (k - 1) / k)
        if mean_gap <= se:
            return c
    return best


def choose_ratio(
    train: ImageSet,
    sampler: object | SamplerFactory,
    *,
    ratios: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
    folds: int = 3,
    augment: Augment | None = None,
    classifier: str = "cnn",
    epoch_size: int | None = None,
    seed: int = 0,
    progress: bool = False,
    **train_kwargs: object,
) -> TuneResult:
    """Cross-validate the synthetic ratio of ``sampler``'s samples for ``train`` (an ImageSet, uint8 or float).

    ``sampler``: a conditional sampler that never saw ``train``, or a factory ``(fit_part, fold) -> sampler`` called
    once per fold with the images that fold trains on (so the held-out fold stays unseen by the generator).
    ``ratios``: candidates >= 0 (synthetic images per real training image). ``folds``: stratified folds (>= 2;
    every class needs at least ``folds`` images). ``classifier``: ``"cnn"`` or ``"vgg"``. ``augment``: the online classic transform used with the samples
    (``train_classifier``'s). ``epoch_size``: as in :class:`~learnedaug.bench.BenchConfig` (the real images are
    shown ``ceil(epoch_size / n)`` times per epoch, samples in proportion). ``train_kwargs`` go to
    :func:`~learnedaug.classifiers.train_classifier` (``epochs``, ``model_kwargs``, ``schedule``, ``device`` ...;
    no validation: each run keeps its final weights). Costs ``folds * len(ratios)`` classifier runs.
    """
    if not isinstance(sampler, ConditionalSampler):
        if not callable(sampler):
            check_sampler(sampler, "sampler")  # raises, naming the contract
    folds = check_int(folds, "folds", min=2)
    ratios = sorted({float(r) for r in ratios})
    if not ratios or ratios[0] < 0:
        raise ValueError(f"ratios must be numbers >= 0, got {ratios}")
    if int(torch.bincount(train.labels).min()) < folds:
        raise ValueError(f"every class needs >= {folds} images for {folds}-fold cross-validation; "
                         f"counts {torch.bincount(train.labels).tolist()}")
    scores: dict[float, list[float]] = {r: [] for r in ratios}
    parts = stratified_folds(train.labels, folds, seed=seed)
    for f, held_out in enumerate(parts):
        fit_part = train.subset(torch.cat([p for i, p in enumerate(parts) if i != f]).sort().values)
        repeats = 1 if epoch_size is None else -(-epoch_size // len(fit_part))
        fold_sampler = sampler
        if not isinstance(sampler, ConditionalSampler) and ratios[-1] > 0:
            fold_sampler = sampler(fit_part, f)
            check_sampler(fold_sampler, f"the sampler factory's result for fold {f}")
        for r in ratios:
            extra = None if r == 0 else SyntheticDataset(
                fold_sampler, size=max(1, round(r * len(fit_part) * repeats)), labels="balanced", seed=seed + f)
            model, _ = train_classifier(classifier, fit_part, None,
                                        augment=augment, extra_dataset=extra, repeats=repeats, patience=None,
                                        num_classes=train.num_classes, seed=seed + f, progress=progress,
                                        **train_kwargs)
            scores[r].append(evaluate(model, train.subset(held_out))["macro_f1"])
    return TuneResult(one_standard_error_choice(scores), scores)
