"""ClassVAE: one small convolutional VAE per class (Garay-Maestre et al., *Data Augmentation via VAEs*).

Layout of seed 001, Table 1 (the Keras deconvolutional VAE), per class, with ``f`` filters and ``fc`` hidden units:

    encoder  Conv(C, 2x2, same) -> Conv(f, 2x2, stride 2) -> Conv(f, 3x3) -> Conv(f, 3x3) -> FC(fc) -> FC(LS) mean,
             FC(LS) log-variance                                           (ReLU after every hidden layer)
    decoder  FC(fc) -> FC(f * H/2 * W/2) -> reshape -> ConvT(f, 3x3) -> ConvT(f, 3x3) -> ConvT(f, 3x3, stride 2,
             valid: H/2 -> H+1) -> Conv(C, 2x2, valid: H+1 -> H) -> sigmoid

The K class VAEs are stored stacked (every parameter has a leading class dimension) and run together: a batch is
bucketed by label, padded to the largest bucket, pushed through grouped convolutions / batched matmuls for the
classes present, and scattered back to input order. One pass for a mixed batch, no loop over classes or images.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .._checks import check_labels
from .base import ModelConfig
from .nets import (
    CHANNELS_LAST,
    StackedConv2d,
    StackedConvTranspose2d,
    StackedLinear,
    VariationalModel,
    check_divisible,
    check_positive,
)


@dataclasses.dataclass
class ClassVAEConfig(ModelConfig):
    """``latent_dim`` 3 (the paper's best for MNIST; 2-8 studied), ``fc_dim`` 128, ``filters`` 64."""

    latent_dim: int = 3
    fc_dim: int = 128
    filters: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(latent_dim=self.latent_dim, fc_dim=self.fc_dim, filters=self.filters)
        check_divisible(self.image_shape, 2, "ClassVAE")


class Buckets:
    """Route a batch by label between input order (N, ...) and one padded bucket per class present.

    ``classes`` (K',) are the sorted labels present and ``size`` (M) the largest class count. The bucketed layout is
    class-major (K', M, ...) or, with ``class_major=False``, member-major (M, K', ...) - the grouped-convolution
    layout. Padding slots hold zeros.
    """

    def __init__(self, labels: torch.Tensor) -> None:
        classes, inverse, counts = torch.unique(labels, sorted=True, return_inverse=True, return_counts=True)
        order = torch.argsort(inverse, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        position = torch.empty_like(inverse)
        position[order] = torch.arange(labels.shape[0], device=labels.device) - starts[inverse[order]]
        self.classes = classes
        self.size = int(counts.max()) if labels.numel() else 0
        # flat index of each sample in the (K' * M) and (M * K') layouts
        self._slots = {True: inverse * self.size + position, False: position * classes.shape[0] + inverse}

    def _shape(self, class_major: bool) -> tuple[int, int]:
        k = self.classes.shape[0]
        return (k, self.size) if class_major else (self.size, k)

    def pack(self, x: torch.Tensor, *, class_major: bool = True) -> torch.Tensor:
        """(N, ...) -> (K', M, ...) or (M, K', ...), zero-padded."""
        out = x.new_zeros((self.classes.shape[0] * self.size, *x.shape[1:]))
        out[self._slots[class_major]] = x
        return out.view(*self._shape(class_major), *x.shape[1:])

    def unpack(self, x: torch.Tensor, *, class_major: bool = True) -> torch.Tensor:
        """(K', M, ...) or (M, K', ...) -> (N, ...) in input order."""
        return x.reshape(-1, *x.shape[2:])[self._slots[class_major]]


class ClassVAE(VariationalModel):
    """K independent per-class VAEs run as one batched model; ``sample``/``vary`` need labels (they pick the VAE)."""

    family = "classvae"
    config_class = ClassVAEConfig
    config: ClassVAEConfig

    def __init__(self, config: ClassVAEConfig) -> None:
        super().__init__(config)
        k, (c, h, w), f = config.num_classes, config.image_shape, config.filters
        self.latent_dim = config.latent_dim
        self.hidden_shape = (f, h // 2, w // 2)
        flat = f * (h // 2) * (w // 2)
        self.enc_conv1 = StackedConv2d(k, c, c, 2)
        self.enc_conv2 = StackedConv2d(k, c, f, 2, stride=2)
        self.enc_conv3 = StackedConv2d(k, f, f, 3, padding=1)
        self.enc_conv4 = StackedConv2d(k, f, f, 3, padding=1)
        self.enc_fc = StackedLinear(k, flat, config.fc_dim)
        self.enc_mean = StackedLinear(k, config.fc_dim, config.latent_dim)
        self.enc_logvar = StackedLinear(k, config.fc_dim, config.latent_dim)
        self.dec_fc1 = StackedLinear(k, config.latent_dim, config.fc_dim)
        self.dec_fc2 = StackedLinear(k, config.fc_dim, flat)
        self.dec_deconv1 = StackedConvTranspose2d(k, f, f, 3, padding=1)
        self.dec_deconv2 = StackedConvTranspose2d(k, f, f, 3, padding=1)
        self.dec_deconv3 = StackedConvTranspose2d(k, f, f, 3, stride=2)
        self.dec_out = StackedConv2d(k, f, c, 2)

    # ---- bucketed passes for the classes ``index`` (K',), sorted and unique (None: all K in order)
    def encode_buckets(self, x: torch.Tensor, index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Member-major images (M, K', C, H, W) in [0, 1] -> mean, std (K', M, latent), class-major."""
        m, k = x.shape[:2]
        h = F.pad(x.flatten(1, 2), (0, 1, 0, 1))  # grouped layout (M, K' * C, H, W); Keras "same" for a 2x2 kernel
        h = h.contiguous(memory_format=CHANNELS_LAST)
        h = F.relu_(self.enc_conv1(h, index))
        h = F.relu_(self.enc_conv2(h, index))
        h = F.relu_(self.enc_conv3(h, index))
        h = F.relu_(self.enc_conv4(h, index))
        h = h.unflatten(1, (k, -1)).transpose(0, 1).reshape(k, m, -1)  # per class, flattened in (C, H, W) order
        h = F.relu(self.enc_fc(h, index))
        return self.enc_mean(h, index), torch.exp(0.5 * self.enc_logvar(h, index))

    def decode_buckets(self, z: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """Class-major latents (K', M, latent) -> member-major logits (M, K', C, H, W)."""
        k, m = z.shape[:2]
        f, hh, ww = self.hidden_shape
        h = F.relu(self.dec_fc1(z, index))
        h = F.relu(self.dec_fc2(h, index))
        # (K', M, f*hh*ww) -> grouped (M, K' * f, hh, ww) stored channels-last, in one copy
        h = h.view(k, m, f, hh, ww).permute(1, 3, 4, 0, 2).reshape(m, hh, ww, k * f).permute(0, 3, 1, 2)
        h = F.relu_(self.dec_deconv1(h, index))
        h = F.relu_(self.dec_deconv2(h, index))
        # H/2 -> H+1 (+1 bias-only row/column, cropped after the last conv, which is cheaper than cropping here)
        h = F.relu_(self.dec_deconv3(h, index, crop=False))
        h = self.dec_out(h, index)[..., : self.image_shape[1], : self.image_shape[2]]
        return h.unflatten(1, (k, -1))

    # ---- per-sample API (input order)
    def encode(self, images: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) in [0, 1], labels (N,) -> posterior mean, std (N, latent) from each sample's class VAE."""
        if not labels.numel():  # no class present: nothing to route
            empty = images.new_zeros((0, self.latent_dim))
            return empty, empty.clone()
        b = Buckets(labels)
        mu, std = self.encode_buckets(b.pack(images, class_major=False), b.classes)
        return b.unpack(mu), b.unpack(std)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Latents (N, latent), labels (N,) -> logits (N, C, H, W) from each sample's class VAE."""
        if not labels.numel():
            return z.new_zeros((0, *self.image_shape))
        b = Buckets(labels)
        return b.unpack(self.decode_buckets(b.pack(z), b.classes), class_major=False)

    def nll(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of ``target`` (N, C, H, W) in [0, 1], summed over pixels -> (N,)."""
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def copy_classes_from(self, other: "ClassVAE", classes: torch.Tensor) -> None:
        """Overwrite the VAEs of ``classes`` ((n,) int tensor) with ``other``'s (e.g. restore per-class best weights)."""
        if type(other) is not type(self) or other.config != self.config:
            raise ValueError(f"other must be a ClassVAE with the same config, got {type(other).__name__} {getattr(other, 'config', None)}")
        check_labels(classes, self.num_classes, name="classes")
        classes = classes.to(self.device, torch.long)
        for p, q in zip(self.parameters(), other.parameters()):
            p[classes] = q[classes].to(p.device)
