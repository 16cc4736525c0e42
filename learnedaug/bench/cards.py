"""The quality metrics written on (and re-measured from) a zoo model card, for MNIST-shaped class-conditional models.

``test_neg_elbo`` (VAEs, nats per test image), ``domain_fid_test_10k`` and ``label_accuracy_10k`` (10,000 balanced
samples drawn with seed 0, on the features of a LeNet-style domain classifier trained once and cached).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from filelock import FileLock

from ..data import ImageSet
from ..metrics import DomainClassifier, DomainExtractor, compute_statistics, frechet_distance, train_domain_classifier
from ..metrics.features import SamplerSource
from ..models import GenerativeModel
from ..train.objectives import objective_for

CARD_SEED = 0
CARD_FID_SAMPLES = 10_000


def domain_extractor(train_set: ImageSet, cache_dir: Path, *, progress: bool) -> DomainExtractor:
    """The domain-FID extractor: trained on all of ``train_set`` (2 epochs, seed 0) once, then read from ``cache_dir``."""
    path = Path(cache_dir) / "domain_classifier.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.is_file():
            classifier = train_domain_classifier(train_set.images, train_set.labels, epochs=2, generator=CARD_SEED,
                                                 progress=progress)
            classifier.save(path)
    return DomainExtractor(DomainClassifier.load(path))


def test_loss(model: GenerativeModel, test_set: ImageSet, batch_size: int = 500) -> float:
    """Mean negative ELBO (nats per image, clean encoder input) of ``test_set`` (uint8 images) under a VAE."""
    objective = objective_for(model)
    total = 0.0
    for start in range(0, len(test_set), batch_size):
        x = test_set.images[start:start + batch_size].float().div(255.0)
        y = test_set.labels[start:start + batch_size]
        total += objective.validation_loss(model, x, y) * y.shape[0]
    return total / len(test_set)


@torch.no_grad()
def label_accuracy(batches: Iterable[torch.Tensor], labels: torch.Tensor, classifier: DomainClassifier) -> float:
    """Fraction in [0, 1] of the images (``batches`` of (B, C, H, W) in [0, 1], in ``labels`` order) that the domain
    classifier assigns to their own label: do class-conditional samples show their class?"""
    predicted = torch.cat([classifier(x.float()).argmax(1) for x in batches])
    return float((predicted == labels).double().mean())


def quality_metrics(model: GenerativeModel, test_set: ImageSet, extractor: DomainExtractor, cache_dir: Path, *,
                    progress: bool) -> dict[str, float]:
    """The card's quality metrics of ``model`` (unrounded); the real test-set FID statistics are cached in
    ``cache_dir/fid_cache``. CDCGANs have no ELBO, so ``test_neg_elbo`` is left out for them."""
    metrics = {}
    if model.family != "cdcgan":
        metrics["test_neg_elbo"] = test_loss(model, test_set)
    real = compute_statistics(test_set.images, extractor, progress=progress, cache_dir=Path(cache_dir) / "fid_cache")
    fake = compute_statistics(model, extractor, n=CARD_FID_SAMPLES, seed=CARD_SEED, progress=progress, cache_dir=False)
    metrics["domain_fid_test_10k"] = frechet_distance(fake.mu, fake.sigma, real.mu, real.sigma)
    samples = SamplerSource(model, CARD_FID_SAMPLES, CARD_SEED)  # the same samples as the FID's
    metrics["label_accuracy_10k"] = label_accuracy(samples.batches(500), samples.labels, extractor.classifier)
    return metrics
