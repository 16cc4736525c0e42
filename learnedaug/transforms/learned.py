"""Generative models as torchvision ``transforms.v2`` transforms: :class:`LearnedVariation` and :class:`Denoise`.

Both work on one sample inside ``v2.Compose`` (``t(image, label)``, image ``(C, H, W)``) and on a whole batch
after the DataLoader (``x, y = t(x, y)``, x ``(N, C, H, W)``): a batch is ONE batched model call on the model's
device. Labels are read from the sample the way ``v2.CutMix`` reads them (second item of a tuple, or a
``"labels"``-like key of a dict) and passed through unchanged. Images may be float in [0, 1], uint8, PIL or
``tv_tensors.Image``; the output has the input's type, dtype and device.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable
from typing import Any

import PIL.Image
import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2._utils import is_pure_tensor

from .._checks import as_labels, check_images, check_labels
from .._random import GeneratorLike, WorkerStream, rand
from ..models.base import Encoder, check_sampler, model_device

LabelsGetter = Callable[[Any], Any]


def default_labels_getter(sample: Any) -> Any:
    """The label of a sample, or None: item 1 of a tuple/list (a tensor, an int or a dict holding the labels), or
    the ``"labels"`` key (else the first key containing ``"label"``, case-insensitive) of a dict; a lone image has none."""
    if isinstance(sample, (tuple, list)):
        if len(sample) < 2:
            return None
        sample = sample[1]
        if not isinstance(sample, collections.abc.Mapping):
            return sample
    if isinstance(sample, collections.abc.Mapping):
        key = labels_key(sample)
        return None if key is None else sample[key]
    return None  # a lone image: no label


def labels_key(sample: collections.abc.Mapping) -> str | None:
    """The labels' key of a dict sample: ``"labels"`` (any case), else the first key containing ``"label"``."""
    keys = [k for k in sample if isinstance(k, str)]
    return next((k for k in keys if k.lower() == "labels"), None) or next((k for k in keys if "label" in k.lower()), None)


def _labels_tensor(labels: Any, n: int, num_classes: int, name: str) -> torch.Tensor | None:
    """An int (numpy ints too), a list of ints, a 0-d or (N,) integer tensor/array -> (N,) int64 (validated);
    None stays None."""
    if labels is None:
        return None
    if getattr(labels, "ndim", 0) == 2:
        raise ValueError(
            f"{name}: got 2-D (one-hot or soft) labels of shape {tuple(labels.shape)}; apply it before MixUp/CutMix, "
            "on class-index labels"
        )
    t = as_labels(labels, num_classes, name=f"{name} labels")
    check_labels(t, num_classes, name=f"{name} labels", n=n)
    return t


class _ModelTransform(Transform):
    """Shared plumbing: find the image(s) and label in a sample, run ``_apply`` batched, restore type/dtype/device."""

    def __init__(self, model: torch.nn.Module, *, labels_getter: LabelsGetter | None, generator: GeneratorLike) -> None:
        super().__init__()
        check_sampler(model)
        if labels_getter is not None and not callable(labels_getter):
            raise TypeError(f"labels_getter must be a callable or None, got {type(labels_getter).__name__}")
        self.model = model
        self.labels_getter = labels_getter
        self._stream = WorkerStream(generator)

    @property
    def generator(self) -> torch.Generator | None:
        """The generator given at construction (None: torch's global RNG)."""
        return self._stream.generator

    def _apply(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """x (N, C, H, W) float32 in [0, 1] on the model's device -> same shape/range."""
        raise NotImplementedError

    def forward(self, *inputs: Any) -> Any:
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = tree_flatten(sample)
        if any(isinstance(v, (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)) for v in flat):
            raise ValueError(f"{type(self).__name__} changes image content: it does not support boxes, masks or keypoints")
        explicit = any(isinstance(v, (tv_tensors.Image, PIL.Image.Image)) for v in flat)
        if explicit:
            targets = [i for i, v in enumerate(flat) if isinstance(v, (tv_tensors.Image, PIL.Image.Image))]
        else:  # the first plain tensor is the image (torchvision's heuristic); later tensors (labels) pass through
            targets = [next((i for i, v in enumerate(flat) if is_pure_tensor(v)), None)]
            targets = [i for i in targets if i is not None]
        if not targets:
            raise TypeError(f"{type(self).__name__} found no image (tensor, tv_tensors.Image or PIL) in {type(sample).__name__}")
        raw_labels = None if self.labels_getter is None else self.labels_getter(sample)
        for i in targets:
            flat[i] = self._transform_image(flat[i], raw_labels)
        return tree_unflatten(flat, spec)

    def _transform_image(self, image: Any, raw_labels: Any) -> Any:
        name = type(self).__name__
        tensor = TF.pil_to_tensor(image) if isinstance(image, PIL.Image.Image) else image
        check_images(tensor, name=f"{name} images", ndims=(3, 4), allow_uint8=True)
        batched = tensor.ndim == 4
        x = tensor.as_subclass(torch.Tensor) if batched else tensor.as_subclass(torch.Tensor).unsqueeze(0)
        if tuple(x.shape[1:]) != tuple(self.model.image_shape):
            raise ValueError(
                f"{name}: images have shape (C, H, W) = {tuple(x.shape[1:])} but the model makes "
                f"{tuple(self.model.image_shape)}"
            )
        labels = _labels_tensor(raw_labels, x.shape[0], self.model.num_classes, name)
        device = model_device(self.model)
        xf = TF.to_dtype(x, torch.float32, scale=True).to(device)
        check_images(xf, name=f"{name} images", unit_range=True)
        out = self._apply(xf, None if labels is None else labels.to(device), self._stream.get())
        out = TF.to_dtype(out.to(x.device), x.dtype, scale=True)
        out = out if batched else out.squeeze(0)
        if isinstance(image, PIL.Image.Image):
            return TF.to_pil_image(out, mode=image.mode)
        return tv_tensors.wrap(out, like=image) if isinstance(image, tv_tensors.TVTensor) else out


class LearnedVariation(_ModelTransform):
    """Replace each image by ``model.vary(image, label, scale=scale)``: a learned variation that keeps its label.

    Args:
        model: a model with ``vary`` (CDCVAE, ClassVAE, DenoisingVAE: posterior draws; WarpVAE: learned warps).
        scale: multiplies the posterior spread; 0 reconstructs, 1 draws from the posterior.
        p: probability per image; unselected images are returned unchanged (and never reach the model).
        generator: torch.Generator or int seed for the selection and the latent noise (None: global RNG). Inside
            DataLoader workers and on DDP ranks > 0 it is re-derived per worker, epoch and rank (see WorkerStream).
        labels_getter: finds the labels in the sample (default: like v2.CutMix); None for label-free models.

    Call as ``t(image, label)`` (image (C, H, W)) in a per-sample pipeline, or ``x, y = t(x, y)`` on a batch
    (x (N, C, H, W), y (N,) int). Float images must be in [0, 1]; uint8 is converted and returned as uint8.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        scale: float = 1.0,
        p: float = 1.0,
        generator: GeneratorLike = None,
        *,
        labels_getter: LabelsGetter | None = default_labels_getter,
    ) -> None:
        if not isinstance(model, Encoder):
            raise TypeError(f"model must have vary(images, labels, scale=, generator=) (a VAE), got {type(model).__name__}")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale >= 0:
            raise ValueError(f"scale must be a number >= 0, got {scale!r}")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        super().__init__(model, labels_getter=labels_getter, generator=generator)
        self.scale = float(scale)
        self.p = float(p)

    def _apply(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        if labels is None and getattr(self.model, "needs_labels", True):
            raise ValueError(
                f"LearnedVariation: {type(self.model).__name__} needs the label; call it as t(image, label) or "
                "t(images, labels), or pass a labels_getter that finds it"
            )
        if self.p >= 1.0:
            return self.model.vary(x, labels, scale=self.scale, generator=generator)
        chosen = (rand((x.shape[0],), generator=generator, device=x.device) < self.p).nonzero().squeeze(1)
        if chosen.numel() == 0:
            return x
        out = x.clone()
        out[chosen] = self.model.vary(x[chosen], None if labels is None else labels[chosen], scale=self.scale, generator=generator)
        return out


class Denoise(_ModelTransform):
    """Replace each image by the DenoisingVAE's ``reconstruct`` (posterior mean decoded): undo learned corruption.

    Deterministic. A class-conditional DenoisingVAE reads the label from the sample like :class:`LearnedVariation`;
    an unconditional one needs none (``t(image)``). Same input types and batching as LearnedVariation.
    """

    def __init__(self, model: torch.nn.Module, *, labels_getter: LabelsGetter | None = default_labels_getter) -> None:
        if not callable(getattr(model, "reconstruct", None)):
            raise TypeError(f"model must have reconstruct(images, labels) (a DenoisingVAE), got {type(model).__name__}")
        super().__init__(model, labels_getter=labels_getter, generator=None)

    def _apply(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        if labels is None and getattr(self.model, "needs_labels", False):
            raise ValueError(f"Denoise: this {type(self.model).__name__} is class-conditional; call it as t(image, label)")
        return self.model.reconstruct(x, labels)
