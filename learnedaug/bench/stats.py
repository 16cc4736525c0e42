"""Paired significance tests between benchmark methods (seed 001 Table 3): Wilcoxon signed-rank via scipy."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from scipy import stats


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of ``row`` vs ``col`` scores paired by condition (e.g. training size).

    ``verdict``: ``"better"`` / ``"worse"`` when ``pvalue < alpha`` (sign of the median difference row - col),
    else ``"n.s."``.
    """

    row: str
    col: str
    n: int
    statistic: float
    pvalue: float
    median_diff: float
    verdict: str


@dataclass(frozen=True)
class WilcoxonTable:
    """All ordered pairs of methods (seed 001 Table 3). ``tests[(row, col)]`` -> :class:`PairedTest`."""

    methods: list[str]
    alpha: float
    tests: dict[tuple[str, str], PairedTest]

    def to_markdown(self) -> str:
        """Rows vs columns: ✓ row significantly better, ✗ significantly worse, · not significant; p-values beside."""
        mark = {"better": "✓", "worse": "✗", "n.s.": "·"}
        lines = ["| | " + " | ".join(self.methods) + " |", "|---" * (len(self.methods) + 1) + "|"]
        for r in self.methods:
            cells = ["—" if r == c else f"{mark[self.tests[r, c].verdict]} p={self.tests[r, c].pvalue:.3g}"
                     for c in self.methods]
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
        lines.append(f"\nWilcoxon signed-rank, two-sided, alpha = {self.alpha:g}, n = {self._n()} paired scores.")
        return "\n".join(lines)

    def _n(self) -> int:
        return next(iter(self.tests.values())).n if self.tests else 0


def wilcoxon_table(scores: Mapping[str, Sequence[float]], *, alpha: float = 0.01) -> WilcoxonTable:
    """Pairwise two-sided Wilcoxon signed-rank tests (``scipy.stats.wilcoxon``) between methods.

    ``scores``: method -> scores in the same order of conditions (e.g. F1 per training size and latent size), all the
    same length >= 2. Pairs whose differences are all zero get p = 1.
    """
    methods = list(scores)
    if len(methods) < 2:
        raise ValueError(f"scores must hold at least two methods, got {methods}")
    values = {m: torch.as_tensor(list(scores[m]), dtype=torch.float64) for m in methods}
    lengths = {m: v.numel() for m, v in values.items()}
    if len(set(lengths.values())) != 1 or min(lengths.values()) < 2:
        raise ValueError(f"every method needs the same number (>= 2) of paired scores, got {lengths}")
    if any(not torch.isfinite(v).all() for v in values.values()):
        raise ValueError(f"scores must be finite, got {({m: v.tolist() for m, v in values.items()})}")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    tests = {}
    for r, c in itertools.permutations(methods, 2):
        diff = values[r] - values[c]
        if bool((diff == 0).all()):
            statistic, pvalue = math.nan, 1.0
        else:
            result = stats.wilcoxon(values[r].numpy(), values[c].numpy(), alternative="two-sided")
            statistic, pvalue = float(result.statistic), float(result.pvalue)
        median = float(diff.median())
        verdict = "n.s." if pvalue >= alpha or median == 0 else ("better" if median > 0 else "worse")
        tests[r, c] = PairedTest(r, c, diff.numel(), statistic, pvalue, median, verdict)
    return WilcoxonTable(methods, alpha, tests)
