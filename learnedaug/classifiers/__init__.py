"""Classifiers: the papers' downstream networks and the one loop that trains and scores them.

Used by the benchmark (``learnedaug.bench``), the demo, curation judges and the FID domain features.
"""

from .nets import CLASSIFIERS, SmallCNN, VGGNet, build_classifier
from .training import History, evaluate, f1_per_class, macro_f1, predict, train_classifier

__all__ = ["CLASSIFIERS", "History", "SmallCNN", "VGGNet", "build_classifier", "evaluate", "f1_per_class", "macro_f1",
           "predict", "train_classifier"]
