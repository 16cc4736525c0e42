"""Downstream gain of every zoo model on the subset its card names, written into the card's metrics.

    python benchmarks/zoo_downstream.py                  # every card with a percentage subset (resumable)
    python benchmarks/zoo_downstream.py --subsets 1%     # only the MNIST-1% cards

For each subset named by the cards (``1%``, ``10%``: seed 000's nested MNIST-alpha sets, seed 0) one
``learnedaug bench`` run trains the seed 001 CNN with ORIG, AUGORIG and every model of that subset - generators as
``NAME`` (the training part plus as many fresh class-balanced samples every epoch), the denoising VAE as
``VARY(NAME)`` (learned variations of half of every batch) - and scores macro-F1 on the 10,000 MNIST test images.
The bench refuses any model whose card names another subset, so nothing the classifier does not see leaks in.
Each card then gets ``downstream_macro_f1`` and ``downstream_gain_vs_orig`` / ``downstream_gain_vs_augorig``
(percentage points of macro-F1; one seed, so read gains of a point or two as noise). Runs go to
``runs/zoo_downstream/<subset>/`` (rerun to resume); the bench table is copied to
``benchmarks/results/zoo_downstream_<subset>.md``.

Classifier: width 0.5, Adam 1e-3, batch 32, epoch size 1,024 images, early stopping (patience 10) on the subset's
15 % validation part, at most 150 epochs on 1 % and 30 on 10 % (``MAX_EPOCHS``). ``--subsets all`` is accepted
but takes hours on a CPU (51,000 training images per epoch).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

import torch

from learnedaug.bench import BenchConfig, run_protocol
from learnedaug.zoo import get_card, list_models

REPO = Path(__file__).resolve().parents[1]
SETTINGS = dict(classifier="cnn", width=0.5, patience=10, batch_size=32, lr=1e-3, val_fraction=0.15,
                epoch_size=1024, online=True, seeds=(0,))
# At most this many epochs per subset: 10 % epochs are 5x longer than 1 % ones (5,100 images vs 1,024).
MAX_EPOCHS = {"1%": 150, "10%": 30, "all": 10}


def method_for(name: str) -> str:
    """Generators add samples; the denoising VAE (a model of variations, not of the data) varies the real images."""
    return f"VARY({name})" if get_card(name).family == "dvae" else name


def fraction(subset: str) -> float:
    return 1.0 if subset == "all" else float(subset.rstrip("%")) / 100


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subsets", default="1%,10%", help="comma-separated card subsets to measure")
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--out", type=Path, default=REPO / "runs" / "zoo_downstream")
    p.add_argument("--zoo-dir", type=Path, default=REPO / "model_zoo", help="where the cards to update live")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for subset in args.subsets.split(","):
        names = [n for n in list_models() if get_card(n).training_data.dataset == "mnist"
                 and get_card(n).training_data.subset == subset]
        if not names:
            raise SystemExit(f"no MNIST card names subset {subset!r}")
        methods = {n: method_for(n) for n in names}
        config = BenchConfig("mnist", root=args.root, methods=("ORIG", "AUGORIG", *methods.values()),
                             fractions=(fraction(subset),), models={n: n for n in names}, device=args.device,
                             epochs=MAX_EPOCHS.get(subset, 150), **SETTINGS)
        out = args.out / subset.replace("%", "pct")
        records = run_protocol(config, out, progress=True)
        score = {r["method"]: 100 * r["macro_f1"] for r in records}
        for name, method in methods.items():
            path = args.zoo_dir / f"{name}.json"
            card = get_card(name)
            metrics = {**card.metrics, "downstream_macro_f1": round(score[method], 2),
                       "downstream_gain_vs_orig": round(score[method] - score["ORIG"], 2),
                       "downstream_gain_vs_augorig": round(score[method] - score["AUGORIG"], 2)}
            dataclasses.replace(card, metrics=metrics).write(path)
            print(f"{name} ({method}): macro-F1 {score[method]:.2f}, vs ORIG {score[method] - score['ORIG']:+.2f}, "
                  f"vs AUGORIG {score[method] - score['AUGORIG']:+.2f}", flush=True)
        shutil.copyfile(out / "table.md", REPO / "benchmarks" / "results" / f"zoo_downstream_{subset.replace('%', 'pct')}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
