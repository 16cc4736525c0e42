"""The levers table of RESULTS.md: each lever's runs paired by seed with the stored runs without it.

    python benchmarks/compare_levers.py            # reads benchmarks/results/*.jsonl, writes results/levers_mnist.md

Every lever run is a ``bench_downstream.py --scale budget --sizes 50`` (or 100) part with its own ``--name``; the
reference runs (AUG, AUG + VAE, CNN, VAE) are the stored ``seed001_mnist_budget.jsonl`` plus, at 100 images, the
seeds 3-5 it lacks (AUG and AUG + VAE: ``seed001_mnist_budget_100s345.jsonl``, CNN: ``seed001_mnist_budget_warp.jsonl``); the lever runs reproduce the stored runs bit for bit
for the methods they share. A row: the lever's macro-F1 (mean ± std over the seeds it has), the paired mean
difference against each reference on those seeds, how many seeds went up, and the two-sided Wilcoxon signed-rank
p-value (``learnedaug.bench.stats``; n = seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from learnedaug._io import atomic_write_text
from learnedaug.bench.stats import wilcoxon_table

RESULTS = Path(__file__).resolve().parent / "results"
# size -> the reports whose runs are the references at that size (a seed in two of them must agree)
BASELINES = {50: ("seed001_mnist_budget",),
             100: ("seed001_mnist_budget", "seed001_mnist_budget_100s345", "seed001_mnist_budget_warp")}
REFS = ("SHIFT-ROT", "SHIFT-ROT+VAE", "ORIG", "VAE")
# (size, row label, the reports holding the lever's runs, method in them, reference methods)
LEVERS = [
    (50, "AUG + VAE samples, ratio 1", BASELINES[50], "SHIFT-ROT+VAE", ("SHIFT-ROT",)),
    (50, "synthetic loss weight 0.5", ("seed001_mnist_budget_w05",), "SHIFT-ROT+VAE", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (50, "curation, threshold 0.5", ("seed001_mnist_budget_curated",), "SHIFT-ROT+CURATE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (50, "curation, threshold 0.9", ("seed001_mnist_budget_t09",), "SHIFT-ROT+CURATE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (50, "tuned ratio (0 or 1, 2 folds)", ("seed001_mnist_budget_curated",), "SHIFT-ROT+TUNE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (50, "curation without AUG, threshold 0.5", ("seed001_mnist_budget_curated",), "CURATE(VAE)", ("ORIG", "VAE")),
    (100, "AUG + VAE samples, ratio 1", BASELINES[100], "SHIFT-ROT+VAE", ("SHIFT-ROT",)),
    (100, "synthetic loss weight 0.5", ("seed001_mnist_budget_w05_100",), "SHIFT-ROT+VAE", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
]
# learned warps (WarpVAE): every row's runs are in one report, at both sizes
WARP = ("seed001_mnist_budget_warp",)
LEVERS += [
    (50, "learned warps alone, half of every batch", WARP, "VARY(WARP)", ("SHIFT-ROT", "ORIG", "VAE")),
    (50, "AUG + learned warps", WARP, "SHIFT-ROT+VARY(WARP)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (100, "learned warps alone, half of every batch", WARP, "VARY(WARP)", ("SHIFT-ROT", "ORIG")),  # VAE: seeds 0-2 only
    (100, "AUG + learned warps", WARP, "SHIFT-ROT+VARY(WARP)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    (50, "learned warps alone, scale tuned per cell (0 or 1, 3-fold CV)", ("seed001_mnist_budget_tune_vary",),
     "TUNE(VARY(WARP))", ("SHIFT-ROT", "ORIG", "VAE")),
]


def macro_f1(results: Path, reports: tuple[str, ...], method: str, size: int) -> dict[int, float]:
    """seed -> macro-F1 (%) of ``method`` at ``size`` images over the ``reports`` jsonl files (a seed found in two
    of them must have the same score)."""
    merged: dict[int, float] = {}
    for name in reports:
        path = results / f"{name}.jsonl"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run the bench_downstream.py part that writes it")
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line) if line.strip() else {}
            if r.get("method") == method and r.get("subset") == size:
                seed, score = r["seed"], 100 * r["macro_f1"]
                if merged.get(seed, score) != score:
                    raise SystemExit(f"{name}: {method} seed {seed} at {size} images disagrees with {reports[0]}")
                merged[seed] = score
    if not merged:
        raise SystemExit(f"{', '.join(reports)}: no {method} runs at {size} images")
    return merged


def paired(lever: dict[int, float], reference: dict[int, float], name: str) -> str:
    seeds = sorted(lever)
    if missing := [s for s in seeds if s not in reference]:
        raise SystemExit(f"the baseline has no {name} run for seeds {missing}")
    diffs = [lever[s] - reference[s] for s in seeds]
    cell = f"{statistics.mean(diffs):+.2f} ({sum(d > 0 for d in diffs)}/{len(seeds)} up"
    if len(seeds) >= 2:
        test = wilcoxon_table({"lever": [lever[s] for s in seeds], "ref": [reference[s] for s in seeds]}).tests
        cell += f", p = {test['lever', 'ref'].pvalue:.3f}"
    return cell + ")"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the jsonl reports (and the output)")
    args = p.parse_args(argv)
    lines = ["# Levers at 50 and 100 MNIST images (seed 001 budget protocol), paired by seed — `compare_levers.py`", "",
             "Macro-F1 (%) on 1,000 MNIST test images; differences paired by seed against the stored runs without "
             "the lever (" + "; ".join(f"{size} images: " + ", ".join(f"`{n}.jsonl`" for n in names)
                                       for size, names in BASELINES.items()) + "); Wilcoxon signed-rank, two-sided.", "",
             "| images | lever | report | seeds | macro-F1 | " + " | ".join(f"vs {m}" for m in REFS) + " |",
             "|---|---|---|---|---:|" + "---|" * len(REFS)]
    for size, label, report, method, against in LEVERS:
        scores = macro_f1(args.results, report, method, size)
        values = list(scores.values())
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        cells = [paired(scores, macro_f1(args.results, BASELINES[size], m, size), m) if m in against else "–" for m in REFS]
        lines.append(f"| {size} | {label} (`{method}`) | {', '.join(report)} | {','.join(map(str, sorted(scores)))} | "
                     f"{statistics.mean(values):.2f}{spread} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.results / "levers_mnist.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
