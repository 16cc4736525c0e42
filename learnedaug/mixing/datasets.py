"""Map-style datasets that put synthetic images into an epoch: SyntheticDataset, MixedDataset, AugOrig.

All three have ``set_epoch(epoch)`` (call it before each epoch, like ``DistributedSampler.set_epoch``) and work
with ``RandomSampler``, ``DistributedSampler`` and DataLoader workers: the synthetic pool is generated in the main
process; workers only index host tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset, get_worker_info

from .._checks import check_int
from ..models.base import ConditionalSampler
from .pool import LabelSpec, SamplePool

Sample = tuple[Any, Any]


def _set_epoch(dataset: Any, epoch: int) -> None:
    if callable(getattr(dataset, "set_epoch", None)):
        dataset.set_epoch(epoch)


def _index(index: int, length: int, owner: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        index = int(index)  # numpy / 0-d tensor indices from samplers
    if not -length <= index < length:
        raise IndexError(f"{owner} index {index} out of range for length {length}")
    return index % length


class SyntheticDataset(Dataset):
    """``size`` synthetic ``(image, label)`` items per epoch, a fresh slice every epoch (seed 003's "pagination").

    ``source`` is a sampler (a :class:`SamplePool` of ``pool_size`` images is built from it) or a SamplePool.
    The pool holds ``len(pool) // size`` pages: epoch ``e`` shows page ``e % pages`` of generation
    ``e // pages``, so with ``pool_size == size`` (the default) every epoch is regenerated, with a bigger pool
    the pages are used in turn and the pool is regenerated when they run out.

    Items are ``(image float32 (C, H, W) in [0, 1], label int)``, passed through ``transform(image)`` and then
    ``transforms(image, label)`` (torchvision's VisionDataset convention) when given.
    ``prefetch=True`` generates the next generation in a background thread during the last page's epoch.

    With DataLoader workers, keep ``persistent_workers=False`` (the default): persistent workers keep the pool
    they started with, and reading a stale pool after ``set_epoch`` raises RuntimeError.
    """

    def __init__(
        self,
        source: ConditionalSampler | SamplePool,
        size: int | None = None,
        *,
        labels: LabelSpec = "balanced",
        pool_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        transforms: Callable[[Any, int], Sample] | None = None,
        seed: int = 0,
        batch_size: int = 1024,
        prefetch: bool = False,
    ) -> None:
        if isinstance(source, SamplePool):
            if pool_size is not None:
                raise ValueError(f"pool_size is only for building a pool from a model; the given pool has {len(source)} images")
            self.pool = source
            size = len(source) if size is None else size
        else:
            if size is None:
                raise ValueError("size is required when source is a model")
            self.pool = SamplePool(source, size if pool_size is None else pool_size, labels, batch_size=batch_size, seed=seed)
        self.size = check_int(size, "size", max=len(self.pool))  # at most the pool size
        self.pages = len(self.pool) // self.size
        self.transform = transform
        self.transforms = transforms
        self.prefetch = bool(prefetch)
        self.epoch = 0
        # Shared with workers: a worker whose copy of the dataset is older than the main process's notices.
        self._epoch_marker = torch.zeros(1, dtype=torch.long).share_memory_()
        self._sync_pool(0)

    @property
    def num_classes(self) -> int:
        return self.pool.model.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.pool.model.image_shape)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"SyntheticDataset(size={self.size}, pages={self.pages}, epoch={self.epoch}, pool={self.pool!r})"

    def set_epoch(self, epoch: int) -> None:
        """Show epoch ``epoch``'s slice; regenerates the pool when the epoch needs a new generation."""
        check_int(epoch, "epoch", min=0)
        self._sync_pool(epoch)
        self.epoch = epoch
        self._epoch_marker[0] = epoch

    def _sync_pool(self, epoch: int) -> None:
        generation, page = divmod(epoch, self.pages)
        if self.pool.epoch != generation:
            self.pool.refill(generation)  # swaps in a matching background refill, else generates now
        if self.prefetch and page == self.pages - 1 and self.pool.pending is None:
            self.pool.refill_async(generation + 1)

    def epoch_tensors(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """This epoch's slice as ``(images uint8 (size, C, H, W), labels int64 (size,))`` views of the pool, for
        training loops that batch tensors instead of items; None when a ``transform``/``transforms`` must run per item."""
        if self.transform is not None or self.transforms is not None:
            return None
        start = (self.epoch % self.pages) * self.size
        return self.pool.images[start:start + self.size], self.pool.labels[start:start + self.size]

    def __getitem__(self, index: int) -> Sample:
        if get_worker_info() is not None and int(self._epoch_marker[0]) != self.epoch:
            raise RuntimeError(
                f"this DataLoader worker holds the synthetic pool of epoch {self.epoch} but set_epoch("
                f"{int(self._epoch_marker[0])}) was called since: use persistent_workers=False with SyntheticDataset"
            )
        i = _index(index, self.size, "SyntheticDataset") + (self.epoch % self.pages) * self.size
        image, label = self.pool.float_images(i), int(self.pool.labels[i])
        if self.transform is not None:
            image = self.transform(image)
        if self.transforms is not None:
            image, label = self.transforms(image, label)
        return image, label


class MixedDataset(Dataset):
    """All of ``real`` plus ``round(ratio * len(real))`` synthetic items per epoch.

    ``ratio`` is synthetic : real (``ratio=1`` doubles the epoch like seed 000's augmented sets; ``0.25`` adds a
    quarter). Indices ``[0, len(real))`` are the real items, the rest synthetic. If ``synthetic`` is longer than
    needed, successive epochs walk through it (epoch ``e`` starts at ``e * n_synthetic``, wrapping), so a
    static synthetic set is also used a fresh slice at a time. ``set_epoch`` propagates to both datasets.
    Both must return items of the same kind (e.g. ``(float tensor (C, H, W), int)``).

    ``synthetic_weight``: when given, every item gains a third element, its loss weight - 1.0 for real items,
    ``synthetic_weight`` for synthetic ones - so the default collate yields ``(images, labels, weights)`` for
    :func:`~learnedaug.mixing.losses.weighted_cross_entropy`.
    """

    def __init__(self, real: Dataset, synthetic: Dataset, ratio: float = 1.0, *,
                 synthetic_weight: float | None = None) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 0:
            raise ValueError(f"ratio (synthetic : real) must be a number >= 0, got {ratio!r}")
        if synthetic_weight is not None and (isinstance(synthetic_weight, bool)
                                             or not isinstance(synthetic_weight, (int, float)) or not synthetic_weight >= 0):
            raise ValueError(f"synthetic_weight must be a number >= 0 or None, got {synthetic_weight!r}")
        self.real, self.synthetic, self.ratio = real, synthetic, float(ratio)
        self.synthetic_weight = None if synthetic_weight is None else float(synthetic_weight)
        self.num_real = len(real)
        self.num_synthetic = round(self.ratio * self.num_real)
        if self.num_synthetic > len(synthetic):
            raise ValueError(
                f"ratio {ratio} needs {self.num_synthetic} synthetic items per epoch but synthetic has only {len(synthetic)}"
            )
        self.epoch = 0

    def __len__(self) -> int:
        return self.num_real + self.num_synthetic

    def __repr__(self) -> str:
        return f"MixedDataset(real={self.num_real}, synthetic={self.num_synthetic} per epoch, ratio={self.ratio})"

    def set_epoch(self, epoch: int) -> None:
        check_int(epoch, "epoch", min=0)
        self.epoch = epoch
        _set_epoch(self.real, epoch)
        _set_epoch(self.synthetic, epoch)

    def is_synthetic(self, index: int) -> bool:
        return _index(index, len(self), "MixedDataset") >= self.num_real

    def __getitem__(self, index: int) -> Sample:
        i = _index(index, len(self), "MixedDataset")
        if i < self.num_real:
            item, weight = self.real[i], 1.0
        else:
            item = self.synthetic[(self.epoch * self.num_synthetic + i - self.num_real) % len(self.synthetic)]
            weight = self.synthetic_weight
        return item if self.synthetic_weight is None else (*item, weight)


class AugOrig(Dataset):
    """Seed 000's AUGORIG control: every real item twice (length doubles; item ``i + n`` is item ``i`` again).

    Compared with ``MixedDataset(real, synthetic, ratio=1)`` it isolates the effect of the extra training steps
    from that of new data. Random transforms of ``real`` are drawn independently for the two copies.
    """

    def __init__(self, real: Dataset) -> None:
        self.real = real

    def __len__(self) -> int:
        return 2 * len(self.real)

    def __repr__(self) -> str:
        return f"AugOrig(real={len(self.real)})"

    def set_epoch(self, epoch: int) -> None:
        check_int(epoch, "epoch", min=0)
        _set_epoch(self.real, epoch)

    def __getitem__(self, index: int) -> Sample:
        return self.real[_index(index, len(self), "AugOrig") % len(self.real)]
