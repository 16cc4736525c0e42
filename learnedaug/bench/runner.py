"""Run the downstream benchmark: per (seed, size) cell and method, train a classifier and score it.

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

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset
from tqdm.auto import tqdm

from .. import zoo
from .._io import atomic_write_text
from ..classifiers import evaluate, train_classifier
from ..data import (
    ImageSet,
    balanced_subset,
    load_dataset,
    nested_subsets,
    stratified_split,
)
from ..mixing import CuratedSampler, SyntheticDataset
from ..models.base import CONFIG_NAME, GenerativeModel
from ..train import fit
from ..train.loop import MODEL_DIRNAME
from ..train.objectives import objective_for
from ..transforms import LearnedVariation
from .report import plot_learning_curves, summarize
from .spec import BenchConfig, GeneratorSpec, _classic, _is_zoo_name, _parse_method
from .tune import TuneResult, _then, choose_on_validation, choose_ratio, choose_scale, choose_threshold


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
    for name, spec in config.models.items():
        if not _is_zoo_name(spec):
            continue
        card = zoo.get_card(spec)
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


@dataclass
class _Ingredients:
    """How one method trains: ``augment`` online, ``extra`` dataset shown once and the real images ``repeats`` times
    per epoch; ``curated`` (a CURATE method's sampler, whose counts go into the record) and ``tuned`` (a TUNE
    method's :class:`~learnedaug.bench.tune.TuneResult`)."""

    augment: Callable | None
    extra: Dataset | None
    repeats: int
    curated: CuratedSampler | None = None
    tuned: TuneResult | None = None
    extra_weight: float = 1.0

    def record(self) -> dict:
        out = {}
        if self.curated is not None:
            rates = self.curated.acceptance_rate().tolist()
            out |= {"acceptance_rate": [None if math.isnan(r) else round(r, 4) for r in rates],
                    "filled_from_rejected": self.curated.filled.tolist()}
        if self.tuned is not None:
            out["tuned"] = self.tuned.to_dict()
        return out


def _ingredients(method: str, train: ImageSet, config: BenchConfig, seed: int, sampler_for: Callable[..., object],
                 judge_for: Callable[..., object], strength: float | None = None) -> _Ingredients:
    """The :class:`_Ingredients` of ``method`` on ``train``: every addition keeps its share of the epoch whatever
    ``config.epoch_size``. ``sampler_for(name)``: the cell's sampler; ``sampler_for(name, part, fold)``: one trained
    on ``part`` only (a zoo model: the same model). ``judge_for(baseline)``: the cell's classifier of that method;
    ``judge_for(baseline, part)``: one trained on ``part`` only. ``strength``: a TUNE method's candidate - the
    synthetic ratio, a VARY method's scale or a CURATE method's threshold - run as is (no cross-validation then)."""
    repeats = 1 if config.epoch_size is None else -(-config.epoch_size // len(train))
    parsed = _parse_method(method, config.learned)
    if method == "AUGORIG" or parsed.duplicate:
        repeats *= 2
    if method == "AUGORIG":
        return _Ingredients(None, None, repeats)
    transform = None if parsed.classic is None else _classic(parsed.classic, seed)
    if parsed.learned is None:
        if transform is None or config.online:
            return _Ingredients(transform, None, repeats)
        return _Ingredients(None, ConcatDataset([train.with_transform(transform)] * repeats), repeats)
    tuned = None
    if strength is None and parsed.tune:  # k-fold: per-cell generators (and judges) are retrained on each fold's part
        options = dict(folds=config.tune_folds, augment=transform, classifier=config.classifier,
                       epoch_size=config.epoch_size, repeats=2 if parsed.duplicate else 1, seed=seed,
                       epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, schedule=config.schedule,
                       model_kwargs={"width": config.width}, device=config.device)
        factory = lambda part, fold: sampler_for(parsed.learned, part, fold)  # noqa: E731
        if parsed.vary:
            tuned = choose_scale(train, factory, scales=config.tune_scales, p=config.vary_p, **options)
        elif parsed.curate:
            tuned = choose_threshold(
                train, lambda part, fold: (factory(part, fold), judge_for(parsed.baseline, part)),
                thresholds=config.tune_thresholds, ratio=config.synthetic_ratio, extra_weight=config.synthetic_weight,
                **options)
        else:
            tuned = choose_ratio(train, factory, ratios=config.tune_ratios, extra_weight=config.synthetic_weight,
                                 **options)
        strength = tuned.chosen
    if parsed.vary:
        scale = 1.0 if strength is None else strength
        if scale == 0:
            return _Ingredients(transform, None, repeats, tuned=tuned)
        variation = LearnedVariation(sampler_for(parsed.learned), scale=scale, p=config.vary_p, generator=seed)
        return _Ingredients(_then(variation, transform), None, repeats, tuned=tuned)
    sampler, curated = sampler_for(parsed.learned), None
    threshold = strength if parsed.tune and parsed.curate else config.curate_threshold  # a TUNE's strength is set now
    if parsed.curate and threshold > 0:
        sampler = curated = CuratedSampler(sampler, judge_for(parsed.baseline), threshold=threshold, on_starved="warn")
    ratio = strength if parsed.tune and not parsed.curate else config.synthetic_ratio
    extra = None if ratio == 0 else SyntheticDataset(sampler, size=max(1, round(ratio * len(train) * repeats)),
                                                      labels="balanced", seed=seed)
    return _Ingredients(transform, extra, repeats, curated, tuned, config.synthetic_weight)


def _load_model(spec: object, device: str):
    if isinstance(spec, (str, os.PathLike)):
        return zoo.load(spec, device=device)
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
        objective_for(spec.build(k, train_split.image_shape, 0), **spec.objective)
    loaded: dict = {}
    jobs = [(seed, key, idx, method) for seed, key, idx in cells for method in config.methods]
    bar = tqdm(jobs, desc="bench", unit="run", disable=not progress)
    cell, cell_models, cell_classifiers = None, {}, {}
    for seed, key, idx, method in bar:
        if (method, key, seed) in done:
            continue
        bar.set_postfix(method=method, subset=key, seed=seed)
        subset = train_split.subset(idx)
        if cell != (seed, key):
            cell, cell_models, cell_classifiers = (seed, key), {}, {}

        def sampler_for(name: str, part: ImageSet | None = None, fold: int | None = None):
            if part is not None and name in config.generators:
                return train_cell_generator(
                    config.generators[name], part, out / "generators" / name / f"{_cell_name(seed, key)}-fold{fold}",
                    seed=seed, val_fraction=config.val_fraction, num_classes=k, device=config.device,
                    progress=progress)
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

        def fit_method(name: str, strength: float | None = None, on: ImageSet | None = None):
            """Train the cell's classifier of method ``name`` (at a TUNE candidate ``strength``; on ``on`` without
            validation - a fold's part - instead of the cell's split): ``(model, history, record)``."""
            fit_set, stop_set = (train, val) if on is None else (on, None)
            with warnings.catch_warnings():  # starved classes are counted in the record, not printed per epoch
                warnings.filterwarnings("ignore", message="CuratedSampler: class", category=UserWarning)
                parts = _ingredients(name, fit_set, config, seed, sampler_for, judge_for, strength)
                model, history = train_classifier(
                    config.classifier, fit_set, stop_set, augment=parts.augment, extra_dataset=parts.extra,
                    repeats=parts.repeats, extra_weight=parts.extra_weight, epochs=config.epochs,
                    batch_size=config.batch_size, lr=config.lr, schedule=config.schedule,
                    patience=None if on is not None else config.patience, num_classes=k,
                    model_kwargs={"width": config.width}, seed=seed, device=config.device, progress=progress)
            return model, history, parts.record()

        def classify(name: str):
            """Train (or reuse) the cell's classifier of method ``name``: ``(model, history, record)``. With a
            validation split a TUNE method trains one classifier per candidate ratio, scale or threshold - ratio or
            scale 0 is the cell's classifier of its baseline, reused - and keeps the one
            :func:`choose_on_validation` picks (with the chosen run's record: a curated run's acceptance rates)."""
            if name in cell_classifiers:
                return cell_classifiers[name]
            parsed = _parse_method(name, config.learned)
            if parsed.tune and val is not None:
                quantity, candidates = (("scale", config.tune_scales) if parsed.vary else
                                        ("threshold", config.tune_thresholds) if parsed.curate else
                                        ("ratio", config.tune_ratios))
                reuse_zero = 0 in candidates and not parsed.curate  # threshold 0 still adds (every) sample
                runs = {float(c): fit_method(name, float(c)) for c in candidates if c > 0 or not reuse_zero}
                if reuse_zero:
                    model, history, _ = classify(parsed.baseline)
                    runs[0.0] = model, history, {}
                tuned = choose_on_validation({c: m for c, (m, _, _) in runs.items()}, val, seed=seed,
                                             quantity=quantity)
                seconds = {str(r): round(h.seconds, 3) for r, (_, h, _) in sorted(runs.items())}  # the record's: the chosen run's
                model, history, record = runs[tuned.chosen]
                return model, history, {**record, "tuned": {**tuned.to_dict(), "seconds": seconds}}
            result = fit_method(name)
            if parsed.learned is None:  # baselines and classic methods judge CURATE and are TUNE's ratio 0
                cell_classifiers[name] = result
            return result

        def judge_for(baseline: str, part: ImageSet | None = None):
            """The cell's classifier of ``baseline``, or (``part``: a fold's images) a fresh one trained on those."""
            return classify(baseline)[0] if part is None else fit_method(baseline, on=part)[0]

        model, history, extra_fields = classify(method)
        scores = evaluate(model, test)
        records.append({
            "method": method, "subset": key, "seed": seed, "n_train": len(train),
            "n_val": 0 if val is None else len(val),
            "n_test": scores["n"], "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            "per_class_f1": scores["per_class_f1"], "best_epoch": history.best_epoch,
            "epochs_run": len(history.train_loss), "seconds": round(history.seconds, 3), **extra_fields,
            "setup": setup,
        })
        atomic_write_text(results_path, "".join(json.dumps(r) + "\n" for r in records))
        atomic_write_text(out / "table.md", summarize(records))
    bar.close()
    atomic_write_text(out / "table.md", summarize(records))
    if records:
        plot_learning_curves(records, out / "learning_curve.png")
    return records
