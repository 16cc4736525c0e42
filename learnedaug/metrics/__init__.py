"""Metrics: FID/KID on pluggable features (reference Inception or a domain classifier)."""

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
from .classifiers import build_classifier
from .downstream import evaluate, train_classifier, wilcoxon_table
