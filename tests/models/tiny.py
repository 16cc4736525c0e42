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
    "warpvae": dict(channels=(4, 8), grid=3),
}


def tiny(family: str, image_shape=(1, 28, 28), seed: int = 0, **overrides):
    """A small, seeded-initialised model of ``family`` in eval mode (a WarpVAE holds two random images per class)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(family, image_shape=image_shape, **{**TINY[family], **overrides}).eval()
        if family == "warpvae":
            with torch.no_grad():  # a prior wider than the initial one, so that draws visibly differ
                model.prior_factor.diagonal().fill_(1.0)
            model.store(torch.rand(20, *image_shape), torch.arange(20) % 10)
        return model


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
