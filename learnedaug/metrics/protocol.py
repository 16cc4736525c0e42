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
  - a learned model ``NAME`` (given in ``models``): the subset plus as many class-balanced samples, regenerated
    every epoch.
  - ``CLASSIC+NAME``, e.g. ``SHIFT-ROT+VAE``: the subset plus samples, the transform applied to every batch
    (seed 001's AUG+VAE).
Sizes are either class-balanced totals (``sizes``, seed 001: 50 .. 1000) or nested fractions (``fractions``, seed 000).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from learnedaug._io import atomic_path, atomic_write_text
from learnedaug.data import DEFAULT_SIZES, ImageSet, balanced_subset, load_dataset, nested_subsets, stratified_split
from learnedaug.metrics.classifiers import CLASSIFIERS
from learnedaug.metrics.downstream import evaluate, train_classifier, wilcoxon_table

BASELINES = ("ORIG", "AUGORIG")


def _classic(name: str, seed: int):
    from learnedaug.transforms import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate

    return {
        "ROT": lambda: RandomRotation(25.0, generator=seed),
        "BLUR": lambda: RandomGaussianBlur((0.25, 2.25), generator=seed),
        "ROT-BLUR": lambda: RotBlur(25.0, (0.25, 2.25), generator=seed),
        "SHIFT-ROT": lambda: ShiftRotate(20.0, (0.2, 0.2), generator=seed),
    }[name]()


CLASSIC = ("ROT", "BLUR", "ROT-BLUR", "SHIFT-ROT")


@dataclass
class BenchConfig:
    """One benchmark. ``models`` maps a method name to a sampler or a model directory / zoo name."""

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

    def __post_init__(self) -> None:
        if self.sizes is not None and self.fractions is not None:
            raise ValueError(f"give sizes or fractions, not both (got sizes={self.sizes}, fractions={self.fractions})")
        if self.sizes is None and self.fractions is None:
            self.sizes = DEFAULT_SIZES
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {sorted(CLASSIFIERS)}, got {self.classifier!r}")
        if not self.methods or not self.seeds:
            raise ValueError(f"methods and seeds must be non-empty, got methods={self.methods}, seeds={self.seeds}")
        for method in self.methods:
            _parse_method(method, self.models)

    def setup(self) -> dict:
        """The settings every result in one output directory must share."""
        keep = ("dataset", "classifier", "width", "epochs", "patience", "batch_size", "lr", "val_fraction",
                "test_per_class", "online")
        return {k: v for k, v in asdict(self).items() if k in keep} | {"dataset": str(self.dataset)}


def _parse_method(method: str, models: Mapping[str, object]) -> tuple[str | None, str | None]:
    """``method`` -> ``(classic transform name or None, model name or None)``; baselines give ``(None, None)``."""
    if method in BASELINES:
        return None, None
    parts = method.split("+")
    classic = [p for p in parts if p in CLASSIC]
    learned = [p for p in parts if p in models]
    if len(parts) > 2 or len(classic) > 1 or len(learned) > 1 or len(classic) + len(learned) != len(parts):
        raise ValueError(
            f"method {method!r} must be one of {list(BASELINES + CLASSIC)}, a model name from models "
            f"({sorted(models)}), or CLASSIC+MODEL"
        )
    return (classic[0] if classic else None), (learned[0] if learned else None)


def _subsets(train: ImageSet, config: BenchConfig, seed: int) -> list[tuple[float | int, torch.Tensor]]:
    if config.fractions is not None:
        nested = nested_subsets(train.labels, config.fractions, seed=seed)
        return [(f, nested[f]) for f in config.fractions]
    return [(int(s), balanced_subset(train.labels, int(s), seed=seed)) for s in config.sizes]


def _read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ingredients(method: str, train: ImageSet, config: BenchConfig, seed: int, loaded: dict,
                 load: Callable[[object], object]):
    """``(augment, extra_dataset)`` for ``method`` on ``train``."""
    classic, learned = _parse_method(method, config.models)
    if method == "AUGORIG":
        return None, train
    transform = None if classic is None else _classic(classic, seed)
    if learned is None:
        if transform is None:
            return None, None
        return (transform, None) if config.online else (None, train.with_transform(transform))
    from learnedaug.mixing import SyntheticDataset

    if learned not in loaded:
        loaded[learned] = load(config.models[learned])
    synthetic = SyntheticDataset(loaded[learned], size=len(train), labels="balanced", seed=seed)
    return transform, synthetic


def _load_model(spec: object, device: str):
    if isinstance(spec, (str, os.PathLike)):
        from learnedaug.sample import load_model

        return load_model(str(spec), device=device)
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
    loaded: dict = {}
    jobs = [(seed, key, idx, method) for seed in config.seeds for key, idx in _subsets(train_split, config, seed)
            for method in config.methods]
    bar = tqdm(jobs, desc="bench", unit="run", disable=not progress)
    for seed, key, idx, method in bar:
        if (method, key, seed) in done:
            continue
        bar.set_postfix(method=method, subset=key, seed=seed)
        subset = train_split.subset(idx)
        tr_idx, va_idx = stratified_split(subset.labels, config.val_fraction, seed=seed)
        train, val = subset.subset(tr_idx), subset.subset(va_idx)
        augment, extra = _ingredients(method, train, config, seed, loaded, lambda s: _load_model(s, config.device))
        model, history = train_classifier(
            config.classifier, train, val, augment=augment, extra_dataset=extra, epochs=config.epochs,
            batch_size=config.batch_size, lr=config.lr, patience=config.patience, num_classes=train_split.num_classes,
            model_kwargs={"width": config.width}, seed=seed, device=config.device, progress=progress,
        )
        scores = evaluate(model, test)
        records.append({
            "method": method, "subset": key, "seed": seed, "n_train": len(train), "n_val": len(val),
            "n_test": scores["n"], "accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            "per_class_f1": scores["per_class_f1"], "best_epoch": history.best_epoch,
            "epochs_run": len(history.train_loss), "seconds": round(history.seconds, 3), "setup": setup,
        })
        atomic_write_text(results_path, "".join(json.dumps(r) + "\n" for r in records))
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
    macro-F1 between methods, paired by (subset, seed) where every method has a result."""
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
    complete = [(s, seed) for s, seed in pairs if all((m, s, seed) in score for m in methods)]
    if len(methods) >= 2 and len(complete) >= 2:
        table = wilcoxon_table({m: [score[m, s, seed] for s, seed in complete] for m in methods}, alpha=alpha)
        lines += ["## Paired tests (macro-F1)", "", table.to_markdown(), ""]
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


def _csv(kind: Callable):
    return lambda text: tuple(kind(v) for v in text.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="mnist, cifar10, an .npz file or directory, or an ImageFolder tree")
    parser.add_argument("--root", help="npz directory or torchvision root (default: $LEARNEDAUG_DATA)")
    parser.add_argument("--out", required=True, help="output directory (results.jsonl, table.md, learning_curve.png)")
    parser.add_argument("--methods", type=_csv(str), default=BenchConfig.methods,
                        help=f"comma-separated: {','.join(BASELINES + CLASSIC)}, model names, CLASSIC+MODEL")
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--sizes", type=_csv(int), help="class-balanced training sizes (default 50,100,250,500,1000)")
    sizes.add_argument("--fractions", type=_csv(float), help="nested fractions of the training split, e.g. 0.01,0.1,1")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=SPEC",
                        help="a learned method: model directory or zoo name (repeatable)")
    parser.add_argument("--seeds", type=_csv(int), default=(0,))
    parser.add_argument("--classifier", choices=sorted(CLASSIFIERS), default="cnn")
    parser.add_argument("--width", type=float, default=1.0, help="classifier width multiplier (1 = the papers')")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-per-class", type=int, help="score on this many test images per class (default all)")
    parser.add_argument("--online", action="store_true", help="apply classic transforms to every batch, no copies")
    parser.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    models = {}
    for item in args.model:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise SystemExit(f"--model must be NAME=SPEC, got {item!r}")
        models[name] = spec
    try:
        config = BenchConfig(
            args.dataset, args.root, args.methods, args.sizes, args.fractions, args.seeds, args.classifier,
            args.width, args.epochs, args.patience, args.batch_size, args.lr, args.val_fraction, args.test_per_class,
            args.online, models, args.device,
        )
    except ValueError as err:
        raise SystemExit(str(err)) from err
    records = run_protocol(config, args.out)
    print(summarize(records))
    print(f"wrote {Path(args.out) / 'results.jsonl'}, table.md, learning_curve.png ({len(records)} runs)")
    return 0


__all__ = ["BenchConfig", "add_arguments", "plot_learning_curves", "run", "run_protocol", "summarize"]
