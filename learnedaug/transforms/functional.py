"""Batched per-sample image kernels: every image of a batch gets its own parameters, in one call.

Images are ``(N, C, H, W)`` or ``(C, H, W)`` tensors, float (any float dtype, values usually in [0, 1]) or uint8
(uint8 in -> uint8 out, rounded). Parameters are tensors with one entry per image (a Python number is shared by
all images). Results stay on the input's device. The geometry follows ``torchvision.transforms.v2.functional``:
pixel centres, rotation about the image centre, ``align_corners=False``; see each kernel for the few deliberate
differences.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import InterpolationMode

from learnedaug._checks import check_images

__all__ = ["rotate", "affine", "gaussian_blur", "gaussian_kernel_size", "interpolation_name", "INTERPOLATIONS", "PADDING_MODES"]

INTERPOLATIONS = ("bilinear", "nearest")
# Our name -> grid_sample's: "constant" fills with ``fill``; "edge" repeats the border pixel (Keras' "nearest");
# "reflect" mirrors about the image edge (Keras' "reflect", scipy's "reflect").
PADDING_MODES = {"constant": "zeros", "edge": "border", "reflect": "reflection"}

Number = int | float
FillLike = Number | Sequence[Number]


def _as_batch(images: torch.Tensor) -> tuple[torch.Tensor, bool]:
    check_images(images, ndims=(3, 4), allow_uint8=True)
    return (images.unsqueeze(0), True) if images.ndim == 3 else (images, False)


def _work_dtype(images: torch.Tensor) -> torch.dtype:
    """float32/float64 stay; uint8 and half types are computed in float32 (as torchvision does for uint8)."""
    return images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32


def _restore(out: torch.Tensor, like: torch.Tensor, squeeze: bool) -> torch.Tensor:
    if like.dtype == torch.uint8:
        out = out.round_().clamp_(0, 255)
    out = out.to(like.dtype)
    return out.squeeze(0) if squeeze else out


def _per_image(value, n: int, name: str, *, device, dtype, width: int = 1) -> torch.Tensor:
    """Broadcast a number, a sequence or a tensor to shape ``(n,)`` (``width == 1``) or ``(n, width)``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number or a tensor, got bool {value}")
    t = torch.as_tensor(value, dtype=dtype, device=device) if not isinstance(value, torch.Tensor) else value
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must be a real number or tensor, got dtype {t.dtype}")
    t = t.to(device=device, dtype=dtype)
    if width == 1:
        ok = t.ndim == 0 or (t.ndim == 1 and t.shape[0] in (1, n))
        if not ok:
            raise ValueError(f"{name} must be a number or have shape ({n},), got shape {tuple(t.shape)}")
        t = t.reshape(-1).expand(n)
    else:
        ok = t.ndim == 0 or (t.ndim == 1 and t.shape[0] in (1, width))
        ok = ok or (t.ndim == 2 and t.shape[0] in (1, n) and t.shape[1] in (1, width))
        if not ok:
            raise ValueError(f"{name} must be a number, have shape ({width},) or ({n}, {width}), got shape {tuple(t.shape)}")
        t = t.reshape(1, -1) if t.ndim < 2 else t
        t = t.expand(n, width)
    finite = torch.isfinite(t)
    if not finite.all():
        raise ValueError(f"{name} must be finite, got {t[~finite][:5].tolist()}")
    return t


def _check_choice(value: str, choices, name: str) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def interpolation_name(value: str | InterpolationMode) -> str:
    """``"bilinear"`` or ``"nearest"`` from that string or torchvision's ``InterpolationMode``; else ValueError."""
    name = value.value if isinstance(value, InterpolationMode) else value
    _check_choice(name, INTERPOLATIONS, "interpolation")
    return name


def _fill_tensor(fill: FillLike, channels: int, *, device, dtype) -> torch.Tensor | None:
    """``fill`` as a ``(1, C, 1, 1)`` tensor, or ``None`` when it is zero everywhere (plain zero padding)."""
    values = [fill] if isinstance(fill, (int, float)) and not isinstance(fill, bool) else fill
    if isinstance(values, torch.Tensor):
        values = values.reshape(-1).tolist()
    if not isinstance(values, Sequence) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise TypeError(f"fill must be a number or a sequence of numbers, got {fill!r}")
    if len(values) not in (1, channels):
        raise ValueError(f"fill must have 1 or {channels} values (one per channel), got {len(values)}: {fill!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"fill must be finite, got {fill!r}")
    if all(v == 0 for v in values):
        return None
    return torch.tensor(values, device=device, dtype=dtype).reshape(1, -1, 1, 1).expand(1, channels, 1, 1)


def _inverse_affine_matrices(
    angles: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor, shear: torch.Tensor
) -> torch.Tensor:
    """``(N, 2, 3)`` maps from output to input pixel coordinates, origin at the image centre, y pointing down.

    Same algebra as torchvision's ``_get_inverse_affine_matrix`` (rotation, scale, shear about the centre, then
    translation), with the angle counter-clockwise. ``angles``/``scale`` ``(N,)``; ``translate``/``shear`` ``(N, 2)``.
    """
    rot = torch.deg2rad(-angles)
    sx, sy = torch.deg2rad(shear).unbind(-1)
    cos_sy = torch.cos(sy)
    tan_sx = torch.tan(sx)
    a = torch.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + torch.sin(rot))
    c = torch.sin(rot - sy) / cos_sy
    d = torch.cos(rot) - c * tan_sx
    m = torch.stack([d, -b, -c, a], dim=-1).reshape(-1, 2, 2) / scale[:, None, None]
    shift = -(m @ translate.unsqueeze(-1))
    return torch.cat([m, shift], dim=-1)


def _sampling_grid(matrices: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """grid_sample grid ``(N, H, W, 2)`` (normalised, ``align_corners=False``) for inverse pixel maps ``(N, 2, 3)``.

    Equal to ``affine_grid`` of the normalised matrices, but built as one broadcast multiply-add along W (stored
    ``(N, H, 2, W)`` and returned as a transposed view, which grid_sample reads as is) instead of a
    ``(N, H*W, 3) @ (N, 3, 2)`` product.
    """
    dtype, dev = matrices.dtype, matrices.device
    # Output pixel centres relative to the image centre; input coordinates normalised as x_p / (W / 2), y_p / (H / 2).
    xs = torch.arange(w, dtype=dtype, device=dev).sub_((w - 1) / 2)
    ys = torch.arange(h, dtype=dtype, device=dev).sub_((h - 1) / 2).view(1, h, 1, 1)
    m = (matrices / torch.tensor([w / 2, h / 2], dtype=dtype, device=dev)[:, None]).unsqueeze(1)  # (N, 1, 2, 3)
    rows = torch.addcmul(m[..., 2:3], m[..., 1:2], ys)  # (N, H, 2, 1): offset + y-column * y
    return torch.addcmul(rows, m[..., 0:1], xs).transpose(2, 3)  # + x-column * x


def _warp(
    images: torch.Tensor,
    matrices: torch.Tensor,
    *,
    interpolation: str | InterpolationMode,
    fill: FillLike,
    padding_mode: str,
) -> torch.Tensor:
    """Resample a ``(N, C, H, W)`` batch through per-image inverse pixel maps ``(N, 2, 3)`` in one grid_sample."""
    interpolation = interpolation_name(interpolation)
    _check_choice(padding_mode, PADDING_MODES, "padding_mode")
    n, channels, h, w = images.shape
    dtype = _work_dtype(images)
    fill_t = _fill_tensor(fill, channels, device=images.device, dtype=dtype) if padding_mode == "constant" else None
    x = images.to(dtype)
    if n == 0 or x.numel() == 0:
        return x
    grid = _sampling_grid(matrices.to(dtype), h, w)
    if fill_t is not None:
        # Sample a coverage channel alongside the image: out = sample + (1 - coverage) * fill.
        x = torch.cat([x, x.new_ones(n, 1, h, w)], dim=1)
    out = F.grid_sample(x, grid, mode=interpolation, padding_mode=PADDING_MODES[padding_mode], align_corners=False)
    if fill_t is not None:
        out, coverage = out[:, :channels], out[:, channels:]
        out = out + (1.0 - coverage) * fill_t
    return out


def rotate(
    images: torch.Tensor,
    angles: torch.Tensor | Number,
    *,
    interpolation: str | InterpolationMode = "bilinear",
    fill: FillLike = 0.0,
    padding_mode: str = "constant",
    center: torch.Tensor | Sequence[Number] | None = None,
) -> torch.Tensor:
    """Rotate each image about its centre (or ``center``) by its own angle; output size equals input size.

    Args:
        images: ``(N, C, H, W)`` or ``(C, H, W)``, float or uint8.
        angles: ``(N,)`` degrees, counter-clockwise (as ``torchvision.transforms.v2.functional.rotate``), or a number.
        interpolation: ``"bilinear"`` or ``"nearest"`` (or torchvision's ``InterpolationMode``).
        fill: value(s) for pixels that come from outside the image, in the image's units (255 is white for uint8),
            one number or one per channel; used when ``padding_mode="constant"``.
        padding_mode: ``"constant"`` (``fill``), ``"edge"`` (repeat the border pixel) or ``"reflect"``.
        center: ``(x, y)`` pivot in pixel coordinates as torchvision's ``center`` (the image's top-left corner is
            ``(0, 0)``, its centre ``(W / 2, H / 2)``), one pair for all images or ``(N, 2)``; None: the centre.

    Returns:
        Same shape, dtype and device as ``images``. Matches torchvision's ``rotate(image, angle, fill=None)`` for
        ``fill=0``; for another ``fill``, torchvision also darkens the sample by the coverage at the rim of the
        rotated image, we blend ``sample + (1 - coverage) * fill`` (equal wherever coverage is 0 or 1).
    """
    batch, squeeze = _as_batch(images)
    angles_t = torch.deg2rad(_per_image(angles, batch.shape[0], "angles", device=batch.device, dtype=torch.float64))
    cos, sin, zero = torch.cos(angles_t), torch.sin(angles_t), torch.zeros_like(angles_t)
    # Output -> input pixel map about the centre (y down): what lies below the centre turns to its right.
    matrices = torch.stack([cos, -sin, zero, sin, cos, zero], dim=-1).reshape(-1, 2, 3)
    if center is not None:
        h, w = batch.shape[-2:]
        pivot = _per_image(center, batch.shape[0], "center", device=batch.device, dtype=torch.float64, width=2)
        pivot = pivot - torch.tensor([w / 2, h / 2], device=batch.device, dtype=torch.float64)
        # About pivot c: input = R^-1 (output - c) + c, i.e. the translation column is c - R^-1 c.
        shift = pivot - (matrices[..., :2] @ pivot.unsqueeze(-1)).squeeze(-1)
        matrices = torch.cat([matrices[..., :2], shift.unsqueeze(-1)], dim=-1)
    out = _warp(batch, matrices, interpolation=interpolation, fill=fill, padding_mode=padding_mode)
    return _restore(out, batch, squeeze)


def affine(
    images: torch.Tensor,
    angles: torch.Tensor | Number = 0.0,
    translate: torch.Tensor | Sequence[Number] | Number = 0.0,
    scale: torch.Tensor | Number = 1.0,
    shear: torch.Tensor | Sequence[Number] | Number = 0.0,
    *,
    interpolation: str | InterpolationMode = "bilinear",
    fill: FillLike = 0.0,
    padding_mode: str = "constant",
) -> torch.Tensor:
    """Per-image affine warp about the image centre: rotate, scale, shear, then translate.

    Args:
        images: ``(N, C, H, W)`` or ``(C, H, W)``, float or uint8.
        angles: ``(N,)`` degrees, counter-clockwise like :func:`rotate`. Note: torchvision's ``affine`` turns
            clockwise for a positive angle; ``affine(x, a, ...)`` equals torchvision's ``affine(x, -a, ...)``.
        translate: ``(N, 2)`` shifts ``(dx, dy)`` in **pixels** (right, down; fractions are not rounded), ``(2,)``
            or a number for all images.
        scale: ``(N,)`` positive zoom factors or a number.
        shear: ``(N, 2)`` degrees ``(x, y)`` as in torchvision, ``(2,)`` for all images, or a number: x-shear only.
        interpolation, fill, padding_mode: as in :func:`rotate`.

    Returns:
        Same shape, dtype and device as ``images``.
    """
    batch, squeeze = _as_batch(images)
    n, dev = batch.shape[0], batch.device
    dtype = torch.float64  # parameters are tiny: build the matrices exactly, then cast
    angles_t = _per_image(angles, n, "angles", device=dev, dtype=dtype)
    translate_t = _per_image(translate, n, "translate", device=dev, dtype=dtype, width=2)
    scale_t = _per_image(scale, n, "scale", device=dev, dtype=dtype)
    if n and not bool((scale_t > 0).all()):
        raise ValueError(f"scale must be positive, got {scale_t[scale_t <= 0][:5].tolist()}")
    shear = (shear, 0.0) if isinstance(shear, (int, float)) and not isinstance(shear, bool) else shear
    shear_t = _per_image(shear, n, "shear", device=dev, dtype=dtype, width=2)
    matrices = _inverse_affine_matrices(angles_t, translate_t, scale_t, shear_t)
    out = _warp(batch, matrices, interpolation=interpolation, fill=fill, padding_mode=padding_mode)
    return _restore(out, batch, squeeze)


def gaussian_kernel_size(sigmas: torch.Tensor) -> torch.Tensor:
    """Odd kernel size ``2 * ceil(3 * sigma) + 1`` per sigma (covers +-3 sigma), as int64 of the same shape."""
    return 2 * torch.ceil(3.0 * sigmas - 1e-6).clamp_min(1).long() + 1


def _gaussian_taps(sigmas: torch.Tensor, radii: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor:
    """``(M, 2 * width + 1)`` normalised Gaussian weights; taps beyond each row's own radius are zero.

    Same weights as torchvision's ``_get_gaussian_kernel1d(2 * radius + 1, sigma)``.
    """
    offsets = torch.arange(-width, width + 1, device=sigmas.device, dtype=dtype)
    weights = torch.exp(-0.5 * (offsets / sigmas.to(dtype)[:, None]).square()) * (offsets.abs() <= radii[:, None])
    return weights / weights.sum(-1, keepdim=True)  # the centre tap is 1: never a zero sum


# Up to this side the 1-D filter runs as a dense banded matrix product (reflect padding folded into the matrix),
# which beats a grouped convolution with per-image kernels on CPU; longer sides use the convolution.
_BAND_MATRIX_MAX_SIDE = 128


@functools.lru_cache(maxsize=64)
def _reflect_index(side: int, radius: int, device: torch.device) -> torch.Tensor:
    """``(side, 2 * radius + 1)`` source index of tap ``k`` for output ``i``: ``reflect(i + k - radius)``."""
    idx = (torch.arange(side, device=device)[:, None] + torch.arange(-radius, radius + 1, device=device)).abs()
    return torch.where(idx > side - 1, 2 * (side - 1) - idx, idx)


def _axis_filter(taps: torch.Tensor, side: int) -> torch.Tensor:
    """The 1-D filter for one axis: ``(N, side, side)`` banded matrices ``M`` with ``(M @ v)[i] =
    sum_k taps[k] * v[reflect(i + k - r)]`` for short sides, else the ``(N, K)`` taps themselves."""
    if side > _BAND_MATRIX_MAX_SIDE:
        return taps
    n, k = taps.shape
    idx = _reflect_index(side, k // 2, taps.device).expand(n, side, k)
    return taps.new_zeros(n, side, side).scatter_add_(2, idx, taps[:, None, :].expand(n, side, k))


def _filter_1d(x: torch.Tensor, op: torch.Tensor, dim: int) -> torch.Tensor:
    """Filter ``x`` ``(N, C, H, W)`` along ``dim`` (-1 or -2) with per-image ``op`` from :func:`_axis_filter`."""
    n, c, h, w = x.shape
    if op.ndim == 3:
        if dim == -1:
            return (x.reshape(n, c * h, w) @ op.transpose(1, 2)).reshape(n, c, h, w)
        return op[:, None] @ x
    k = op.shape[-1]
    r = k // 2
    pad = (r, r, 0, 0) if dim == -1 else (0, 0, r, r)
    x = F.pad(x, pad, mode="reflect")
    weight = op.repeat_interleave(c, dim=0)
    weight = weight.reshape(n * c, 1, 1, k) if dim == -1 else weight.reshape(n * c, 1, k, 1)
    out = F.conv2d(x.reshape(1, n * c, *x.shape[-2:]), weight, groups=n * c)
    return out.reshape(n, c, h, w)


def gaussian_blur(
    images: torch.Tensor,
    sigmas: torch.Tensor | Number,
    *,
    kernel_size: int | Sequence[int] | None = None,
) -> torch.Tensor:
    """Blur each image with its own Gaussian (separable, reflect padding like torchvision).

    Args:
        images: ``(N, C, H, W)`` or ``(C, H, W)``, float or uint8.
        sigmas: ``(N,)`` standard deviations in pixels, ``(N, 2)`` as ``(sigma_x, sigma_y)``, a number, or a
            ``(sigma_x, sigma_y)`` sequence for all images; > 0.
        kernel_size: ``None`` gives every image and axis its own odd size ``2 * ceil(3 * sigma) + 1``
            (:func:`gaussian_kernel_size`); an odd int or ``(k_x, k_y)`` uses that size for all images.

    Returns:
        Same shape, dtype and device as ``images``; image ``i`` equals torchvision's
        ``gaussian_blur(images[i], kernel_size=[k_x_i, k_y_i], sigma=[sigma_x_i, sigma_y_i])``.
        Each kernel radius must be smaller than the image side (reflect padding).
    """
    batch, squeeze = _as_batch(images)
    n, _, h, w = batch.shape
    dtype = _work_dtype(batch)
    if isinstance(sigmas, torch.Tensor) and sigmas.ndim == 1:
        sigmas = sigmas.unsqueeze(-1)  # (N,) -> one sigma per image for both axes
    sig = _per_image(sigmas, n, "sigmas", device=batch.device, dtype=torch.float64, width=2)
    if n and not bool((sig > 0).all()):
        raise ValueError(f"sigmas must be positive, got {sig[sig <= 0][:5].tolist()}")
    if kernel_size is None:
        sizes = gaussian_kernel_size(sig)
    else:
        ks = [kernel_size, kernel_size] if isinstance(kernel_size, int) and not isinstance(kernel_size, bool) else kernel_size
        if (
            not isinstance(ks, Sequence)
            or len(ks) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2 == 1 for k in ks)
        ):
            raise ValueError(f"kernel_size must be None, an odd positive int or two of them (k_x, k_y), got {kernel_size!r}")
        sizes = torch.tensor(ks, device=batch.device).expand(n, 2)
    x = batch.to(dtype)
    if n == 0 or x.numel() == 0:
        return _restore(x, batch, squeeze)
    radii = sizes // 2
    ops = []
    for axis, side in ((0, w), (1, h)):
        width = int(radii[:, axis].max())
        if width >= side:
            raise ValueError(
                f"kernel_size {int(sizes[:, axis].max())} is too large for image side {side} (reflect padding needs "
                f"radius < side); lower sigmas or pass a smaller kernel_size"
            )
        if axis == 1 and h == w and torch.equal(sig[:, 0], sig[:, 1]) and torch.equal(radii[:, 0], radii[:, 1]):
            ops.append(ops[0])  # isotropic blur of a square image: the same filter on both axes
        else:
            ops.append(_axis_filter(_gaussian_taps(sig[:, axis], radii[:, axis], width, dtype), side))
    x = _filter_1d(_filter_1d(x, ops[0], -1), ops[1], -2)
    return _restore(x, batch, squeeze)
