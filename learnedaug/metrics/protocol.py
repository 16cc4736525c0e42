"""``learnedaug bench``: does augmentation X improve a classifier trained on little data? (seeds 000 and 001)

For every seed, training-set size and method, a classifier is trained on a stratified subset of the training split
(85 % train / 15 % validation for early stopping) and scored on the test split. Results are appended to
``results.jsonl`` (a rerun skips what is already there), then summarised in ``table.md`` (mean ± std over seeds,
Wilcoxon signed-rank tests between methods paired by size and seed) and ``learning_curve.png``.

Methods:
  - ``ORIG``: the subset as is.                 - ``AUGORIG``: every image twice (seed 000's control).
  - ``ROT``, ``BLUR``, ``ROT-BLUR`` (seed 000 settings), ``SHIFT-ROT`` (seed 001's Keras setting): the subset plus a
    transformed copy, drawn afresh every epoch (same number of steps as AUGORIG). With ``online=True`` the transform
    is instead applied to every training batch, without copies (seed 001's AUG).
  - a learned method ``NAME``: the subset plus ``synthetic_ratio`` times as many class-balanced samples, regenerated
    every epoch (seed 003's "pagination"). ``generators`` (the protocol): a fresh generator per (seed, size) cell,
    trained with :func:`learnedaug.train.fit` on that cell's subset only - on its 85 % training part, early-stopped on
    its 15 % validation part, the same split the classifier uses - and saved under
    ``out_dir/generators/NAME/<cell>/`` so a resumed run reuses it. ``models``: one loaded model for every cell; a
    zoo name is accepted only in cells whose subset its card names exactly (dataset, subset, seed), anything else
    (a model directory or an in-memory sampler, whose training data is unknown) only with
    ``allow_foreign_models=True``, which breaks the protocol and is recorded with the results.
  - ``CLASSIC+NAME``, e.g. ``SHIFT-ROT+VAE``: the subset plus samples, the transform applied to every batch
    (seed 001's AUG+VAE).
  - ``VARY(NAME)``: learned variations - in every training batch a share ``vary_p`` of the real images is replaced
    by ``model.vary`` of it (:class:`~learnedaug.transforms.LearnedVariation`, same label; NAME must be a VAE);
    ``CLASSIC+VARY(NAME)`` applies the classic transform after it.
Sizes are either class-balanced totals (``sizes``, seed 001: 50 .. 1000) or nested fractions (``fractions``, seed 000).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset
from tqdm.auto import tqdm

from learnedaug._io import atomic_path, atomic_write_text
from learnedaug.data import DEFAULT_SIZES, ImageSet, balanced_subset, load_dataset, nested_subsets, stratified_split
from learnedaug.metrics.classifiers import CLASSIFIERS
from learnedaug.metrics.downstream import SCHEDULES, evaluate, train_classifier, wilcoxon_table
from learnedaug.train import fit

BASELINES = ("ORIG", "AUGORIG")
_FIT_OPTIONS = ("epochs", "batch_size", "patience", "grad_clip")


def _classic(name: str, seed: int):
    from learnedaug.transforms import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate

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
    from learnedaug.models import family_class  # importing the package registers every family

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
        from learnedaug.models import family_class

        model_cls = family_class(self.family)
        config = model_cls.config_class(num_classes=int(num_classes), image_shape=tuple(image_shape), **self.config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return model_cls(config)


def _sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().cpu().numpy().tobytes()).hexdigest()


def train_cell_generator(spec: GeneratorSpec, subset: ImageSet, out_dir: str | os.PathLike, *, seed: int,
                         val_fraction: float = 0.15, num_classes: int | None = None, device: str = "cpu",
                         progress: bool = True):
    """A fresh ``spec`` generator that sees ``subset`` (one benchmark cell) and nothing else.

    :func:`~learnedaug.train.fit` splits ``subset`` with ``stratified_split(labels, val_fraction, seed)``, the split the
    classifier of the cell uses: the generator learns from the 85 % training part and early-stops on the 15 %
    validation part (``val_fraction=0``: it learns from the whole cell for ``spec.epochs``). ``out_dir`` receives ``cell.json`` (spec, seed and SHA-256 of the images and labels), fit's
    checkpoint and reports, and ``model/``. A finished generator for the same spec and data is loaded, not retrained;
    an interrupted one resumes from its checkpoint; a directory holding another cell's generator is an error.
    Returns the model in eval mode on ``device``.
    """
    from learnedaug.models.base import CONFIG_NAME, GenerativeModel
    from learnedaug.train.loop import MODEL_DIRNAME
    from learnedaug.train.objectives import objective_for

    out_dir = Path(out_dir)
    record = {"spec": spec.as_dict(), "seed": seed, "val_fraction": val_fraction, "n_images": len(subset),
              "images_sha256": _sha256(subset.images), "labels_sha256": _sha256(subset.labels)}
    meta = out_dir / "cell.json"
    if meta.is_file():
        found = json.loads(meta.read_text(encoding="utf-8"))
        if found != record:
            raise ValueError(f"{out_dir} holds a generator of other data or settings {found}; expected {record}")
        if (out_dir / MODEL_DIRNAME / CONFIG_NAME).is_file():
            return GenerativeModel.from_pretrained(out_dir / MODEL_DIRNAME, device=device).eval()
    else:
        atomic_write_text(meta, json.dumps(record, indent=2) + "\n")
    model = spec.build(subset.num_classes if num_classes is None else num_classes, subset.image_shape, seed)
    result = fit(model.to(device), subset, epochs=spec.epochs, batch_size=spec.batch_size, out_dir=out_dir,
                 objective=objective_for(model, **spec.objective), val_fraction=val_fraction, patience=spec.patience,
                 seed=seed, device=device, resume=True, progress=progress, sample_every=spec.epochs,
                 grad_clip=spec.grad_clip)
    return result.model.eval()


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
    rate, ``"constant"`` (the papers') or ``"cosine"`` (decays to 0 over ``epochs``)."""

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
        varies = any(_parse_method(m, self.learned)[2] for m in self.methods)
        return {k: v for k, v in asdict(self).items() if k in keep} | (
            {} if self.epoch_size is None else {"epoch_size": self.epoch_size}) | (
            {"vary_p": self.vary_p} if varies else {}) | (
            {"schedule": self.schedule} if self.schedule != "constant" else {}) | {
            "dataset": str(self.dataset),
            "generators": {n: s.as_dict() for n, s in self.generators.items()},
            "models": {n: s if _is_zoo_name(s) else str(s) if isinstance(s, (str, os.PathLike)) else type(s).__name__
                       for n, s in self.models.items()},
        }


def _parse_method(method: str, learned: set[str]) -> tuple[str | None, str | None, bool]:
    """``method`` -> ``(classic transform name or None, learned method name or None, vary)``; ``vary`` marks
    ``VARY(NAME)`` (learned variations of the real images) rather than ``NAME`` (added samples). Baselines give
    ``(None, None, False)``."""
    if method in BASELINES:
        return None, None, False
    parts = method.split("+")
    classic = [p for p in parts if p in CLASSIC]
    varied = [p[5:-1] for p in parts if p.startswith("VARY(") and p.endswith(")") and p[5:-1] in learned]
    names = [p for p in parts if p in learned] + varied
    if len(parts) > 2 or len(classic) > 1 or len(names) > 1 or len(classic) + len(names) != len(parts):
        raise ValueError(
            f"method {method!r} must be one of {list(BASELINES + CLASSIC)}, a model or generator name "
            f"({sorted(learned)}), VARY(NAME), or CLASSIC+NAME / CLASSIC+VARY(NAME)"
        )
    return (classic[0] if classic else None), (names[0] if names else None), bool(varied)


def _subsets(train: ImageSet, config: BenchConfig, seed: int) -> list[tuple[float | int, torch.Tensor]]:
    if config.fractions is not None:
        nested = nested_subsets(train.labels, config.fractions, seed=seed)
        return [(f, nested[f]) for f in config.fractions]
    return [(int(s), balanced_subset(train.labels, int(s), seed=seed)) for s in config.sizes]


def _cell_name(seed: int, key: float | int) -> str:
    return f"seed{seed}-size{key}" if isinstance(key, int) else f"seed{seed}-fraction{key:g}"


def card_subset(key: float | int, num_classes: int) -> str | None:
    """The model-card name of a cell's subset: size 50 of 10 classes -> ``"per-class-5"``, fraction 0.1 -> ``"10%"``,
    1.0 -> ``"all"``; None for a size that is not a multiple of ``num_classes`` (no card can name it)."""
    if isinstance(key, int):
        return f"per-class-{key // num_classes}" if key % num_classes == 0 else None
    return "all" if key == 1.0 else f"{100 * key:g}%"


def _check_zoo_models(config: BenchConfig, cells: Sequence[tuple[int, float | int]], num_classes: int) -> None:
    """Refuse (ValueError) a zoo model in any cell whose exact subset its card does not name."""
    from learnedaug.zoo import get_card

    for name, spec in config.models.items():
        if not _is_zoo_name(spec):
            continue
        card = get_card(spec)
        for seed, key in cells:
            subset = card_subset(key, num_classes)
            if subset is None:
                raise ValueError(f"method {name!r} (zoo model {spec!r}): cell size {key} is not a multiple of "
                                 f"{num_classes} classes, so no model card can name its subset")
            try:
                card.check_training_data(str(config.dataset), subset, seed)
            except ValueError as err:
                raise ValueError(f"method {name!r} in cell {_cell_name(seed, key)}: {err}") from None


def _read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ingredients(method: str, train: ImageSet, config: BenchConfig, seed: int, sampler_for: Callable[[str], object]):
    """``(augment, extra_dataset, repeats)`` for ``method`` on ``train``: an epoch shows ``train`` ``repeats`` times
    and ``extra_dataset`` once, so every addition keeps its share of the epoch whatever ``config.epoch_size``."""
    repeats = 1 if config.epoch_size is None else -(-config.epoch_size // len(train))
    classic, learned, vary = _parse_method(method, config.learned)
    if method == "AUGORIG":
        return None, None, 2 * repeats
    transform = None if classic is None else _classic(classic, seed)
    if learned is None:
        if transform is None or config.online:
            return transform, None, repeats
        return None, ConcatDataset([train.with_transform(transform)] * repeats), repeats
    if vary:
        from learnedaug.transforms import LearnedVariation

        variation = LearnedVariation(sampler_for(learned), scale=1.0, p=config.vary_p, generator=seed)
        if transform is None:
            return variation, None, repeats
        return (lambda x, y: transform(*variation(x, y))), None, repeats
    from learnedaug.mixing import SyntheticDataset

    size = max(1, round(config.synthetic_ratio * len(train) * repeats))
    return transform, SyntheticDataset(sampler_for(learned), size=size, labels="balanced", seed=seed), repeats


def _load_model(spec: object, device: str):
    if isinstance(spec, (str, os.PathLike)):
        from learnedaug.zoo import load

        return load(spec, device=device)
    return spec


def run_protocol(config: BenchConfig, out_dir: str | os.PathLike, *, progress: bool = True) -> list[dict]:
    """Run (or resume) the benchmark into ``out_dir``; returns all result records (one dict per run)."""
    out = Path(out_dir)
    results_path = out / "results.jsonl"
    records = _read_results(results_path)
    setup = config.setup()
    for r in records:
        if r.get("setup") != setup:
            raise ValueError(f"{results_path} holds results of another setup {r.get('setup')}; expected {setup}")
    done = {(r["method"], r["subset"], r["seed"]) for r in records}

    train_split = load_dataset(config.dataset, "train", root=config.root)
    test = load_dataset(config.dataset, "test", root=config.root)
    if config.test_per_class is not None:
        test = test.subset(balanced_subset(test.labels, per_class=config.test_per_class, seed=0))
    k = train_split.num_classes
    cells = [(seed, key, idx) for seed in config.seeds for key, idx in _subsets(train_split, config, seed)]
    _check_zoo_models(config, [(seed, key) for seed, key, _ in cells], k)
    for spec in config.generators.values():  # bad config or objective options fail now, not after hours of runs
        from learnedaug.train.objectives import objective_for

        objective_for(spec.build(k, train_split.image_shape, 0), **spec.objective)
    loaded: dict = {}
    jobs = [(seed, key, idx, method) for seed, key, idx in cells for method in config.methods]
    bar = tqdm(jobs, desc="bench", unit="run", disable=not progress)
    cell, cell_models = None, {}
    for seed, key, idx, method in bar:
        if (method, key, seed) in done:
            continue
        bar.set_postfix(method=method, subset=key, seed=seed)
        subset = train_split.subset(idx)
        if cell != (seed, key):
            cell, cell_models = (seed, key), {}

        def sampler_for(name: str):
            if name not in cell_models:
                if name in config.generators:
                    cell_models[name] = train_cell_generator(
                        config.generators[name], subset, out / "generators" / name / _cell_name(seed, key), seed=seed,
                        val_fraction=config.val_fraction, num_classes=k, device=config.device, progress=progress)
                else:
                    if name not in loaded:
                        loaded[name] = _load_model(config.models[name], config.device)
                    cell_models[name] = loaded[name]
            return cell_models[name]

        if config.val_fraction > 0:
            tr_idx, va_idx = stratified_split(subset.labels, config.val_fraction, seed=seed)
            train, val = subset.subset(tr_idx), subset.subset(va_idx)
        else:
            train, val = subset, None
        augment, extra, repeats = _ingredients(method, train, config, seed, sampler_for)
        model, history = train_classifier(
            config.classifier, train, val, augment=augment, extra_dataset=extra, repeats=repeats, epochs=config.epochs,
            batch_size=config.batch_size, lr=config.lr, schedule=config.schedule, patience=config.patience,
            num_classes=k, model_kwargs={"width": config.width}, seed=seed, device=config.device, progress=progress,
        )
        scores = evaluate(model, test)
        records.append({
            "method": method, "subset": key, "seed": seed, "n_train": len(train),
            "n_val": 0 if val is None else len(val),
            "n_test": scores["n"], "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            "per_class_f1": scores["per_class_f1"], "best_epoch": history.best_epoch,
            "epochs_run": len(history.train_loss), "seconds": round(history.seconds, 3), "setup": setup,
        })
        atomic_write_text(results_path, "".join(json.dumps(r) + "\n" for r in records))
        atomic_write_text(out / "table.md", summarize(records))
    bar.close()
    atomic_write_text(out / "table.md", summarize(records))
    if records:
        plot_learning_curves(records, out / "learning_curve.png")
    return records


def _mean_std(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if t.numel() > 1 else 0.0)


def summarize(records: Sequence[Mapping], *, alpha: float = 0.01) -> str:
    """Markdown: accuracy and macro-F1 (%, mean ± std over seeds) per method and subset, and Wilcoxon tests on
    macro-F1 between methods, paired by (subset, seed): one table over every pair for the methods run on all of
    them, and, when some methods ran on fewer, one over the pairs where every method has a result."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    subsets = sorted({r["subset"] for r in records})
    by = defaultdict(list)
    for r in records:
        by[r["method"], r["subset"]].append(r)
    lines = []
    for metric, title in (("accuracy", "Test accuracy (%)"), ("macro_f1", "Test macro-F1 (%)")):
        lines += [f"## {title}", "", "| method | " + " | ".join(map(str, subsets)) + " |",
                  "|---" * (len(subsets) + 1) + "|"]
        for m in methods:
            cells = []
            for s in subsets:
                runs = by.get((m, s), [])
                if runs:
                    mean, std = _mean_std([100 * r[metric] for r in runs])
                    cells.append(f"{mean:.2f} ± {std:.2f}" if len(runs) > 1 else f"{mean:.2f}")
                else:
                    cells.append("–")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    score = {(r["method"], r["subset"], r["seed"]): r["macro_f1"] for r in records}
    pairs = sorted({(r["subset"], r["seed"]) for r in records})
    everywhere = [m for m in methods if all((m, *pair) in score for pair in pairs)]
    complete = [pair for pair in pairs if all((m, *pair) in score for m in methods)]
    tables = [(everywhere, pairs, "every (subset, seed)")]
    if len(everywhere) < len(methods):
        tables.append((methods, complete, "the (subsets, seeds) every method ran on"))
    for names, on, where in tables:
        if len(names) >= 2 and len(on) >= 2:
            table = wilcoxon_table({m: [score[(m, *pair)] for pair in on] for m in names}, alpha=alpha)
            lines += [f"## Paired tests (macro-F1) over {where}", "", table.to_markdown(), ""]
    return "\n".join(lines)


def plot_learning_curves(records: Sequence[Mapping], path: str | os.PathLike, metric: str = "accuracy") -> Path:
    """PNG: mean ``metric`` (%) over seeds against the number of training images, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for method in dict.fromkeys(r["method"] for r in records):
        groups = defaultdict(list)
        for r in records:
            if r["method"] == method:
                groups[r["n_train"] + r["n_val"]].append(100 * r[metric])
        xs = sorted(groups)
        stats = [_mean_std(groups[x]) for x in xs]
        ax.errorbar(xs, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=3, label=method)
    ax.set_xscale("log")
    ticks = sorted({r["n_train"] + r["n_val"] for r in records})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("training images (train + validation)")
    ax.set_ylabel(f"test {metric.replace('_', '-')} (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------------- CLI


def _optional_int(text: str) -> int | None:
    return None if text.strip().lower() in ("none", "null") else int(text)


def _csv(kind: Callable):
    return lambda text: tuple(kind(v) for v in text.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="mnist, cifar10, an .npz file or directory, or an ImageFolder tree")
    parser.add_argument("--root", help="npz directory or torchvision root (default: $LEARNEDAUG_DATA)")
    parser.add_argument("--out", required=True, help="output directory (results.jsonl, table.md, learning_curve.png)")
    parser.add_argument("--methods", type=_csv(str), default=BenchConfig.methods,
                        help=f"comma-separated: {','.join(BASELINES + CLASSIC)}, model names, VARY(MODEL), "
                             "CLASSIC+MODEL, CLASSIC+VARY(MODEL)")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--sizes", type=_csv(int), help="class-balanced training sizes (default 50,100,250,500,1000)")
    sizes.add_argument("--fractions", type=_csv(float), help="nested fractions of the training split, e.g. 0.01,0.1,1")
    parser.add_argument("--generator", action="append", default=[], metavar="NAME=FAMILY:key=value,...",
                        help="a learned method whose generator is trained afresh on every cell's subset, e.g. "
                             "VAE=classvae:latent_dim=3,epochs=200 (config fields, fit's epochs/batch_size/patience/"
                             "grad_clip, objective options such as lr) (repeatable)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=SPEC",
                        help="a learned method from one zoo model, accepted only in cells whose subset its card names "
                             "exactly; a model directory needs --allow-foreign-model (repeatable)")
    parser.add_argument("--allow-foreign-model", action="store_true",
                        help="accept --model directories of unknown training data; BREAKS the protocol (the model "
                             "may have seen more images than the classifier); recorded with the results")
    parser.add_argument("--synthetic-ratio", type=float, default=1.0,
                        help="synthetic images per real training image for learned methods (default 1)")
    parser.add_argument("--epoch-size", type=int,
                        help="show the real training images ceil(EPOCH_SIZE / n) times per epoch, additions in "
                             "proportion (default: one pass, as in the papers)")
    parser.add_argument("--vary-p", type=float, default=0.5,
                        help="share of each batch replaced by learned variations in VARY(NAME) methods (default 0.5)")
    parser.add_argument("--seeds", type=_csv(int), default=(0,))
    parser.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="cnn")
    parser.add_argument("--width", type=float, default=1.0, help="classifier width multiplier (1 = the papers')")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=_optional_int, default=10,
                        help="early-stopping patience in epochs, or 'none' (default 10)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="stratified validation share of each cell; 0 trains on the whole cell for --epochs and "
                             "keeps the final weights (needs --patience none)")
    parser.add_argument("--schedule", choices=SCHEDULES, default="constant",
                        help="classifier learning rate: constant (the papers') or cosine decay over --epochs")
    parser.add_argument("--test-per-class", type=int, help="score on this many test images per class (default all)")
    parser.add_argument("--online", action="store_true", help="apply classic transforms to every batch, no copies")
    parser.add_argument("--device", default="cpu")


def _named(items: Sequence[str], flag: str) -> dict[str, str]:
    named = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise SystemExit(f"{flag} must be NAME=SPEC, got {item!r}")
        named[name] = spec
    return named


def run(args: argparse.Namespace) -> int:
    models, generators = _named(args.model, "--model"), _named(args.generator, "--generator")
    try:
        config = BenchConfig(
            args.dataset, root=args.root, methods=args.methods, sizes=args.sizes, fractions=args.fractions,
            seeds=args.seeds, classifier=args.classifier, width=args.width, epochs=args.epochs,
            patience=args.patience, batch_size=args.batch_size, lr=args.lr, val_fraction=args.val_fraction,
            test_per_class=args.test_per_class, online=args.online, models=models, device=args.device,
            generators=generators, allow_foreign_models=args.allow_foreign_model,
            synthetic_ratio=args.synthetic_ratio, epoch_size=args.epoch_size,
            vary_p=args.vary_p, schedule=args.schedule,
        )
    except ValueError as err:
        raise SystemExit(str(err)) from err
    records = run_protocol(config, args.out)
    print(summarize(records))
    print(f"wrote {Path(args.out) / 'results.jsonl'}, table.md, learning_curve.png ({len(records)} runs)")
    return 0


__all__ = [
    "BenchConfig", "GeneratorSpec", "add_arguments", "card_subset", "plot_learning_curves", "run", "run_protocol",
    "summarize", "train_cell_generator",
]
