"""Training data: a full check of every item against the model, and the batched fast path for in-memory sets."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm


def _check_item(index: int, item: Any, image_shape: tuple[int, ...], num_classes: int) -> int:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(f"dataset[{index}] must be an (image, label) pair, got {type(item).__name__}")
    image, label = item
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"dataset[{index}] image must be a torch.Tensor (C, H, W), got {type(image).__name__}")
    if tuple(image.shape) != tuple(image_shape):
        raise ValueError(f"dataset[{index}] image has shape {tuple(image.shape)} but the model needs {tuple(image_shape)}")
    if image.dtype != torch.uint8:
        if not image.dtype.is_floating_point:
            raise TypeError(f"dataset[{index}] image must be float in [0, 1] or uint8, got dtype {image.dtype}")
        lo, hi = image.amin().item(), image.amax().item()
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"dataset[{index}] image must be float in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    if isinstance(label, torch.Tensor):
        if label.numel() != 1 or label.dtype.is_floating_point or label.dtype == torch.bool:
            raise ValueError(f"dataset[{index}] label must be an integer, got tensor {label!r}")
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int):
        raise TypeError(f"dataset[{index}] label must be an int, got {type(label).__name__} {label!r}")
    if not 0 <= label < num_classes:
        raise ValueError(f"dataset[{index}] label {label} is outside [0, {num_classes})")
    return label


def validate_dataset(
    dataset: Dataset, image_shape: tuple[int, int, int], num_classes: int, *, num_workers: int = 0, progress: bool = False
) -> torch.Tensor:
    """Check every ``(image, label)`` of ``dataset`` against a model; return the labels as int64 ``(N,)``.

    Images must be ``image_shape`` tensors, float in [0, 1] or uint8; labels ints in ``[0, num_classes)``.
    Raises ValueError/TypeError naming the first bad index. An unchanged in-memory ``ImageSet`` is checked in one
    vectorised pass.
    """
    from ..data import ImageSet

    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"dataset must be a map-style Dataset with __len__, got {type(dataset).__name__}") from None
    if n == 0:
        raise ValueError("dataset is empty: nothing to train on")
    if isinstance(dataset, ImageSet) and dataset.transform is None:
        if dataset.image_shape != tuple(image_shape):
            raise ValueError(f"dataset images have shape {dataset.image_shape} but the model needs {tuple(image_shape)}")
        if int(dataset.labels.max()) >= num_classes:
            bad = int((dataset.labels >= num_classes).nonzero()[0])
            raise ValueError(f"dataset[{bad}] label {int(dataset.labels[bad])} is outside [0, {num_classes})")
        return dataset.labels.clone()
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers, generator=torch.Generator())
    labels = [
        _check_item(i, item, image_shape, num_classes)
        for i, item in enumerate(tqdm(loader, total=n, desc="checking data", disable=not progress, leave=False))
    ]
    return torch.tensor(labels, dtype=torch.int64)


class Batch(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor


class InMemory(Dataset):
    """Batched view of an unchanged in-memory ImageSet: one uint8 gather per batch instead of N ``__getitem__``.

    Same values as the ImageSet's items once :func:`to_device_images` has converted them (on the device).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> Batch:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return Batch(self.images[idx], self.labels[idx])


def collate(batch: Any) -> Any:
    """A ``__getitems__`` batch is already collated; anything else goes through the default collate."""
    if isinstance(batch, Batch):
        return batch
    return torch.utils.data.default_collate(batch)


def fast_view(dataset: Dataset) -> Dataset:
    from ..data import ImageSet

    if isinstance(dataset, ImageSet) and dataset.transform is None:
        return InMemory(dataset.images, dataset.labels)
    return dataset


def dataset_tensors(dataset: Dataset, *, limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """All (image, label) items of ``dataset`` stacked: images (N, C, H, W) as stored (uint8 or float), labels (N,)
    int64. ``limit``: at most this many items, a seeded random choice when the dataset is larger."""
    if limit is not None and len(dataset) > limit:
        pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:limit].sort().values
        dataset = torch.utils.data.Subset(dataset, pick.tolist())
    parts = list(torch.utils.data.DataLoader(dataset, batch_size=1024, collate_fn=collate))
    return torch.cat([p[0] for p in parts]), torch.cat([torch.as_tensor(p[1]) for p in parts]).long()


def to_device_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()
