"""ClassVAE: the stacked, bucketed pass equals K independent plain-PyTorch VAEs of the paper's layout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from learnedaug.models import ClassVAE
from learnedaug.models.classvae import Buckets

from .tiny import SHAPES, gen, tiny


def reference_vae(model: ClassVAE, k: int) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """Class ``k``'s VAE as ordinary torch layers (encoder body, mean head, log-var head, decoder)."""
    c, h, w = model.image_shape
    f, fc, lat = model.config.filters, model.config.fc_dim, model.config.latent_dim

    def load(layer, stacked):
        layer.weight.data.copy_(stacked.weight[k])
        layer.bias.data.copy_(stacked.bias[k])
        return layer

    body = nn.Sequential(
        nn.ZeroPad2d((0, 1, 0, 1)),
        load(nn.Conv2d(c, c, 2), model.enc_conv1), nn.ReLU(),
        load(nn.Conv2d(c, f, 2, stride=2), model.enc_conv2), nn.ReLU(),
        load(nn.Conv2d(f, f, 3, padding=1), model.enc_conv3), nn.ReLU(),
        load(nn.Conv2d(f, f, 3, padding=1), model.enc_conv4), nn.ReLU(),
        nn.Flatten(), load(nn.Linear(f * h * w // 4, fc), model.enc_fc), nn.ReLU(),
    )
    decoder = nn.Sequential(
        load(nn.Linear(lat, fc), model.dec_fc1), nn.ReLU(),
        load(nn.Linear(fc, f * h * w // 4), model.dec_fc2), nn.ReLU(),
        nn.Unflatten(1, (f, h // 2, w // 2)),
        load(nn.ConvTranspose2d(f, f, 3, padding=1), model.dec_deconv1), nn.ReLU(),
        load(nn.ConvTranspose2d(f, f, 3, padding=1), model.dec_deconv2), nn.ReLU(),
        load(nn.ConvTranspose2d(f, f, 3, stride=2), model.dec_deconv3), nn.ReLU(),
        load(nn.Conv2d(f, c, 2), model.dec_out),
    )
    return body, load(nn.Linear(fc, lat), model.enc_mean), load(nn.Linear(fc, lat), model.enc_logvar), decoder


@pytest.mark.parametrize("shape", SHAPES)
def test_batched_model_equals_per_class_reference_loop(shape):
    model = tiny("classvae", shape)
    n = 23
    y = torch.randint(0, 10, (n,), generator=gen(0))
    y[:3] = 4  # an uneven mix: buckets get padded
    z = torch.randn(n, 3, generator=gen(1))
    x = torch.rand(n, *shape, generator=gen(2))
    with torch.no_grad():
        logits = model.decode_logits(z, y)
        mu, std = model.encode(x, y)
        for k in y.unique().tolist():
            body, mean, logvar, decoder = reference_vae(model, k)
            s = y == k
            torch.testing.assert_close(logits[s], decoder(z[s]), rtol=1e-5, atol=1e-5)
            hidden = body(x[s])
            torch.testing.assert_close(mu[s], mean(hidden), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(std[s], torch.exp(0.5 * logvar(hidden)), rtol=1e-5, atol=1e-5)
    assert logits.shape == (n, *shape)


def test_sample_is_one_pass_equal_to_a_loop_over_classes():
    model = tiny("classvae")
    y = torch.tensor([3, 1, 3, 0, 9, 9, 9, 1])
    batched = model.sample(y, generator=gen(5))
    z = torch.randn(len(y), 3, generator=gen(5))  # the latents sample() draws, in input order
    loop = torch.empty_like(batched)
    with torch.no_grad():
        for k in y.unique():
            s = y == k
            loop[s] = torch.sigmoid(model.decode_logits(z[s], y[s]))
    torch.testing.assert_close(batched, loop, rtol=1e-6, atol=1e-6)


def test_output_of_a_sample_does_not_depend_on_the_rest_of_the_batch():
    model = tiny("classvae")
    z = torch.randn(6, 3, generator=gen(0))
    with torch.no_grad():
        alone = model.decode_logits(z[:1], torch.tensor([2]))
        mixed = model.decode_logits(z, torch.tensor([2, 2, 2, 5, 7, 0]))
    torch.testing.assert_close(alone, mixed[:1], rtol=1e-5, atol=1e-6)


@settings(max_examples=15)
@given(labels=st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_buckets_round_trip(labels):
    y = torch.tensor(labels)
    b = Buckets(y)
    values = torch.arange(len(labels)).float()[:, None]
    packed = b.pack(values)
    counts = torch.bincount(y)
    assert packed.shape == (len(set(labels)), int(counts.max()), 1)
    assert torch.equal(b.classes, y.unique())
    assert torch.equal(b.unpack(packed), values)
    for row, k in zip(packed, b.classes):  # each bucket holds its class's samples in input order, then zeros
        idx = (y == k).nonzero().squeeze(1).float()
        assert torch.equal(row[: len(idx), 0], idx) and not row[len(idx):].any()


def test_keras_layout_sizes():
    model = tiny("classvae", (1, 28, 28), fc_dim=128, filters=64)
    assert model.enc_fc.weight.shape == (10, 128, 12544)  # Flatten of 14x14x64, as in the paper's Table 1
    assert model.dec_fc2.weight.shape == (10, 12544, 128)
    assert model.enc_mean.weight.shape == (10, 3, 128)


def test_copy_classes_from_restores_only_those_classes():
    a, b = tiny("classvae", seed=0), tiny("classvae", seed=1)
    y = torch.arange(10)
    before = a.sample(y, generator=gen(0))
    a.copy_classes_from(b, torch.tensor([2, 7]))
    after, other = a.sample(y, generator=gen(0)), b.sample(y, generator=gen(0))
    moved = torch.tensor([k in (2, 7) for k in range(10)])
    assert torch.equal(after[moved], other[moved]) and torch.equal(after[~moved], before[~moved])
    with pytest.raises(ValueError, match="same config"):
        a.copy_classes_from(tiny("classvae", latent_dim=2), torch.tensor([0]))


def test_nll_is_summed_binary_cross_entropy():
    model = tiny("classvae")
    logits, target = torch.randn(3, 1, 28, 28, generator=gen(0)), torch.rand(3, 1, 28, 28, generator=gen(1))
    ref = torch.stack([F.binary_cross_entropy(torch.sigmoid(l), t, reduction="sum") for l, t in zip(logits, target)])
    torch.testing.assert_close(model.nll(logits, target), ref, rtol=1e-4, atol=1e-3)


def test_vary_needs_labels():
    with pytest.raises(ValueError, match="labels are required by ClassVAE"):
        tiny("classvae").vary(torch.rand(2, 1, 28, 28), None)
