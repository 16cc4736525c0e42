"""Deprecated: the downstream classifiers moved to :mod:`learnedaug.classifiers`; this alias goes in the next release."""

import warnings

from ..classifiers.nets import CLASSIFIERS, SmallCNN, VGGNet, build_classifier

warnings.warn("learnedaug.metrics.classifiers moved to learnedaug.classifiers", DeprecationWarning, stacklevel=2)

__all__ = ["CLASSIFIERS", "SmallCNN", "VGGNet", "build_classifier"]
