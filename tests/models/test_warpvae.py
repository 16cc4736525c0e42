"""WarpVAE: the warp and its KL against closed forms, the bank, and learning a warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnedaug.data import ImageSet
from learnedaug.models import GenerativeModel, WarpVAE, WarpVAEConfig
from learnedaug.models.warpvae import AFFINE_DIM, UNIT, warp
from learnedaug.train import fit
from learnedaug.train.objectives import WarpELBO

from .tiny import gen, tiny


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("grid", [0, 3])
def test_zero_warp_is_the_identity(shape, grid):
    x = torch.rand(3, *shape, generator=gen(0))
    theta = torch.zeros(3, AFFINE_DIM + 2 * grid * grid)
    torch.testing.assert_close(warp(x, theta, grid=grid), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pixels", [1, 3, -2])
def test_affine_translation_shifts_by_whole_pixels(pixels):
    x = torch.rand(2, 1, 12, 16, generator=gen(1))
    theta = torch.zeros(2, AFFINE_DIM)
    theta[:, 2] = pixels * (2 / 16) / UNIT  # x translation of the sampling grid, in half-widths
    out = warp(x, theta, grid=0)
    # output column j reads input column j + pixels; columns that fall outside are zero (padding "zeros")
    want = torch.zeros_like(x)
    if pixels > 0:
        want[..., :-pixels] = x[..., pixels:]
    else:
        want[..., -pixels:] = x[..., :pixels]
    torch.testing.assert_close(out, want, atol=1e-5, rtol=0)


def test_warp_is_differentiable_in_images_and_theta():
    x = torch.rand(2, 1, 6, 6, dtype=torch.float64, generator=gen(2), requires_grad=True)
    theta = (0.3 * torch.randn(2, AFFINE_DIM + 8, dtype=torch.float64, generator=gen(3))).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, t: warp(a, t, grid=2, padding="border"), (x, theta))


@given(seed=st.integers(0, 2**31 - 1), grid=st.sampled_from([0, 2]))
@settings(max_examples=20, deadline=None)
def test_kl_to_prior_matches_the_closed_form(seed, grid):
    """0.5 (tr(P^-1 Q) + (m_p - m_q)^T P^-1 (m_p - m_q) - k + ln det P - ln det Q), in float64 numpy."""
    model = tiny("warpvae", grid=grid)
    k, g = model.latent_dim, gen(seed)
    with torch.no_grad():
        model.prior_mean.copy_(torch.randn(k, generator=g))
        model.prior_factor.copy_(0.3 * torch.randn(k, k, generator=g))
    mu, std = torch.randn(4, k, generator=g), torch.rand(4, k, generator=g) + 0.1
    tril = model.prior_tril.detach().double().numpy()
    cov_p = tril @ tril.T
    inv_p = np.linalg.inv(cov_p)
    want = []
    for m, s in zip(mu.double().numpy(), std.double().numpy()):
        d = model.prior_mean.detach().double().numpy() - m
        want.append(0.5 * (np.trace(inv_p @ np.diag(s**2)) + d @ inv_p @ d - k
                           + np.linalg.slogdet(cov_p)[1] - np.sum(np.log(s**2))))
    got = model.kl_to_prior(mu, std)
    assert got.shape == (4,) and got.dtype == torch.float32
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4, atol=1e-4)


def test_prior_draws_have_the_learned_mean_and_covariance():
    model = tiny("warpvae", grid=0)
    with torch.no_grad():
        model.prior_mean.copy_(torch.arange(6.0) / 10)
        model.prior_factor.copy_(torch.tril(torch.randn(6, 6, generator=gen(4))) * 0.5)
    theta = model.draw_theta(200_000, scale=2.0, generator=gen(5))
    tril = model.prior_tril.detach()
    torch.testing.assert_close(theta.mean(0), model.prior_mean.detach(), atol=0.02, rtol=0)
    want = 4 * tril @ tril.T
    assert (torch.cov(theta.T) - want).abs().max() < 0.02 * want.abs().max()  # sampling error ~ sqrt(2 / n)


def test_sample_warps_a_stored_image_of_each_label():
    model = tiny("warpvae")
    with torch.no_grad():  # a prior with no spread: the warp is the identity
        model.prior_factor.diagonal().fill_(-30.0)
    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8, generator=gen(6))
    model.store(images, torch.tensor([3, 1, 3, 1, 3, 7]))
    assert model.config.bank_size == 6
    out = model.sample(torch.tensor([7, 1, 3, 3]), generator=gen(7))
    bank = images.float() / 255
    torch.testing.assert_close(out[0], bank[5], atol=1e-5, rtol=0)  # the only 7
    for i, allowed in ((1, [1, 3]), (2, [0, 2, 4]), (3, [0, 2, 4])):
        assert min((out[i] - bank[j]).abs().max() for j in allowed) < 1e-5


def test_sample_names_a_class_the_bank_lacks():
    model = tiny("warpvae")
    model.store(torch.rand(2, 1, 28, 28), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"holds none of class\(es\) \[5\]"):
        model.sample(torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        model.store(torch.rand(2, 1, 28, 28) + 1, torch.tensor([0, 2]))


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="grid must be 0 .* got 1"):
        WarpVAEConfig(grid=1)
    with pytest.raises(ValueError, match="padding must be one of"):
        WarpVAEConfig(padding="wrap")
    with pytest.raises(ValueError, match="two conv widths"):
        WarpVAEConfig(channels=(8,))


def _shifted_bars(n: int = 32, seed: int = 0) -> ImageSet:
    """One class: a vertical bar at a random horizontal offset (+-4 px): pairs differ by horizontal shifts only."""
    g = gen(seed)
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i, dx in enumerate(torch.randint(-4, 5, (n,), generator=g).tolist()):
        images[i, 0, 6:22, 10 + dx:18 + dx] = 255
    return ImageSet(images, torch.zeros(n, dtype=torch.long), ["bar"])


def test_fit_learns_the_shifts_the_data_holds(tmp_path):
    model = WarpVAE(WarpVAEConfig(num_classes=1, grid=0, channels=(8, 16)))
    data = _shifted_bars()
    fit(model, data, epochs=400, batch_size=32, out_dir=tmp_path, objective=WarpELBO(lr=3e-3), progress=False,
        sample_every=0)
    std = (model.prior_tril @ model.prior_tril.T).diagonal().sqrt().detach()
    tx, ty = std[2].item(), std[5].item()
    # pairs differ by up to +-8 px horizontally (std 3.65 px = 0.26 half-widths); registration by overlap learns most
    assert tx * UNIT > 0.15, (tx, ty)
    assert ty < tx / 3, "vertical shifts, absent from the data, get a narrow prior"
    assert model.config.bank_size == 32 and torch.equal(model.bank, data.images)
    loaded = GenerativeModel.from_pretrained(tmp_path / "model")
    torch.testing.assert_close(loaded.sample(torch.zeros(4, dtype=torch.long), generator=gen(1)),
                               model.sample(torch.zeros(4, dtype=torch.long), generator=gen(1)))
