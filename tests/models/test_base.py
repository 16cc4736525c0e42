"""The sampler contract every family honours, and save_pretrained / from_pretrained round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from learnedaug.models import (
    CDCGAN,
    ClassVAE,
    ConditionalSampler,
    Encoder,
    GenerativeModel,
    build_model,
)

from .tiny import SHAPES, TINY, gen, tiny

FAMILIES = sorted(TINY)
VAES = ["cdcvae", "classvae", "dvae", "warpvae"]  # the Encoders (vary)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sample_shape_dtype_range(family, shape):
    model = tiny(family, shape)
    labels = torch.tensor([0, 3, 3, 9, 1, 0])
    out = model.sample(labels, generator=gen(0))
    assert isinstance(model, ConditionalSampler)
    assert out.shape == (6, *shape) and out.dtype == torch.float32 and not out.requires_grad
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("family", VAES)
@pytest.mark.parametrize("shape", SHAPES)
def test_vary_shape_dtype_range(family, shape):
    model = tiny(family, shape)
    assert isinstance(model, Encoder)
    images = torch.rand(4, *shape, generator=gen(1))
    out = model.vary(images, torch.tensor([1, 2, 3, 4]), scale=0.5, generator=gen(0))
    assert out.shape == images.shape and out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("family", FAMILIES)
@given(labels=st.lists(st.integers(0, 9), min_size=1, max_size=12), seed=st.integers(0, 2**31))
def test_sample_deterministic_under_seed(family, labels, seed):
    model = tiny(family)
    y = torch.tensor(labels)
    a = model.sample(y, generator=gen(seed))
    b = model.sample(y, generator=gen(seed))
    assert torch.equal(a, b)
    assert a.shape == (len(labels), 1, 28, 28) and a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("family", FAMILIES)
def test_seeds_and_labels_change_the_output(family):
    model = tiny(family)
    y = torch.zeros(8, dtype=torch.long)
    a = model.sample(y, generator=gen(0))
    assert not torch.allclose(a, model.sample(y, generator=gen(1)))
    # same latents (same seed), other class: conditioning reaches the output
    assert (a - model.sample(y + 7, generator=gen(0))).abs().max() > 1e-4


@pytest.mark.parametrize("family", VAES)
def test_vary_deterministic_and_scale_zero_ignores_noise(family):
    model = tiny(family)
    x, y = torch.rand(5, 1, 28, 28, generator=gen(2)), torch.arange(5)
    assert torch.equal(model.vary(x, y, generator=gen(3)), model.vary(x, y, generator=gen(3)))
    assert not torch.equal(model.vary(x, y, generator=gen(3)), model.vary(x, y, generator=gen(4)))
    assert torch.equal(model.vary(x, y, scale=0.0, generator=gen(3)), model.vary(x, y, scale=0.0, generator=gen(4)))


@pytest.mark.parametrize("family", FAMILIES)
def test_empty_batches(family):
    model = tiny(family)
    none = torch.zeros(0, dtype=torch.long)
    assert model.sample(none, generator=gen(0)).shape == (0, 1, 28, 28)
    if family in VAES:
        assert model.vary(torch.rand(0, 1, 28, 28), none).shape == (0, 1, 28, 28)


@pytest.mark.parametrize("family", FAMILIES)
def test_sample_uses_eval_mode_and_restores_training_flag(family):
    model = tiny(family).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = model.sample(torch.tensor([4]), generator=gen(0))  # batch of 1 would fail in train-mode BatchNorm
    assert out.shape == (1, 1, 28, 28) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # running stats untouched


@pytest.mark.parametrize("family", FAMILIES)
def test_generator_on_other_device_is_honoured(family):
    model = tiny(family)
    y = torch.arange(3)
    assert torch.equal(model.sample(y, generator=gen(5)), model.sample(y, generator=gen(5)))


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_labels_rejected(family):
    model = tiny(family)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), got values in \[0, 10\]"):
        model.sample(torch.tensor([0, 10]))
    with pytest.raises(TypeError, match=r"labels must be class indices \(an integer dtype\), got dtype torch.float32"):
        model.sample(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(N,\), got shape \(2, 1\)"):
        model.sample(torch.tensor([[0], [1]]))


@pytest.mark.parametrize("family", VAES)
def test_bad_images_rejected(family):
    model = tiny(family)
    with pytest.raises(ValueError, match=r"\(3, 32, 32\).*\(1, 28, 28\)"):
        model.vary(torch.rand(2, 3, 32, 32), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        model.vary(torch.rand(2, 1, 28, 28) * 2, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="2 entries but there are 3 images"):
        model.vary(torch.rand(3, 1, 28, 28), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="scale must be a number >= 0, got -1"):
        model.vary(torch.rand(2, 1, 28, 28), torch.tensor([0, 1]), scale=-1)


@pytest.mark.parametrize("family", ["cdcvae", "cdcgan", "classvae"])
def test_config_rejects_shapes_it_cannot_build(family):
    with pytest.raises(ValueError, match=r"image_shape \(1, 30, 30\)" if family != "classvae" else r"\(1, 27, 27\)"):
        build_model(family, image_shape=(1, 30, 30) if family != "classvae" else (1, 27, 27))


def test_build_model_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown model family 'vae'"):
        build_model("vae")
    with pytest.raises(ValueError, match=r"unknown CDCVAEConfig field\(s\) \['width'\]"):
        build_model("cdcvae", width=3)
    with pytest.raises(ValueError, match="fc_dim must be a positive integer, got 0"):
        build_model("cdcgan", fc_dim=0)


# ---- save / load ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_reproduces_outputs(family, tmp_path):
    model = tiny(family, (3, 32, 32))
    model.save_pretrained(tmp_path / "m")
    loaded = GenerativeModel.from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    y = torch.tensor([0, 5, 9, 5])
    assert torch.equal(model.sample(y, generator=gen(7)), loaded.sample(y, generator=gen(7)))
    if family in VAES:
        x = torch.rand(4, 3, 32, 32, generator=gen(8))
        assert torch.equal(model.vary(x, y, generator=gen(9)), loaded.vary(x, y, generator=gen(9)))
    assert json.loads((tmp_path / "m" / "config.json").read_text())["family"] == family


def test_round_trip_in_half_precision_is_close(tmp_path):
    model = tiny("cdcvae")
    model.save_pretrained(tmp_path / "m", dtype=torch.float16)
    loaded = GenerativeModel.from_pretrained(tmp_path / "m")
    y = torch.arange(10)
    torch.testing.assert_close(model.sample(y, generator=gen(0)), loaded.sample(y, generator=gen(0)), atol=5e-3, rtol=0)


def test_gan_inference_only_drops_discriminator(tmp_path):
    model = tiny("cdcgan", spectral_norm=True)
    model.save_pretrained(tmp_path / "g", inference_only=True)
    keys = load_file(str(tmp_path / "g" / "model.safetensors")).keys()
    assert keys and not any(k.startswith("discriminator.") for k in keys)
    loaded = CDCGAN.from_pretrained(tmp_path / "g")
    y = torch.arange(10)
    assert torch.equal(model.sample(y, generator=gen(0)), loaded.sample(y, generator=gen(0)))


def test_wrong_shaped_tensor_is_named(tmp_path):
    tiny("classvae").save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    state = load_file(str(path))
    state["dec_fc2.weight"] = state["dec_fc2.weight"][:, :-1].contiguous()
    save_file(state, str(path))
    with pytest.raises(ValueError, match=r"'dec_fc2.weight' has shape \(10, 1567, 16\)"):
        ClassVAE.from_pretrained(tmp_path / "m")


def test_loading_into_the_wrong_class_is_refused(tmp_path):
    tiny("dvae").save_pretrained(tmp_path / "m")
    with pytest.raises(TypeError, match="holds a 'dvae' model, not a CDCGAN"):
        CDCGAN.from_pretrained(tmp_path / "m")


# ---- sample(): the inputs users hold; the sampler home (check_sampler, model_device) ----------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_sample_accepts_int_seed_lists_ints_and_numpy(family):
    model = tiny(family)
    reference = model.sample(torch.tensor([3, 1]), generator=gen(7))
    for labels in ([3, 1], (3, 1), np.array([3, 1]), np.array([3, 1], dtype=np.int32), torch.tensor([3, 1], dtype=torch.int32)):
        assert torch.equal(model.sample(labels, generator=7), reference), labels
    one = model.sample(torch.tensor([4]), generator=gen(2))
    for label in (4, np.int64(4), torch.tensor(4), np.array(4)):
        out = model.sample(label, generator=2)
        assert out.shape == (1, *model.image_shape) and torch.equal(out, one), label  # one label -> one image
    assert model.sample([], generator=0).shape == (0, *model.image_shape)


@pytest.mark.parametrize(
    "labels, error, words",
    [
        (1.0, TypeError, "labels must be an int, got float 1.0"),
        (True, TypeError, "labels must be an int, got bool True"),
        ([0, 1.5], TypeError, "got 1.5 in list"),
        ("3", TypeError, "labels must be an int, got str '3'"),
        (torch.zeros(2, 10), TypeError, "integer dtype"),
        ([[0], [1]], TypeError, "got [0] in list"),
        ([0, 10], ValueError, r"labels must lie in [0, 10), got values in [0, 10]"),
        (-1, ValueError, r"got values in [-1, -1]"),
    ],
)
def test_sample_refuses_bad_labels_naming_the_value(labels, error, words):
    with pytest.raises(error) as info:
        tiny("cdcgan").sample(labels, generator=0)
    assert words in str(info.value)


def test_sample_refuses_bad_generators():
    with pytest.raises(TypeError, match="generator must be a torch.Generator, an int seed or None, got float"):
        tiny("cdcvae").sample([0], generator=0.5)


def test_check_sampler_and_model_device_live_beside_the_protocol():
    from learnedaug.mixing import pool
    from learnedaug.models.base import check_sampler, model_device

    assert pool.check_sampler is check_sampler and pool.model_device is model_device  # re-exported for old imports
    model = tiny("classvae")
    check_sampler(model)
    assert model_device(model) == torch.device("cpu") and model_device(object()) == torch.device("cpu")
    with pytest.raises(TypeError, match=r"generator must follow the sampler contract .* got Linear"):
        check_sampler(torch.nn.Linear(2, 2), "generator")


@pytest.mark.parametrize("family", VAES)
def test_vary_accepts_the_same_inputs_as_sample(family):
    model = tiny(family)
    x = model.sample([1, 2], generator=0)
    reference = model.vary(x, torch.tensor([1, 2]), scale=1.0, generator=gen(4))
    assert torch.equal(model.vary(x, np.array([1, 2]), scale=1.0, generator=4), reference)
    assert torch.equal(model.vary(x, labels=[1, 2], generator=4), reference)
    with pytest.raises(TypeError, match=r"labels must be class indices \(ints\), got 1.0"):
        model.vary(x, [1.0, 2.0])
