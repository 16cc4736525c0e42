"""Shared building blocks of the generator families.

- :class:`InfoGANGenerator` / :class:`InfoGANDiscriminatorBody`: the InfoGAN MNIST nets (Chen et al. 2016, appendix
  C.1) generalised to any (C, H, W) with H, W divisible by 4, class-conditional by concatenation.
- :class:`StackedLinear` / :class:`StackedConv2d` / :class:`StackedConvTranspose2d`: one independent layer per class,
  parameters stacked along a leading class dimension and applied to all classes in one grouped call.
- :class:`Likelihood`: the decoder's pixel likelihood (Bernoulli or Gaussian) on logits.
- :class:`VariationalModel`: the shared ``sample`` / ``vary`` of the VAEs, built on ``encode`` / ``decode_logits``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .._checks import check_labels
from .._random import randn
from .base import GenerativeModel

# Conv stacks run on channels-last activations: same arithmetic, markedly faster (transposed) convolutions on CPU
# (oneDNN) and the preferred layout of cuDNN's tensor-core kernels.
CHANNELS_LAST = torch.channels_last
LEAK = 0.2  # leaky-ReLU slope of the reference implementation the CDCGAN/CDCVAE paper builds on (hwalsuklee, 2018)


# ---- helpers -----------------------------------------------------------------------------------
def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N,) int -> (N, K) one-hot of ``dtype``."""
    return F.one_hot(labels.long(), num_classes).to(dtype)


def label_maps(labels: torch.Tensor, num_classes: int, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """(N,) int -> (N, K, H, W): each one-hot entry broadcast to a constant channel."""
    return one_hot(labels, num_classes, dtype)[:, :, None, None].expand(-1, -1, height, width)


def check_divisible(image_shape: tuple[int, int, int], factor: int, model: str) -> None:
    """Raise ValueError unless H and W of ``image_shape`` are divisible by ``factor``."""
    _, h, w = image_shape
    if h % factor or w % factor:
        raise ValueError(
            f"{model} cannot be built for image_shape {tuple(image_shape)}: height and width must be divisible by "
            f"{factor} (e.g. (1, 28, 28), (3, 32, 32), (3, 64, 64))"
        )


def check_positive(**values: int) -> None:
    """Raise ValueError naming the first of ``values`` that is not a positive integer."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode (BatchNorm running statistics) inside the block, then restore its mode."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _sn(layer: nn.Module, enabled: bool) -> nn.Module:
    return _spectral_norm(layer) if enabled else layer


# ---- InfoGAN nets --------------------------------------------------------------------------------
class InfoGANGenerator(nn.Module):
    """[z ; one-hot y] -> FC fc_dim BN ReLU -> FC 2b*(H/4)*(W/4) BN ReLU -> ConvT4x4s2 b BN ReLU -> ConvT4x4s2 C.

    ``b`` = ``base_channels`` (64 in the paper), ``fc_dim`` 1024. ``forward(z (N, latent), y (N,))`` returns
    logits (N, C, H, W); the model applies the sigmoid.
    """

    def __init__(
        self, latent_dim: int, num_classes: int, image_shape: tuple[int, int, int], fc_dim: int = 1024, base_channels: int = 64
    ) -> None:
        super().__init__()
        check_divisible(image_shape, 4, "InfoGANGenerator")
        c, h, w = image_shape
        self.num_classes = num_classes
        self.start = (2 * base_channels, h // 4, w // 4)
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + num_classes, fc_dim),
            nn.BatchNorm1d(fc_dim),
            nn.ReLU(),
            nn.Linear(fc_dim, math.prod(self.start)),
            nn.BatchNorm1d(math.prod(self.start)),
            nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * base_channels, base_channels, 4, stride=2, padding=1),
            nn.BatchNorm2d(base_channels),
            nn.ReLU(),
            nn.ConvTranspose2d(base_channels, c, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, one_hot(labels, self.num_classes, z.dtype)], dim=1))
        return self.deconv(h.view(-1, *self.start).contiguous(memory_format=CHANNELS_LAST))


class InfoGANDiscriminatorBody(nn.Module):
    """[x ; label maps] -> Conv4x4s2 b lReLU -> Conv4x4s2 2b BN lReLU -> FC fc_dim BN lReLU -> (N, fc_dim) features.

    Images (N, C, H, W) in [0, 1] are mapped to [-1, 1] first. With ``spectral_norm=True`` every conv/linear layer
    is spectrally normalised and BatchNorm is left out (the usual SN-GAN discriminator).
    """

    def __init__(
        self,
        num_classes: int,
        image_shape: tuple[int, int, int],
        fc_dim: int = 1024,
        base_channels: int = 64,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_divisible(image_shape, 4, "InfoGANDiscriminatorBody")
        c, h, w = image_shape
        self.num_classes = num_classes
        norm2d = nn.Identity() if spectral_norm else nn.BatchNorm2d(2 * base_channels)
        norm1d = nn.Identity() if spectral_norm else nn.BatchNorm1d(fc_dim)
        self.conv = nn.Sequential(
            _sn(nn.Conv2d(c + num_classes, base_channels, 4, stride=2, padding=1), spectral_norm),
            nn.LeakyReLU(LEAK),
            _sn(nn.Conv2d(base_channels, 2 * base_channels, 4, stride=2, padding=1), spectral_norm),
            norm2d,
            nn.LeakyReLU(LEAK),
        )
        self.fc = nn.Sequential(
            _sn(nn.Linear(2 * base_channels * (h // 4) * (w // 4), fc_dim), spectral_norm),
            norm1d,
            nn.LeakyReLU(LEAK),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        maps = label_maps(labels, self.num_classes, x.shape[-2], x.shape[-1], x.dtype)
        h = torch.cat([x * 2 - 1, maps], dim=1).contiguous(memory_format=CHANNELS_LAST)
        return self.fc(self.conv(h).flatten(1))


# ---- per-class stacked layers ----------------------------------------------------------------
# K independent layers (one per class) whose parameters carry a leading class dimension. ``index`` (K',) picks the
# classes present in a batch (sorted, unique; None = all K, in order). Linear layers take (K', M, features); conv
# layers take the grouped layout (M, K' * channels, H, W), where class k's channels form group k of one grouped
# convolution - so a mixed batch is one call per layer, never a loop over classes.
def _glorot_(weight: torch.Tensor, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound)


def _select(param: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    # All classes present: use the parameter itself (no copy of the whole stack).
    return param if index is None or index.numel() == param.shape[0] else param[index]


class StackedLinear(nn.Module):
    """K linear layers: weight (K, out, in), bias (K, out); Glorot-uniform weights, zero bias (Keras defaults).

    ``forward(x (K', M, in), index)`` -> (K', M, out): layer ``index[k]`` applied to ``x[k]``, one batched matmul.
    """

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(groups, out_features))
        _glorot_(self.weight, in_features, out_features)

    def forward(self, x: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        w, b = _select(self.weight, index), _select(self.bias, index)
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))


class StackedConv2d(nn.Module):
    """K square convolutions: weight (K, out, in, k, k), bias (K, out); Glorot-uniform weights, zero bias.

    ``forward(x (M, K' * in, H, W), index)`` -> (M, K' * out, H', W') as one grouped convolution.
    """

    def __init__(self, groups: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        ks = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(groups, out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(groups, out_channels))
        self.stride, self.padding = stride, padding
        _glorot_(self.weight, in_channels * ks, out_channels * ks)

    def forward(self, x: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        w, b = _select(self.weight, index), _select(self.bias, index)
        return F.conv2d(x, w.flatten(0, 1), b.flatten(), self.stride, self.padding, groups=w.shape[0])


class StackedConvTranspose2d(nn.Module):
    """K square transposed convolutions: weight (K, in, out, k, k) (PyTorch's layout per class), bias (K, out).

    ``forward(x (M, K' * in, H, W), index)`` -> (M, K' * out, (H-1)*stride + k - 2*padding, ...), equal to
    ``conv_transpose2d`` per class. Computed as a sub-pixel convolution: output pixels of each of the stride^2
    phases are an ordinary convolution of the input with ceil(k/stride)^2 of the taps; one grouped conv2d yields all
    phases as channels and ``pixel_shuffle`` interleaves them. (CPU backends run grouped conv2d far faster than
    grouped conv_transpose2d.)
    """

    def __init__(self, groups: int, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        ks = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(groups, in_channels, out_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(groups, out_channels))
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.taps = -(-kernel_size // stride)
        _glorot_(self.weight, out_channels * ks, in_channels * ks)
        # Phase a, tap t reads kernel entry a + stride * (taps - 1 - t); entries >= kernel_size are the zero padding.
        tap = torch.tensor([[a + stride * (self.taps - 1 - t) for t in range(self.taps)] for a in range(stride)])
        self.register_buffer("tap_index", tap, persistent=False)

    def phase_weight(self, w: torch.Tensor) -> torch.Tensor:
        """(K', in, out, k, k) -> grouped conv2d weight (K' * out * stride^2, in, taps, taps)."""
        s, t, k = self.stride, self.taps, self.kernel_size
        wide = F.pad(w, (0, s * t - k, 0, s * t - k))
        phases = wide[:, :, :, self.tap_index][..., self.tap_index]  # (K', in, out, s, t, s, t)
        return phases.permute(0, 2, 3, 5, 1, 4, 6).reshape(-1, w.shape[1], t, t)

    def forward(self, x: torch.Tensor, index: torch.Tensor | None = None, *, crop: bool = True) -> torch.Tensor:
        """``crop=False`` returns the full sub-pixel output, (H + taps - 1) * stride per side starting at output
        pixel ``-padding``, contiguous; the rows/columns past the true size then hold bias-only values. Cropping
        later, after a cheaper layer, avoids feeding a strided view to the next convolution."""
        w, b = _select(self.weight, index), _select(self.bias, index)
        s, p = self.stride, self.padding
        if s == 1 and p < self.taps and crop:  # a plain convolution with the flipped kernel
            return F.conv2d(x, self.phase_weight(w), b.flatten(), padding=self.taps - 1 - p, groups=w.shape[0])
        y = F.conv2d(x, self.phase_weight(w), b.flatten().repeat_interleave(s * s), padding=self.taps - 1, groups=w.shape[0])
        y = F.pixel_shuffle(y, s)
        if not crop:
            return y
        h, wd = [(n - 1) * s + self.kernel_size - 2 * p for n in x.shape[-2:]]
        return y[..., p : p + h, p : p + wd]


# ---- likelihood ----------------------------------------------------------------------------------
LIKELIHOODS = ("bernoulli", "gaussian")


class Likelihood(nn.Module):
    """Pixel likelihood p(x | logits), fully factorised; the decoder mean is ``sigmoid(logits)`` in [0, 1].

    ``"bernoulli"``: binary cross-entropy on logits (for [0, 1] images such as digits). ``"gaussian"``: normal with
    mean ``sigmoid(logits)`` and one standard deviation per channel, learned (``learn_sigma``, initialised at
    ``sigma``) or fixed at ``sigma`` (for natural images).
    """

    def __init__(self, kind: str, channels: int, sigma: float = 0.1, learn_sigma: bool = True) -> None:
        super().__init__()
        if kind not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {kind!r}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.kind = kind
        if kind == "gaussian":
            log_sigma = torch.full((channels,), math.log(sigma))
            if learn_sigma:
                self.log_sigma = nn.Parameter(log_sigma)
            else:
                self.register_buffer("log_sigma", log_sigma)

    def nll(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``target`` (N, C, H, W) in [0, 1], summed over pixels -> (N,) (nats)."""
        if self.kind == "bernoulli":
            per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            log_sigma = self.log_sigma.view(1, -1, 1, 1)
            z = (target - torch.sigmoid(logits)) * torch.exp(-log_sigma)
            per_pixel = 0.5 * z.square() + log_sigma + 0.5 * math.log(2 * math.pi)
        return per_pixel.flatten(1).sum(1)


# ---- the VAEs' shared sampling -------------------------------------------------------------------
class VariationalModel(GenerativeModel):
    """Base of the VAE families. Subclasses provide ``latent_dim``, ``nll``, ``encode`` and ``decode_logits``.

    ``needs_labels`` says whether ``encode`` / ``decode_logits`` use the labels (class-conditional models).
    """

    latent_dim: int
    needs_labels: bool = True

    def encode(self, images: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) in [0, 1] -> posterior mean and std, each (N, latent_dim); differentiable."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Latents (N, latent_dim) -> decoder logits (N, C, H, W); differentiable."""
        raise NotImplementedError

    def nll(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Reconstruction negative log-likelihood, summed over pixels -> (N,)."""
        raise NotImplementedError

    def decoder_mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> images in [0, 1]."""
        return torch.sigmoid(logits)

    # -- validation shared by every public entry point
    def _labels(self, labels: torch.Tensor | None, n: int | None, *, required: bool) -> torch.Tensor | None:
        if labels is None:
            if required:
                raise ValueError(f"labels are required by {type(self).__name__} (class-conditional), got None")
            return None
        check_labels(labels, self.num_classes, n=n)
        return labels.to(self.device, torch.long)

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``labels`` (N,) int -> (N, C, H, W) float32 in [0, 1]: z ~ N(0, I), decode, sigmoid mean. One batched pass."""
        y = self._labels(labels, None, required=True)
        z = randn((y.shape[0], self.latent_dim), generator=generator, device=self.device)
        with eval_mode(self):
            return self.decoder_mean(self.decode_logits(z, y)).float()

    @torch.no_grad()
    def vary(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None,
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Encode, draw z = mean + std * scale * eps, decode: (N, C, H, W) float32 in [0, 1]; labels are kept.

        ``scale=0`` decodes the posterior mean (a reconstruction).
        """
        x = self._images(images)
        y = self._labels(labels, x.shape[0], required=self.needs_labels)
        with eval_mode(self):
            mu, std = self.encode(x, y)
            z = mu + std * scale * randn(mu.shape, generator=generator, device=self.device) if scale else mu
            return self.decoder_mean(self.decode_logits(z, y)).float()
