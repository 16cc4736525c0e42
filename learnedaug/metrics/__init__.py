"""Metrics: FID/KID on pluggable features (reference Inception or a domain classifier); CAS (train on samples, test
on real)."""

from .cas import CASResult, classification_accuracy_score
from .features import (
    DomainClassifier,
    DomainExtractor,
    FeatureExtractor,
    InceptionExtractor,
    extract_features,
    open_source,
    train_domain_classifier,
)
from .fid import (
    FeatureStats,
    compute_fid,
    compute_kid,
    compute_statistics,
    feature_statistics,
    frechet_distance,
    kernel_inception_distance,
)
from .inception import FIDInceptionV3, convert_fid_weights, fid_inception_v3

_MOVED = {  # deprecated aliases for one release: the downstream benchmark left metrics/ (now FID/KID + features)
    "build_classifier": "learnedaug.classifiers", "evaluate": "learnedaug.classifiers",
    "train_classifier": "learnedaug.classifiers", "wilcoxon_table": "learnedaug.bench",
}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"learnedaug.metrics.{name} moved to {_MOVED[name]}.{name}; the old name goes in the next "
                      "release", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'learnedaug.metrics' has no attribute {name!r}")
