"""DiffAugment (Zhao et al. 2020): random, differentiable augmentations for a GAN discriminator's inputs.

The same family ``T`` is applied to reals and fakes in the D step (``D(T(real))``, ``D(T(fake.detach()))``) and
the G step (``D(T(fake))``), so gradients reach the generator through ``T``. The kernels are pure functions of
their per-sample parameters; :func:`diff_augment` only draws the parameters and calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _random
from .._checks import check_images, check_int
from .._random import GeneratorLike

OPS = ("color", "translation", "cutout")
# The paper's brightness offset is U(-0.5, 0.5) on images in [-1, 1]: a quarter of the value range each way. Our
# images are in [0, 1], so the same strength is U(-0.25, 0.25). Saturation and contrast factors are scale-free.
BRIGHTNESS_RANGE = 0.25
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``""`` -> ``()`` (identity). Names are unique."""
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a comma-separated str of {OPS}, got {type(policy).__name__} {policy!r}")
    if not policy.strip():
        return ()
    names = tuple(name.strip() for name in policy.split(","))
    for name in names:
        if name not in OPS:
            raise ValueError(f"policy {policy!r} has unknown op {name!r}; valid ops: {', '.join(OPS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"policy {policy!r} names an op twice; valid ops: {', '.join(OPS)}")
    return names


def auto_policy(n_train: int) -> str:
    """The policy for a training set of ``n_train`` images (>= 1).

    The paper uses color, translation and cutout in all its limited-data runs (100-shot up to a few thousand
    images) and finds translation with cutout alone still helps at full scale (all of CIFAR-10, ImageNet), so up to
    10,000 images we use all three and above that drop colour.
    """
    n_train = check_int(n_train, "n_train", min=1)
    return "color,translation,cutout" if n_train <= 10_000 else "translation,cutout"


def _per_sample(param: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return param.to(device=x.device, dtype=x.dtype).reshape(-1, 1, 1, 1)


def brightness(x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``x + offset``; ``x`` (N, C, H, W), ``offset`` (N,). Not clamped."""
    return x + _per_sample(offset, x)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's deviation from its channel mean by ``factor`` (N,); exact no-op for one channel."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each image's deviation from its mean over (C, H, W) by ``factor`` (N,)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample(factor, x) + mean


def translate(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``out[n, :, i, j] = x[n, :, i - dy, j - dx]``, zero where that falls outside.

    ``x`` (N, C, H, W); ``shifts`` (N, 2) integers (dy, dx)."""
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device)[None, :] - shifts[:, :1].to(x.device)  # (N, H)
    cols = torch.arange(w, device=x.device)[None, :] - shifts[:, 1:].to(x.device)  # (N, W)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N, H, W)
    out = x.gather(2, rows.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w))
    return out.masked_fill(~inside[:, None], 0)


def cutout(x: torch.Tensor, centres: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero one ``size`` = (height, width) rectangle per sample, rows ``[cy - height // 2, cy - height // 2 + height)``
    (columns likewise), clipped at the borders. ``x`` (N, C, H, W), ``centres`` (N, 2) ints (cy, cx)."""
    _, _, h, w = x.shape
    centres = centres.to(x.device)
    top = centres[:, :1] - size[0] // 2
    left = centres[:, 1:] - size[1] // 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    hole = ((rows >= top) & (rows < top + size[0]))[:, :, None] & ((cols >= left) & (cols < left + size[1]))[:, None, :]
    return x.masked_fill(hole[:, None], 0)


def max_shift(side: int) -> int:
    """Largest translation along a side of ``side`` pixels: ``TRANSLATION_RATIO * side`` rounded half up."""
    return int(side * TRANSLATION_RATIO + 0.5)


def cutout_size(h: int, w: int) -> tuple[int, int]:
    """Cutout rectangle (height, width): ``CUTOUT_RATIO`` of each side rounded half up (``H // 2`` for even H)."""
    return int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation,cutout", *, generator: GeneratorLike = None
) -> torch.Tensor:
    """Apply ``policy`` (see :func:`parse_policy`) with independent random parameters per sample.

    ``x`` (N, C, H, W) float, images in [0, 1]; returns the same shape, dtype and device, not clamped, and
    differentiable w.r.t. ``x``. ``generator``: a torch.Generator, an int seed (a fresh generator each call) or
    None (torch's global RNG). Parameters per sample: brightness U(-0.25, 0.25) (the paper's U(-0.5, 0.5) on [-1, 1]
    images), saturation U(0, 2), contrast U(0.5, 1.5); shifts uniform in ``[-max_shift(H), max_shift(H)]`` (W
    likewise); cutout centre uniform over pixels. Translation and cutout fill with 0 (black; the paper's 0 on [-1, 1]
    images is mid-grey).
    """
    check_images(x, name="x")
    ops = parse_policy(policy)
    g = _random.as_generator(generator, device=x.device)
    n, _, h, w = x.shape
    if h < 1 or w < 1:
        raise ValueError(f"x must have H, W >= 1, got shape {tuple(x.shape)}")
    for op in ops:
        if op == "color":
            draws = _random.rand((3, n), generator=g, device=x.device)
            offset = (2.0 * draws[0] - 1.0) * BRIGHTNESS_RANGE
            x = contrast(saturation(brightness(x, offset), 2.0 * draws[1]), draws[2] + 0.5)
        elif op == "translation":
            sh, sw = max_shift(h), max_shift(w)
            dy = _random.randint(2 * sh + 1, (n,), generator=g, device=x.device) - sh
            dx = _random.randint(2 * sw + 1, (n,), generator=g, device=x.device) - sw
            x = translate(x, torch.stack([dy, dx], dim=1))
        else:
            cy = _random.randint(h, (n,), generator=g, device=x.device)
            cx = _random.randint(w, (n,), generator=g, device=x.device)
            x = cutout(x, torch.stack([cy, cx], dim=1), cutout_size(h, w))
    return x


@dataclass(frozen=True)
class DiffAugment:
    """``diff_augment`` with a fixed, validated policy: ``DiffAugment("translation,cutout")(x, generator=g)``."""

    policy: str = "color,translation,cutout"

    def __post_init__(self) -> None:
        parse_policy(self.policy)

    def __call__(self, x: torch.Tensor, generator: GeneratorLike = None) -> torch.Tensor:
        """``x`` (N, C, H, W) float in [0, 1] -> augmented, same shape (see :func:`diff_augment`)."""
        return diff_augment(x, self.policy, generator=generator)
