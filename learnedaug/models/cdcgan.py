"""CDCGAN: conditional deep convolutional GAN with the InfoGAN nets (Eduardo & Kazi; Priyaa & Verma)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .._checks import check_labels
from .._random import randn
from .base import GenerativeModel, ModelConfig
from .cdcvae import default_latent_dim
from .nets import InfoGANDiscriminatorBody, InfoGANGenerator, check_divisible, check_positive, eval_mode

GAN_LOSSES = ("nonsaturating", "hinge")


@dataclasses.dataclass
class CDCGANConfig(ModelConfig):
    """``latent_dim`` None -> 62 (1 channel) / 100 (RGB). ``fc_dim`` / ``base_channels``: widths (paper 1024 / 64).

    ``spectral_norm``: spectrally normalised discriminator (no BatchNorm). ``loss``: "nonsaturating" or "hinge",
    read by the training objective.
    """

    latent_dim: int | None = None
    fc_dim: int = 1024
    base_channels: int = 64
    spectral_norm: bool = False
    loss: str = "nonsaturating"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_dim is None:
            self.latent_dim = default_latent_dim(self.image_shape[0])
        check_positive(latent_dim=self.latent_dim, fc_dim=self.fc_dim, base_channels=self.base_channels)
        check_divisible(self.image_shape, 4, "CDCGAN")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, got {self.loss!r}")


class Discriminator(nn.Module):
    """InfoGAN discriminator body + linear head: images (N, C, H, W) in [0, 1], labels (N,) -> logits (N,)."""

    def __init__(self, config: CDCGANConfig) -> None:
        super().__init__()
        c = config
        self.body = InfoGANDiscriminatorBody(c.num_classes, c.image_shape, c.fc_dim, c.base_channels, c.spectral_norm)
        self.head = nn.Linear(c.fc_dim, 1)
        if c.spectral_norm:
            self.head = nn.utils.parametrizations.spectral_norm(self.head)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images, labels)).squeeze(1)


class CDCGAN(GenerativeModel):
    """Class-conditional GAN. ``generator(z, labels)`` -> logits; ``sample`` applies the sigmoid.

    The discriminator is training-only: ``save_pretrained(..., inference_only=True)`` leaves it out.
    """

    family = "cdcgan"
    config_class = CDCGANConfig
    training_only_prefixes = ("discriminator.",)
    config: CDCGANConfig

    def __init__(self, config: CDCGANConfig) -> None:
        super().__init__(config)
        c = config
        self.latent_dim = c.latent_dim
        self.generator = InfoGANGenerator(c.latent_dim, c.num_classes, c.image_shape, c.fc_dim, c.base_channels)
        self.discriminator = Discriminator(c)

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_dim), labels (N,) -> images (N, C, H, W) in [0, 1]; differentiable (for training)."""
        return torch.sigmoid(self.generator(z, labels))

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``labels`` (N,) int -> (N, C, H, W) float32 in [0, 1]; z ~ N(0, I), one batched pass in eval mode."""
        check_labels(labels, self.num_classes)
        y = labels.to(self.device, torch.long)
        z = randn((y.shape[0], self.latent_dim), generator=generator, device=self.device)
        with eval_mode(self):
            return self.generate(z, y).float()
