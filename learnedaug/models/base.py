"""The sampler interface every generator implements, its config, and safetensors save/load.

On disk a model is a directory holding ``config.json`` (family + config) and ``model.safetensors``.
Nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .._checks import as_labels, check_images
from .._io import atomic_path, atomic_write_text
from .._random import GeneratorLike, as_generator

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@runtime_checkable
class ConditionalSampler(Protocol):
    """Anything that draws labelled images: all consumers (transforms, mixers, FID) talk to this."""

    num_classes: int
    image_shape: tuple[int, int, int]

    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``labels`` (N,) int64 -> images (N, C, H, W) float in [0, 1] on the model's device, no grad."""
        ...


def check_sampler(model: object, name: str = "model") -> None:
    """Raise TypeError unless ``model`` follows the sampler contract (num_classes, image_shape, sample)."""
    if not isinstance(model, ConditionalSampler):
        raise TypeError(
            f"{name} must follow the sampler contract (num_classes, image_shape, sample(labels, generator=)), "
            f"got {type(model).__name__}"
        )


def model_device(model: object) -> torch.device:
    """The device a sampler generates on: its ``device`` attribute, else its first parameter's, else CPU."""
    device = getattr(model, "device", None)
    if device is not None:
        return torch.device(device)
    params = getattr(model, "parameters", None)
    p = next(params(), None) if callable(params) else None
    return torch.device("cpu") if p is None else p.device


def _with_sample_inputs(sample: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Wrap a subclass's ``sample`` so it receives (N,) int64 labels and a Generator or None (see GenerativeModel)."""

    @functools.wraps(sample)
    def wrapper(self: "GenerativeModel", labels: Any, *, generator: GeneratorLike = None) -> torch.Tensor:
        return sample(self, as_labels(labels, self.num_classes), generator=as_generator(generator, device=self.device))

    wrapper._sample_inputs = True  # type: ignore[attr-defined]
    return wrapper


def _with_vary_inputs(vary: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Wrap a subclass's ``vary`` like ``sample``: labels (or None) as (N,) int64, an int seed as a Generator, and
    ``scale`` checked (a number >= 0)."""

    @functools.wraps(vary)
    def wrapper(self: "GenerativeModel", images: torch.Tensor, labels: Any, **kwargs: Any) -> torch.Tensor:
        scale = kwargs.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale >= 0:
            raise ValueError(f"scale must be a number >= 0, got {scale!r}")
        if "generator" in kwargs:
            kwargs["generator"] = as_generator(kwargs["generator"], device=self.device)
        labels = None if labels is None else as_labels(labels, self.num_classes)
        return vary(self, images, labels, **kwargs)

    wrapper._sample_inputs = True  # type: ignore[attr-defined]
    return wrapper


@runtime_checkable
class Encoder(Protocol):
    """Models that can vary a given image (the VAEs)."""

    def vary(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None,
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Encode, draw from the posterior with its spread times ``scale``, decode: (N, C, H, W) in [0, 1]."""
        ...


@dataclasses.dataclass
class ModelConfig:
    """Fields every model config has. Subclasses add their own (all JSON-serialisable)."""

    num_classes: int = 10
    image_shape: tuple[int, int, int] = (1, 28, 28)

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(s) for s in self.image_shape)  # JSON gives lists
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
        return cls(**d)


_FAMILIES: dict[str, type["GenerativeModel"]] = {}


class GenerativeModel(nn.Module):
    """Base class of the generator families: config handling, device, save/load.

    Subclasses set ``family`` and ``config_class`` and implement :meth:`sample` (and ``vary`` for VAEs).
    Every subclass's ``sample`` (and ``vary``) is wrapped so that callers may pass what they hold (see
    :meth:`sample`) while the implementation always receives (N,) int64 labels (``vary``: or None) and a
    ``torch.Generator`` or None.
    ``training_only_prefixes`` names state-dict prefixes (e.g. a GAN's discriminator) that sampling
    does not need; ``save_pretrained(..., inference_only=True)`` leaves them out.
    """

    family: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    training_only_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, wrap in (("sample", _with_sample_inputs), ("vary", _with_vary_inputs)):
            own = cls.__dict__.get(name)
            if callable(own) and not getattr(own, "_sample_inputs", False):
                setattr(cls, name, wrap(own))
        if "family" in cls.__dict__:
            _FAMILIES[cls.family] = cls

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.image_shape

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, labels: Any, *, generator: GeneratorLike = None) -> torch.Tensor:
        """Draw one image per label: (N, C, H, W) float32 in [0, 1] on the model's device, no grad.

        ``labels``: a (N,) integer tensor or numpy array, a list of ints, or ONE label (a Python/numpy int or a
        0-d tensor) meaning one image. ``generator``: a ``torch.Generator``, an int seed (a generator on the
        model's device seeded with it) or None (torch's global RNG). Float, bool, 2-D or out-of-range labels
        raise TypeError/ValueError naming ``labels`` and the value.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement sample()")

    def _images(self, images: torch.Tensor) -> torch.Tensor:
        """Check model input images (N, C, H, W) float in [0, 1] of this model's shape; float32 on its device."""
        check_images(images, unit_range=True)
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images have shape (C, H, W) = {tuple(images.shape[1:])} but this {type(self).__name__} "
                f"was built for {self.image_shape}"
            )
        return images.to(self.device, torch.float32)

    # ---- save / load -------------------------------------------------------------------------
    def save_pretrained(
        self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None, inference_only: bool = False
    ) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` atomically; return the directory.

        ``dtype`` (e.g. ``torch.float16``) casts floating tensors for compact storage.
        """
        directory = Path(directory)
        state = {}
        for k, v in self.state_dict().items():
            if inference_only and k.startswith(self.training_only_prefixes):
                continue
            v = v.detach().cpu()
            if dtype is not None and v.is_floating_point():
                v = v.to(dtype)
            state[k] = v.contiguous()
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"family": self.family})
        atomic_write_text(directory / CONFIG_NAME, json.dumps({"family": self.family, "config": self.config.to_dict()}, indent=2))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, device: torch.device | str | None = None) -> "GenerativeModel":
        """Rebuild a saved model directory exactly (weights cast back to float32), or load a zoo name through
        :func:`learnedaug.zoo.load`. ``cls`` may be the base class; a subclass refuses other families (TypeError)."""
        if not Path(directory).is_dir():
            from .. import zoo  # function-local: the zoo imports this module

            model = zoo.load(directory, device=device)
            if not isinstance(model, cls):
                raise TypeError(f"zoo model {os.fspath(directory)!r} is a {model.family!r} model, not a {cls.__name__}")
            return model
        directory = Path(directory)
        family, config = read_config(directory)
        model_cls = family_class(family)
        if cls is not GenerativeModel and not issubclass(model_cls, cls):
            raise TypeError(f"{directory} holds a {family!r} model, not a {cls.__name__}")
        model = model_cls(model_cls.config_class.from_dict(config))
        model.load_weights(directory / WEIGHTS_NAME)
        model.eval()
        return model.to(device) if device is not None else model

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load a safetensors file into this model; any mismatch raises ValueError naming the tensor."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise ValueError(f"cannot read weights file {path} (corrupt or not safetensors): {e}") from e
        own = self.state_dict()
        missing = [k for k in own if k not in state and not k.startswith(self.training_only_prefixes)]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise ValueError(f"weights {path} do not fit {type(self).__name__}: missing tensors {missing[:5]}, unexpected tensors {unexpected[:5]}")
        for k, v in state.items():
            if v.shape != own[k].shape:
                raise ValueError(f"weights {path}: tensor {k!r} has shape {tuple(v.shape)} but the config needs {tuple(own[k].shape)}")
        with torch.no_grad():
            for k, v in state.items():
                own[k].copy_(v.to(own[k].dtype))


def family_class(family: str) -> type[GenerativeModel]:
    """The model class registered under ``family`` ("cdcvae", "cdcgan", "classvae", "dvae", "warpvae")."""
    try:
        return _FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(_FAMILIES)}") from None


def read_config(directory: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    """Return ``(family, config dict)`` from a saved model directory."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory}: not a saved learnedaug model")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["family"], data["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a valid learnedaug model config: {e}") from e
