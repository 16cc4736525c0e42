"""DenoisingVAE: a VAE trained from augmented input to original target (Rajagopalan, *Learned Data Augmentation*).

Encoder: five Conv 3x3 + BatchNorm + ReLU layers (32, 64, 128, 256, 512 channels), then two parallel linear layers
for the posterior mean and log-variance (latent 128). A layer has stride 2 while the feature map stays even and at
least 4 pixels after halving (28 -> 14 -> 7, 32 -> 4, 64 -> 4), else stride 1. The decoder mirrors it with
transposed convolutions (4x4 stride 2 where the encoder halved, 3x3 stride 1 elsewhere). With ``conditional=True``
the decoder also receives the one-hot label (concatenated to z), so ``sample(labels)`` draws class-conditional images.
The encoder never sees labels: ``features(images)`` is the representation a linear probe reads.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .base import ModelConfig
from .nets import CHANNELS_LAST, LIKELIHOODS, Likelihood, VariationalModel, check_positive, eval_mode, one_hot

MIN_FEATURE = 4


def stride_plan(size: int, layers: int) -> list[int]:
    """Strides (1 or 2) of ``layers`` convolutions on a side of ``size``: halve while even and >= 4 after halving."""
    strides = []
    for _ in range(layers):
        s = 2 if size % 2 == 0 and size // 2 >= MIN_FEATURE else 1
        strides.append(s)
        size //= s
    return strides


@dataclasses.dataclass
class DenoisingVAEConfig(ModelConfig):
    """``channels``: encoder widths (paper 32..512), ``latent_dim`` 128, ``conditional``: label-conditioned decoder.

    ``likelihood``/``sigma``/``learn_sigma`` as in :class:`~learnedaug.models.cdcvae.CDCVAEConfig`.
    """

    latent_dim: int = 128
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    conditional: bool = True
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    learn_sigma: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.channels = tuple(self.channels)
        if not self.channels:
            raise ValueError("channels must name at least one encoder layer width, got ()")
        check_positive(latent_dim=self.latent_dim, **{f"channels[{i}]": c for i, c in enumerate(self.channels)})
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")


def _block(layer: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(layer, nn.BatchNorm2d(channels), nn.ReLU())


class DenoisingVAE(VariationalModel):
    """Denoising VAE; ``vary``/``reconstruct`` need labels only when ``conditional``."""

    family = "dvae"
    config_class = DenoisingVAEConfig
    config: DenoisingVAEConfig

    def __init__(self, config: DenoisingVAEConfig) -> None:
        super().__init__(config)
        c, h, w = config.image_shape
        widths = config.channels
        sh, sw = stride_plan(h, len(widths)), stride_plan(w, len(widths))
        self.latent_dim = config.latent_dim
        self.needs_labels = config.conditional
        self.bottom = (widths[-1], h // math.prod(sh), w // math.prod(sw))
        flat = math.prod(self.bottom)

        ins = (c, *widths[:-1])
        self.encoder = nn.Sequential(
            *(_block(nn.Conv2d(i, o, 3, stride=(a, b), padding=1), o) for i, o, a, b in zip(ins, widths, sh, sw))
        )
        self.mean_head = nn.Linear(flat, config.latent_dim)
        self.logvar_head = nn.Linear(flat, config.latent_dim)

        cond = config.num_classes if config.conditional else 0
        self.decoder_fc = nn.Sequential(nn.Linear(config.latent_dim + cond, flat), nn.BatchNorm1d(flat), nn.ReLU())
        up = [self._up(o, i, a, b) for i, o, a, b in zip(ins, widths, sh, sw)][::-1]
        self.decoder = nn.Sequential(*(_block(layer, layer.out_channels) for layer in up[:-1]), up[-1])
        self.likelihood = Likelihood(config.likelihood, c, config.sigma, config.learn_sigma)

    @staticmethod
    def _up(in_ch: int, out_ch: int, sh: int, sw: int) -> nn.ConvTranspose2d:
        # Mirror of a 3x3 conv: 4x4 stride 2 padding 1 doubles a side exactly; 3x3 stride 1 padding 1 keeps it.
        return nn.ConvTranspose2d(in_ch, out_ch, (2 + sh, 2 + sw), stride=(sh, sw), padding=1)

    def encode(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) in [0, 1] -> posterior mean, std (N, latent_dim); labels are ignored by the encoder."""
        h = self.encoder(images.contiguous(memory_format=CHANNELS_LAST)).flatten(1)
        return self.mean_head(h), torch.exp(0.5 * self.logvar_head(h))

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Latents (N, latent_dim) [+ labels (N,) when conditional] -> logits (N, C, H, W)."""
        if self.config.conditional:
            z = torch.cat([z, one_hot(labels, self.num_classes, z.dtype)], dim=1)
        return self.decoder(self.decoder_fc(z).view(-1, *self.bottom).contiguous(memory_format=CHANNELS_LAST))

    def nll(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Reconstruction NLL of ``target`` under the configured likelihood, summed over pixels -> (N,)."""
        return self.likelihood.nll(logits, target)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean: the learned "undo the augmentation" map. (N, C, H, W) float32 in [0, 1]."""
        return self.vary(images, labels, scale=0.0)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior mean (N, latent_dim) of images (N, C, H, W) in [0, 1], for a linear probe."""
        x = self._images(images)
        with eval_mode(self):
            return self.encode(x)[0].float()
