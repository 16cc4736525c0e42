"""Tiny configurations of every family so model tests run in milliseconds."""

from __future__ import annotations

import torch

from learnedaug.models import build_model

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]

TINY = {
    "cdcvae": dict(fc_dim=32, base_channels=8),
    "cdcgan": dict(fc_dim=32, base_channels=8),
    "classvae": dict(fc_dim=16, filters=8),
    "dvae": dict(channels=(4, 8, 8, 16, 16), latent_dim=8),
}


def tiny(family: str, image_shape=(1, 28, 28), seed: int = 0, **overrides):
    """A small, seeded-initialised model of ``family`` in eval mode."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(family, image_shape=image_shape, **{**TINY[family], **overrides}).eval()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
