"""The models published in the repository's model_zoo/: every card loads from its checked-in, hash-verified fp16
weights and draws class-conditional MNIST digits through the sampler contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from learnedaug import zoo
from learnedaug.zoo import registry
from learnedaug.zoo.cards import ModelCard

REPO_ZOO = Path(registry.__file__).resolve().parents[2] / "model_zoo"
CARDS = sorted(REPO_ZOO.glob("*.json"))
REQUIRED = ("classvae-mnist", "cdcvae-mnist", "cdcgan-mnist", "dvae-mnist")
WEIGHTS_BUDGET = 60 * 2**20  # bytes, all of model_zoo/weights


@pytest.fixture(autouse=True)
def repo_zoo(zoo_env, monkeypatch):
    """The repository's model_zoo/ (which this directory's ``zoo_env`` hides), offline: its models must resolve to
    model_zoo/weights, never to a download."""
    monkeypatch.setattr(registry, "REPO_ZOO", REPO_ZOO)
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "1")


def test_the_zoo_publishes_every_family_within_the_size_budget():
    names = {p.stem for p in CARDS}
    assert set(REQUIRED) <= names
    total = sum(f.stat().st_size for f in (REPO_ZOO / "weights").glob("*.safetensors"))
    assert total < WEIGHTS_BUDGET
    assert {ModelCard.read(p).file for p in CARDS} == {f.name for f in (REPO_ZOO / "weights").glob("*.safetensors")}


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.stem)
def test_published_model_samples_its_classes(card_path):
    card = ModelCard.read(card_path)
    td = card.training_data
    assert (td.dataset, td.licence) == ("mnist", "CC BY-SA 3.0")
    assert (td.seed is None) == (td.subset == "all")  # a subset's seed is named; all of the data has none
    assert {"domain_fid_test_10k", "label_accuracy_10k", "epochs"} <= set(card.metrics)

    path = zoo.weights_path(card.name, progress=False)  # size + SHA-256 against the card
    assert path == REPO_ZOO / "weights" / card.file
    with safe_open(str(path), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} <= {"F16", "I64"}  # stored fp16 (+ BN step counters)
        assert not any(k.startswith("discriminator.") for k in f.keys())  # inference-only

    model = zoo.load(card.name, progress=False)
    assert model.family == card.family and model.training is False
    assert next(model.parameters()).dtype == torch.float32
    k = model.num_classes
    labels = torch.arange(k).repeat(4)  # balanced: 4 of every class
    out = model.sample(labels, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4 * k, *model.image_shape) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    again = model.sample(labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)

    # Same noise, other labels: the images change (the labels condition the model).
    shifted = model.sample((labels + 1) % k, generator=torch.Generator().manual_seed(0))
    assert (out - shifted).abs().mean() > 0.05
    # VAEs also vary images (here their own samples) through the Encoder contract, keeping shape and range.
    if hasattr(model, "vary"):
        varied = model.vary(out, labels, generator=torch.Generator().manual_seed(1))
        assert varied.shape == out.shape and varied.min() >= 0 and varied.max() <= 1
    # The samples look like digits, not noise: mostly dark background with some ink.
    ink = out.mean(dim=(1, 2, 3))
    assert ((ink > 0.03) & (ink < 0.4)).all()
