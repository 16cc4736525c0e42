"""The downstream benchmark: does augmentation X improve a classifier trained on little data? (seeds 000 and 001)

- :mod:`~learnedaug.bench.spec`: the method grammar, :class:`GeneratorSpec` and :class:`BenchConfig`.
- :mod:`~learnedaug.bench.runner`: :func:`run_protocol` (resumable, one ``results.jsonl`` per output directory).
- :mod:`~learnedaug.bench.report`: :func:`summarize` (markdown tables) and :func:`plot_learning_curves`, and
  :func:`read_shards` / :func:`write_report` for runs split over several processes.
- :mod:`~learnedaug.bench.tune`: :func:`choose_ratio` (how much synthetic data, 0 included: on a validation split
  or by k-fold CV), :func:`choose_scale` (how strong learned variations are), :func:`choose_threshold` (how strictly
  a judge curates samples) and :func:`~learnedaug.bench.tune.choose_on_validation` (among runs already trained).
- :mod:`~learnedaug.bench.stats`: Wilcoxon signed-rank tables. :mod:`~learnedaug.bench.cards`: model-card metrics.
- :mod:`~learnedaug.bench.cli`: ``learnedaug bench``.
"""

from .report import plot_learning_curves, read_shards, summarize, write_report
from .runner import card_subset, run_protocol, train_cell_generator
from .spec import BASELINES, CLASSIC, BenchConfig, GeneratorSpec
from .stats import PairedTest, WilcoxonTable, wilcoxon_table
from .tune import TuneResult, choose_ratio, choose_scale, choose_threshold

__all__ = [
    "BASELINES", "CLASSIC", "BenchConfig", "GeneratorSpec", "PairedTest", "TuneResult", "WilcoxonTable", "card_subset",
    "choose_ratio", "choose_scale", "choose_threshold",
    "plot_learning_curves", "read_shards", "run_protocol", "summarize", "train_cell_generator", "wilcoxon_table",
    "write_report",
]
