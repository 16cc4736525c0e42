"""CAS, the Classification Accuracy Score of a conditional generator (Ravuri & Vinyals, 2019).

A classifier is trained on the generator's samples ONLY (class-balanced, labelled with the class they were drawn
for) and tested on REAL labelled images. CAS is high only when the samples carry their class, which FID (a distance
between feature distributions that ignores labels) does not measure.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .._checks import check_images, check_int
from ..classifiers import CLASSIFIERS, macro_f1, predict, train_classifier
from ..classifiers.training import Data
from ..data import ImageSet
from ..models.base import check_sampler, model_device


@dataclass(frozen=True)
class CASResult:
    """One CAS measurement. ``accuracy``, ``macro_f1`` in [0, 1] on the real test set; ``per_class_accuracy``:
    recall of each class (NaN for a class absent from the test set); ``n_train`` synthetic images trained on,
    ``n_test`` real images scored; ``seconds``: wall time of sampling + training + scoring."""

    accuracy: float
    macro_f1: float
    per_class_accuracy: list[float]
    n_train: int
    n_test: int
    seconds: float

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the fields."""
        return asdict(self)


def classification_accuracy_score(
    sampler: object,
    test: Data,
    *,
    n_per_class: int = 500,
    classifier: str = "cnn",
    width: float = 0.5,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    sample_batch_size: int = 256,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> CASResult:
    """CAS of ``sampler`` on the real labelled ``test`` set.

    ``sampler``: any conditional sampler (``num_classes`` K, ``image_shape`` (C, H, W), ``sample(labels,
    generator=)`` -> float images in [0, 1]). ``test``: an :class:`~learnedaug.data.ImageSet`, a pair ``(images uint8
    or float in [0, 1] (N, C, H, W), labels int64 (N,) in [0, K))`` or a map-style Dataset of such items; its image
    shape and classes must match the sampler's.

    Recipe: ``n_per_class`` samples of each class (K * n_per_class in all, default 500 per class) are drawn in batches
    of ``sample_batch_size`` with a ``torch.Generator`` seeded by ``seed`` on the sampler's device, moved to CPU, and
    train a fresh ``classifier`` (``"cnn"`` or ``"vgg"``, channel ``width`` multiplier, default 0.5) for a fixed
    ``epochs`` (default 10) with Adam (``lr``, default 1e-3), cosine decay, batch ``batch_size`` (default 64) and no
    validation split (the final weights are scored). ``device``: where the classifier trains (``None``: the
    sampler's device). The same ``seed`` gives the same result.

    Read it against the CAS of real data: the same recipe trained on real labelled images (e.g. ``n_per_class`` real
    images per class, as a lookup sampler over a real training set) and tested on the same ``test``; a generator
    whose samples carry their class fully comes close to it, chance is 1 / K.
    """
    check_sampler(sampler, "sampler")
    num_classes = check_int(sampler.num_classes, "sampler.num_classes", min=2)
    image_shape = tuple(int(s) for s in sampler.image_shape)
    n_per_class = check_int(n_per_class, "n_per_class")
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    sample_batch_size = check_int(sample_batch_size, "sample_batch_size")
    seed = check_int(seed, "seed", min=0)
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {sorted(CLASSIFIERS)}, got {classifier!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    test = _checked_test(test, image_shape, num_classes)

    start = time.perf_counter()
    images, labels = _draw(sampler, num_classes, image_shape, n_per_class, sample_batch_size, seed, progress)
    train_device = model_device(sampler) if device is None else torch.device(device)
    model, _ = train_classifier(
        classifier, (images, labels), epochs=epochs, batch_size=batch_size, lr=lr, patience=None, schedule="cosine",
        num_classes=num_classes, model_kwargs={"width": float(width)}, seed=seed, device=train_device,
        progress=progress, desc="CAS classifier",
    )
    preds = predict(model, test, device=train_device)  # one pass over the test set
    true = _labels_of(test)
    hits = torch.bincount(true[preds == true], minlength=num_classes).double()
    per_class = (hits / torch.bincount(true, minlength=num_classes).double()).tolist()  # 0 / 0 -> NaN: class absent
    return CASResult(accuracy=float((preds == true).double().mean()), macro_f1=macro_f1(true, preds, num_classes),
                     per_class_accuracy=per_class, n_train=int(labels.shape[0]), n_test=int(true.numel()),
                     seconds=time.perf_counter() - start)


def _draw(sampler: object, num_classes: int, image_shape: tuple[int, ...], n_per_class: int, batch: int, seed: int,
          progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced samples on CPU: ``(images float (K * n, C, H, W) in [0, 1], labels int64 (K * n,))``."""
    device = model_device(sampler)
    generator = torch.Generator(device=device).manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    chunks = []
    with torch.inference_mode():
        for part in tqdm(labels.split(batch), desc="CAS samples", unit="batch", disable=not progress, leave=False):
            x = sampler.sample(part.to(device), generator=generator)
            check_images(x, name="sampler.sample(...)", unit_range=True)
            if tuple(x.shape) != (part.shape[0], *image_shape):
                raise ValueError(f"sampler.sample(...) must return shape {(part.shape[0], *image_shape)} "
                                 f"(sampler.image_shape), got {tuple(x.shape)}")
            chunks.append(x.detach().to("cpu", torch.float32))
    return torch.cat(chunks), labels


def _labels_of(test: Data) -> torch.Tensor:
    """The test labels int64 ``(N,)`` on CPU."""
    if isinstance(test, ImageSet):
        return test.labels
    return torch.as_tensor(test[1]).to("cpu", torch.int64)


def _checked_test(test: Data, image_shape: tuple[int, ...], num_classes: int) -> Data:
    """``test`` as an ImageSet or a pair of CPU tensors, after checking its image shape and labels against the
    sampler's (a generic Dataset is read once)."""
    if isinstance(test, ImageSet):
        shape, labels, k = tuple(test.image_shape), test.labels, test.num_classes
        if k != num_classes:
            raise ValueError(f"test has {k} classes but sampler.num_classes is {num_classes}")
    else:
        if isinstance(test, Dataset) and not isinstance(test, (tuple, list)):
            if len(test) == 0:
                raise ValueError("test is empty")
            xs, ys = zip(*DataLoader(test, batch_size=256, shuffle=False))
            test = (torch.cat(xs), torch.cat(ys))
        if not (isinstance(test, (tuple, list)) and len(test) == 2):
            raise TypeError(f"test must be an ImageSet, a Dataset or a pair (images, labels), got {type(test).__name__}")
        images, labels = test
        check_images(images, name="test images", unit_range=True, allow_uint8=True)
        labels = torch.as_tensor(labels)
        if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"test labels must be a 1-D integer tensor, got shape {tuple(labels.shape)} dtype {labels.dtype}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"test labels has {labels.shape[0]} entries but there are {images.shape[0]} images")
        shape = tuple(images.shape[1:])
        test = (images.cpu(), labels.to("cpu", torch.int64))
        labels = test[1]
    if shape != image_shape:
        raise ValueError(f"test images have shape {shape} but sampler.image_shape is {image_shape}")
    if labels.numel() == 0:
        raise ValueError("test is empty")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"test labels must lie in [0, {num_classes}) (sampler.num_classes), got values in [{lo}, {hi}]")
    return test
