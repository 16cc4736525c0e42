"""``learnedaug train``: train a generator family on a labelled image set with :func:`learnedaug.train.fit`.

    learnedaug train cdcvae --data mnist --subset 10% --epochs 50 --out runs/cdcvae-mnist10
    torchrun --nproc_per_node 4 -m learnedaug.cli train cdcgan --data cifar10 --device cuda ...

Batch size, epochs, optimizer, validation split and patience default to the family's recipe (the papers' values).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

FAMILIES = ("cdcvae", "cdcgan", "classvae", "dvae", "warpvae")


def parse_fraction(text: str) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1; must lie in (0, 1]."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--subset must be a percentage like 10% or a fraction like 0.1, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"--subset must lie in (0%, 100%], got {text!r}")
    return value


def parse_setting(text: str) -> tuple[str, Any]:
    """``"fc_dim=256"`` -> ("fc_dim", 256): the value is read as JSON, else kept as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set needs KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def default_data_root() -> Path | None:
    """``$LEARNEDAUG_DATA``, else ``../shared/data`` relative to the working directory if it exists."""
    if os.environ.get("LEARNEDAUG_DATA"):
        return Path(os.environ["LEARNEDAUG_DATA"])
    shared = Path("..") / "shared" / "data"
    return shared if shared.is_dir() else None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=FAMILIES, help="generator family")
    parser.add_argument("--data", required=True, help="mnist | cifar10 | PATH.npz | IMAGEFOLDER directory")
    parser.add_argument("--data-root", type=Path, help="where mnist/cifar10 live (default $LEARNEDAUG_DATA, else ../shared/data)")
    subset = parser.add_mutually_exclusive_group()
    subset.add_argument("--subset", type=parse_fraction, metavar="FRACTION",
                        help="stratified nested subset, e.g. 10%% (the same images as the benchmark's 10%% set)")
    subset.add_argument("--per-class", type=_positive_int, metavar="K", help="balanced subset with K images per class")
    parser.add_argument("--epochs", type=_positive_int, help=f"default: the family's ({_recipe_lengths()})")
    parser.add_argument("--batch-size", type=_positive_int,
                        help=f"per process under torchrun; default: the family's ({_recipes('batch_size')})")
    parser.add_argument("--out", type=Path, required=True, help="output directory (checkpoint, PNGs, model/)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--seed", type=int, default=0, help="seeds the subset, initial weights, data order and noise")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--latent-dim", type=_positive_int, help="latent size (default: the family's)")
    parser.add_argument("--set", dest="settings", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="any model config field, value as JSON, e.g. --set fc_dim=256 (repeatable)")
    parser.add_argument("--init", metavar="NAME_OR_DIR",
                        help="fine-tune: start from a zoo model or saved model directory of the same family "
                             "(a GAN zoo model brings its generator; the discriminator starts fresh)")
    parser.add_argument("--diffaugment", metavar="POLICY",
                        help="cdcgan: DiffAugment policy for every discriminator input, e.g. translation,cutout; "
                             "'auto' for color,translation,cutout up to 10,000 images (default none: it hurt in "
                             "benchmarks/bench_diffaugment.py at CPU-scale budgets)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model's submodules")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="bf16 autocast (default: on for CUDA, off for CPU)")
    parser.add_argument("--val-fraction", type=float, help=f"validation hold-out (default: {_recipes('val_fraction')})")
    parser.add_argument("--patience", type=_positive_int,
                        help=f"early-stopping patience in epochs (default: {_recipes('patience')}; none = no early stopping)")
    disk = parser.add_argument_group("what stays on disk")
    disk.add_argument("--no-checkpoint", action="store_true",
                      help="delete the checkpoint when the run has finished (it cannot be extended with --resume then)")
    disk.add_argument("--no-optimizer-state", action="store_true",
                      help="checkpoints without optimizer state: 1/2 (RMSprop) to 1/3 (Adam) the size; "
                           "a resume restarts the optimizers")
    disk.add_argument("--fp16", action="store_true", help="store model/ in float16 (half the size; loads as float32)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--sample-every", type=int,
                        help="epochs between PNG reports: sample grid + loss curve (0: never; default: about 50 per run)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _recipe_lengths() -> str:
    """``"cdcvae 500 epochs, ..., warpvae ~2000 steps"``: how long each family trains by default, for --help."""
    from .objectives import recipe_for

    return ", ".join(f"{f} {recipe_for(f).describe()}" for f in FAMILIES)


def _recipes(field: str) -> str:
    """``"cdcvae 64, cdcgan 64, ..."``: one recipe field for every family, for --help."""
    from .objectives import recipe_for

    return ", ".join(f"{f} {getattr(recipe_for(f), field)}" for f in FAMILIES).replace(" None", " none")


def _select(data, args: argparse.Namespace):
    from ..data import DEFAULT_FRACTIONS, balanced_subset, nested_subsets

    if args.subset is not None:
        # Drawn within the standard nested series (a subset depends only on the larger ones), so e.g. 10% is
        # exactly the benchmark's 10% set for this seed.
        fractions = sorted({f for f in DEFAULT_FRACTIONS if f > args.subset} | {args.subset})
        return data.subset(nested_subsets(data.labels, fractions, seed=args.seed)[args.subset])
    if args.per_class is not None:
        return data.subset(balanced_subset(data.labels, per_class=args.per_class, seed=args.seed))
    return data


def _initial_model(args: argparse.Namespace, config: dict[str, Any], data):
    """The ``--init`` model: a zoo name or saved directory whose family, image shape and classes fit the data."""
    from ..zoo import load

    if args.settings or args.latent_dim is not None:
        raise ValueError("--init takes the architecture from the pretrained model: drop --set / --latent-dim")
    model = load(args.init)
    if model.family != args.model:
        raise ValueError(f"--init {args.init} is a {model.family!r} model, not {args.model!r}")
    if (model.num_classes, model.image_shape) != (config["num_classes"], config["image_shape"]):
        raise ValueError(f"--init {args.init} has {model.num_classes} classes of shape {model.image_shape}, but the data "
                         f"has {config['num_classes']} classes of shape {config['image_shape']}")
    return model


def run(args: argparse.Namespace) -> int:
    import torch

    from ..data import load_dataset
    from ..models import build_model
    from .loop import LOSS_PLOT_NAME, SAMPLES_DIRNAME, fit
    from .objectives import objective_for

    main_rank = os.environ.get("RANK", "0") == "0"
    try:
        data = load_dataset(args.data, split="train", root=args.data_root or default_data_root())
        data = _select(data, args)
        config: dict[str, Any] = dict(args.settings)
        if args.latent_dim is not None:
            config["latent_dim"] = args.latent_dim
        config.update(num_classes=data.num_classes, image_shape=data.image_shape)
        torch.manual_seed(args.seed)  # initial weights
        model = _initial_model(args, config, data) if args.init else build_model(args.model, **config)
        objective = None
        if args.diffaugment is not None:
            if args.model != "cdcgan":
                raise ValueError(f"--diffaugment is for cdcgan (GAN discriminators), not {args.model}")
            objective = objective_for(model, diffaugment="" if args.diffaugment == "none" else args.diffaugment)
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if main_rank:
            print(f"training {args.model} on {len(data)} images {data.image_shape} of {data.num_classes} classes "
                  f"({args.data}) on {device}")
        result = fit(
            model, data, epochs=args.epochs, batch_size=args.batch_size, out_dir=args.out, seed=args.seed, objective=objective,
            device=device, resume=args.resume, amp=args.amp, compile=args.compile, num_workers=args.num_workers,
            progress=not args.no_progress, sample_every=args.sample_every, val_fraction=args.val_fraction,
            patience=args.patience, keep_checkpoint=not args.no_checkpoint, optimizer_state=not args.no_optimizer_state,
            export_dtype=torch.float16 if args.fp16 else None,
        )
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, FloatingPointError) as e:
        print(f"learnedaug train: error: {e}", file=sys.stderr)
        return 2
    if main_rank:
        last = result.history[-1] if result.history else {}
        summary = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("epoch", "seconds"))
        print(f"epochs completed: {result.epochs_completed}" + (f" (last: {summary})" if summary else ""))
        if result.best_epoch is not None:
            print(f"kept weights of epoch {result.best_epoch}" + (" (early stopping)" if result.stopped_early else ""))
        print(f"model:       {result.model_dir} ({_megabytes(result.model_dir)})")
        if result.checkpoint is not None:
            print(f"checkpoint:  {result.checkpoint} ({_megabytes(result.checkpoint)}; --resume --epochs N extends the run)")
        if args.sample_every != 0:
            print(f"samples:     {result.out_dir / SAMPLES_DIRNAME}")
            print(f"loss curve:  {result.out_dir / LOSS_PLOT_NAME}")
        print(f"run folder:  {result.out_dir} ({result.disk_bytes / 1e6:.1f} MB in all; --no-checkpoint, "
              "--no-optimizer-state and --fp16 keep less)")
    return 0


def _megabytes(path: Path) -> str:
    from .._io import disk_bytes

    return f"{disk_bytes(path) / 1e6:.1f} MB"
