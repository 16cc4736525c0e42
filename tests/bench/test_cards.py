"""The zoo card's quality metrics in learnedaug.bench.cards (the functions train_zoo.py and zoo_metrics.py share)."""

from __future__ import annotations

import torch

from learnedaug.bench.cards import domain_extractor, label_accuracy
from learnedaug.data import ImageSet
from learnedaug.metrics import DomainClassifier, DomainExtractor
from learnedaug.metrics.features import DomainClassifierConfig


def _classifier() -> DomainClassifier:
    torch.manual_seed(0)
    return DomainClassifier(DomainClassifierConfig(image_shape=(1, 28, 28), num_classes=3, feature_dim=8)).eval()


def test_label_accuracy_is_the_share_of_own_label_predictions() -> None:
    classifier = _classifier()
    images = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        predicted = classifier(images).argmax(1)
    assert label_accuracy(images.split(4), predicted, classifier) == 1.0
    wrong = (predicted + 1) % 3
    assert label_accuracy(images.split(4), wrong, classifier) == 0.0
    mixed = torch.where(torch.arange(10) < 7, predicted, wrong)
    assert label_accuracy(images.split(3), mixed, classifier) == 0.7


def test_domain_extractor_trains_once_then_reads_the_cache(tmp_path) -> None:
    g = torch.Generator().manual_seed(2)
    train = ImageSet(torch.randint(0, 256, (24, 1, 28, 28), dtype=torch.uint8, generator=g), torch.arange(24) % 3, ("a", "b", "c"))
    first = domain_extractor(train, tmp_path / "runs", progress=False)
    weights = tmp_path / "runs" / "domain_classifier.safetensors"
    stamp = weights.stat().st_mtime_ns
    second = domain_extractor(train, tmp_path / "runs", progress=False)
    assert isinstance(second, DomainExtractor)
    assert weights.stat().st_mtime_ns == stamp
    for a, b in zip(first.classifier.state_dict().values(), second.classifier.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
