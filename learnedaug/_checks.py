"""Input validation shared by models, transforms, mixers and metrics: errors name the argument and value."""

from __future__ import annotations

import operator
import reprlib

import numpy as np
import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_images(
    images: torch.Tensor,
    *,
    name: str = "images",
    ndims: tuple[int, ...] = (4,),
    channels: tuple[int, ...] | int | None = None,
    unit_range: bool = False,
    allow_uint8: bool = False,
) -> None:
    """Raise TypeError/ValueError unless ``images`` is an image tensor of the expected rank, channels, dtype, range.

    ``unit_range=True`` requires float values in [0, 1] (checked on the data, NaN rejected).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim not in ndims:
        want = " or ".join({3: "(C, H, W)", 4: "(N, C, H, W)"}.get(n, f"{n}-D") for n in ndims)
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(images.shape)}")
    allowed = FLOAT_DTYPES + ((torch.uint8,) if allow_uint8 else ())
    if images.dtype not in allowed:
        raise TypeError(f"{name} must have dtype in {[str(d) for d in allowed]}, got {images.dtype}")
    if channels is not None:
        channels = (channels,) if isinstance(channels, int) else channels
        c = images.shape[-3]
        if c not in channels:
            raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channels, got {c} (shape {tuple(images.shape)})")
    if unit_range and images.dtype.is_floating_point and images.numel():
        lo, hi = images.amin().item(), images.amax().item()
        if not (lo >= 0.0 and hi <= 1.0):  # also False for NaN
            raise ValueError(f"{name} must be float in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")


def check_labels(labels: torch.Tensor, num_classes: int, *, name: str = "labels", n: int | None = None) -> None:
    """Raise unless ``labels`` is a 1-D integer tensor with values in [0, num_classes) (and length ``n``)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor, got shape {tuple(labels.shape)} dtype {labels.dtype}")
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"{name} has {labels.shape[0]} entries but there are {n} images")
    if labels.numel():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values in [{lo}, {hi}]")


def check_int(value: object, name: str, *, min: int | None = 1, max: int | None = None) -> int:
    """Return ``value`` as a Python int if it is an integer (numpy ints too, not bool) in ``[min, max]``.

    Raises TypeError for anything else (float, bool, str, ...) and ValueError when out of range; both name
    ``name`` and the value. ``min=None`` / ``max=None`` leave that side open; the default asks for a positive int.
    """
    is_bool = isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool)
    try:
        number = None if is_bool else operator.index(value)
    except TypeError:
        number = None
    if number is None:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if (min is not None and number < min) or (max is not None and number > max):
        lo = "-inf" if min is None else min
        hi = "inf" if max is None else max
        raise ValueError(f"{name} must be an int in [{lo}, {hi}], got {number}")
    return number


def to_float_image(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 in [0, 255] -> ``dtype`` in [0, 1] (divided by 255); a float tensor is only cast to ``dtype``."""
    if images.dtype == torch.uint8:
        return images.to(dtype).div_(255.0)
    if not images.dtype.is_floating_point:
        raise TypeError(f"images must be uint8 or float, got dtype {images.dtype}")
    return images.to(dtype)


def to_uint8_image(images: torch.Tensor) -> torch.Tensor:
    """Float in [0, 1] -> uint8 in [0, 255] (times 255, rounded half to even, clamped); uint8 is returned as is."""
    if images.dtype == torch.uint8:
        return images
    if not images.dtype.is_floating_point:
        raise TypeError(f"images must be uint8 or float, got dtype {images.dtype}")
    return images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def as_labels(labels: object, num_classes: int, *, name: str = "labels") -> torch.Tensor:
    """Class indices as users hold them -> a validated (N,) int64 tensor (on the tensor's device, else CPU).

    Accepted: a 1-D integer tensor or numpy array, a list/tuple of ints, or a single label (a Python/numpy int or a
    0-d integer tensor/array), which means ONE sample: ``as_labels(3, 10)`` is ``tensor([3])``. Refused with a
    message naming ``name`` and the value: bools, floats, strings, 2-D (one-hot) labels, classes outside
    ``[0, num_classes)``.
    """
    value = labels
    if isinstance(value, (list, tuple)):
        bad = [v for v in value if isinstance(v, bool) or not hasattr(v, "__index__")]
        if bad:
            raise TypeError(f"{name} must be class indices (ints), got {bad[0]!r} in {type(value).__name__} {reprlib.repr(value)}")
        value = torch.tensor([operator.index(v) for v in value], dtype=torch.long)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind not in "iu":
            raise TypeError(f"{name} must be class indices (an integer dtype), got numpy dtype {array.dtype}: {labels!r}")
        value = torch.as_tensor(array.astype(np.int64))
    elif not isinstance(value, torch.Tensor):
        check_int(value, name, min=None)  # TypeError for bool, float, str, None ...
        value = torch.tensor([operator.index(value)], dtype=torch.long)
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise TypeError(f"{name} must be class indices (an integer dtype), got dtype {value.dtype}: {labels!r}")
    if value.ndim == 0:
        value = value.reshape(1)
    if value.ndim != 1:
        raise ValueError(f"{name} must be one class index per sample, shape (N,), got shape {tuple(value.shape)}")
    check_labels(value, num_classes, name=name)
    return value.long()
