"""Feature extractors for FID/KID and the image sources they read.

An extractor has a ``name`` (it keys cached statistics, so it names the weights too), a feature size ``dim``, a
``device`` and ``__call__(images (N, C, H, W) float in [0, 1] or uint8) -> (N, dim) float32``. Two ship here:

* :class:`InceptionExtractor` - the reference FID Inception pool3 (2048-d); what published FIDs use.
* :class:`DomainExtractor` - the penultimate layer of a small LeNet-like classifier trained on the real data
  (:func:`train_domain_classifier`): a fast CPU "domain FID" whose features know what digits look like.

Image sources (:func:`open_source`): a tensor, a ``.npz`` (``x``/``y`` arrays of ``../shared/data``), an image
folder, a sampler (any object with ``num_classes``, ``image_shape``, ``sample(labels, generator=)``), a saved model
directory, or a zoo name.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from .._checks import check_images, check_labels
from .._io import atomic_path
from .._random import as_generator
from ..classifiers import train_classifier
from ..data import IMAGE_SUFFIXES, read_image
from ..models.base import ConditionalSampler, check_sampler
from .inception import FIDInceptionV3, fid_inception_v3


class SetSizeWarning(UserWarning):
    """A real set holds fewer images than the ``n`` asked for: all are used, so two FID sets may differ in size."""


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) in [0, 1] (or uint8) to features (N, dim) float32 on ``device``."""

    name: str
    dim: int

    @property
    def device(self) -> torch.device: ...

    def to(self, device: torch.device | str) -> "FeatureExtractor": ...

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


def _state_digest(module: nn.Module) -> str:
    """Short SHA-256 of a module's weights and buffers (names, shapes, bytes; BatchNorm step counters left out)."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        if k.endswith("num_batches_tracked"):
            continue
        h.update(f"{k}:{tuple(v.shape)}:{v.dtype}".encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()[:16]


class InceptionExtractor:
    """FID Inception-v3 pool3 features (2048-d).

    ``weights``: None downloads the reference file (hash-checked), a path loads a local ``.pth``/``.safetensors``,
    an :class:`FIDInceptionV3` is used as given (e.g. random weights in tests and benchmarks).
    """

    dim = 2048

    def __init__(
        self,
        weights: str | os.PathLike | FIDInceptionV3 | None = None,
        *,
        device: torch.device | str = "cpu",
        progress: bool = True,
    ) -> None:
        net = weights if isinstance(weights, FIDInceptionV3) else fid_inception_v3(weights, progress=progress)
        self.name = f"inception-{_state_digest(net)}"
        self.net = net.eval().to(device)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: torch.device | str) -> "InceptionExtractor":
        self.net.to(device)
        return self

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.to(self.device))


@dataclass
class DomainClassifierConfig:
    """Input shape and sizes of a :class:`DomainClassifier` (JSON-serialisable)."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    feature_dim: int = 128

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(s) for s in self.image_shape)
        c, h, w = self.image_shape if len(self.image_shape) == 3 else (0, 0, 0)
        if c not in (1, 3) or h < 8 or w < 8:
            raise ValueError(f"image_shape must be (1 or 3, H >= 8, W >= 8), got {self.image_shape}")
        if self.num_classes < 2 or self.feature_dim < 1:
            raise ValueError(f"num_classes must be >= 2 and feature_dim >= 1, got {self.num_classes}, {self.feature_dim}")


class DomainClassifier(nn.Module):
    """LeNet-like classifier: conv5-32, pool, conv5-64, pool, FC ``feature_dim`` (the features), FC classes.

    Input (N, C, H, W) float in [0, 1] with (C, H, W) = ``config.image_shape``; :meth:`features` gives
    (N, feature_dim) post-ReLU activations, ``forward`` the class logits.
    """

    def __init__(self, config: DomainClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.image_shape
        self.conv1 = nn.Conv2d(c, 32, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5, padding=2)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), config.feature_dim)
        self.fc2 = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if tuple(images.shape[1:]) != self.config.image_shape:
            raise ValueError(
                f"images must have shape (N, {', '.join(map(str, self.config.image_shape))}) like the domain "
                f"classifier's training data, got {tuple(images.shape)}"
            )
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(images))

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights + config to one ``.safetensors`` file atomically; return the path."""
        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        config = {"image_shape": list(self.config.image_shape), "num_classes": self.config.num_classes,
                  "feature_dim": self.config.feature_dim}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata={"domain_classifier": json.dumps(config)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: torch.device | str | None = None) -> "DomainClassifier":
        """Rebuild a classifier written by :meth:`save` (eval mode)."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"domain classifier weights not found: {path}")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "domain_classifier" not in meta:
            raise ValueError(f"{path} is not a domain classifier file (no 'domain_classifier' metadata)")
        model = cls(DomainClassifierConfig(**json.loads(meta["domain_classifier"])))
        model.load_state_dict(load_file(str(path)))
        model.eval()
        return model.to(device) if device is not None else model


def train_domain_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int | None = None,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 1e-3,
    feature_dim: int = 128,
    generator: torch.Generator | int | None = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> DomainClassifier:
    """Train a :class:`DomainClassifier` on real labelled images (N, C, H, W) in [0, 1] or uint8 with Adam.

    Seeded by ``generator`` (init and batch order). MNIST, 60k images, 2 epochs: about a minute on one CPU core.
    Returns the model in eval mode on ``device``.
    """
    check_images(images, channels=(1, 3), allow_uint8=True)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor of class indices, got {type(labels).__name__}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 for a classifier, got {num_classes}")
    check_labels(labels, num_classes, n=images.shape[0])
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"epochs, batch_size and lr must be positive, got {epochs}, {batch_size}, {lr}")
    g = as_generator(generator)
    config = DomainClassifierConfig(tuple(images.shape[1:]), num_classes, feature_dim)
    if g is None:
        model = DomainClassifier(config)
    else:
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the global RNG alone
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
            model = DomainClassifier(config)
    shuffle = g if g is not None else torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    model, _ = train_classifier(model, (images, labels), epochs=epochs, batch_size=batch_size, lr=lr, patience=None,
                                generator=shuffle, device=device, progress=progress, desc="domain classifier")
    return model.eval()


class DomainExtractor:
    """Penultimate-layer features of a :class:`DomainClassifier` (``feature_dim``-d, post-ReLU)."""

    def __init__(self, classifier: DomainClassifier, *, device: torch.device | str | None = None) -> None:
        self.classifier = classifier.eval()
        if device is not None:
            self.classifier.to(device)
        self.dim = classifier.config.feature_dim
        self.name = f"domain-{_state_digest(classifier)}"

    @classmethod
    def from_file(cls, path: str | os.PathLike, *, device: torch.device | str | None = None) -> "DomainExtractor":
        return cls(DomainClassifier.load(path), device=device)

    @property
    def device(self) -> torch.device:
        return next(self.classifier.parameters()).device

    def to(self, device: torch.device | str) -> "DomainExtractor":
        self.classifier.to(device)
        return self

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, allow_uint8=True)
        return self.classifier.features(_to_unit_float(images.to(self.device)))


# ---- image sources ---------------------------------------------------------------------------------------------


def _to_unit_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255.0 if images.dtype == torch.uint8 else images.float()


class ImageSource(Protocol):
    """A finite set of images read in batches: ``len`` images, ``batches(batch_size)`` -> (B, C, H, W) tensors.

    ``content_hash`` is a digest of exactly the images it yields, or None when they are drawn fresh (samplers).
    """

    labels: torch.Tensor | None

    def __len__(self) -> int: ...

    def content_hash(self) -> str | None: ...

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]: ...


class TensorSource:
    """Images held in memory: (N, C, H, W) float in [0, 1] or uint8, with optional labels (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        check_images(images, channels=(1, 3), unit_range=True, allow_uint8=True)
        if labels is not None:
            check_labels(labels, int(labels.max()) + 1 if labels.numel() else 1, n=images.shape[0])
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: int, generator: torch.Generator | int | None = 0) -> "TensorSource":
        """A seeded random subset of ``n`` images (all of them, in order, when ``n >= len``)."""
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=as_generator(generator)).narrow(0, 0, n).sort().values
        return TensorSource(self.images[idx], None if self.labels is None else self.labels[idx])

    def content_hash(self) -> str:
        x = self.images.detach().cpu().contiguous()
        h = hashlib.sha256(f"{tuple(x.shape)}:{x.dtype}".encode())
        h.update(x.view(torch.uint8).numpy().data if x.numel() else b"")
        return h.hexdigest()

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), batch_size):
            yield self.images[start:start + batch_size]


class FolderSource:
    """Image files under a folder (recursive, sorted paths); grayscale files give 1 channel, others RGB.

    All images must share one size. Files are decoded lazily, batch by batch.
    """

    labels = None

    def __init__(self, folder: str | os.PathLike, files: list[Path] | None = None) -> None:
        self.folder = Path(folder)
        self.files = files if files is not None else sorted(
            p for p in self.folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        if not self.files:
            raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) found under {self.folder}")
        first = read_image(self.files[0])
        self.mode, self.size = first.mode, first.size

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, n: int, generator: torch.Generator | int | None = 0) -> "FolderSource":
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=as_generator(generator)).narrow(0, 0, n).sort().values
        return FolderSource(self.folder, [self.files[i] for i in idx.tolist()])

    def content_hash(self) -> str:
        h = hashlib.sha256(self.mode.encode())
        for p in self.files:
            h.update(p.relative_to(self.folder).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
        return h.hexdigest()

    def _read(self, path: Path) -> np.ndarray:
        im = read_image(path)
        if im.size != self.size:
            raise ValueError(f"image {path} is {im.size[0]}x{im.size[1]} but {self.files[0]} is "
                             f"{self.size[0]}x{self.size[1]}: all images of a set must share one size")
        arr = np.asarray(im if im.mode == self.mode else im.convert(self.mode), dtype=np.uint8)
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(self), batch_size):
            yield torch.from_numpy(np.stack([self._read(p) for p in self.files[start:start + batch_size]]))


class SamplerSource:
    """``n`` images drawn from a sampler with balanced labels (``arange(n) % num_classes``), batch by batch."""

    def __init__(self, sampler, n: int, generator: torch.Generator | int | None = 0) -> None:
        check_sampler(sampler, "sampler")
        if n < 1:
            raise ValueError(f"n must be >= 1 to sample from a model, got {n}")
        self.sampler, self.n = sampler, int(n)
        self.labels = torch.arange(self.n) % sampler.num_classes
        self.generator = generator

    def __len__(self) -> int:
        return self.n

    def content_hash(self) -> None:
        return None

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        device = getattr(self.sampler, "device", torch.device("cpu"))
        g = as_generator(self.generator, device=torch.device(device).type)
        for start in range(0, self.n, batch_size):
            labels = self.labels[start:start + batch_size].to(device)
            with torch.no_grad():
                images = self.sampler.sample(labels, generator=g)
            check_images(images, name="sampler output", unit_range=True)
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f"sampler returned {images.shape[0]} images for {labels.shape[0]} labels")
            yield images


def load_npz_images(path: str | os.PathLike) -> TensorSource:
    """Read an ``x`` (N, H, W) or (N, H, W, C) uint8 / ``y`` (N,) int64 archive (no pickles) as a source."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data.files:
            raise ValueError(f"{path} has arrays {data.files}; an image archive needs 'x' (and optionally 'y')")
        x = data["x"]
        y = data["y"] if "y" in data.files else None
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    else:
        raise ValueError(f"{path}: 'x' must be (N, H, W) or (N, H, W, 1|3), got shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"{path}: 'x' must be uint8, got {x.dtype}")
    labels = None if y is None else torch.from_numpy(np.ascontiguousarray(y).astype(np.int64))
    return TensorSource(torch.from_numpy(np.ascontiguousarray(x)), labels)


def open_source(
    source,
    *,
    n: int | None = None,
    generator: torch.Generator | int | None = 0,
) -> ImageSource:
    """Resolve ``source`` into an image source of at most ``n`` images (exactly ``n`` for samplers).

    Accepts a tensor (N, C, H, W) in [0, 1] or uint8; a ``.npz`` with ``x``/``y``; an image folder; a sampler; a
    saved model directory (``config.json`` inside) or a zoo name. Real sets larger than ``n`` are subsampled with
    ``generator`` (seeded, without replacement); samplers draw ``n`` (default 10,000) with balanced labels. A real
    set smaller than ``n`` is used whole, with a :class:`SetSizeWarning`. A path that names nothing raises ValueError.
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be a positive number of images, got {n}")
    if isinstance(source, np.ndarray):
        source = torch.from_numpy(source)
    if isinstance(source, torch.Tensor):
        src = TensorSource(source)
    elif isinstance(getattr(source, "images", None), torch.Tensor):  # a labelled set such as learnedaug.data.ImageSet
        src = TensorSource(source.images, getattr(source, "labels", None))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file() and path.suffix == ".npz":
            src = load_npz_images(path)
        elif path.is_dir() and not (path / "config.json").is_file():
            src = FolderSource(path)
        elif path.is_file():
            raise ValueError(f"cannot read images from {path}: expected a .npz, an image folder or a model folder")
        else:
            from ..zoo import load  # lazy: the zoo (and the model families) are needed only for models

            src = SamplerSource(load(source), n or 10_000, generator)
    elif isinstance(source, ConditionalSampler):
        src = SamplerSource(source, n or 10_000, generator)
    else:
        raise TypeError(
            f"cannot read images from a {type(source).__name__}: give a tensor, a .npz path, an image folder, "
            "a sampler, a saved model folder or a zoo name"
        )
    if n is not None and not isinstance(src, SamplerSource):
        if len(src) < n:
            name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"the {type(source).__name__} set"
            warnings.warn(
                f"{name} has {len(src)} images, fewer than n={n}: all {len(src)} are used, but FID compares "
                f"equal-size sets (it is biased by the set size), so give both sets the same n",
                SetSizeWarning, stacklevel=2,
            )
        src = src.subset(n, generator)
    return src


def extract_features(
    source,
    extractor: FeatureExtractor,
    *,
    n: int | None = None,
    batch_size: int = 50,
    generator: torch.Generator | int | None = 0,
    progress: bool = True,
) -> torch.Tensor:
    """Features (N, dim) float32 on the CPU of every image of ``source`` (anything :func:`open_source` takes, or an
    already opened source)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    src = source if hasattr(source, "batches") else open_source(source, n=n, generator=generator)
    out = []
    with tqdm(total=len(src), desc=f"features ({extractor.name})", unit="img", disable=not progress) as bar:
        for images in src.batches(batch_size):
            out.append(extractor(images).float().cpu())
            bar.update(images.shape[0])
    return torch.cat(out) if out else torch.empty(0, extractor.dim)
