"""The levers table of RESULTS.md: each lever's runs paired by seed with the stored runs without it.

    python benchmarks/compare_levers.py            # reads benchmarks/results/*.jsonl, writes results/levers_mnist50.md

Every lever run is a ``bench_downstream.py --scale budget --sizes 50`` part with its own ``--name``; the reference
runs (AUG, AUG + VAE, CNN, VAE) are the stored ``seed001_mnist_budget.jsonl``, which the lever runs reproduce bit
for bit for the methods they share. A row: the lever's macro-F1 (mean ± std over the seeds it has), the paired mean
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
SIZE = 50
BASELINE = "seed001_mnist_budget"
# (row label, report name, method in that report, reference methods in the baseline report)
LEVERS = [
    ("AUG + VAE samples, ratio 1", BASELINE, "SHIFT-ROT+VAE", ("SHIFT-ROT",)),
    ("synthetic loss weight 0.5", "seed001_mnist_budget_w05", "SHIFT-ROT+VAE", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    ("curation, threshold 0.5", "seed001_mnist_budget_curated", "SHIFT-ROT+CURATE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    ("curation, threshold 0.9", "seed001_mnist_budget_t09", "SHIFT-ROT+CURATE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    ("tuned ratio (0 or 1, 2 folds)", "seed001_mnist_budget_curated", "SHIFT-ROT+TUNE(VAE)", ("SHIFT-ROT", "SHIFT-ROT+VAE")),
    ("curation without AUG, threshold 0.5", "seed001_mnist_budget_curated", "CURATE(VAE)", ("ORIG", "VAE")),
]


def macro_f1(report: Path, method: str) -> dict[int, float]:
    """seed -> macro-F1 (%) of ``method`` at ``SIZE`` images in a results jsonl."""
    if not report.is_file():
        raise SystemExit(f"{report} is missing: run the bench_downstream.py part that writes it")
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = {r["seed"]: 100 * r["macro_f1"] for r in rows if r["method"] == method and r["subset"] == SIZE}
    if not scores:
        raise SystemExit(f"{report} has no {method} runs at {SIZE} images")
    return scores


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
    refs = ("SHIFT-ROT", "SHIFT-ROT+VAE", "ORIG", "VAE")
    baseline = {m: macro_f1(args.results / f"{BASELINE}.jsonl", m) for m in refs}
    lines = [f"# Levers at {SIZE} MNIST images (seed 001 budget protocol), paired by seed — `compare_levers.py`", "",
             "Macro-F1 (%) on 1,000 MNIST test images; differences paired by seed against the stored "
             f"`{BASELINE}.jsonl` runs; Wilcoxon signed-rank, two-sided.", "",
             "| lever | report | seeds | macro-F1 | " + " | ".join(f"vs {m}" for m in refs) + " |",
             "|---|---|---|---:|" + "---|" * len(refs)]
    for label, report, method, against in LEVERS:
        scores = macro_f1(args.results / f"{report}.jsonl", method)
        values = list(scores.values())
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        cells = [paired(scores, baseline[m], m) if m in against else "–" for m in refs]
        lines.append(f"| {label} (`{method}`) | {report} | {','.join(map(str, sorted(scores)))} | "
                     f"{statistics.mean(values):.2f}{spread} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.results / f"levers_mnist{SIZE}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
