"""CDCVAE: InfoGAN-shaped encoder/decoder, latent defaults, likelihoods against torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from learnedaug.models import CDCVAE, CDCVAEConfig

from .tiny import SHAPES, gen, tiny


@pytest.mark.parametrize("shape", SHAPES)
def test_encode_decode_shapes_and_gradients(shape):
    model = tiny("cdcvae", shape).train()
    x, y = torch.rand(4, *shape, generator=gen(0)), torch.tensor([0, 1, 2, 3])
    mu, std = model.encode(x, y)
    assert mu.shape == std.shape == (4, model.latent_dim) and (std > 0).all()
    logits = model.decode_logits(mu + std, y)
    assert logits.shape == (4, *shape)
    model.nll(logits, x).sum().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if not n.startswith("likelihood"))


def test_paper_defaults():
    assert CDCVAEConfig(image_shape=(1, 28, 28)).latent_dim == 62
    assert CDCVAEConfig(image_shape=(3, 32, 32)).latent_dim == 100
    model = CDCVAE(CDCVAEConfig())
    assert model.decoder.fc[0].in_features == 62 + 10 and model.decoder.fc[0].out_features == 1024
    assert model.decoder.fc[3].out_features == 128 * 7 * 7
    assert model.encoder.conv[0].in_channels == 1 + 10  # image + one constant map per class
    assert model.encoder.fc[0].out_features == 1024


def test_bernoulli_nll_matches_torch_distributions():
    model = tiny("cdcvae")
    logits, x = torch.randn(3, 1, 28, 28, generator=gen(0)), torch.rand(3, 1, 28, 28, generator=gen(1)).round()
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(model.nll(logits, x), ref)


@pytest.mark.parametrize("learn_sigma", [True, False])
def test_gaussian_nll_matches_torch_distributions(learn_sigma):
    model = tiny("cdcvae", (3, 32, 32), likelihood="gaussian", sigma=0.2, learn_sigma=learn_sigma)
    assert isinstance(model.likelihood.log_sigma, torch.nn.Parameter) == learn_sigma
    logits, x = torch.randn(2, 3, 32, 32, generator=gen(0)), torch.rand(2, 3, 32, 32, generator=gen(1))
    ref = -torch.distributions.Normal(torch.sigmoid(logits), 0.2).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(model.nll(logits, x), ref, rtol=1e-5, atol=1e-3)
    assert math.isclose(float(model.likelihood.log_sigma[0].detach()), math.log(0.2), rel_tol=1e-6)


def test_std_head_is_softplus():
    model = tiny("cdcvae")
    x, y = torch.rand(2, 1, 28, 28, generator=gen(0)), torch.tensor([3, 4])
    with torch.no_grad():
        h = model.encoder(x, y)
        torch.testing.assert_close(model.encode(x, y)[1], F.softplus(model.std_head(h)) + 1e-6)


def test_vary_and_sample_need_labels():
    model = tiny("cdcvae")
    with pytest.raises(ValueError, match="labels are required by CDCVAE"):
        model.vary(torch.rand(2, 1, 28, 28), None)


def test_config_errors():
    with pytest.raises(ValueError, match="likelihood must be one of .* got 'laplace'"):
        CDCVAEConfig(likelihood="laplace")
    with pytest.raises(ValueError, match="sigma must be > 0, got 0"):
        CDCVAEConfig(likelihood="gaussian", sigma=0)
