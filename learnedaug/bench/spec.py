"""What a benchmark run is: the method grammar, the per-cell generator spec and the benchmark configuration.

Methods: ``ORIG``, ``AUGORIG`` (baselines), a classic transform (``ROT``, ``BLUR``, ``ROT-BLUR``, ``SHIFT-ROT``), a
learned method ``NAME`` (synthetic samples added), ``VARY(NAME)`` (learned variations of the real images),
``CURATE(NAME)`` (judged samples), ``TUNE(NAME)`` / ``TUNE(VARY(NAME))`` (strength chosen per cell, 0 included),
``CLASSIC+`` any learned method, and ``AUGORIG+VARY(NAME)``. See :mod:`learnedaug.bench` for the protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

import torch

from ..classifiers import CLASSIFIERS
from ..classifiers.training import SCHEDULES
from ..data import DEFAULT_SIZES
from ..models import family_class
from ..transforms import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate


BASELINES = ("ORIG", "AUGORIG")
_FIT_OPTIONS = ("epochs", "batch_size", "patience", "grad_clip")


def _classic(name: str, seed: int):
    return {
        "ROT": lambda: RandomRotation(25.0, generator=seed),
        "BLUR": lambda: RandomGaussianBlur((0.25, 2.25), generator=seed),
        "ROT-BLUR": lambda: RotBlur(25.0, (0.25, 2.25), generator=seed),
        "SHIFT-ROT": lambda: ShiftRotate(20.0, (0.2, 0.2), generator=seed),
    }[name]()


CLASSIC = ("ROT", "BLUR", "ROT-BLUR", "SHIFT-ROT")


def _option_value(text: str) -> object:
    """``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"true"``/``"false"`` -> bool, ``"none"`` -> None, else the text."""
    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _config_fields(family: str) -> set[str]:
    return {f.name for f in fields(family_class(family).config_class)} - {"num_classes", "image_shape"}


@dataclass(frozen=True)
class GeneratorSpec:
    """How the generator of every cell is built and trained.

    ``family`` (e.g. ``"classvae"``) and its ``config`` fields (``num_classes`` and ``image_shape`` come from the
    data); :func:`~learnedaug.train.fit` options ``epochs``, ``batch_size``, ``patience`` (early stopping on the cell's
    validation part; None = never) and ``grad_clip``; ``objective`` options for
    :func:`~learnedaug.train.objectives.objective_for` (e.g. ``lr``, ``beta``).
    """

    family: str
    config: Mapping[str, object] = field(default_factory=dict)
    epochs: int = 100
    batch_size: int = 32
    patience: int | None = 10
    grad_clip: float | None = None
    objective: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = _config_fields(self.family)
        unknown = sorted(set(self.config) - known)
        if unknown:
            raise ValueError(f"config field(s) {unknown} are not {self.family!r} config fields {sorted(known)}")
        for name in ("epochs", "batch_size") + (("patience",) if self.patience is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        object.__setattr__(self, "config", dict(self.config))
        object.__setattr__(self, "objective", dict(self.objective))

    @classmethod
    def parse(cls, text: str) -> GeneratorSpec:
        """``"FAMILY:key=value,..."``, e.g. ``"classvae:latent_dim=3,epochs=200,lr=1e-3"``. Keys of the family's
        config go to ``config``; ``epochs``, ``batch_size``, ``patience``, ``grad_clip`` to fit; any other key to the
        objective."""
        family, _, rest = text.partition(":")
        family = family.strip()
        known = _config_fields(family)
        config, objective, options = {}, {}, {}
        for item in filter(str.strip, rest.split(",")):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"generator spec {text!r}: {item!r} must be key=value")
            target = config if key in known else options if key in _FIT_OPTIONS else objective
            target[key] = _option_value(value)
        return cls(family, config, objective=objective, **options)

    def as_dict(self) -> dict:
        return {"family": self.family, "config": dict(self.config), "epochs": self.epochs,
                "batch_size": self.batch_size, "patience": self.patience, "grad_clip": self.grad_clip,
                "objective": dict(self.objective)}

    def build(self, num_classes: int, image_shape: Sequence[int], seed: int):
        """A freshly initialised model (initialisation seeded by ``seed``, the caller's RNG untouched)."""
        model_cls = family_class(self.family)
        config = model_cls.config_class(num_classes=int(num_classes), image_shape=tuple(image_shape), **self.config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return model_cls(config)


def _is_zoo_name(spec: object) -> bool:
    return isinstance(spec, str) and not Path(spec).exists()


@dataclass
class BenchConfig:
    """One benchmark. ``generators`` maps a method name to a :class:`GeneratorSpec` (or its text form) trained per
    cell; ``models`` maps a method name to a zoo name, a model directory or a sampler used in every cell (the latter two
    only with ``allow_foreign_models``). ``synthetic_ratio``: synthetic images per real training image.
    ``epoch_size``: when set, an epoch shows the real training images ``ceil(epoch_size / n_train)`` times (and each
    method's additions - copies, transformed copies, synthetic samples - in proportion), so that the small subsets
    get enough optimizer steps per epoch for early stopping; None (the papers'): one pass. ``vary_p``: the share of
    each training batch that ``VARY(NAME)`` methods replace by learned variations. ``val_fraction=0``: no
    validation part - classifier and generators train on the whole cell for their ``epochs`` and keep the final
    weights (``patience`` must then be None, and so must the generators'). ``schedule``: the classifier's learning
    rate, ``"constant"`` (the papers') or ``"cosine"`` (decays to 0 over ``epochs``). ``curate_threshold``: a
    ``CURATE(NAME)`` sample is kept only when the judge - the cell's classifier of the same method without the
    learned part (ORIG's, or the classic transform's) - gives its label at least this probability. ``TUNE(NAME)``
    picks its synthetic ratio among ``tune_ratios`` per cell: with ``val_fraction > 0`` on the validation split (one
    classifier per ratio; ratio 0 is the cell's classic-baseline classifier; the chosen one is kept:
    :func:`~learnedaug.bench.tune.choose_on_validation`), else by ``tune_folds``-fold cross-validation on the
    cell's training images (:func:`~learnedaug.bench.tune.choose_ratio`; a classic transform is applied online
    there, a per-cell generator is retrained on each fold's training part), and the record holds the choice and the
    validation or fold scores. ``TUNE(VARY(NAME))`` picks the variation scale among ``tune_scales`` the same way
    (:func:`~learnedaug.bench.tune.choose_scale`; scale 0 = no learned variation: the classic baseline), and
    ``TUNE(CURATE(NAME))`` the judge threshold among ``tune_thresholds`` at ``synthetic_ratio``
    (:func:`~learnedaug.bench.tune.choose_threshold`; 0 = every sample kept; k-fold: one judge per fold).
    ``AUGORIG+VARY(NAME)`` (and ``AUGORIG+TUNE(VARY(NAME))``): every real image twice per epoch, AUGORIG's steps, with
    learned variations. ``synthetic_weight``: the loss weight of a synthetic sample relative to a real image in
    learned methods that add samples (1: the papers')."""

    dataset: str
    root: str | None = None
    methods: Sequence[str] = ("ORIG", "AUGORIG", "ROT", "BLUR", "ROT-BLUR")
    sizes: Sequence[int] | None = None
    fractions: Sequence[float] | None = None
    seeds: Sequence[int] = (0,)
    classifier: str = "cnn"
    width: float = 1.0
    epochs: int = 100
    patience: int | None = 10
    batch_size: int = 32
    lr: float = 1e-3
    val_fraction: float = 0.15
    test_per_class: int | None = None
    online: bool = False
    models: Mapping[str, object] = field(default_factory=dict)
    device: str = "cpu"
    generators: Mapping[str, GeneratorSpec | str] = field(default_factory=dict)
    allow_foreign_models: bool = False
    synthetic_ratio: float = 1.0
    epoch_size: int | None = None
    vary_p: float = 0.5
    schedule: str = "constant"
    curate_threshold: float = 0.5
    synthetic_weight: float = 1.0
    tune_ratios: Sequence[float] = (0.0, 0.5, 1.0, 2.0)
    tune_scales: Sequence[float] = (0.0, 0.5, 1.0)
    tune_thresholds: Sequence[float] = (0.0, 0.5, 0.9)
    tune_folds: int = 3

    def __post_init__(self) -> None:
        if self.sizes is not None and self.fractions is not None:
            raise ValueError(f"give sizes or fractions, not both (got sizes={self.sizes}, fractions={self.fractions})")
        if self.sizes is None and self.fractions is None:
            self.sizes = DEFAULT_SIZES
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {sorted(CLASSIFIERS)}, got {self.classifier!r}")
        if not self.methods or not self.seeds:
            raise ValueError(f"methods and seeds must be non-empty, got methods={self.methods}, seeds={self.seeds}")
        if not (self.synthetic_ratio > 0):
            raise ValueError(f"synthetic_ratio must be > 0, got {self.synthetic_ratio!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("tune_ratios", "tune_scales", "tune_thresholds"):
            values = getattr(self, name)
            if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 for v in values):
                raise ValueError(f"{name} must be a non-empty list of numbers >= 0, got {values!r}")
        if max(self.tune_thresholds) > 1:
            raise ValueError(f"tune_thresholds must be probabilities in [0, 1], got {self.tune_thresholds!r}")
        if isinstance(self.tune_folds, bool) or not isinstance(self.tune_folds, int) or self.tune_folds < 2:
            raise ValueError(f"tune_folds must be an int >= 2, got {self.tune_folds!r}")
        if not self.synthetic_weight >= 0:
            raise ValueError(f"synthetic_weight must be >= 0, got {self.synthetic_weight!r}")
        if not 0 <= self.curate_threshold <= 1:
            raise ValueError(f"curate_threshold must be a probability in [0, 1], got {self.curate_threshold!r}")
        if not 0 < self.vary_p <= 1:
            raise ValueError(f"vary_p must be a probability in (0, 1], got {self.vary_p!r}")
        if self.epoch_size is not None and (isinstance(self.epoch_size, bool) or not isinstance(self.epoch_size, int)
                                            or self.epoch_size < 1):
            raise ValueError(f"epoch_size must be a positive int or None, got {self.epoch_size!r}")
        self.generators = {name: GeneratorSpec.parse(spec) if isinstance(spec, str) else spec
                           for name, spec in self.generators.items()}
        if self.val_fraction == 0:
            stopping = {"patience": self.patience} | {f"generator {n} patience": s.patience
                                                       for n, s in self.generators.items()}
            stopping = {k: v for k, v in stopping.items() if v is not None}
            if stopping:
                raise ValueError(f"val_fraction=0 leaves nothing to stop early on: set {stopping} to None")
        for name in list(self.models) + list(self.generators):
            if name in BASELINES + CLASSIC or any(c in name for c in "+()") or not name:
                raise ValueError(f"learned method name {name!r} must be non-empty, without '+' or brackets, and not "
                                 f"one of {list(BASELINES + CLASSIC)}")
        both = sorted(set(self.models) & set(self.generators))
        if both:
            raise ValueError(f"method name(s) {both} are given both as models and as generators")
        foreign = {n: s for n, s in self.models.items() if not _is_zoo_name(s)}
        if foreign and not self.allow_foreign_models:
            raise ValueError(
                f"models {({n: str(s) for n, s in foreign.items()})} have unknown training data (a model directory or "
                "a sampler) and may have seen more than a cell's subset: use generators (trained per cell), a zoo model "
                "whose card names the cell's subset, or allow_foreign_models=True (breaks the protocol)"
            )
        for method in self.methods:
            _parse_method(method, self.learned)

    @property
    def learned(self) -> set[str]:
        return set(self.models) | set(self.generators)

    def setup(self) -> dict:
        """The settings every result in one output directory must share."""
        keep = ("dataset", "classifier", "width", "epochs", "patience", "batch_size", "lr", "val_fraction",
                "test_per_class", "online", "allow_foreign_models", "synthetic_ratio")
        # epoch_size, vary_p and schedule are recorded only when they matter, so older results still match
        parsed = [_parse_method(m, self.learned) for m in self.methods]
        varies = any(m.vary for m in parsed)
        curates = any(m.curate and not m.tune for m in parsed)
        tunes_ratio = any(m.tune and not m.vary and not m.curate for m in parsed)
        tunes_scale = any(m.tune and m.vary for m in parsed)
        tunes_threshold = any(m.tune and m.curate for m in parsed)
        return {k: v for k, v in asdict(self).items() if k in keep} | (
            {} if self.epoch_size is None else {"epoch_size": self.epoch_size}) | (
            {"vary_p": self.vary_p} if varies else {}) | (
            {"curate_threshold": self.curate_threshold} if curates else {}) | (
            {"synthetic_weight": self.synthetic_weight} if self.synthetic_weight != 1 else {}) | (
            {"tune_ratios": list(self.tune_ratios)} if tunes_ratio else {}) | (
            {"tune_scales": list(self.tune_scales)} if tunes_scale else {}) | (
            {"tune_thresholds": list(self.tune_thresholds)} if tunes_threshold else {}) | (
            {"tune_folds": self.tune_folds} if tunes_ratio or tunes_scale or tunes_threshold else {}) | (
            {"schedule": self.schedule} if self.schedule != "constant" else {}) | {
            "dataset": str(self.dataset),
            "generators": {n: s.as_dict() for n, s in self.generators.items()},
            "models": {n: s if _is_zoo_name(s) else str(s) if isinstance(s, (str, os.PathLike)) else type(s).__name__
                       for n, s in self.models.items()},
        }


class Method(NamedTuple):
    """A parsed method: ``classic`` transform name, ``learned`` model/generator name (None for baselines and classic
    methods), ``vary`` for ``VARY(NAME)`` (learned variations of the real images rather than added samples) and
    ``curate`` for ``CURATE(NAME)`` (added samples filtered by a judge classifier), ``tune`` for ``TUNE(NAME)`` /
    ``TUNE(VARY(NAME))`` / ``TUNE(CURATE(NAME))`` (the synthetic ratio / the variation scale / the judge threshold
    chosen per cell, 0 included), ``duplicate`` for
    ``AUGORIG+...`` (every real image twice per epoch, as the AUGORIG control)."""

    classic: str | None
    learned: str | None
    vary: bool = False
    curate: bool = False
    tune: bool = False
    duplicate: bool = False

    @property
    def baseline(self) -> str:
        """The method without its learned part: TUNE's candidate 0 and CURATE's judge."""
        return self.classic or ("AUGORIG" if self.duplicate else "ORIG")


def _unwrap(part: str, kind: str) -> str | None:
    return part[len(kind) + 1:-1] if part.startswith(kind + "(") and part.endswith(")") else None


def _learned_part(part: str, learned: set[str]) -> Method | None:
    """``NAME``, ``VARY(NAME)``, ``CURATE(NAME)``, ``TUNE(NAME)``, ``TUNE(VARY(NAME))`` or ``TUNE(CURATE(NAME))`` ->
    a Method (no classic); None for anything else."""
    tuned = _unwrap(part, "TUNE")
    inner = part if tuned is None else tuned
    if inner in learned:
        return Method(None, inner, tune=tuned is not None)
    for kind in ("VARY", "CURATE"):
        name = _unwrap(inner, kind)
        if name in learned:
            return Method(None, name, vary=kind == "VARY", curate=kind == "CURATE", tune=tuned is not None)
    return None


def _parse_method(method: str, learned: set[str]) -> Method:
    """``method`` -> :class:`Method`; ValueError naming the grammar for anything else."""
    if method in BASELINES:
        return Method(None, None)
    parts = method.split("+")
    found = _learned_part(parts[-1], learned) if len(parts) <= 2 else None
    if len(parts) == 1 and parts[0] in CLASSIC:
        return Method(parts[0], None)
    if found is not None and len(parts) == 1:
        return found
    if found is not None and parts[0] in CLASSIC:
        return found._replace(classic=parts[0])
    if found is not None and parts[0] == "AUGORIG" and found.vary:
        return found._replace(duplicate=True)
    raise ValueError(
        f"method {method!r} must be one of {list(BASELINES + CLASSIC)}, a model or generator name "
        f"({sorted(learned)}), VARY(NAME), CURATE(NAME), TUNE(NAME), TUNE(VARY(NAME)), TUNE(CURATE(NAME)), CLASSIC+ "
        "one of those, or "
        "AUGORIG+VARY(NAME) / AUGORIG+TUNE(VARY(NAME))"
    )
