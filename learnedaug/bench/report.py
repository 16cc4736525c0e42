"""Benchmark reports: the markdown table (mean ± std, Wilcoxon tests), the learning-curve plot, and the merge of
runs split over several processes ("shards": one output directory each, one ``results.jsonl`` per shard)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path

import torch

from .._io import atomic_path, atomic_write_text
from .stats import wilcoxon_table


def _mean_std(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if t.numel() > 1 else 0.0)


def _format(values: Sequence[float]) -> str:
    """``mean ± std`` (two decimals), the mean alone for one value."""
    mean, std = _mean_std(values)
    return f"{mean:.2f} ± {std:.2f}" if len(values) > 1 else f"{mean:.2f}"


def summarize(records: Sequence[Mapping], *, alpha: float = 0.01) -> str:
    """Markdown: accuracy and macro-F1 (%, mean ± std over seeds) per method and subset, and Wilcoxon tests on
    macro-F1 between methods, paired by (subset, seed): one table over every pair for the methods run on all of
    them, and, when some methods ran on fewer, one over the pairs where every method has a result (with the means it
    compares); then what every TUNE run chose and the held-out scores it chose by."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    subsets = sorted({r["subset"] for r in records})
    by = defaultdict(list)
    for r in records:
        by[r["method"], r["subset"]].append(r)
    lines = []
    for metric, title in (("accuracy", "Test accuracy (%)"), ("macro_f1", "Test macro-F1 (%)")):
        lines += [f"## {title}", "", "| method | " + " | ".join(map(str, subsets)) + " |",
                  "|---" * (len(subsets) + 1) + "|"]
        for m in methods:
            cells = []
            for s in subsets:
                runs = by.get((m, s), [])
                cells.append(_format([100 * r[metric] for r in runs]) if runs else "–")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    score = {(r["method"], r["subset"], r["seed"]): r["macro_f1"] for r in records}
    pairs = sorted({(r["subset"], r["seed"]) for r in records})
    everywhere = [m for m in methods if all((m, *pair) in score for pair in pairs)]
    complete = [pair for pair in pairs if all((m, *pair) in score for m in methods)]
    tables = [(everywhere, pairs, "every (subset, seed)")]
    if len(everywhere) < len(methods):
        tables.append((methods, complete, "the (subsets, seeds) every method ran on"))
    for names, on, where in tables:
        if len(names) >= 2 and len(on) >= 2:
            table = wilcoxon_table({m: [score[(m, *pair)] for pair in on] for m in names}, alpha=alpha)
            lines += [f"## Paired tests (macro-F1) over {where}", "", table.to_markdown(), ""]
            if on is complete and len(everywhere) < len(methods):  # the means those tests compare
                lines += ["| method | macro-F1 (%) on these pairs |", "|---|---|"]
                lines += [f"| {m} | {_format([100 * score[(m, *pair)] for pair in on])} |" for m in names] + [""]
    tuned = [r for r in records if "tuned" in r]
    if tuned:
        lines += ["## What TUNE chose", "", "held-out macro-F1 (%) per candidate: one per fold (k-fold) or the validation "
                  "split's", "", "| method | subset | seed | quantity | chosen | rule | held-out macro-F1 per candidate |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['subset']} | {r['seed']} | {r['tuned'].get('quantity', 'ratio')} | "
                  f"{r['tuned']['chosen']:g} | {r['tuned']['rule']} | "
                  + "; ".join(f"{float(c):g}: " + " ".join(f"{100 * v:.1f}" for v in vs)
                              for c, vs in r["tuned"]["scores"].items()) + " |"
                  for r in sorted(tuned, key=lambda r: (r["method"], r["subset"], r["seed"]))]
        lines.append("")
    return "\n".join(lines)


def plot_learning_curves(records: Sequence[Mapping], path: str | os.PathLike, metric: str = "accuracy") -> Path:
    """PNG: mean ``metric`` (%) over seeds against the number of training images, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for method in dict.fromkeys(r["method"] for r in records):
        groups = defaultdict(list)
        for r in records:
            if r["method"] == method:
                groups[r["n_train"] + r["n_val"]].append(100 * r[metric])
        xs = sorted(groups)
        stats = [_mean_std(groups[x]) for x in xs]
        ax.errorbar(xs, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=3, label=method)
    ax.set_xscale("log")
    ticks = sorted({r["n_train"] + r["n_val"] for r in records})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("training images (train + validation)")
    ax.set_ylabel(f"test {metric.replace('_', '-')} (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def read_shards(
    out_dir: str | os.PathLike,
    pattern: str = "*/results.jsonl",
    *,
    setup_of: Callable[[Mapping], object] = lambda r: r["setup"],
    unique: Callable[[Mapping], Hashable] | None = None,
) -> list[dict]:
    """Every record of every ``results.jsonl`` under ``out_dir`` matching ``pattern`` (sorted by path).

    ValueError when the records' ``setup_of(record)`` (JSON-compared) differ, or when ``unique(record)`` occurs in
    two shards (e.g. the same method run by two processes).
    """
    out_dir = Path(out_dir)
    records, owner = [], {}
    for path in sorted(out_dir.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            if unique is not None:
                key = unique(record)
                if owner.setdefault(key, path.parent) != path.parent:
                    raise ValueError(f"{key} was run in two shards under {out_dir}: {owner[key].name} and "
                                     f"{path.parent.name}; remove one")
            records.append(record)
    setups = {json.dumps(setup_of(r), sort_keys=True) for r in records}
    if len(setups) > 1:
        raise ValueError(f"shards under {out_dir} were run with different setups: {sorted(setups)}")
    return records


def write_report(
    records: Sequence[Mapping],
    results_dir: str | os.PathLike,
    name: str,
    *,
    markdown: str,
    plot: Callable[[Sequence[Mapping], Path], object] | None = None,
) -> None:
    """Write ``NAME.md`` (``markdown``), ``NAME.jsonl`` (the records without their setup and per-class F1) and, with
    ``plot(records, path)``, ``NAME.png`` into ``results_dir``; each file atomically."""
    results_dir = Path(results_dir)
    atomic_write_text(results_dir / f"{name}.md", markdown)
    slim = [{k: v for k, v in r.items() if k not in ("setup", "per_class_f1")} for r in records]
    atomic_write_text(results_dir / f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in slim))
    if plot is not None:
        plot(records, results_dir / f"{name}.png")
