"""DiffAugment for CDCGAN on small data: domain FID and CAS with and without it, same recipe otherwise.

    python benchmarks/bench_diffaugment.py                        # MNIST-1 % (600 images), the zoo's recipe
    python benchmarks/bench_diffaugment.py --fraction 0.005 --epochs 300

Each variant trains the zoo's ``cdcgan-mnist-1pct`` recipe (InfoGAN nets at 1/4 width, latent 62, Adam 2e-4 /
beta1 0.5, batch 64, seed 0, MNIST-``fraction`` nested subset of seed 0) into ``--runs/<variant>`` (resumable):

- ``none``: no DiffAugment (the published card's recipe);
- ``diffaugment``: ``color,translation,cutout`` on real and fake discriminator inputs (``auto`` below 10,000 images);
- ``translation,cutout`` and ``translation``: lighter policies (no colour; the paper's choice above 10,000 images);
- ``diffaugment+sn-hinge``: the full policy with spectral norm on the discriminator and the hinge loss.

Then the card metrics of each trained generator: domain FID of 10,000 samples vs the MNIST test set, label accuracy of
those samples (``learnedaug.bench.cards``), and CAS on 2,000 test digits (``bench_cas.py``'s recipe). Writes
``benchmarks/results/diffaugment_mnist<pct>_e<epochs>.md``. Variants train independently, so two processes with
different ``--only`` can share the cores; a last run over all of them then only resumes and scores.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from learnedaug._io import atomic_write_text
from learnedaug.bench.cards import domain_extractor, quality_metrics
from learnedaug.data import balanced_subset, load_dataset, nested_subsets
from learnedaug.metrics import classification_accuracy_score
from learnedaug.models import build_model
from learnedaug.train import fit, save_sample_grid
from learnedaug.train.objectives import objective_for

REPO = Path(__file__).resolve().parents[1]
SEED = 0
NETS = {"latent_dim": 62, "fc_dim": 256, "base_channels": 32}
VARIANTS = {
    "none": ({}, {"diffaugment": None}),
    "diffaugment": ({}, {"diffaugment": "color,translation,cutout"}),
    "translation,cutout": ({}, {"diffaugment": "translation,cutout"}),
    "translation": ({}, {"diffaugment": "translation"}),
    "diffaugment+sn-hinge": ({"spectral_norm": True, "loss": "hinge"}, {"diffaugment": "color,translation,cutout"}),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fraction", type=float, default=0.01, help="share of MNIST train the GANs see (seed 0)")
    p.add_argument("--epochs", type=int, default=150, help="GAN epochs (the zoo card's: 150)")
    p.add_argument("--only", nargs="*", choices=list(VARIANTS), help="variants (default: all)")
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--runs", type=Path, default=REPO / "runs" / "diffaugment")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--results", type=Path, help="default benchmarks/results/diffaugment_mnist<pct>_e<epochs>.md")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_split = load_dataset("mnist", root=args.root)
    test = load_dataset("mnist", split="test", root=args.root)
    subset = train_split.subset(nested_subsets(train_split.labels, [args.fraction], seed=SEED)[args.fraction])
    cas_test = test.subset(balanced_subset(test.labels, per_class=200, seed=0))
    extractor = domain_extractor(train_split, args.runs, progress=True)
    tag = f"{100 * args.fraction:g}pct"
    rows = []
    for name in args.only or list(VARIANTS):
        config, objective = VARIANTS[name]
        torch.manual_seed(SEED)  # the init draws from the global RNG, as train_zoo.py's
        model = build_model("cdcgan", **NETS, **config)
        out = args.runs / f"mnist{tag}-e{args.epochs}" / name
        t0 = time.perf_counter()
        result = fit(model, subset, epochs=args.epochs, batch_size=64, objective=objective_for(model, **objective),
                     out_dir=out, seed=SEED, resume=True, progress=True, sample_every=args.epochs)
        minutes = sum(row["seconds"] for row in result.history) / 60
        model = result.model.eval()
        save_sample_grid(model, out / "samples_final.png", generator=torch.Generator().manual_seed(SEED))
        quality = quality_metrics(model, test, extractor, args.runs, progress=True)
        cas = classification_accuracy_score(model, cas_test, n_per_class=100, epochs=5, seed=0, progress=False)
        rows.append((name, quality["domain_fid_test_10k"], quality["label_accuracy_10k"], cas.accuracy, minutes))
        print(f"{name}: FID {rows[-1][1]:.2f}, label accuracy {rows[-1][2]:.3f}, CAS {cas.accuracy:.3f} "
              f"({minutes:.1f} min of training, {time.perf_counter() - t0:.0f} s in all)", flush=True)
    lines = [f"# DiffAugment for CDCGAN on MNIST-{100 * args.fraction:g} % (`benchmarks/bench_diffaugment.py`)", "",
             f"{len(subset)} training images (seed 0), InfoGAN nets at 1/4 width, {args.epochs} epochs, batch 64, seed 0. "
             f"Domain FID and label accuracy: 10,000 samples vs the 10,000 MNIST test images (the cards' metrics); "
             f"CAS: CNN ×0.5 trained 5 epochs on 100 samples per class, 2,000 test digits. Machine: "
             f"{platform.machine()} CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}.", "",
             "| variant | domain FID ↓ | label accuracy | CAS accuracy | training minutes |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {f:.2f} | {a:.3f} | {c:.3f} | {m:.1f} |" for n, f, a, c, m in rows]
    path = args.results or REPO / "benchmarks" / "results" / f"diffaugment_mnist{tag}_e{args.epochs}.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
