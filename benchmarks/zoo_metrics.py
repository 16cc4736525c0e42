"""Re-measure each zoo card's quality metrics from its published file and print them beside the card's values.

    python benchmarks/zoo_metrics.py                          # every MNIST card
    python benchmarks/zoo_metrics.py --only cdcvae-mnist --threads 2

Every model is loaded with ``learnedaug.zoo.load`` (size and SHA-256 checked, fp16 -> fp32), exactly as a user gets
it, and measured with the functions ``train_zoo.py`` writes the cards with (``learnedaug.bench.cards``):
``test_neg_elbo`` (VAEs, nats per MNIST test image), ``domain_fid_test_10k`` and ``label_accuracy_10k`` (10,000
balanced samples, seed 0, on the features of the LeNet-style MNIST classifier, trained once and cached in
``--runs``). The downstream metrics come from ``zoo_downstream.py``, which reruns them.

A row is flagged when the re-measured value leaves the tolerance (the domain classifier is retrained here, so a
different machine or thread count moves the FID a little): FID 3 % relative, label accuracy 0.5 points, ELBO 0.05
nats. The exit status is 1 if any row is flagged.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from learnedaug.data import load_dataset
from learnedaug.bench.cards import domain_extractor, quality_metrics
from learnedaug.zoo import get_card, list_models, load

REPO = Path(__file__).resolve().parents[1]

# metric -> (absolute tolerance, relative tolerance)
TOLERANCE = {"test_neg_elbo": (0.05, 0.0), "domain_fid_test_10k": (0.0, 0.03), "label_accuracy_10k": (0.005, 0.0)}


def remeasure(name: str, test_set, extractor, runs: Path, *, progress: bool) -> dict[str, float]:
    return quality_metrics(load(name, device="cpu", progress=progress), test_set, extractor, runs, progress=progress)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", help="card names (default: every MNIST card)")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="root holding mnist/*.npz")
    p.add_argument("--runs", type=Path, default=REPO / "runs" / "zoo", help="cache of the domain classifier")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    progress = not args.quiet
    names = args.only or [n for n in list_models() if get_card(n).training_data.dataset == "mnist"]
    train_set = load_dataset("mnist", root=args.data)
    test_set = load_dataset("mnist", split="test", root=args.data)
    extractor = domain_extractor(train_set, args.runs, progress=progress)
    print("| model | metric | card | re-measured | difference | |\n|---|---|---:|---:|---:|---|")
    flagged = 0
    for name in names:
        t0 = time.perf_counter()
        card = get_card(name).metrics
        for metric, value in remeasure(name, test_set, extractor, args.runs, progress=progress).items():
            if metric not in card:
                print(f"| {name} | {metric} | not on the card | {value:.4f} | | |", flush=True)
                continue
            absolute, relative = TOLERANCE[metric]
            diff = value - card[metric]
            bad = abs(diff) > absolute + relative * abs(card[metric])
            flagged += bad
            print(f"| {name} | {metric} | {card[metric]:.4f} | {value:.4f} | {diff:+.4f} | {'OUT' if bad else 'ok'} |",
                  flush=True)
        print(f"<!-- {name}: {time.perf_counter() - t0:.0f} s -->", flush=True)
    print(f"\n{flagged} value(s) out of tolerance" if flagged else "\nevery card's metrics reproduced within tolerance")
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
