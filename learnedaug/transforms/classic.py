"""Classic augmentations (ROT, BLUR, ROT-BLUR, Keras-style shift + rotate) as ``torchvision.transforms.v2`` transforms.

Every transform accepts one image ``(C, H, W)`` or a batch ``(N, C, H, W)`` as a plain tensor, a
``tv_tensors.Image`` or a PIL image, float (values in [0, 1]) or uint8, and returns the same type, dtype and shape.
Each image of a batch draws its own parameters (``same_on_batch=True`` shares one draw, and the ``p`` decision,
across the batch); each image is transformed with probability ``p`` and images not selected come back bit-identical.
Labels and other non-image inputs pass through untouched, so the transforms work inside ``v2.Compose`` on
``(image, label)`` samples. Parameters come from ``generator`` (a ``torch.Generator`` or an int seed; ``None``
uses torch's global RNG): the same generator state gives the same output.

Inside DataLoader workers and on DDP ranks > 0 the generator is re-derived per worker, per epoch and per rank
(:class:`learnedaug._random.WorkerStream`), so workers never share a stream and epochs never replay one; the same
seed with the same DataLoader generator reproduces every stream.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import InterpolationMode, Transform
from torchvision.transforms.v2._utils import is_pure_tensor
from torchvision.transforms.v2.functional import pil_to_tensor, to_pil_image

from learnedaug._checks import check_images
from learnedaug._random import GeneratorLike, WorkerStream, rand, uniform
from learnedaug.transforms import functional as F

__all__ = ["RandomRotation", "RandomGaussianBlur", "RotBlur", "ShiftRotate"]

Number = int | float


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _symmetric_range(value: Number | Sequence[Number], name: str) -> tuple[float, float]:
    """``d`` -> ``(-d, d)`` (``d >= 0``); ``(lo, hi)`` with ``lo <= hi`` kept."""
    if _is_number(value):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 when a single number, got {value}")
        return -float(value), float(value)
    return _ordered_pair(value, name)


def _ordered_pair(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, Sequence) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise TypeError(f"{name} must be a number or a (min, max) pair of numbers, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if lo > hi:
        raise ValueError(f"{name} must have min <= max, got {value!r}")
    return lo, hi


def _sigma_range(sigma: Number | Sequence[Number]) -> tuple[float, float]:
    lo, hi = (float(sigma), float(sigma)) if _is_number(sigma) else _ordered_pair(sigma, "sigma")
    if lo <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    return lo, hi


def _translate_range(translate: Number | Sequence[Number]) -> tuple[float, float]:
    pair = (translate, translate) if _is_number(translate) else translate
    if not isinstance(pair, Sequence) or len(pair) != 2 or not all(_is_number(v) for v in pair):
        raise TypeError(f"translate must be a number or a (width, height) pair of fractions, got {translate!r}")
    if not all(0.0 <= v <= 1.0 for v in pair):
        raise ValueError(f"translate fractions must lie in [0, 1], got {translate!r}")
    return float(pair[0]), float(pair[1])


def _padding_mode(value: str) -> str:
    if value not in F.PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {list(F.PADDING_MODES)}, got {value!r}")
    return value


def _fill(value: Any) -> Number | tuple[Number, ...]:
    if _is_number(value):
        return value
    if isinstance(value, Sequence) and value and all(_is_number(v) for v in value):
        return tuple(value)
    raise TypeError(f"fill must be a number or a sequence of numbers (one per channel), got {value!r}")


def _center(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise TypeError(f"center must be None or an (x, y) pair of finite numbers (pixels), got {value!r}")
    return float(value[0]), float(value[1])


def _kernel_size(value: Any) -> int | tuple[int, int] | None:
    if value is None:
        return None
    sizes = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(sizes, Sequence)
        or len(sizes) != 2
        or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 and k % 2 == 1 for k in sizes)
    ):
        raise ValueError(f"kernel_size must be None, an odd positive int or a pair of them, got {value!r}")
    return value if isinstance(value, int) else (int(sizes[0]), int(sizes[1]))


class _PerSampleTransform(Transform, abc.ABC):
    """Base: draws per-image parameters for the whole batch once, then applies one batched kernel.

    Subclasses define ``_draw(n, device) -> dict`` of ``(n, ...)`` tensors and ``_kernel(images, **params)``.
    """

    # Image-like inputs only; everything else (labels, ...) passes through untouched.
    _transformed_types = (is_pure_tensor, tv_tensors.Image, PIL.Image.Image)
    # Inputs this transform would have to change consistently with the image but does not: refused loudly.
    _refused_types: tuple[type, ...] = (tv_tensors.Video,)

    def __init__(self, *, p: float, same_on_batch: bool, generator: GeneratorLike) -> None:
        super().__init__()
        if not _is_number(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.same_on_batch = bool(same_on_batch)
        self._stream = WorkerStream(generator)

    @property
    def generator(self) -> torch.Generator | None:
        """The generator given at construction (None: torch's global RNG); workers draw from streams derived from it."""
        return self._stream.generator

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        for inpt in flat_inputs:
            if isinstance(inpt, self._refused_types):
                raise TypeError(f"{type(self).__name__} does not support {type(inpt).__name__} inputs")

    def _uniform(self, low: float, high: float, n: int, device: torch.device, width: int | None = None) -> torch.Tensor:
        """``(n,)`` (or ``(n, width)``) uniform draws in ``[low, high)``; one draw broadcast when ``same_on_batch``."""
        rows = 1 if self.same_on_batch else n
        shape = (rows,) if width is None else (rows, width)
        values = uniform(low, high, shape, generator=self._stream.get(), device=device)
        return values.expand((n,) + shape[1:])

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        sizes = {self._batch_size(inpt) for inpt in flat_inputs}
        if len(sizes) > 1:
            raise ValueError(f"all images given together must have the same batch size, got {sorted(sizes)}")
        n = sizes.pop() if sizes else 0
        tensors = [inpt for inpt in flat_inputs if isinstance(inpt, torch.Tensor)]
        device = tensors[0].device if tensors else torch.device("cpu")
        if self.p in (0.0, 1.0):
            selected = torch.full((n,), self.p == 1.0, dtype=torch.bool, device=device)
        else:
            rows = 1 if self.same_on_batch else n
            selected = (rand((rows,), generator=self._stream.get(), device=device) < self.p).expand(n)
        return {"selected": selected, **self._draw(n, device)}

    @staticmethod
    def _batch_size(inpt: Any) -> int:
        if isinstance(inpt, PIL.Image.Image):
            return 1
        check_images(inpt, name="image", ndims=(3, 4), allow_uint8=True)
        return 1 if inpt.ndim == 3 else inpt.shape[0]

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            return to_pil_image(self._apply(pil_to_tensor(inpt), params), mode=inpt.mode)
        out = self._apply(inpt.as_subclass(torch.Tensor), params)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def _apply(self, images: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        selected = params["selected"]
        kernel_params = {k: v for k, v in params.items() if k != "selected"}
        batch = images.unsqueeze(0) if images.ndim == 3 else images
        if not bool(selected.any()):
            return images
        if bool(selected.all()):
            out = self._kernel(batch, **kernel_params)
        else:
            index = selected.nonzero().squeeze(1)
            out = batch.clone()
            out[index] = self._kernel(batch[index], **{k: v[index] for k, v in kernel_params.items()})
        return out.squeeze(0) if images.ndim == 3 else out

    @abc.abstractmethod
    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Parameters for ``n`` images, each an ``(n, ...)`` tensor on ``device``."""

    @abc.abstractmethod
    def _kernel(self, images: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        """Apply the batched kernel to ``images`` ``(M, C, H, W)`` with ``(M, ...)`` parameters."""


class _GeometricTransform(_PerSampleTransform):
    # Geometric transforms would have to move boxes, masks and keypoints along with the image.
    _refused_types = (tv_tensors.Video, tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)


class RandomRotation(_GeometricTransform):
    """ROT: rotate each image about its centre (or ``center``) by an angle drawn uniformly in ``degrees``.

    Args:
        degrees: ``d`` for ``[-d, d]`` or ``(min, max)``, counter-clockwise degrees (ROT in the papers: 25).
        interpolation: ``"bilinear"`` (default) or ``"nearest"`` (torchvision's ``InterpolationMode`` accepted).
        fill: value(s) for the uncovered corners in the image's units, one number or one per channel.
        padding_mode: ``"constant"`` (``fill``), ``"edge"`` or ``"reflect"``; see :func:`functional.rotate`.
        p: probability that an image is rotated.
        same_on_batch: one angle (and one ``p`` decision) for the whole batch.
        generator: ``torch.Generator``, int seed or ``None``.
        center: ``(x, y)`` pivot in pixels as torchvision's (top-left corner ``(0, 0)``); None: the image centre.

    Differences from ``torchvision.transforms.v2.RandomRotation``: the default interpolation is bilinear
    (torchvision's is nearest); ``p`` (default 1.0: every image) and ``same_on_batch`` are extra, and each image
    of a batch gets its own angle (torchvision draws one per call); ``padding_mode`` is extra. ``expand`` is not
    offered: it changes the output size with the angle, so images of one batch would no longer stack. With the
    same angle, ``center`` and ``fill=0`` the output equals torchvision's ``v2.functional.rotate`` (bilinear: to
    float rounding; nearest: except at exact ties between two pixels). See docs/transforms.md.
    """

    def __init__(
        self,
        degrees: Number | Sequence[Number] = 25.0,
        interpolation: str | InterpolationMode = "bilinear",
        fill: Number | Sequence[Number] = 0.0,
        padding_mode: str = "constant",
        p: float = 1.0,
        same_on_batch: bool = False,
        generator: GeneratorLike = None,
        center: Sequence[Number] | None = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, generator=generator)
        self.degrees = _symmetric_range(degrees, "degrees")
        self.interpolation = F.interpolation_name(interpolation)
        self.fill = _fill(fill)
        self.padding_mode = _padding_mode(padding_mode)
        self.center = _center(center)

    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        return {"angles": self._uniform(*self.degrees, n, device)}

    def _kernel(self, images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        return F.rotate(
            images, angles, interpolation=self.interpolation, fill=self.fill, padding_mode=self.padding_mode, center=self.center
        )


class RandomGaussianBlur(_PerSampleTransform):
    """BLUR: blur each image with a Gaussian whose sigma is drawn uniformly in ``sigma`` (same on both axes).

    Args:
        sigma: ``(min, max)`` standard deviation in pixels, > 0, or one fixed value (BLUR in the papers: 0.25-2.25).
        kernel_size: ``None`` for ``2 * ceil(3 * sigma) + 1`` per image, or an odd int / ``(k_x, k_y)`` for all.
        p, same_on_batch, generator: as in :class:`RandomRotation`.

    Boxes, masks and keypoints pass through unchanged (blurring does not move them).
    """

    def __init__(
        self,
        sigma: Number | Sequence[Number] = (0.25, 2.25),
        kernel_size: int | Sequence[int] | None = None,
        p: float = 1.0,
        same_on_batch: bool = False,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, generator=generator)
        self.sigma = _sigma_range(sigma)
        self.kernel_size = _kernel_size(kernel_size)

    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        return {"sigmas": self._uniform(*self.sigma, n, device)}

    def _kernel(self, images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
        return F.gaussian_blur(images, sigmas, kernel_size=self.kernel_size)


class RotBlur(_GeometricTransform):
    """ROT-BLUR: :class:`RandomRotation` then :class:`RandomGaussianBlur`, each image with its own angle and sigma.

    Args:
        degrees, interpolation, fill, padding_mode: as in :class:`RandomRotation`.
        sigma, kernel_size: as in :class:`RandomGaussianBlur`.
        p: probability that an image gets both (rotation and blur); same_on_batch, generator as above.
    """

    def __init__(
        self,
        degrees: Number | Sequence[Number] = 25.0,
        sigma: Number | Sequence[Number] = (0.25, 2.25),
        kernel_size: int | Sequence[int] | None = None,
        interpolation: str | InterpolationMode = "bilinear",
        fill: Number | Sequence[Number] = 0.0,
        padding_mode: str = "constant",
        p: float = 1.0,
        same_on_batch: bool = False,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, generator=generator)
        self.degrees = _symmetric_range(degrees, "degrees")
        self.sigma = _sigma_range(sigma)
        self.kernel_size = _kernel_size(kernel_size)
        self.interpolation = F.interpolation_name(interpolation)
        self.fill = _fill(fill)
        self.padding_mode = _padding_mode(padding_mode)

    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        return {"angles": self._uniform(*self.degrees, n, device), "sigmas": self._uniform(*self.sigma, n, device)}

    def _kernel(self, images: torch.Tensor, angles: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
        # Rotate in float so the blur sees unrounded values; one rounding at the end for uint8.
        work = images if images.is_floating_point() else images.float()
        rotated = F.rotate(work, angles, interpolation=self.interpolation, fill=self.fill, padding_mode=self.padding_mode)
        out = F.gaussian_blur(rotated, sigmas, kernel_size=self.kernel_size)
        return out if images.is_floating_point() else out.round_().clamp_(0, 255).to(images.dtype)


class ShiftRotate(_GeometricTransform):
    """Keras ``ImageDataGenerator(rotation_range=20, width_shift_range=0.2, height_shift_range=0.2)`` per image.

    The setting of the class-VAE papers' conventional augmentation: rotation uniform in ``degrees``, then a shift
    uniform in ``[-translate_x * W, translate_x * W]`` and ``[-translate_y * H, translate_y * H]`` pixels (not
    rounded), bilinear, as Keras draws them (geometry about the pixel-centre image centre like torchvision; Keras'
    own centre sits half a pixel off). Keras fills uncovered pixels with its default ``fill_mode="nearest"``
    (repeat the border pixel), so ``padding_mode="edge"`` is the default here; ``"constant"`` with ``fill`` gives
    a flat background.

    Args:
        degrees: as in :class:`RandomRotation` (default 20).
        translate: ``(fx, fy)`` fractions of width/height in [0, 1], or one fraction for both (default 0.2).
        interpolation, fill, padding_mode, p, same_on_batch, generator: as in :class:`RandomRotation`.
    """

    def __init__(
        self,
        degrees: Number | Sequence[Number] = 20.0,
        translate: Number | Sequence[Number] = (0.2, 0.2),
        interpolation: str | InterpolationMode = "bilinear",
        fill: Number | Sequence[Number] = 0.0,
        padding_mode: str = "edge",
        p: float = 1.0,
        same_on_batch: bool = False,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, generator=generator)
        self.degrees = _symmetric_range(degrees, "degrees")
        self.translate = _translate_range(translate)
        self.interpolation = F.interpolation_name(interpolation)
        self.fill = _fill(fill)
        self.padding_mode = _padding_mode(padding_mode)

    def _draw(self, n: int, device: torch.device) -> dict[str, torch.Tensor]:
        angles = self._uniform(*self.degrees, n, device)
        # Shifts as fractions in [-1, 1) of the allowed range; scaled to pixels once the image size is known.
        shifts = self._uniform(-1.0, 1.0, n, device, width=2)
        return {"angles": angles, "shifts": shifts}

    def _kernel(self, images: torch.Tensor, angles: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        scale = torch.tensor([self.translate[0] * w, self.translate[1] * h], device=shifts.device, dtype=shifts.dtype)
        return F.affine(
            images,
            angles,
            translate=shifts * scale,
            interpolation=self.interpolation,
            fill=self.fill,
            padding_mode=self.padding_mode,
        )
