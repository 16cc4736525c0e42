"""WarpVAE: a VAE whose latent is a spatial warp, learned from pairs of images of the same class.

The class-dependent transformations of Hauberg et al. (*Dreaming More Data*, AISTATS 2016), amortised: an encoder
reads a pair ``(a, b)`` of same-class images and outputs a Gaussian posterior over a warp ``theta``; the decoder is
the warp itself, ``warp(a, theta)``, scored against ``b``. The prior ``N(prior_mean, L L^T)`` (full covariance) is learned, so it
becomes the spread of the warps that turn one real image of a class into another: which slants, stretches, shifts
and local bends the data set actually holds, with no human choosing angles or ranges.

``theta`` (latent_dim = 6 + 2 * grid^2): an affine part ``I + 0.1 * A`` (2x3) and a displacement field given at
``grid x grid`` control points (0.1 units of the half-image per unit), upsampled bicubically to the image; images
are resampled bilinearly (``torch.nn.functional.grid_sample``).

``vary(images)`` warps each image by a draw from the learned prior (``scale`` times its spread). ``sample(labels)``
warps stored training images of each label (the *bank* that :meth:`WarpVAE.store` fills; training stores the
training set), so the model is a full :class:`~learnedaug.models.ConditionalSampler`. The saved weights therefore
contain the training images (uint8).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_images, check_labels
from .._random import rand, randn
from .base import GenerativeModel, ModelConfig
from .nets import check_positive

PADDING_MODES = ("zeros", "border", "reflection")
AFFINE_DIM = 6
UNIT = 0.1  # one latent unit = 0.1 of the half-image (affine entries likewise)


@dataclasses.dataclass
class WarpVAEConfig(ModelConfig):
    """``grid``: control points per side of the displacement field (0: affine warps only); ``channels``: the pair
    encoder's two conv widths; ``padding``: what the warp shows outside the image (``"zeros"`` for digits on black,
    ``"border"``/``"reflection"`` for photos); ``bank_size``: stored training images (set by :meth:`WarpVAE.store`)."""

    grid: int = 4
    channels: tuple[int, ...] = (32, 64)
    padding: str = "zeros"
    bank_size: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.channels = tuple(self.channels)
        if len(self.channels) != 2:
            raise ValueError(f"channels must give the encoder's two conv widths, got {self.channels}")
        check_positive(**{f"channels[{i}]": c for i, c in enumerate(self.channels)})
        if isinstance(self.grid, bool) or not isinstance(self.grid, int) or self.grid < 0 or self.grid == 1:
            raise ValueError(f"grid must be 0 (affine only) or an int >= 2, got {self.grid!r}")
        if self.padding not in PADDING_MODES:
            raise ValueError(f"padding must be one of {PADDING_MODES}, got {self.padding!r}")
        if isinstance(self.bank_size, bool) or not isinstance(self.bank_size, int) or self.bank_size < 0:
            raise ValueError(f"bank_size must be an int >= 0, got {self.bank_size!r}")

    @property
    def latent_dim(self) -> int:
        return AFFINE_DIM + 2 * self.grid * self.grid


def warp(images: torch.Tensor, theta: torch.Tensor, *, grid: int, padding: str = "zeros") -> torch.Tensor:
    """Warp images (N, C, H, W) by ``theta`` (N, 6 + 2 * grid^2) (see the module docstring); differentiable.

    ``theta = 0`` is the identity. Returns (N, C, H, W) in the input's range (bilinear resampling).
    """
    n, _, h, w = images.shape
    if n == 0:
        return images.clone()
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=theta.dtype, device=theta.device)
    affine = eye + UNIT * theta[:, :AFFINE_DIM].view(n, 2, 3)
    coords = F.affine_grid(affine, [n, 1, h, w], align_corners=False)
    if grid:
        field = UNIT * theta[:, AFFINE_DIM:].view(n, 2, grid, grid)
        field = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True)
        coords = coords + field.permute(0, 2, 3, 1)
    return F.grid_sample(images, coords.to(images.dtype), mode="bilinear", padding_mode=padding, align_corners=False)


class WarpVAE(GenerativeModel):
    """Learned warps (see the module docstring). ``vary`` needs no labels (the prior is shared by all classes)."""

    family = "warpvae"
    config_class = WarpVAEConfig
    config: WarpVAEConfig
    needs_labels = False

    def __init__(self, config: WarpVAEConfig) -> None:
        super().__init__(config)
        c, h, w = config.image_shape
        c1, c2 = config.channels
        self.latent_dim = config.latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(2 * c, c1, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d((min(h // 4, 8), min(w // 4, 8))), nn.Flatten(),
        )
        flat = c2 * min(h // 4, 8) * min(w // 4, 8)
        self.head = nn.Linear(flat, 2 * self.latent_dim)
        with torch.no_grad():  # start at the identity warp with a narrow posterior
            self.head.weight.mul_(0.01)
            self.head.bias.zero_()
            self.head.bias[self.latent_dim:].fill_(-2.0)
        self.prior_mean = nn.Parameter(torch.zeros(self.latent_dim))
        self.prior_factor = nn.Parameter(torch.zeros(self.latent_dim, self.latent_dim))  # see prior_tril
        self.register_buffer("bank", torch.zeros(config.bank_size, c, h, w, dtype=torch.uint8))
        self.register_buffer("bank_labels", torch.zeros(config.bank_size, dtype=torch.long))

    def kl_to_prior(self, mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """KL( N(mu, diag std^2) || prior ) per row of posterior parameters (N, latent_dim) -> (N,), in float32.

        The closed form with one triangular solve for L^-1 (torch.distributions' MultivariateNormal KL gives the same
        value but builds N dense K x K posterior factors; this arithmetic is also what the published runs used)."""
        mu, std, k, tril = mu.float(), std.float(), self.latent_dim, self.prior_tril
        inv = torch.linalg.solve_triangular(tril, torch.eye(k, device=mu.device), upper=False)
        trace = std.square() @ inv.square().sum(0)
        quad = ((mu - self.prior_mean) @ inv.T).square().sum(1)
        logdet = 2 * (torch.log(torch.diagonal(tril)).sum() - torch.log(std).sum(1))
        return 0.5 * (trace + quad - k + logdet)

    @property
    def prior_tril(self) -> torch.Tensor:
        """Cholesky factor L (K, K) of the prior's covariance: ``prior_factor``'s strict lower triangle, exp of its
        diagonal (so the initial prior is N(0, I))."""
        f = self.prior_factor
        return torch.tril(f, diagonal=-1) + torch.diag_embed(torch.diagonal(f).exp())

    def encode(self, source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs of images (N, C, H, W) in [0, 1] -> posterior mean and std (N, latent_dim) of the warp source -> target."""
        mu, log_std = self.head(self.encoder(torch.cat([source, target], dim=1))).chunk(2, dim=1)
        return mu, log_std.clamp(-10.0, 5.0).exp()

    def warp(self, images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """:func:`warp` with this model's grid and padding."""
        return warp(images, theta, grid=self.config.grid, padding=self.config.padding)

    def draw_theta(self, n: int, *, scale: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` warps from the learned prior, spread times ``scale`` -> (N, latent_dim)."""
        eps = randn((n, self.latent_dim), generator=generator, device=self.device)
        return self.prior_mean.detach() + scale * eps @ self.prior_tril.detach().T

    @torch.no_grad()
    def vary(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Warp each image (N, C, H, W) in [0, 1] by a draw from the learned prior: (N, C, H, W) float32 in [0, 1].

        ``scale`` multiplies the prior's spread (0: the mean warp). ``labels`` are accepted and ignored.
        """
        x = self._images(images)
        if labels is not None:
            check_labels(labels, self.num_classes, n=x.shape[0])
        return self.warp(x, self.draw_theta(x.shape[0], scale=scale, generator=generator)).clamp_(0.0, 1.0)

    @torch.no_grad()
    def store(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Keep ``images`` (N, C, H, W) float in [0, 1] or uint8 with ``labels`` (N,) as the bank ``sample`` warps
        (replacing any earlier bank); sets ``config.bank_size``."""
        check_images(images, unit_range=True, allow_uint8=True)
        stored = images if images.dtype == torch.uint8 else images.mul(255).round_().to(torch.uint8)
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images have shape (C, H, W) = {tuple(images.shape[1:])}, the model {self.image_shape}")
        check_labels(labels, self.num_classes, n=images.shape[0])
        order = torch.argsort(labels.cpu(), stable=True)
        self.bank = stored.cpu()[order].to(self.bank.device)
        self.bank_labels = labels.cpu().long()[order].to(self.bank.device)
        self.config.bank_size = int(images.shape[0])

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``labels`` (N,) -> (N, C, H, W) float32 in [0, 1]: a stored image of each label, picked uniformly, warped
        by a draw from the prior. ValueError naming the class when the bank holds no image of it."""
        y = labels.to(self.device)
        counts = torch.bincount(self.bank_labels, minlength=self.num_classes)
        missing = sorted(set(y.unique().tolist()) - set(counts.nonzero().flatten().tolist()))
        if missing:
            raise ValueError(f"WarpVAE warps stored training images and holds none of class(es) {missing} "
                             f"(bank of {self.config.bank_size} images; fill it with store(images, labels) or fit)")
        starts = torch.cumsum(counts, 0) - counts
        offset = (rand((y.shape[0],), generator=generator, device=self.device) * counts[y]).long()
        images = self.bank[starts[y] + torch.minimum(offset, counts[y] - 1)].float().div_(255)
        return self.warp(images, self.draw_theta(y.shape[0], generator=generator)).clamp_(0.0, 1.0)
