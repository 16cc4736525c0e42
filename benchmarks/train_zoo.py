"""Train the zoo's MNIST models on named MNIST subsets and publish them (cards, fp16 weights, sample grids).

    python benchmarks/train_zoo.py                          # every model in ZOO, one after another
    python benchmarks/train_zoo.py --only cdcvae-mnist      # one model (run several in parallel, one per process)
    python benchmarks/train_zoo.py --only cdcvae-mnist --no-publish   # train only

For each model: draw its subset of MNIST train (``nested_subsets`` / seed 0, seed 000's MNIST-alpha sets), build the
model with a fixed init seed, ``fit`` it into ``runs/zoo/<name>`` (resumable: an interrupted run continues from its
checkpoint and ends bit-identical to an uninterrupted one), then publish:

1. ``save_pretrained(fp16, inference_only=True)`` and load that file back (fp16 -> fp32): every metric below is
   measured on the loaded weights, never on the training copy;
2. metrics: the last epoch's mean training losses (VAEs: reconstruction NLL and KL), the best validation loss
   (ClassVAE's 15 % split), the negative ELBO per image on the MNIST test set (VAEs), and the domain FID of 10,000
   balanced samples vs the 10,000 MNIST test images and the share of those samples the domain classifier labels as
   their class (features of ``learnedaug.metrics.DomainClassifier`` trained on MNIST train, 2 epochs, seed 0; cached in
   ``runs/zoo/domain_classifier.safetensors``);
3. ``make_card`` into ``model_zoo/`` (weights copied to ``model_zoo/weights/``), the sample grid of the loaded model
   (one row per class, seed 0) to ``docs/samples/<name>.png``, the loss curve to ``docs/samples/<name>_loss.png``
   and, for the denoising VAE, clean / ROT-BLUR / reconstructed test digits to ``docs/samples/<name>_denoise.png``.

Widths are below the papers' (see ``docs/models.md``) so that all of ``model_zoo/weights`` stays under 60 MB and the
models train on a CPU. Machine time is printed per model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torchvision.utils import make_grid, save_image

from learnedaug._io import atomic_path
from learnedaug.data import ImageSet, load_dataset, nested_subsets
from learnedaug.bench.cards import CARD_FID_SAMPLES, CARD_SEED, domain_extractor, label_accuracy, quality_metrics
from learnedaug.metrics import DomainExtractor, compute_statistics, frechet_distance
from learnedaug.models import GenerativeModel, build_model
from learnedaug.train import fit, save_sample_grid
from learnedaug.train.objectives import objective_for
from learnedaug.transforms import RotBlur
from learnedaug.zoo import make_card

REPO = Path(__file__).resolve().parents[1]
MNIST_LICENCE = "CC BY-SA 3.0"
SEED = CARD_SEED
FID_SAMPLES = CARD_FID_SAMPLES

# Widths shared by the CDCVAE/CDCGAN models (paper: fc_dim 1024, base_channels 64).
INFOGAN_SMALL = {"fc_dim": 256, "base_channels": 32}
# Adam learning rate of the VAEs trained here: 5x the CDCVAE paper's 2e-4 and 10x the denoising-VAE paper's 1e-4,
# because these runs get 1,000-20,000 steps instead of hundreds of epochs. Measured at the paper rates: after 650 steps
# the CDCVAE decoder ignored the label (fixed z, label 0 vs 1: mean pixel change 0.04; at 1e-3 after 1,116 steps:
# 0.13), and after 450 steps the denoising VAE still drew grey blobs (reconstruction 262 nats per image).
FAST_LR = 1e-3


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """One published model: its family and config, the MNIST fraction it sees (seed 0) and the training recipe.

    ``objective``: options of ``objective_for`` (e.g. ``lr``) where they differ from the family's paper default.
    """

    name: str
    family: str
    config: dict[str, Any]
    fraction: float
    epochs: int
    batch_size: int = 64
    objective: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""

    @property
    def subset(self) -> str:
        """The card's subset name: "10%", "1%" ..., "all" (the names ``learnedaug bench`` checks cards against)."""
        return "all" if self.fraction == 1.0 else f"{self.fraction * 100:g}%"


# The published GANs were trained without DiffAugment; pinned so that a change of GANObjective's default cannot
# change their recipe (benchmarks/bench_diffaugment.py measures DiffAugment at MNIST-1 %).
NO_DIFFAUGMENT = {"diffaugment": None}

ZOO = [
    ZooModel("classvae-mnist", "classvae", {"latent_dim": 3, "fc_dim": 64, "filters": 16}, 0.1, 40,
             description="ClassVAE (one VAE per class, latent 3, narrowed Table-1 layout) trained on MNIST-10%"),
    ZooModel("cdcvae-mnist", "cdcvae", INFOGAN_SMALL, 0.1, 80, objective={"lr": FAST_LR},
             description="CDCVAE (InfoGAN nets at 1/4 width, latent 62) trained on MNIST-10%"),
    ZooModel("cdcgan-mnist", "cdcgan", INFOGAN_SMALL, 0.1, 15, objective=NO_DIFFAUGMENT,
             description="CDCGAN (InfoGAN nets at 1/4 width, latent 62; generator only) trained on MNIST-10%"),
    ZooModel("dvae-mnist", "dvae", {"channels": [16, 32, 64, 64, 64], "conditional": True}, 0.1, 60,
             objective={"lr": FAST_LR},
             description="Conditional denoising VAE (ROT-BLUR input -> clean target, narrowed encoder) trained on MNIST-10%"),
    ZooModel("cdcvae-mnist-1pct", "cdcvae", INFOGAN_SMALL, 0.01, 300, objective={"lr": FAST_LR},
             description="CDCVAE (InfoGAN nets at 1/4 width, latent 62) trained on MNIST-1%"),
    ZooModel("cdcgan-mnist-1pct", "cdcgan", INFOGAN_SMALL, 0.01, 150, objective=NO_DIFFAUGMENT,
             description="CDCGAN (InfoGAN nets at 1/4 width, latent 62; generator only) trained on MNIST-1%"),
    # Seed 000's MNIST-100%: about the optimizer steps of cdcgan-mnist (1,875 vs 1,410), every image seen twice.
    ZooModel("cdcgan-mnist-full", "cdcgan", INFOGAN_SMALL, 1.0, 2, objective=NO_DIFFAUGMENT,
             description="CDCGAN (InfoGAN nets at 1/4 width, latent 62; generator only) trained on all of MNIST train"),
]


def recipe(spec: ZooModel) -> str:
    """The exact command that reproduces ``spec`` (training and publishing)."""
    return f"python benchmarks/train_zoo.py --only {spec.name} --threads 1"


def training_subset(train: ImageSet, fraction: float) -> ImageSet:
    """Seed-0 nested stratified subset of MNIST train holding ``fraction`` of it (seed 000's MNIST-alpha)."""
    return train.subset(nested_subsets(train.labels, [fraction], seed=SEED)[fraction])


def train(spec: ZooModel, train_set: ImageSet, runs: Path, *, progress: bool) -> Path:
    """Fit ``spec`` (resuming its checkpoint if any) and return the run directory."""
    torch.manual_seed(SEED)  # the init draws from the global RNG
    model = build_model(spec.family, **spec.config)
    out = runs / spec.name
    result = fit(model, training_subset(train_set, spec.fraction), epochs=spec.epochs, batch_size=spec.batch_size,
                 objective=objective_for(model, **spec.objective), out_dir=out, seed=SEED, resume=True,
                 progress=progress, sample_every=1)
    seconds = sum(row["seconds"] for row in result.history)
    print(f"{spec.name}: {result.epochs_completed} epochs, {seconds / 60:.1f} min of training", flush=True)
    return out


def measure(spec: ZooModel, model: GenerativeModel, history: list[dict[str, float]], test_set: ImageSet,
            extractor: DomainExtractor, runs: Path, *, progress: bool) -> dict[str, float]:
    """Metrics of the loaded (fp16 -> fp32) model; nothing is copied from training except the logged losses."""
    last = history[-1]
    # VAEs: the epoch's mean reconstruction NLL and KL (nats per image). Their logged "loss" is left out: with ClassVAE's
    # per-class early stopping it counts stopped classes as 0, so it is no ELBO.
    skip = ("epoch", "seconds", "val_loss") + (("loss",) if "recon" in last else ())
    metrics = {f"train_{k}": round(v, 4) for k, v in last.items() if k not in skip}
    metrics["epochs"] = int(last["epoch"])
    val = [row["val_loss"] for row in history if "val_loss" in row]
    if val:
        metrics["best_val_loss"] = round(min(val), 4)
    metrics.update({k: round(v, 4) for k, v in quality_metrics(model, test_set, extractor, runs, progress=progress).items()})
    return metrics


def reference_fid(train_set: ImageSet, test_set: ImageSet, extractor: DomainExtractor, runs: Path, *,
                  progress: bool) -> float:
    """Domain FID of 10,000 real MNIST train images (seeded draw) vs the test set: the floor a perfect model would reach."""
    real = compute_statistics(test_set.images, extractor, progress=progress, cache_dir=runs / "fid_cache")
    train = compute_statistics(train_set.images, extractor, n=FID_SAMPLES, seed=SEED, progress=progress, cache_dir=False)
    return frechet_distance(train.mu, train.sigma, real.mu, real.sigma)


def reference_accuracy(test_set: ImageSet, extractor: DomainExtractor) -> float:
    """The domain classifier's accuracy on the real MNIST test images: the ceiling of ``label_accuracy_10k``."""
    return label_accuracy(test_set.float_images().split(500), test_set.labels, extractor.classifier)


def save_denoising_grid(model: GenerativeModel, test_set: ImageSet, path: Path, per_class: int = 2) -> Path:
    """Denoising VAE evidence: rows of clean MNIST test digits, their seeded ROT-BLUR views, and ``reconstruct`` of
    those views (the learned "undo the augmentation"); ``per_class`` digits of every class (first in test order)."""
    index = torch.cat([(test_set.labels == c).nonzero().flatten()[:per_class] for c in range(model.num_classes)])
    clean = test_set.subset(index).float_images()
    views = RotBlur(generator=torch.Generator().manual_seed(SEED))(clean)
    rows = torch.cat([clean, views, model.reconstruct(views, test_set.labels[index])])
    with atomic_path(path) as tmp:
        save_image(make_grid(rows, nrow=clean.shape[0], padding=2, pad_value=1.0), tmp, format="png")
    return path


def publish(spec: ZooModel, run_dir: Path, test_set: ImageSet, extractor: DomainExtractor, zoo_dir: Path,
            samples_dir: Path, *, progress: bool) -> dict[str, float]:
    """fp16 weights -> reload -> metrics -> card + sample grid + loss curve."""
    trained = GenerativeModel.from_pretrained(run_dir / "model")
    fp16_dir = trained.save_pretrained(run_dir / "fp16", dtype=torch.float16, inference_only=True)
    model = GenerativeModel.from_pretrained(fp16_dir)
    history = json.loads((run_dir / "history.json").read_text())
    metrics = measure(spec, model, history, test_set, extractor, run_dir.parent, progress=progress)
    make_card(fp16_dir, name=spec.name, description=spec.description,
              training_data={"dataset": "mnist", "subset": spec.subset, "seed": None if spec.subset == "all" else SEED,
                             "licence": MNIST_LICENCE},
              recipe=recipe(spec), metrics=metrics, urls=[], zoo_dir=zoo_dir)
    save_sample_grid(model, samples_dir / f"{spec.name}.png", generator=torch.Generator().manual_seed(SEED))
    shutil.copyfile(run_dir / "loss.png", samples_dir / f"{spec.name}_loss.png")
    if spec.family == "dvae":
        save_denoising_grid(model, test_set, samples_dir / f"{spec.name}_denoise.png")
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[s.name for s in ZOO], help="models to train (default: all)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="root holding mnist/*.npz")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "zoo", help="training directories")
    parser.add_argument("--zoo-dir", type=Path, default=REPO / "model_zoo", help="where cards and weights go")
    parser.add_argument("--samples-dir", type=Path, default=REPO / "docs" / "samples", help="where grids go")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--no-publish", action="store_true", help="train only")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--reference-fid", action="store_true", help="also print the real-vs-real domain FID")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    progress = not args.quiet
    train_set = load_dataset("mnist", root=args.data)
    test_set = load_dataset("mnist", split="test", root=args.data)
    chosen = [s for s in ZOO if args.only is None or s.name in args.only]
    if args.reference_fid:
        extractor = domain_extractor(train_set, args.runs, progress=progress)
        print(f"real MNIST train (10k) vs test: domain FID {reference_fid(train_set, test_set, extractor, args.runs, progress=progress):.4f}")
        print(f"domain classifier on real MNIST test: label accuracy {reference_accuracy(test_set, extractor):.4f}")
    for spec in chosen:
        t0 = time.perf_counter()
        run_dir = train(spec, train_set, args.runs, progress=progress)
        if not args.no_publish:
            extractor = domain_extractor(train_set, args.runs, progress=progress)
            metrics = publish(spec, run_dir, test_set, extractor, args.zoo_dir, args.samples_dir, progress=progress)
            print(f"{spec.name}: {json.dumps(metrics)}", flush=True)
        print(f"{spec.name}: done in {(time.perf_counter() - t0) / 60:.1f} min (wall)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
