"""CAS (classification accuracy score) of the MNIST zoo models beside the same recipe trained on real digits.

    python benchmarks/bench_cas.py                          # every MNIST card
    python benchmarks/bench_cas.py --only classvae-mnist

The recipe of docs/fid.md's example: ``classification_accuracy_score(model, test, n_per_class=100, epochs=5,
seed=0)`` on 2,000 MNIST test digits (200 per class, seed 0), each model loaded with ``learnedaug.zoo.load`` as a
user gets it; the reference trains the same CNN recipe (width 0.5, 5 epochs, Adam, cosine, batch 64, seed 0) on 100
real training digits per class. Writes ``benchmarks/results/cas.md`` and each card's ``cas_accuracy_2k`` /
``cas_macro_f1_2k`` / ``cas_reference_accuracy_2k`` metrics (``--zoo-dir``; ``--no-cards`` leaves them).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from pathlib import Path

import torch

from learnedaug._io import atomic_write_text
from learnedaug.classifiers import evaluate, train_classifier
from learnedaug.data import balanced_subset, load_dataset
from learnedaug.metrics import classification_accuracy_score
from learnedaug.zoo import get_card, list_models, load

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="*", help="card names (default: every MNIST card)")
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "cas.md")
    p.add_argument("--zoo-dir", type=Path, default=REPO / "model_zoo", help="where the cards to update are")
    p.add_argument("--no-cards", action="store_true", help="only write the table")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = load_dataset("mnist", split="test", root=args.root)
    test = test.subset(balanced_subset(test.labels, per_class=200, seed=0))
    real = load_dataset("mnist", root=args.root)
    real = real.subset(balanced_subset(real.labels, per_class=100, seed=0))
    t0 = time.perf_counter()
    model, _ = train_classifier("cnn", real, epochs=5, batch_size=64, patience=None, schedule="cosine",
                                model_kwargs={"width": 0.5}, seed=0, progress=False)
    scores = evaluate(model, test)
    rows = [("real MNIST train digits (reference)", scores["accuracy"], scores["macro_f1"], time.perf_counter() - t0)]
    for name in args.only or [n for n in list_models() if get_card(n).training_data.dataset == "mnist"]:
        cas = classification_accuracy_score(load(name, device="cpu"), test, n_per_class=100, epochs=5, seed=0,
                                            progress=False)
        rows.append((name, cas.accuracy, cas.macro_f1, cas.seconds))
        print(f"{name}: CAS {cas.accuracy:.3f}", flush=True)
        if not args.no_cards:
            card = get_card(name)
            metrics = {**card.metrics, "cas_accuracy_2k": round(cas.accuracy, 4),
                       "cas_macro_f1_2k": round(cas.macro_f1, 4), "cas_reference_accuracy_2k": round(scores["accuracy"], 4)}
            dataclasses.replace(card, metrics=metrics).write(args.zoo_dir / f"{name}.json")
    lines = ["# CAS of the MNIST zoo models (`benchmarks/bench_cas.py`)", "",
             f"100 samples per class, CNN ×0.5 trained 5 epochs on them only, 2,000 MNIST test digits. Machine: "
             f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}.", "",
             "| source | CAS accuracy | CAS macro-F1 | seconds |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {a:.3f} | {f:.3f} | {s:.0f} |" for n, a, f, s in rows]
    atomic_write_text(args.results, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
