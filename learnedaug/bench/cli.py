"""``learnedaug bench``: does augmentation X improve a classifier trained on little data? (seeds 000 and 001)"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from ..classifiers import CLASSIFIERS
from ..classifiers.training import SCHEDULES
from .report import summarize
from .runner import run_protocol
from .spec import BASELINES, CLASSIC, BenchConfig


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
                             "CURATE(MODEL), TUNE(MODEL) / TUNE(VARY(MODEL)) / TUNE(CURATE(MODEL)) (ratio / scale / "
                             "threshold chosen per cell, 0 included), CLASSIC+ any of those, AUGORIG+VARY(MODEL)")
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
    parser.add_argument("--curate-threshold", type=float, default=0.5,
                        help="CURATE(NAME): keep a sample when the cell's baseline classifier gives its label this "
                             "probability (default 0.5)")
    parser.add_argument("--synthetic-weight", type=float, default=1.0,
                        help="loss weight of a synthetic sample relative to a real image (default 1)")
    parser.add_argument("--tune-ratios", type=_csv(float), default=BenchConfig.tune_ratios,
                        help="TUNE(NAME): candidate synthetic ratios, chosen per cell by cross-validation (default 0,0.5,1,2)")
    parser.add_argument("--tune-scales", type=_csv(float), default=BenchConfig.tune_scales,
                        help="TUNE(VARY(NAME)): candidate variation scales, 0 = no variation (default 0,0.5,1)")
    parser.add_argument("--tune-thresholds", type=_csv(float), default=BenchConfig.tune_thresholds,
                        help="TUNE(CURATE(NAME)): candidate judge thresholds, 0 = every sample kept (default 0,0.5,0.9)")
    parser.add_argument("--tune-folds", type=int, default=3,
                        help="TUNE methods without a validation split: cross-validation folds (default 3)")
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
            vary_p=args.vary_p, schedule=args.schedule, curate_threshold=args.curate_threshold, synthetic_weight=args.synthetic_weight,
            tune_ratios=args.tune_ratios,
            tune_scales=args.tune_scales, tune_thresholds=args.tune_thresholds, tune_folds=args.tune_folds,
        )
    except ValueError as err:
        raise SystemExit(str(err)) from err
    records = run_protocol(config, args.out)
    print(summarize(records))
    print(f"wrote {Path(args.out) / 'results.jsonl'}, table.md, learning_curve.png ({len(records)} runs)")
    return 0
