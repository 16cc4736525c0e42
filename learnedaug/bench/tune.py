"""Choose how much learned augmentation to use - including none - on a validation split, or by k-fold
cross-validation when the subset is too small to hold one out.

A learned method should never end below its classic baseline by more than noise. The tuners train the classifier
once per candidate strength - :func:`choose_ratio`: ``ratio`` times as many fresh class-balanced samples as real
training images; :func:`choose_scale`: learned variations at ``scale``; :func:`choose_threshold`: samples a judge
classifier labels with at least that confidence - 0 included (the learned part, or the curation, off), so a
generator that does not help - or hurts - is switched off, and apply the one-standard-error rule: the smallest
candidate whose gap to the best one is within one standard error of that gap wins.

- with ``val``: one run per candidate on ``train``, scored on ``val``; the standard error of each gap is a paired
  bootstrap over the validation images (:func:`choose_on_validation`). The chosen run's model is returned, so the
  choice costs no retraining.
- without ``val``: one run per (fold, candidate) on the other folds, scored on the held-out fold; the standard error
  is over the paired fold scores (:func:`one_standard_error_choice`).

The held-out fold must be new to the generator too, or its samples score it (a generator trained on all the
training images reproduces the held-out ones and the tuner favours synthetic data). Pass a generator *factory*
``(fit_part, fold) -> sampler`` to train one per fold on that fold's training part; a fixed sampler is right only
when it never saw ``train`` (a model trained on other data).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from .._checks import check_int
from ..classifiers import evaluate, f1_per_class, predict, train_classifier
from ..data import ImageSet, stratified_folds
from ..mixing import CuratedSampler, SyntheticDataset
from ..models.base import ConditionalSampler, Encoder, check_sampler
from ..transforms import LearnedVariation

Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
SamplerFactory = Callable[[ImageSet, int], object]


@dataclass(frozen=True)
class TuneResult:
    """``chosen``: the winning candidate of ``quantity`` (``"ratio"``, ``"scale"`` or ``"threshold"``);
    ``scores[candidate]``: held-out macro-F1 per fold (same fold order for every candidate), or the one validation
    macro-F1 (``rule="validation"``, with ``standard_error[candidate]`` of its gap to the best and the chosen run's
    ``model``)."""

    chosen: float
    scores: dict[float, list[float]]
    rule: str = "kfold"
    standard_error: dict[float, float] | None = None
    model: nn.Module | None = field(default=None, compare=False, repr=False)
    quantity: str = "ratio"

    def mean(self, candidate: float) -> float:
        return sum(self.scores[candidate]) / len(self.scores[candidate])

    def to_dict(self) -> dict:
        out = {"chosen": self.chosen, "quantity": self.quantity, "rule": self.rule,
               "scores": {str(r): s for r, s in self.scores.items()}}
        if self.standard_error is not None:
            out["standard_error"] = {str(r): round(se, 6) for r, se in self.standard_error.items()}
        return out

    def summary(self) -> str:
        """One line per candidate: mean macro-F1 (%) and the fold scores, or (validation) the gap's standard error."""
        detail = "folds" if self.standard_error is None else "SE of gap to best"
        lines = [f"{self.quantity:>9}  mean macro-F1  {detail}"]
        for r, s in self.scores.items():
            mark = "  <- chosen" if r == self.chosen else ""
            detail = (" ".join(f"{100 * v:.1f}" for v in s) if self.standard_error is None
                      else f"{100 * self.standard_error[r]:.2f}")
            lines.append(f"{r:9g}  {100 * self.mean(r):13.2f}  {detail}{mark}")
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


def _bootstrap_macro_f1(labels: torch.Tensor, preds: dict[float, torch.Tensor], num_classes: int, resamples: int,
                        seed: int) -> dict[float, torch.Tensor]:
    """Macro-F1 of every candidate on the same ``resamples`` bootstrap resamples of the validation images, float64
    ``(resamples,)`` each: resample counts ``(B, N)`` times per-image TP / FP / FN indicators ``(N, K)``."""
    n = labels.shape[0]
    idx = torch.randint(n, (resamples, n), generator=torch.Generator().manual_seed(seed))
    counts = torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(1, idx, torch.ones(resamples, n, dtype=torch.float64))
    truth = nn.functional.one_hot(labels, num_classes).double()
    out = {}
    for c, p in preds.items():
        guess = nn.functional.one_hot(p, num_classes).double()
        tp = counts @ (truth * guess)
        denom = counts @ (truth + guess)  # 2 TP + FP + FN
        f1 = torch.where(denom > 0, 2 * tp / denom.clamp_min(1e-12), torch.nan)
        out[c] = f1.nanmean(dim=1)
    return out


def choose_on_validation(models: Mapping[float, nn.Module], val: ImageSet, *, resamples: int = 1000,
                         seed: int = 0, quantity: str = "ratio") -> TuneResult:
    """Pick among trained ``models`` (candidate ``quantity`` -> classifier) by macro-F1 on ``val`` with the 1-SE rule.

    The best candidate is the one with the highest validation macro-F1 (ties: the smaller one); the choice is the
    smallest candidate whose gap to it is at most the standard deviation of that gap over ``resamples`` paired
    bootstrap resamples of ``val`` (seeded by ``seed``). Returns a :class:`TuneResult` with ``rule="validation"`` and the chosen
    model.
    """
    if not models:
        raise ValueError("models is empty: need at least one trained candidate")
    resamples = check_int(resamples, "resamples", min=2)
    k = val.num_classes
    preds = {float(c): predict(m, val) for c, m in models.items()}
    scores = {c: float(f1_per_class(val.labels, p, k).nanmean()) for c, p in preds.items()}
    best = max(scores, key=lambda c: (scores[c], -c))
    boot = _bootstrap_macro_f1(val.labels, preds, k, resamples, seed)
    se = {c: float((boot[best] - boot[c]).std()) for c in sorted(scores)}
    chosen = next(c for c in sorted(scores) if scores[best] - scores[c] <= se[c])
    return TuneResult(chosen, {c: [scores[c]] for c in sorted(scores)}, "validation", se,
                      models[next(m for m in models if float(m) == chosen)], quantity)


def _candidates(values: Sequence[float], name: str) -> list[float]:
    values = sorted({float(v) for v in values})
    if not values or values[0] < 0:
        raise ValueError(f"{name} must be numbers >= 0, got {values}")
    return values


# (get_model, candidate, n_fit, repeats, seed) -> (learned online augment or None, extra dataset or None) of one
# classifier run; get_model() gives the (fold's) model and is called only by candidates that use it
Setup = Callable[[Callable[[], object], float, int, int, int], tuple[Augment | None, Dataset | None]]


def _model_getter(model: object, is_model: Callable[[object], bool], needs: str, fit_part: ImageSet,
                  fold: int) -> Callable[[], object]:
    """``model`` itself, or the factory's model for ``fold`` - built on first use only, and checked."""
    @functools.cache
    def get() -> object:
        if is_model(model):
            return model
        built = model(fit_part, fold)
        if not is_model(built):
            raise TypeError(f"the factory's result for fold {fold} must be {needs}, got {type(built).__name__}")
        return built

    return get


def _then(first: Augment | None, second: Augment | None) -> Augment | None:
    """``first``, then ``second`` (either may be None)."""
    if first is None or second is None:
        return first or second
    return lambda x, y: second(*first(x, y))


def _choose(train: ImageSet, model: object, quantity: str, candidates: list[float], setup: Setup,
            is_model: Callable[[object], bool], needs: str, *, val: ImageSet | None = None, folds: int = 3,
            augment: Augment | None = None, classifier: str = "cnn", epoch_size: int | None = None, repeats: int = 1,
            seed: int = 0, progress: bool = False, **train_kwargs: object) -> TuneResult:
    """The shared loop of the tuners: one classifier per candidate (``setup`` says what the learned part adds; the
    classic ``augment`` runs after it) on ``train`` scored on ``val``, or per (fold, candidate) by k-fold
    cross-validation with ``model`` - or a factory ``(fit_part, fold) -> model`` - per fold. Options: see
    :func:`choose_ratio`."""
    copies = check_int(repeats, "repeats", min=1)

    def fit(part: ImageSet, stop_on: ImageSet | None, get_model: Callable[[], object], c: float, run_seed: int):
        shows = copies * (1 if epoch_size is None else -(-epoch_size // len(part)))
        learned, extra = setup(get_model, c, len(part), shows, run_seed)
        kwargs = train_kwargs if stop_on is not None else {**train_kwargs, "patience": None}
        return train_classifier(classifier, part, stop_on, augment=_then(learned, augment), extra_dataset=extra,
                                repeats=shows, num_classes=train.num_classes, seed=run_seed, progress=progress,
                                **kwargs)[0]

    if val is not None:
        if not is_model(model):
            raise TypeError(f"with val, pass {needs} trained on train, not a factory; got {type(model).__name__}")
        models = {c: fit(train, val, lambda: model, c, seed) for c in candidates}
        return choose_on_validation(models, val, seed=seed, quantity=quantity)
    folds = check_int(folds, "folds", min=2)
    if int(torch.bincount(train.labels).min()) < folds:
        raise ValueError(f"every class needs >= {folds} images for {folds}-fold cross-validation; "
                         f"counts {torch.bincount(train.labels).tolist()}")
    scores: dict[float, list[float]] = {c: [] for c in candidates}
    parts = stratified_folds(train.labels, folds, seed=seed)
    for f, held_out in enumerate(parts):
        fit_part = train.subset(torch.cat([p for i, p in enumerate(parts) if i != f]).sort().values)
        get_model = _model_getter(model, is_model, needs, fit_part, f)
        for c in candidates:
            trained = fit(fit_part, None, get_model, c, seed + f)
            scores[c].append(evaluate(trained, train.subset(held_out))["macro_f1"])
    return TuneResult(one_standard_error_choice(scores), scores, quantity=quantity)


def choose_ratio(
    train: ImageSet,
    sampler: object | SamplerFactory,
    *,
    ratios: Sequence[float] = (0.0, 0.5, 1.0, 2.0),
    val: ImageSet | None = None,
    folds: int = 3,
    augment: Augment | None = None,
    classifier: str = "cnn",
    epoch_size: int | None = None,
    repeats: int = 1,
    seed: int = 0,
    progress: bool = False,
    **train_kwargs: object,
) -> TuneResult:
    """Choose the synthetic ratio of ``sampler``'s samples for ``train`` (an ImageSet, uint8 or float).

    ``val``: a validation ImageSet the generator never saw; given, each ratio trains once on ``train`` (early
    stopping on ``val`` as ``train_kwargs`` say) and :func:`choose_on_validation` picks, returning the chosen model
    too; ``sampler`` must then be a sampler (a generator trained on ``train`` is right). Without ``val``: k-fold
    cross-validation on ``train``. ``sampler``: a conditional sampler that never saw ``train``, or a factory
    ``(fit_part, fold) -> sampler`` called once per fold with the images that fold trains on (so the held-out fold
    stays unseen by the generator).
    ``ratios``: candidates >= 0 (synthetic images per real training image). ``folds``: stratified folds (>= 2;
    every class needs at least ``folds`` images). ``classifier``: ``"cnn"`` or ``"vgg"``. ``augment``: the online
    classic transform used with the samples (``train_classifier``'s). ``epoch_size``: as in
    :class:`~learnedaug.bench.BenchConfig` (the real images are shown ``ceil(epoch_size / n)`` times per epoch,
    samples in proportion); ``repeats``: that many times more (2: every image twice, AUGORIG's control).
    ``train_kwargs`` go to :func:`~learnedaug.classifiers.train_classifier` (``epochs``,
    ``model_kwargs``, ``schedule``, ``device``, with ``val`` also ``patience`` ...; k-fold runs keep their final
    weights). Costs ``len(ratios)`` classifier runs with ``val``, ``folds * len(ratios)`` without.
    """
    if not isinstance(sampler, ConditionalSampler) and not callable(sampler):
        check_sampler(sampler, "sampler")  # raises, naming the contract

    def setup(get_sampler, ratio, n, repeats, seed):
        extra = None if ratio == 0 else SyntheticDataset(get_sampler(), size=max(1, round(ratio * n * repeats)),
                                                          labels="balanced", seed=seed)
        return None, extra

    return _choose(train, sampler, "ratio", _candidates(ratios, "ratios"), setup,
                   lambda m: isinstance(m, ConditionalSampler), "a sampler (num_classes, image_shape, sample(labels, "
                   "generator=))", val=val, folds=folds, augment=augment, classifier=classifier,
                   epoch_size=epoch_size, repeats=repeats, seed=seed, progress=progress, **train_kwargs)


def choose_scale(train: ImageSet, model: object | SamplerFactory, *, scales: Sequence[float] = (0.0, 0.5, 1.0),
                 p: float = 0.5, **options: object) -> TuneResult:
    """Choose the strength of ``model``'s learned variations (:class:`~learnedaug.transforms.LearnedVariation`, a
    share ``p`` of every batch varied, then ``augment``) for ``train``, the way :func:`choose_ratio` chooses a ratio.

    ``scales``: candidates >= 0, passed to ``model.vary`` as ``scale`` - except **0, which means no learned variation
    at all** (``augment`` alone: the classic baseline), not the model's scale-0 output (a VAE's reconstruction, a
    WarpVAE's mean warp). ``model``: anything with ``vary`` (a VAE, a WarpVAE) that never saw the held-out images, or a
    factory ``(fit_part, fold) -> model``. ``options``: :func:`choose_ratio`'s (``val``, ``folds``, ``augment``,
    ``classifier``, ``epoch_size``, ``repeats``, ``seed``, ``progress``, then train_classifier's).
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"p must be a probability in (0, 1], got {p!r}")
    if not isinstance(model, Encoder) and not callable(model):
        raise TypeError(f"model must have vary(images, labels, scale=, generator=) (a VAE or WarpVAE) or be a "
                        f"factory (fit_part, fold) -> model, got {type(model).__name__}")

    def setup(get_model, scale, n, repeats, seed):
        return (None if scale == 0 else LearnedVariation(get_model(), scale=scale, p=p, generator=seed)), None

    return _choose(train, model, "scale", _candidates(scales, "scales"), setup, lambda m: isinstance(m, Encoder),
                   "a model with vary()", **options)


def choose_threshold(train: ImageSet, models: tuple[object, object] | SamplerFactory, *,
                     thresholds: Sequence[float] = (0.0, 0.5, 0.9), ratio: float = 1.0,
                     **options: object) -> TuneResult:
    """Choose the judge threshold of curated samples (:class:`~learnedaug.mixing.CuratedSampler`: a sample is kept
    when the judge gives its label at least that probability; ``ratio`` samples per real image) for ``train``, the
    way :func:`choose_ratio` chooses a ratio.

    ``thresholds``: candidates in [0, 1]; **0 keeps every sample** (no curation), so the 1-SE rule curates only when
    curation measurably helps. ``models``: a ``(sampler, judge)`` pair - a generator and a classifier
    (images -> logits) that never saw the held-out images - or a factory ``(fit_part, fold) -> (sampler, judge)``.
    Starved classes warn (:class:`~learnedaug.mixing.CuratedSampler` ``on_starved="warn"``). ``options``:
    :func:`choose_ratio`'s.
    """
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0 (curation filters samples), got {ratio!r}")
    candidates = _candidates(thresholds, "thresholds")
    if candidates[-1] > 1:
        raise ValueError(f"thresholds must be probabilities in [0, 1], got {candidates}")

    def is_pair(m: object) -> bool:
        return isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], ConditionalSampler) and callable(m[1])

    if not is_pair(models) and (isinstance(models, tuple) or not callable(models)):
        raise TypeError(f"models must be a (sampler, judge) pair or a factory (fit_part, fold) -> (sampler, judge), "
                        f"got {type(models).__name__}")

    def setup(get_pair, threshold, n, repeats, seed):
        sampler, judge = get_pair()
        if threshold > 0:
            sampler = CuratedSampler(sampler, judge, threshold=threshold, on_starved="warn")
        return None, SyntheticDataset(sampler, size=max(1, round(ratio * n * repeats)), labels="balanced", seed=seed)

    return _choose(train, models, "threshold", candidates, setup, is_pair, "a (sampler, judge) pair", **options)
