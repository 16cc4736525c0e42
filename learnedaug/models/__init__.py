"""The generator families (all :class:`ConditionalSampler`s) and their save/load base."""

from __future__ import annotations

from typing import Any

from .base import ConditionalSampler, Encoder, GenerativeModel, ModelConfig, family_class, read_config
from .cdcgan import CDCGAN, CDCGANConfig
from .cdcvae import CDCVAE, CDCVAEConfig
from .classvae import ClassVAE, ClassVAEConfig
from .denoising_vae import DenoisingVAE, DenoisingVAEConfig
from .warpvae import WarpVAE, WarpVAEConfig

__all__ = [
    "CDCGAN",
    "CDCGANConfig",
    "CDCVAE",
    "CDCVAEConfig",
    "ClassVAE",
    "ClassVAEConfig",
    "ConditionalSampler",
    "DenoisingVAE",
    "DenoisingVAEConfig",
    "Encoder",
    "GenerativeModel",
    "ModelConfig",
    "WarpVAE",
    "WarpVAEConfig",
    "build_model",
    "family_class",
    "read_config",
]


def build_model(family: str, **config: Any) -> GenerativeModel:
    """A fresh model of ``family`` ("cdcvae", "cdcgan", "classvae", "dvae", "warpvae") from config fields, e.g.
    ``build_model("cdcvae", image_shape=(3, 32, 32), fc_dim=256)``. Unknown fields raise ValueError."""
    cls = family_class(family)
    return cls(cls.config_class.from_dict(config))
