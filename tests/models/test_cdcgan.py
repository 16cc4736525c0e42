"""CDCGAN: generator/discriminator shapes, options, and what sampling needs."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from learnedaug.models import CDCGAN, CDCGANConfig

from .tiny import SHAPES, gen, tiny


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_and_generator_shapes(shape, spectral_norm):
    model = tiny("cdcgan", shape, spectral_norm=spectral_norm).train()
    z, y = torch.randn(4, model.latent_dim, generator=gen(0)), torch.tensor([0, 1, 2, 3])
    fake = model.generate(z, y)
    assert fake.shape == (4, *shape) and fake.min() >= 0 and fake.max() <= 1
    logits = model.discriminator(fake, y)
    assert logits.shape == (4,)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.generator.parameters())


def test_spectral_norm_option():
    model = tiny("cdcgan", spectral_norm=True)
    convs = [m for m in model.discriminator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.discriminator.modules())
    assert not any(parametrize.is_parametrized(m) for m in model.generator.modules())


def test_paper_defaults():
    assert CDCGANConfig(image_shape=(1, 28, 28)).latent_dim == 62
    assert CDCGANConfig(image_shape=(3, 32, 32)).latent_dim == 100
    model = CDCGAN(CDCGANConfig(image_shape=(3, 32, 32)))
    assert model.generator.fc[0].in_features == 110 and model.generator.start == (128, 8, 8)
    assert model.discriminator.body.fc[0].in_features == 128 * 8 * 8
    assert CDCGAN.training_only_prefixes == ("discriminator.",)


def test_loss_option_validated():
    assert CDCGANConfig(loss="hinge").loss == "hinge"
    with pytest.raises(ValueError, match="loss must be one of .* got 'wasserstein'"):
        CDCGANConfig(loss="wasserstein")
