"""Deprecated: the downstream benchmark moved to :mod:`learnedaug.bench`; this alias goes in the next release."""

import warnings

from ..bench import BenchConfig, GeneratorSpec, card_subset, plot_learning_curves, run_protocol, summarize, train_cell_generator
from ..bench.cli import add_arguments, run
from ..bench.runner import _load_model

warnings.warn("learnedaug.metrics.protocol moved to learnedaug.bench", DeprecationWarning, stacklevel=2)

__all__ = ["BenchConfig", "GeneratorSpec", "add_arguments", "card_subset", "plot_learning_curves", "run",
           "run_protocol", "summarize", "train_cell_generator"]
