"""Deprecated: classifier training and scoring moved to :mod:`learnedaug.classifiers`, the Wilcoxon tables to
:mod:`learnedaug.bench`; this alias goes in the next release."""

import warnings

from ..bench.stats import PairedTest, WilcoxonTable, wilcoxon_table
from ..classifiers.training import SCHEDULES, History, evaluate, f1_per_class, macro_f1, predict, train_classifier

warnings.warn("learnedaug.metrics.downstream moved to learnedaug.classifiers (training, scoring) and learnedaug.bench "
              "(wilcoxon_table)", DeprecationWarning, stacklevel=2)

__all__ = ["SCHEDULES", "History", "PairedTest", "WilcoxonTable", "evaluate", "f1_per_class", "macro_f1", "predict",
           "train_classifier", "wilcoxon_table"]
