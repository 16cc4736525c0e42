"""Training objectives: what one optimisation step of each generator family computes.

The training loop owns data, devices, AMP, DDP and checkpoints; an objective owns the losses and optimizers:

    objective = objective_for(model, **options)
    optimizers = objective.configure_optimizers(model)              # {"vae": ...} or {"d": ..., "g": ...}
    logs = objective.training_step(model, images, labels, step, generator=g)
        # images (N, C, H, W) float in [0, 1] on the model's device, labels (N,) int64; the objective calls
        # ``step(name, loss)`` once per optimizer update (the loop does backward, all-reduce, optimizer step, zero_grad)
    objective.validation_loss(model, images, labels) -> float       # mean per-image loss, for early stopping

Each objective also carries its family's :class:`Recipe` (batch size, epochs, validation share, patience: the
papers' values), which :func:`~learnedaug.train.fit` and ``learnedaug train`` use where they are not told otherwise.

- :class:`ELBO` (CDCVAE): reconstruction NLL (BCE or Gaussian, summed over pixels) + beta * KL.
- :class:`ClassELBO` (ClassVAE): the ELBO with RMSprop and per-class early stopping on a validation split.
- :class:`DenoisingELBO` (DenoisingVAE): the same with ``augment(images)`` as encoder input, the original as target.
- :class:`GANObjective` (CDCGAN): non-saturating or hinge loss, discriminator step then generator step.
- :class:`WarpELBO` (WarpVAE): the ELBO of warping each image onto another of its class, with a learned prior.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sized
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from .._checks import check_labels
from .._random import rand, randn
from ..models.base import GenerativeModel
from ..models.cdcgan import CDCGAN
from ..models.nets import VariationalModel
from ..models.warpvae import WarpVAE
from .batching import dataset_tensors
from .diffaugment import auto_policy, diff_augment, parse_policy

StepFn = Callable[[str, torch.Tensor], None]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A family's training defaults. ``epochs``, or ``steps``: about that many optimizer steps whatever the data size
    (see :meth:`epochs_for`); ``val_fraction``: stratified validation share; ``patience``: early-stopping patience in
    epochs (None: train every epoch); ``grad_clip``: max gradient norm per step (None: no clipping)."""

    batch_size: int
    epochs: int | None = None
    val_fraction: float = 0.0
    patience: int | None = None
    steps: int | None = None
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError(f"a Recipe gives epochs or steps, exactly one, got epochs={self.epochs}, steps={self.steps}")

    def epochs_for(self, n_train: int, batch_size: int) -> int:
        """Default epochs for ``n_train`` training images (per process) in batches of ``batch_size``: ``epochs``, or
        enough epochs of ``max(1, n_train // batch_size)`` full batches for ``steps`` steps."""
        if self.epochs is not None:
            return self.epochs
        return -(-self.steps // max(1, n_train // batch_size))

    def describe(self) -> str:
        """``"200 epochs"`` or ``"~2000 steps"``, for help texts."""
        return f"{self.epochs} epochs" if self.epochs is not None else f"~{self.steps} steps"


@runtime_checkable
class Objective(Protocol):
    """What :func:`~learnedaug.train.fit` drives. An optional ``recipe`` attribute (:class:`Recipe`) supplies the
    defaults for ``epochs``, ``batch_size``, ``val_fraction`` and ``patience``."""

    name: str

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]: ...

    def training_step(
        self,
        model: GenerativeModel,
        images: torch.Tensor,
        labels: torch.Tensor,
        step: StepFn,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, float]: ...

    def validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> float: ...


# ---- closed forms ------------------------------------------------------------------------------
def kl_standard_normal(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag std^2) || N(0, I) ) per row: 0.5 * sum(mu^2 + std^2 - 1 - 2 log std) -> (N,)."""
    return 0.5 * (mu.square() + std.square() - 1.0 - 2.0 * torch.log(std)).sum(1)


def per_class_mean(values: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean of ``values`` (N,) per label -> (num_classes,) float64; NaN for classes absent from ``labels``."""
    v = values.detach().double()
    sums = torch.zeros(num_classes, dtype=torch.float64, device=v.device).index_add_(0, labels, v)
    counts = torch.bincount(labels, minlength=num_classes).to(v.device, torch.float64)
    return sums / counts  # 0/0 -> NaN for absent classes


def _check_family(model: GenerativeModel, kind: type, objective: str) -> None:
    if not isinstance(model, kind):
        raise TypeError(f"{objective} needs a {kind.__name__}, got {type(model).__name__} (family {getattr(model, 'family', '?')!r})")


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be > 0, got {v!r}")


# ---- VAEs --------------------------------------------------------------------------------------
@dataclasses.dataclass
class ELBO:
    """Negative ELBO per image: ``nll(decode(z), x) + beta * KL(q(z|x) || N(0, I))``, z by reparameterisation.

    ``training_step`` minimises its batch mean under optimizer ``"vae"``; logs ``loss``, ``recon``, ``kl``.
    Adam(2e-4, betas (0.5, 0.999)) like the CDCGAN paper's unless ``lr`` is given; 500 epochs of batch 64 (paper).

    ``active_classes``: optional bool mask (num_classes,); images of inactive classes contribute no loss, so with
    ClassVAE + RMSprop (no momentum) a stopped class's VAE does not change - per-class early stopping. See
    :meth:`per_class_validation_loss` and :meth:`~learnedaug.models.ClassVAE.copy_classes_from`.
    """

    name: ClassVar[str] = "elbo"
    recipe: ClassVar[Recipe] = Recipe(batch_size=64, epochs=500)
    beta: float = 1.0
    lr: float | None = None
    active_classes: torch.Tensor | None = None

    def __post_init__(self) -> None:
        _check_positive(lr=self.lr)
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")

    def _check_model(self, model: GenerativeModel) -> None:
        _check_family(model, VariationalModel, type(self).__name__)

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]:
        self._check_model(model)
        return {"vae": torch.optim.Adam(model.parameters(), lr=self.lr or 2e-4, betas=(0.5, 0.999))}

    def encoder_input(self, model: VariationalModel, images: torch.Tensor) -> torch.Tensor:
        """What the encoder sees during training: the images themselves."""
        return images

    def terms(
        self,
        model: VariationalModel,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        labels: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        sample: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction NLL and KL, each (N,). ``sample=False`` decodes the posterior mean."""
        mu, std = model.encode(inputs, labels)
        z = mu + std * randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype) if sample else mu
        recon = model.nll(model.decode_logits(z, labels).float(), targets)
        return recon, kl_standard_normal(mu.float(), std.float())

    def training_step(
        self,
        model: GenerativeModel,
        images: torch.Tensor,
        labels: torch.Tensor,
        step: StepFn,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, float]:
        self._check_model(model)
        recon, kl = self.terms(model, self.encoder_input(model, images), images, labels, generator=generator)
        per_image = recon + self.beta * kl
        loss = per_image.mean()
        if self.active_classes is not None:  # optimise only the classes still training; log the whole batch's ELBO
            step("vae", (per_image * self.active_classes.to(per_image.device, per_image.dtype)[labels]).mean())
        else:
            step("vae", loss)
        return {"loss": loss.item(), "recon": recon.detach().mean().item(), "kl": kl.detach().mean().item()}

    @torch.no_grad()
    def per_image_validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Deterministic negative ELBO per image (z at the posterior mean, eval-mode BatchNorm) -> (N,)."""
        self._check_model(model)
        was_training = model.training
        model.eval()
        try:
            recon, kl = self.terms(model, self.validation_input(model, images), images, labels, sample=False)
        finally:
            model.train(was_training)
        return recon + self.beta * kl

    def validation_input(self, model: VariationalModel, images: torch.Tensor) -> torch.Tensor:
        """Encoder input used for validation: the images themselves."""
        return images

    @torch.no_grad()
    def validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Mean of :meth:`per_image_validation_loss` (nats per image)."""
        return self.per_image_validation_loss(model, images, labels).mean().item()

    @torch.no_grad()
    def per_class_validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean validation loss of each class -> (num_classes,) float64 (NaN for classes without images)."""
        check_labels(labels, model.num_classes, n=images.shape[0])
        losses = self.per_image_validation_loss(model, images, labels)
        return per_class_mean(losses, labels.to(losses.device), model.num_classes)


def default_augment() -> Callable[[torch.Tensor], torch.Tensor]:
    """The classic ROT-BLUR augmentation (rotation, then Gaussian blur) from :mod:`learnedaug.transforms`."""
    from ..transforms import RotBlur

    return RotBlur()


@dataclasses.dataclass
class ClassELBO(ELBO):
    """The ELBO as the class-VAE paper trains it: RMSprop(1e-3, alpha 0.9) (Keras defaults) unless ``lr``, batch 8,
    at most 200 epochs, an 85/15 split and patience 10, each class VAE stopping on its own."""

    name: ClassVar[str] = "class_elbo"
    recipe: ClassVar[Recipe] = Recipe(batch_size=8, epochs=200, val_fraction=0.15, patience=10)

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]:
        self._check_model(model)
        return {"vae": torch.optim.RMSprop(model.parameters(), lr=self.lr or 1e-3, alpha=0.9)}


@dataclasses.dataclass
class DenoisingELBO(ELBO):
    """ELBO with ``augment(images)`` as encoder input and the original images as reconstruction target.

    ``augment``: any callable on (N, C, H, W) float [0, 1] batches (e.g. a transforms.v2 pipeline; its own
    generator governs its randomness); default ROT-BLUR. Adam(1e-4) as in the denoising-VAE paper unless ``lr``.
    Validation encodes ``validation_augment(images)`` when given (pass a seeded pipeline for a repeatable value),
    otherwise the clean images.
    """

    name: ClassVar[str] = "denoising_elbo"
    recipe: ClassVar[Recipe] = Recipe(batch_size=64, epochs=100)
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    validation_augment: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.augment is None:
            self.augment = default_augment()
        for name in ("augment", "validation_augment"):
            fn = getattr(self, name)
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable on an image batch, got {type(fn).__name__}")

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]:
        self._check_model(model)
        return {"vae": torch.optim.Adam(model.parameters(), lr=self.lr or 1e-4)}

    def _augmented(self, fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        out = fn(images)
        if not isinstance(out, torch.Tensor) or out.shape != images.shape:
            raise ValueError(
                f"augment must map an image batch of shape {tuple(images.shape)} to the same shape, got "
                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
            )
        return out.to(images.dtype)

    def encoder_input(self, model: VariationalModel, images: torch.Tensor) -> torch.Tensor:
        """``augment(images)``: the corrupted view the VAE learns to undo."""
        return self._augmented(self.augment, images)

    def validation_input(self, model: VariationalModel, images: torch.Tensor) -> torch.Tensor:
        return images if self.validation_augment is None else self._augmented(self.validation_augment, images)


# ---- GAN ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Inside the block ``module``'s parameters do not require grad (gradients flow through it, not into it)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@dataclasses.dataclass
class GANObjective:
    """Conditional GAN training: one discriminator update (``"d"``) then one generator update (``"g"``) per batch.

    ``diffaugment``: the DiffAugment policy (Zhao et al. 2020; :mod:`~learnedaug.train.diffaugment`) applied to
    every image the discriminator sees - reals and fakes, in both steps, differentiably so G learns through it -
    None / ``""`` for none (default: the CDCGAN paper's recipe), a policy such as ``"translation"``, or ``"auto"``
    (:func:`~learnedaug.train.diffaugment.auto_policy` of the training-set size, which :func:`~learnedaug.train.fit`
    passes to :meth:`setup`; colour, translation and cutout up to 10,000 images). Off by default because it was
    measured to hurt at CPU-scale budgets: CDCGAN on MNIST-1 % for 150 epochs, domain FID 38.8 without, 74.9
    (translation) to 103.5 (translation, cutout) with it (``benchmarks/bench_diffaugment.py``).
    ``loss`` None -> the model config's ("nonsaturating" or "hinge"). Adam(lr 2e-4, betas (0.5, 0.999)) for both,
    as in the CDCGAN paper, 500 epochs of batch 64. Fakes are conditioned on the batch's own labels; z is drawn from
    ``generator``.
    Logs ``d``, ``g``, and the discriminator's mean logits ``d_real`` / ``d_fake``.
    """

    name: ClassVar[str] = "gan"
    recipe: ClassVar[Recipe] = Recipe(batch_size=64, epochs=500)
    loss: str | None = None
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    diffaugment: str | None = None

    def __post_init__(self) -> None:
        _check_positive(lr=self.lr)
        if self.loss is not None and self.loss not in ("nonsaturating", "hinge"):
            raise ValueError(f"loss must be 'nonsaturating' or 'hinge', got {self.loss!r}")
        if self.diffaugment is not None and self.diffaugment != "auto":
            parse_policy(self.diffaugment)
        self._policy = None if self.diffaugment == "auto" else (self.diffaugment or "")

    def setup(self, model: GenerativeModel, train_set: Sized) -> None:
        """Called by :func:`~learnedaug.train.fit` with the training set: resolves ``diffaugment="auto"`` by its size."""
        if self.diffaugment == "auto":
            self._policy = auto_policy(len(train_set))

    @property
    def policy(self) -> str:
        """The DiffAugment policy in use (``""``: none; ``"auto"`` before :meth:`setup`: the small-data one)."""
        return self._policy if self._policy is not None else auto_policy(1)

    def _augment(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return diff_augment(images, self.policy, generator=generator) if self.policy else images

    def _loss(self, model: CDCGAN) -> str:
        return self.loss or model.config.loss

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]:
        _check_family(model, CDCGAN, "GANObjective")
        return {
            "d": torch.optim.Adam(model.discriminator.parameters(), lr=self.lr, betas=self.betas),
            "g": torch.optim.Adam(model.generator.parameters(), lr=self.lr, betas=self.betas),
        }

    def discriminator_loss(self, model: CDCGAN, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar D loss from D's logits on real and fake images."""
        if self._loss(model) == "hinge":
            return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator_loss(self, model: CDCGAN, fake_logits: torch.Tensor) -> torch.Tensor:
        """Scalar G loss from D's logits on fake images."""
        if self._loss(model) == "hinge":
            return -fake_logits.mean()
        return F.softplus(-fake_logits).mean()

    def training_step(
        self,
        model: GenerativeModel,
        images: torch.Tensor,
        labels: torch.Tensor,
        step: StepFn,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, float]:
        _check_family(model, CDCGAN, "GANObjective")
        z = randn((images.shape[0], model.latent_dim), generator=generator, device=images.device, dtype=images.dtype)
        fake = model.generate(z, labels)
        real_logits = model.discriminator(self._augment(images, generator), labels).float()
        fake_logits = model.discriminator(self._augment(fake.detach(), generator), labels).float()
        d_loss = self.discriminator_loss(model, real_logits, fake_logits)
        step("d", d_loss)
        with frozen(model.discriminator):  # G's loss must leave no gradients on D's parameters
            g_loss = self.generator_loss(model, model.discriminator(self._augment(fake, generator), labels).float())
            step("g", g_loss)
        return {
            "d": d_loss.item(),
            "g": g_loss.item(),
            "d_real": real_logits.detach().mean().item(),
            "d_fake": fake_logits.detach().mean().item(),
        }

    @torch.no_grad()
    def validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Discriminator loss on held-out real images vs. fakes from a fixed seed (eval mode). A monitoring value:
        GAN losses do not measure sample quality, so do not early-stop on it."""
        _check_family(model, CDCGAN, "GANObjective")
        g = torch.Generator(device=images.device).manual_seed(0)
        was_training = model.training
        model.eval()
        try:
            z = randn((images.shape[0], model.latent_dim), generator=g, device=images.device)
            fake = model.generate(z, labels)
            loss = self.discriminator_loss(model, model.discriminator(images, labels), model.discriminator(fake, labels))
        finally:
            model.train(was_training)
        return loss.item()


# ---- learned warps ----------------------------------------------------------------------------
def same_class_partners(labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each image, the index of another image of its class in the batch, picked uniformly; -1 when it has none.
    ``labels`` (N,) int64 -> (N,) int64."""
    n = labels.shape[0]
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(n, dtype=torch.bool, device=labels.device)
    scores = torch.where(same, rand((n, n), generator=generator, device=labels.device), torch.tensor(-1.0, device=labels.device))
    best = scores.max(dim=1)
    return torch.where(best.values >= 0, best.indices, torch.full_like(best.indices, -1))


@dataclasses.dataclass
class WarpELBO:
    """Negative ELBO of warping one image of a pair onto the other (:class:`~learnedaug.models.WarpVAE`).

    Each image ``a`` of a batch is paired with another image ``b`` of its class in the batch (images without one are
    left out); per pair ``nll(warp(a, theta), b) + beta * KL(q(theta | a, b) || prior)``, theta by
    reparameterisation, the prior's mean and spread learned with the rest (optimizer ``"warp"``: Adam, ``lr``
    default 1e-3). The likelihood is Bernoulli (``"bernoulli"``, for digits) or a unit-scale Gaussian
    (``"gaussian"``: squared error / 2, for photos), summed over pixels. :meth:`setup` stores the training set in the
    model (at most ``max_bank`` images, a seeded random choice beyond that) for ``sample``. Batches should hold
    several images per class: the recipe's batch of 64 gives each of 10 classes about six. Recipe: about 2,000 steps
    at any data size, gradient norm clipped at 5 (without it, lr 3e-3 diverged on 50 digits: benchmarks/bench_warpvae.py).
    """

    name: ClassVar[str] = "warp_elbo"
    recipe: ClassVar[Recipe] = Recipe(batch_size=64, steps=2000, grad_clip=5.0)
    beta: float = 1.0
    lr: float = 1e-3
    likelihood: str = "bernoulli"
    max_bank: int = 20_000

    def __post_init__(self) -> None:
        _check_positive(lr=self.lr, max_bank=self.max_bank)
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")

    def setup(self, model: GenerativeModel, train_set: Sized) -> None:
        """Store (up to ``max_bank`` of) the training images in the model: the bank its ``sample`` warps."""
        _check_family(model, WarpVAE, type(self).__name__)
        model.store(*dataset_tensors(train_set, limit=self.max_bank))

    def configure_optimizers(self, model: GenerativeModel) -> dict[str, torch.optim.Optimizer]:
        _check_family(model, WarpVAE, type(self).__name__)
        return {"warp": torch.optim.Adam(model.parameters(), lr=self.lr)}

    def _nll(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.likelihood == "gaussian":
            return 0.5 * (output - target).square().flatten(1).sum(1)
        return F.binary_cross_entropy(output.clamp(1e-6, 1 - 1e-6), target, reduction="none").flatten(1).sum(1)

    def terms(self, model: WarpVAE, images: torch.Tensor, labels: torch.Tensor, *, sample: bool = True,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pair reconstruction NLL and KL, each (P,), for the pairs :func:`same_class_partners` forms."""
        partner = same_class_partners(labels, generator=generator)
        keep = (partner >= 0).nonzero().squeeze(1)
        source, target = images[keep], images[partner[keep]]
        mu, std = model.encode(source, target)
        theta = mu + std * randn(mu.shape, generator=generator, device=mu.device) if sample else mu
        recon = self._nll(model.warp(source, theta), target)
        return recon, model.kl_to_prior(mu, std)

    def training_step(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor, step: StepFn, *,
                      generator: torch.Generator | None = None) -> dict[str, float]:
        _check_family(model, WarpVAE, type(self).__name__)
        recon, kl = self.terms(model, images, labels, generator=generator)
        if recon.numel() == 0:
            raise ValueError("WarpELBO: no batch image has another of its class in the batch; use a larger batch size")
        loss = (recon + self.beta * kl).mean()
        step("warp", loss)
        return {"loss": loss.item(), "recon": recon.detach().mean().item(), "kl": kl.detach().mean().item()}

    @torch.no_grad()
    def validation_loss(self, model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Mean negative ELBO per pair at the posterior mean, partners drawn with a fixed seed (repeatable)."""
        _check_family(model, WarpVAE, type(self).__name__)
        g = torch.Generator(device=images.device).manual_seed(0)
        recon, kl = self.terms(model, images, labels, sample=False, generator=g)
        return (recon + self.beta * kl).mean().item() if recon.numel() else float("nan")


# ---- dispatch ----------------------------------------------------------------------------------
_OBJECTIVES: dict[str, type] = {"cdcvae": ELBO, "classvae": ClassELBO, "dvae": DenoisingELBO, "cdcgan": GANObjective,
                                 "warpvae": WarpELBO}


def recipe_for(family: str) -> Recipe:
    """The training defaults of a generator family (``"cdcvae"``, ``"classvae"``, ``"dvae"``, ``"cdcgan"``)."""
    if family not in _OBJECTIVES:
        raise ValueError(f"no objective for model family {family!r}; known: {sorted(_OBJECTIVES)}")
    return _OBJECTIVES[family].recipe


def objective_for(model: GenerativeModel, **options: Any) -> Objective:
    """The objective of ``model.family`` built with ``options`` (e.g. ``beta=``, ``lr=``, ``augment=``, ``loss=``)."""
    family = getattr(model, "family", None)
    if family not in _OBJECTIVES:
        raise ValueError(f"no objective for model family {family!r}; known: {sorted(_OBJECTIVES)}")
    cls = _OBJECTIVES[family]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {cls.__name__} (family {family!r}); known: {sorted(names)}")
    return cls(**options)
