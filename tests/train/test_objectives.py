"""Objectives: closed forms, the step contract, optimizers per family, and that training actually learns."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from learnedaug.models import build_model
from learnedaug.train.diffaugment import diff_augment
from learnedaug.train.objectives import (
    ELBO,
    ClassELBO,
    DenoisingELBO,
    GANObjective,
    Objective,
    Recipe,
    WarpELBO,
    kl_standard_normal,
    objective_for,
    per_class_mean,
    recipe_for,
    same_class_partners,
)

from tests.models.tiny import TINY


def tiny(family: str, seed: int = 0, **overrides):
    """A freshly initialised tiny ``family`` model (``tests.models.tiny``'s sizes), untouched: no bank, default prior."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(family, **{**TINY[family], **overrides})


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_step(optimizers, calls=None):
    def step(name, loss):
        if calls is not None:
            calls.append(name)
        loss.backward()
        optimizers[name].step()
        optimizers[name].zero_grad(set_to_none=True)

    return step


def flip(images: torch.Tensor) -> torch.Tensor:
    return images.flip(-1)


def bars(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of 28x28 binary images: a vertical or a horizontal bar at a random offset."""
    g = gen(seed)
    y = torch.arange(n) % 2
    pos = torch.randint(4, 20, (n,), generator=g)
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):  # test data construction only
        if y[i]:
            x[i, 0, :, pos[i] : pos[i] + 4] = 1
        else:
            x[i, 0, pos[i] : pos[i] + 4, :] = 1
    return x, y


# ---- closed forms ----------------------------------------------------------------------------------
def test_kl_matches_torch_distributions():
    mu, std = torch.randn(5, 7, generator=gen(0)), torch.rand(5, 7, generator=gen(1)) + 0.1
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, std), torch.distributions.Normal(0, 1)).sum(1)
    torch.testing.assert_close(kl_standard_normal(mu, std), ref)
    assert torch.equal(kl_standard_normal(torch.zeros(2, 3), torch.ones(2, 3)), torch.zeros(2))


def test_per_class_mean():
    out = per_class_mean(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 2]), 4)
    assert out[0] == 2.0 and out[2] == 5.0 and out[1].isnan() and out[3].isnan()


@pytest.mark.parametrize("family", ["cdcvae", "classvae", "dvae"])
def test_validation_loss_is_nll_at_posterior_mean_plus_kl(family):
    model = tiny(family).train()
    objective = objective_for(model, beta=0.5, augment=flip) if family == "dvae" else objective_for(model, beta=0.5)
    x, y = torch.rand(6, 1, 28, 28, generator=gen(0)), torch.arange(6)
    got = objective.validation_loss(model, x, y)
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        mu, std = model.encode(x, y)
        bce = F.binary_cross_entropy(torch.sigmoid(model.decode_logits(mu, y)), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu**2 + std**2 - 1 - torch.log(std**2)).sum(1)
    assert got == pytest.approx((bce + 0.5 * kl).mean().item(), rel=1e-4)
    per_class = objective.per_class_validation_loss(model, x, y)
    assert per_class.shape == (10,) and per_class[6:].isnan().all()
    torch.testing.assert_close(per_class[:6], (bce + 0.5 * kl).double(), rtol=1e-4, atol=1e-3)


def test_training_step_follows_the_contract_and_reparameterises_with_the_generator():
    model = tiny("cdcvae").train()
    objective = objective_for(model)
    assert isinstance(objective, Objective) and isinstance(objective, ELBO) and objective.name == "elbo"
    optimizers = objective.configure_optimizers(model)
    x, y = torch.rand(8, 1, 28, 28, generator=gen(0)), torch.arange(8)
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    calls: list[str] = []
    logs = objective.training_step(model, x, y, make_step(optimizers, calls), generator=gen(3))
    assert calls == ["vae"] and set(logs) == {"loss", "recon", "kl"} and all(isinstance(v, float) for v in logs.values())
    assert logs["loss"] == pytest.approx(logs["recon"] + logs["kl"], rel=1e-5)
    model.load_state_dict(snapshot)  # the same forward by hand, eps from the same seed
    mu, std = model.encode(x, y)
    z = mu + std * torch.randn(mu.shape, generator=gen(3))
    recon = F.binary_cross_entropy_with_logits(model.decode_logits(z, y), x, reduction="none").flatten(1).sum(1)
    assert logs["recon"] == pytest.approx(recon.mean().item(), rel=1e-5)


def test_optimizers_per_family():
    vae = objective_for(tiny("cdcvae")).configure_optimizers(tiny("cdcvae"))["vae"]
    assert isinstance(vae, torch.optim.Adam) and vae.defaults["lr"] == 2e-4 and vae.defaults["betas"] == (0.5, 0.999)
    cls = objective_for(tiny("classvae")).configure_optimizers(tiny("classvae"))["vae"]
    assert isinstance(cls, torch.optim.RMSprop) and cls.defaults["lr"] == 1e-3
    dvae = objective_for(tiny("dvae"), augment=flip).configure_optimizers(tiny("dvae"))["vae"]
    assert isinstance(dvae, torch.optim.Adam) and dvae.defaults["lr"] == 1e-4
    assert objective_for(tiny("cdcvae"), lr=1e-3).configure_optimizers(tiny("cdcvae"))["vae"].defaults["lr"] == 1e-3
    gan = tiny("cdcgan")
    opts = objective_for(gan).configure_optimizers(gan)
    assert set(opts) == {"d", "g"}
    for name, module in (("d", gan.discriminator), ("g", gan.generator)):
        params = [p for group in opts[name].param_groups for p in group["params"]]
        assert {id(p) for p in params} == {id(p) for p in module.parameters()}
        assert opts[name].defaults["lr"] == 2e-4 and opts[name].defaults["betas"] == (0.5, 0.999)


@pytest.mark.parametrize(("family", "options"), [("cdcvae", dict(lr=3e-3)), ("classvae", dict(lr=3e-3)), ("dvae", dict(lr=1e-3, augment=flip))])
def test_a_few_hundred_steps_reduce_the_loss(family, options):
    model = tiny(family).train()
    objective = objective_for(model, **options)
    step = make_step(objective.configure_optimizers(model))
    x, y = bars(64)
    g = gen(1)
    first = objective.validation_loss(model, x, y)
    for _ in range(150):
        idx = torch.randint(0, 64, (16,), generator=g)
        objective.training_step(model, x[idx], y[idx], step, generator=g)
    last = objective.validation_loss(model, x, y)
    assert last < 0.6 * first, (first, last)


def test_inactive_classes_do_not_move_with_rmsprop():
    model = tiny("classvae").train()
    objective = objective_for(model, active_classes=torch.tensor([k != 1 for k in range(10)]))
    step = make_step(objective.configure_optimizers(model))
    before = [p.detach().clone() for p in model.parameters()]
    x, y = bars(16)
    for _ in range(3):
        objective.training_step(model, x, y, step, generator=gen(0))
    for p, q in zip(model.parameters(), before):
        assert torch.equal(p[1], q[1]) and not torch.equal(p[0], q[0])


# ---- denoising --------------------------------------------------------------------------------------
def test_denoising_elbo_encodes_the_augmented_view_and_reconstructs_the_original():
    model = tiny("dvae").eval()
    seen = []
    objective = objective_for(model, augment=lambda t: (seen.append(t), flip(t))[1], beta=0.0)
    assert isinstance(objective, DenoisingELBO)
    x, y = torch.rand(4, 1, 28, 28, generator=gen(0)), torch.arange(4)
    calls: list[str] = []
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    logs = objective.training_step(model, x, y, lambda name, loss: calls.append(name), generator=gen(2))
    assert calls == ["vae"] and torch.equal(seen[0], x)
    model.load_state_dict(snapshot)
    with torch.no_grad():
        mu, std = model.encode(flip(x))
        z = mu + std * torch.randn(mu.shape, generator=gen(2))
        recon = F.binary_cross_entropy_with_logits(model.decode_logits(z, y), x, reduction="none").flatten(1).sum(1)
    assert logs["recon"] == pytest.approx(recon.mean().item(), rel=1e-5)


def test_denoising_augment_errors():
    model = tiny("dvae")
    bad = objective_for(model, augment=lambda t: t[:, :, :10])
    with pytest.raises(ValueError, match=r"augment must map an image batch of shape \(2, 1, 28, 28\) to the same shape"):
        bad.training_step(model, torch.rand(2, 1, 28, 28), torch.arange(2), lambda n, l: None)
    with pytest.raises(TypeError, match="augment must be callable"):
        DenoisingELBO(augment=3)


@pytest.mark.skipif(
    importlib.util.find_spec("learnedaug.transforms.classic") is None, reason="learnedaug.transforms.classic not written yet"
)
def test_default_augment_is_rot_blur():
    from learnedaug.transforms import RotBlur

    assert isinstance(objective_for(tiny("dvae")).augment, RotBlur)


# ---- GAN --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["nonsaturating", "hinge"])
def test_gan_losses_closed_form(loss):
    model = tiny("cdcgan", loss=loss)
    objective = objective_for(model)
    r, f = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-0.5, 1.5, 0.0])
    if loss == "hinge":
        d_ref = torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()
        g_ref = -f.mean()
    else:
        d_ref = -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()
        g_ref = -torch.log(torch.sigmoid(f)).mean()
    torch.testing.assert_close(objective.discriminator_loss(model, r, f), d_ref)
    torch.testing.assert_close(objective.generator_loss(model, f), g_ref)
    assert objective_for(model, loss="hinge")._loss(model) == "hinge"


def test_gan_step_updates_d_then_g_and_leaves_no_stray_gradients():
    model = tiny("cdcgan").train()
    objective = objective_for(model)
    assert isinstance(objective, GANObjective)
    optimizers = objective.configure_optimizers(model)
    x, y = torch.rand(8, 1, 28, 28, generator=gen(0)), torch.arange(8)
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    calls: list[str] = []
    trace = {}

    def step(name, loss):
        calls.append(name)
        make_step(optimizers)(name, loss)
        trace[name] = ([p.detach().clone() for p in model.discriminator.parameters()], [p.detach().clone() for p in model.generator.parameters()])

    logs = objective.training_step(model, x, y, step, generator=gen(1))
    assert calls == ["d", "g"] and set(logs) == {"d", "g", "d_real", "d_fake"}
    d_after_d, g_after_d = trace["d"]
    d_after_g, g_after_g = trace["g"]
    assert all(torch.equal(a, b) for a, b in zip(g_after_d, g0))  # D's update leaves G alone
    assert not all(torch.equal(a, b) for a, b in zip(d_after_d, d0))
    assert all(torch.equal(a, b) for a, b in zip(d_after_g, d_after_d))  # G's update leaves D alone
    assert not all(torch.equal(a, b) for a, b in zip(g_after_g, g_after_d))
    assert all(p.grad is None and p.requires_grad for p in model.discriminator.parameters())
    assert isinstance(objective.validation_loss(model, x, y), float) and model.training


def test_gan_diffaugment_sees_every_discriminator_input(monkeypatch):
    """DiffAugment (same policy) wraps reals and detached fakes in the D step and the live fakes in the G step."""
    import learnedaug.train.objectives as objectives

    seen = []

    def spy(x, policy, *, generator=None):
        seen.append((policy, x.requires_grad, x.grad_fn is not None))
        return diff_augment(x, policy, generator=generator)

    monkeypatch.setattr(objectives, "diff_augment", spy)
    model = tiny("cdcgan").train()
    objective = objective_for(model, diffaugment="auto")
    objective.setup(model, range(50))
    x, y = torch.rand(8, 1, 28, 28, generator=gen(0)), torch.arange(8) % 10
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    objective.training_step(model, x, y, make_step(objective.configure_optimizers(model)), generator=gen(1))
    policy = "color,translation,cutout"
    assert seen == [(policy, False, False), (policy, False, False), (policy, True, True)]
    assert not all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))  # G learned through T


def test_gan_diffaugment_policy_by_training_size_and_off_switch(monkeypatch):
    import learnedaug.train.objectives as objectives

    model = tiny("cdcgan")
    default = objective_for(model)
    default.setup(model, range(50))
    assert default.policy == "", "DiffAugment is opt-in: it hurt in benchmarks/bench_diffaugment.py"
    auto = objective_for(model, diffaugment="auto")
    assert auto.policy == "color,translation,cutout"  # before setup: the small-data policy
    auto.setup(model, range(50_000))
    assert auto.policy == "translation,cutout"
    fixed = objective_for(model, diffaugment="translation")
    fixed.setup(model, range(10))
    assert fixed.policy == "translation"
    calls = []
    monkeypatch.setattr(objectives, "diff_augment", lambda *a, **k: calls.append(1))
    for off in ("", None):
        objective = objective_for(model, diffaugment=off)
        objective.setup(model, range(10))
        objective.training_step(model, torch.rand(4, 1, 28, 28), torch.arange(4),
                                make_step(objective.configure_optimizers(model)), generator=gen(0))
    assert calls == []
    with pytest.raises(ValueError, match="zoom"):
        objective_for(model, diffaugment="translation,zoom")


# ---- dispatch --------------------------------------------------------------------------------------
def test_family_recipes():
    """The papers' training values: CDCGAN/CDCVAE 500 epochs (seed 000), ClassVAE batch 8 with an 85/15 split and
    patience 10 (seed 001), the denoising VAE 100 epochs (seed 002)."""
    assert recipe_for("cdcvae") == Recipe(batch_size=64, epochs=500) == recipe_for("cdcgan")
    assert recipe_for("classvae") == Recipe(batch_size=8, epochs=200, val_fraction=0.15, patience=10)
    assert recipe_for("dvae") == Recipe(batch_size=64, epochs=100)
    assert objective_for(tiny("classvae")).recipe is recipe_for("classvae")
    with pytest.raises(ValueError, match="no objective for model family 'vqvae'"):
        recipe_for("vqvae")


def test_objective_for_dispatch_and_errors():
    assert type(objective_for(tiny("classvae"))) is ClassELBO
    assert type(objective_for(tiny("cdcvae"))) is ELBO
    assert type(objective_for(tiny("cdcgan"))) is GANObjective
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['augment'\] for ELBO"):
        objective_for(tiny("cdcvae"), augment=flip)
    with pytest.raises(ValueError, match="no objective for model family None"):
        objective_for(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="GANObjective needs a CDCGAN, got CDCVAE"):
        GANObjective().configure_optimizers(tiny("cdcvae"))
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        ELBO(beta=-1)


# ---- WarpELBO ----------------------------------------------------------------------------------------
@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=30), seed=st.integers(0, 2**31 - 1))
def test_same_class_partners_pairs_within_a_class(labels, seed):
    y = torch.tensor(labels)
    partner = same_class_partners(y, generator=gen(seed))
    counts = torch.bincount(y, minlength=5)
    for i, j in enumerate(partner.tolist()):
        if counts[y[i]] == 1:
            assert j == -1  # alone in its class: left out
        else:
            assert j != i and y[j] == y[i]
    assert torch.equal(partner, same_class_partners(y, generator=gen(seed)))


def test_warp_elbo_step_and_validation():
    model = tiny("warpvae").train()
    objective = objective_for(model)
    assert type(objective) is WarpELBO and recipe_for("warpvae") == Recipe(batch_size=64, steps=2000, grad_clip=5.0)
    x, y = torch.rand(12, 1, 28, 28, generator=gen(0)), torch.arange(12) % 4
    before = model.prior_mean.detach().clone()
    logs = objective.training_step(model, x, y, make_step(objective.configure_optimizers(model)), generator=gen(1))
    assert set(logs) == {"loss", "recon", "kl"} and all(math.isfinite(v) for v in logs.values())
    assert not torch.equal(before, model.prior_mean)  # the prior learns
    assert objective.validation_loss(model, x, y) == objective.validation_loss(model, x, y)
    with pytest.raises(ValueError, match="no batch image has another of its class"):
        objective.training_step(model, x[:4], y[:4], make_step(objective.configure_optimizers(model)))
    with pytest.raises(TypeError, match="WarpELBO needs a WarpVAE"):
        objective.configure_optimizers(tiny("cdcvae"))
    with pytest.raises(ValueError, match="likelihood must be"):
        WarpELBO(likelihood="laplace")


def test_warp_elbo_setup_stores_the_training_images():
    model = tiny("warpvae")
    images = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8, generator=gen(2))
    data = torch.utils.data.TensorDataset(images, torch.arange(30) % 10)
    WarpELBO(max_bank=20).setup(model, data)
    assert model.config.bank_size == 20 and model.bank.dtype == torch.uint8
    rows = {tuple(r.flatten().tolist()) for r in images}
    assert all(tuple(r.flatten().tolist()) in rows for r in model.bank)  # a choice of the training images
