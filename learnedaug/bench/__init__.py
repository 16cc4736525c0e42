"""Benchmarks built on the library: the model-card quality metrics of the zoo (:mod:`learnedaug.bench.cards`).

``bench`` may import metrics, train, mixing, transforms and zoo; ``metrics`` imports nothing above models/data.
"""

from .cards import CARD_FID_SAMPLES, CARD_SEED, domain_extractor, label_accuracy, quality_metrics, test_loss

__all__ = ["CARD_FID_SAMPLES", "CARD_SEED", "domain_extractor", "label_accuracy", "quality_metrics", "test_loss"]
