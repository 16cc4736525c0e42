"""DenoisingVAE: the 5-layer encoder, its mirror decoder, conditioning, reconstruct and features."""

from __future__ import annotations

import pytest
import torch

from learnedaug.models import DenoisingVAE, DenoisingVAEConfig
from learnedaug.models.denoising_vae import stride_plan

from .tiny import SHAPES, gen, tiny


@pytest.mark.parametrize(("size", "plan"), [(28, [2, 2, 1, 1, 1]), (32, [2, 2, 2, 1, 1]), (64, [2, 2, 2, 2, 1]), (7, [1] * 5)])
def test_stride_plan(size, plan):
    assert stride_plan(size, 5) == plan


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("conditional", [True, False])
def test_shapes(shape, conditional):
    model = tiny("dvae", shape, conditional=conditional).train()
    x = torch.rand(3, *shape, generator=gen(0))
    mu, std = model.encode(x)
    assert mu.shape == std.shape == (3, 8)
    logits = model.decode_logits(mu, torch.tensor([1, 2, 3]) if conditional else None)
    assert logits.shape == (3, *shape)


def test_paper_defaults():
    model = DenoisingVAE(DenoisingVAEConfig(image_shape=(3, 64, 64)))
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [32, 64, 128, 256, 512] and all(m.kernel_size == (3, 3) for m in convs)
    assert model.mean_head.out_features == model.logvar_head.out_features == 128
    assert model.bottom == (512, 4, 4)


def test_reconstruct_features_and_conditioning():
    model = tiny("dvae")
    x, y = torch.rand(4, 1, 28, 28, generator=gen(0)), torch.tensor([0, 1, 2, 3])
    rec = model.reconstruct(x, y)
    assert torch.equal(rec, model.vary(x, y, scale=0.0))
    assert rec.shape == x.shape and rec.min() >= 0 and rec.max() <= 1
    feats = model.features(x)
    assert feats.shape == (4, 8)
    with torch.no_grad():
        torch.testing.assert_close(feats, model.encode(x)[0])
    assert not torch.allclose(rec, model.reconstruct(x, (y + 5) % 10))  # the decoder reads the label
    with pytest.raises(ValueError, match="labels are required by DenoisingVAE"):
        model.reconstruct(x)


def test_unconditional_model_ignores_labels():
    model = tiny("dvae", conditional=False)
    x = torch.rand(2, 1, 28, 28, generator=gen(0))
    assert torch.equal(model.reconstruct(x), model.reconstruct(x, torch.tensor([4, 5])))
    assert torch.equal(model.sample(torch.tensor([0, 0]), generator=gen(1)), model.sample(torch.tensor([3, 9]), generator=gen(1)))


def test_config_errors():
    with pytest.raises(ValueError, match=r"channels\[1\] must be a positive integer, got 0"):
        DenoisingVAEConfig(channels=(4, 0))
    with pytest.raises(ValueError, match="channels must name at least one"):
        DenoisingVAEConfig(channels=())
