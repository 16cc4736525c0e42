"""CDCVAE: conditional deep convolutional VAE (Eduardo & Kazi, *Neural Data Augmentation*).

The decoder is the CDCGAN generator (InfoGAN nets), the encoder the CDCGAN discriminator body with two heads:
a linear mean and a softplus-positive spread. Labels enter both by concatenation.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .base import ModelConfig
from .nets import (
    LIKELIHOODS,
    InfoGANDiscriminatorBody,
    InfoGANGenerator,
    Likelihood,
    VariationalModel,
    check_divisible,
    check_positive,
)

MIN_STD = 1e-6  # added to the softplus output as in the reference implementation, keeps log(std) finite


def default_latent_dim(channels: int) -> int:
    """The paper's latent size: 62 for one-channel (MNIST-like) images, 100 for RGB."""
    return 62 if channels == 1 else 100


@dataclasses.dataclass
class CDCVAEConfig(ModelConfig):
    """``latent_dim`` None -> 62 (1 channel) / 100 (RGB). ``fc_dim`` / ``base_channels``: widths (paper 1024 / 64).

    ``likelihood``: "bernoulli" (BCE, [0, 1] images) or "gaussian" (std per channel, ``sigma`` initial or fixed value,
    learned when ``learn_sigma``).
    """

    latent_dim: int | None = None
    fc_dim: int = 1024
    base_channels: int = 64
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    learn_sigma: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_dim is None:
            self.latent_dim = default_latent_dim(self.image_shape[0])
        check_positive(latent_dim=self.latent_dim, fc_dim=self.fc_dim, base_channels=self.base_channels)
        check_divisible(self.image_shape, 4, "CDCVAE")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")


class CDCVAE(VariationalModel):
    """Class-conditional VAE with InfoGAN-style encoder and decoder; ``sample`` and ``vary`` need labels."""

    family = "cdcvae"
    config_class = CDCVAEConfig
    config: CDCVAEConfig

    def __init__(self, config: CDCVAEConfig) -> None:
        super().__init__(config)
        c = config
        self.latent_dim = c.latent_dim
        self.encoder = InfoGANDiscriminatorBody(c.num_classes, c.image_shape, c.fc_dim, c.base_channels)
        self.mean_head = nn.Linear(c.fc_dim, c.latent_dim)
        self.std_head = nn.Linear(c.fc_dim, c.latent_dim)
        self.decoder = InfoGANGenerator(c.latent_dim, c.num_classes, c.image_shape, c.fc_dim, c.base_channels)
        self.likelihood = Likelihood(c.likelihood, c.image_shape[0], c.sigma, c.learn_sigma)

    def encode(self, images: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) in [0, 1], labels (N,) -> posterior mean, std (N, latent_dim); differentiable."""
        h = self.encoder(images, labels)
        return self.mean_head(h), F.softplus(self.std_head(h)) + MIN_STD

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Latents (N, latent_dim), labels (N,) -> logits (N, C, H, W); differentiable."""
        return self.decoder(z, labels)

    def nll(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Reconstruction NLL of ``target`` under the configured likelihood, summed over pixels -> (N,)."""
        return self.likelihood.nll(logits, target)
