"""Model cards, the registry and load(): a tiny real model published with make_card round-trips through the zoo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from learnedaug.models import build_model
from learnedaug.models.base import GenerativeModel
from learnedaug.zoo import (
    CardError,
    ChecksumError,
    DownloadError,
    ModelCard,
    cache_dir,
    file_sha256,
    get_card,
    list_models,
    load,
    make_card,
    weights_path,
)

TINY = {"image_shape": (1, 8, 8), "fc_dim": 16, "base_channels": 4, "latent_dim": 4}
DATA = {"dataset": "mnist", "subset": "per-class-5", "seed": 0, "licence": "CC BY-SA 3.0"}
REPO_ZOO = Path(__file__).resolve().parents[2] / "model_zoo"


def publish(family: str, name: str, zoo_env: Path, server, *, inference_only: bool = False):
    """Build a tiny model, save it as fp16, publish it with make_card and serve its weights; return (card, saved dir)."""
    torch.manual_seed(0)
    model = build_model(family, **TINY)
    saved = model.save_pretrained(zoo_env / f"saved-{name}", dtype=torch.float16, inference_only=inference_only)
    card = make_card(
        saved,
        name=name,
        training_data=DATA,
        recipe=f"learnedaug train {family} --data mnist --per-class 5 --seed 0",
        metrics={"fid": 99.5},
        urls=[server.url(f"/zoo/{name}.safetensors")],
        zoo_dir=zoo_env / "cards",
    )
    server.add(f"/zoo/{name}.safetensors", (zoo_env / "cards" / "weights" / card.file).read_bytes())
    return card, saved


@pytest.fixture
def tiny(zoo_env, server):
    return publish("cdcvae", "tiny-cdcvae", zoo_env, server)


def card_dict(**changes) -> dict:
    d = {
        "name": "m", "family": "cdcvae", "config": {}, "training_data": dict(DATA), "recipe": "learnedaug train ...",
        "metrics": {"fid": 1.5}, "file": "m.safetensors", "sha256": "ab" * 32, "size": 10,
        "urls": ["https://example.org/m.safetensors"],
    }
    d.update(changes)
    return d


def same_samples(a: GenerativeModel, b: GenerativeModel) -> bool:
    labels = torch.arange(6) % a.num_classes
    xa = a.sample(labels, generator=torch.Generator().manual_seed(3))
    xb = b.sample(labels, generator=torch.Generator().manual_seed(3))
    return torch.equal(xa, xb)


def test_make_card_writes_weights_and_a_valid_card(tiny, zoo_env):
    card, saved = tiny
    weights = zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors"
    assert card == ModelCard.read(zoo_env / "cards" / "tiny-cdcvae.json")
    assert (card.sha256, card.size) == (file_sha256(weights), weights.stat().st_size)
    assert weights.read_bytes() == (saved / "model.safetensors").read_bytes()
    assert card.family == "cdcvae" and card.config["fc_dim"] == 16


def test_load_uses_weights_beside_the_card_without_network(tiny, server):
    _, saved = tiny
    model = load("tiny-cdcvae", progress=False)
    assert server.gets == {}
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    assert same_samples(model, GenerativeModel.from_pretrained(saved))
    images = torch.rand(4, 1, 8, 8)
    labels = torch.tensor([0, 1, 2, 3])
    out = model.vary(images, labels, scale=0.5, generator=torch.Generator().manual_seed(1))
    assert out.shape == images.shape and 0 <= out.min() and out.max() <= 1


def test_load_downloads_once_into_the_cache(tiny, zoo_env, server):
    _, saved = tiny
    (zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors").unlink()
    model = load("tiny-cdcvae", progress=False)
    assert server.gets == {"/zoo/tiny-cdcvae.safetensors": 1}
    assert weights_path("tiny-cdcvae") == cache_dir() / "models" / "tiny-cdcvae.safetensors"
    assert same_samples(load("tiny-cdcvae", progress=False), model)
    assert same_samples(model, GenerativeModel.from_pretrained(saved))
    assert server.gets == {"/zoo/tiny-cdcvae.safetensors": 1}


def test_explicit_path_comes_first_and_is_verified(tiny, zoo_env, server):
    side = zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors"
    elsewhere = zoo_env / "elsewhere.safetensors"
    shutil.move(side, elsewhere)
    assert weights_path("tiny-cdcvae", path=elsewhere) == elsewhere
    load("tiny-cdcvae", path=elsewhere, progress=False)
    assert server.gets == {}
    elsewhere.write_bytes(elsewhere.read_bytes()[:-1] + b"\0")
    with pytest.raises(ChecksumError, match="SHA-256"):
        load("tiny-cdcvae", path=elsewhere)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load("tiny-cdcvae", path=zoo_env / "nowhere.safetensors")


def test_corrupt_local_copy_is_refused_not_loaded(tiny, zoo_env, server):
    (zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors").write_bytes(b"truncated")
    with pytest.raises(ChecksumError, match="9 bytes"):
        load("tiny-cdcvae")
    assert server.gets == {}


def test_offline_names_the_file_and_where_to_put_it(tiny, zoo_env, server, monkeypatch):
    (zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors").unlink()
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "yes")
    with pytest.raises(DownloadError) as info:
        load("tiny-cdcvae")
    msg = str(info.value)
    assert "tiny-cdcvae.safetensors" in msg and str(zoo_env / "cards" / "weights") in msg
    assert str(cache_dir() / "models") in msg and server.gets == {}


def test_mirror_serves_zoo_downloads(tiny, zoo_env, server, monkeypatch):
    (zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors").unlink()
    server.add("/mirror/tiny-cdcvae.safetensors", server.routes["/zoo/tiny-cdcvae.safetensors"].body)
    monkeypatch.setenv("LEARNEDAUG_MIRROR", server.url("/mirror/"))
    load("tiny-cdcvae", progress=False)
    assert server.gets == {"/mirror/tiny-cdcvae.safetensors": 1}


def test_failed_download_lists_every_url(tiny, zoo_env, server):
    (zoo_env / "cards" / "weights" / "tiny-cdcvae.safetensors").unlink()
    del server.routes["/zoo/tiny-cdcvae.safetensors"]
    with pytest.raises(DownloadError, match=r"tiny-cdcvae.*\n.*HTTP 404"):
        load("tiny-cdcvae", progress=False)


def test_gan_stored_without_discriminator_loads(zoo_env, server):
    _, saved = publish("cdcgan", "tiny-cdcgan", zoo_env, server, inference_only=True)
    model = load("tiny-cdcgan", progress=False)
    assert same_samples(model, GenerativeModel.from_pretrained(saved))


def test_card_family_must_match_the_weights(tiny, zoo_env):
    path = zoo_env / "cards" / "tiny-cdcvae.json"
    d = json.loads(path.read_text())
    d.update(family="cdcgan", config={"image_shape": [1, 8, 8], "fc_dim": 16, "base_channels": 4, "latent_dim": 4})
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="'cdcvae' model but card"):
        load("tiny-cdcvae")
    d.update(config={"image_shape": [1, 8, 8], "widht": 3})
    path.write_text(json.dumps(d))
    with pytest.raises(CardError, match="widht"):
        load("tiny-cdcvae")


def test_unknown_name_suggests_close_matches(tiny):
    with pytest.raises(ValueError, match="did you mean tiny-cdcvae"):
        get_card("tiny-cdcvea")
    with pytest.raises(ValueError, match="known models: tiny-cdcvae"):
        get_card("resnet50")


def test_list_models_filters_by_glob(tiny, zoo_env, server):
    publish("cdcgan", "tiny-cdcgan", zoo_env, server)
    assert list_models() == ["tiny-cdcgan", "tiny-cdcvae"]
    assert list_models("*vae") == ["tiny-cdcvae"]
    assert list_models("nothing*") == []


def test_check_training_data_refuses_other_subsets(tiny):
    card = get_card("tiny-cdcvae")
    card.check_training_data("mnist", "per-class-5", 0)
    with pytest.raises(ValueError, match="subset='all'.*leak"):
        card.check_training_data("mnist", "all", None)
    with pytest.raises(ValueError, match="seed=1"):
        card.check_training_data("mnist", "per-class-5", 1)
    whole = ModelCard.from_dict({**card.to_dict(), "training_data": {**card.to_dict()["training_data"], "subset": "all"}})
    for seed in (None, 0, 3):  # every seed's "all" is the same data
        whole.check_training_data("mnist", "all", seed)
    with pytest.raises(ValueError, match="leak"):
        whole.check_training_data("mnist", "10%", 0)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"recipe": None}, "missing field.*recipe"),
        ({"licence": "x"}, "unknown field.*licence"),
        ({"name": "Bad Name"}, "name must be"),
        ({"sha256": "xyz"}, "sha256 must be 64"),
        ({"size": 0}, "size must be"),
        ({"size": True}, "size must be"),
        ({"file": "../m.safetensors"}, "file must be a plain"),
        ({"file": "m.pt"}, "safetensors"),
        ({"urls": "https://x/m"}, "urls must be a list"),
        ({"urls": ["ftp://x/m"]}, r"urls\[0\]"),
        ({"metrics": {"fid": "low"}}, "metrics"),
        ({"config": [1]}, "config must be"),
        ({"training_data": {**DATA, "subset": "some"}}, "training_data.subset"),
        ({"training_data": {**DATA, "seed": None}}, "seed is required"),
        ({"training_data": {k: v for k, v in DATA.items() if k != "licence"}}, "missing.*licence"),
        ({"training_data": {**DATA, "dataset": ""}}, "training_data.dataset"),
    ],
)
def test_invalid_cards_are_rejected_naming_the_field(changes, match, zoo_env):
    d = {k: v for k, v in card_dict(**changes).items() if v is not None}  # None: leave the field out
    path = zoo_env / "cards" / "m.json"
    path.write_text(json.dumps(d))
    with pytest.raises(CardError, match=match) as info:
        list_models()
    assert str(path) in str(info.value)


def test_card_name_must_match_file_and_json_must_parse(zoo_env):
    (zoo_env / "cards" / "other.json").write_text(json.dumps(card_dict()))
    with pytest.raises(CardError, match="must match the file name"):
        list_models()
    (zoo_env / "cards" / "other.json").write_text("{not json")
    with pytest.raises(CardError, match="other.json: not valid JSON"):
        list_models()


def test_duplicate_names_and_files_across_directories(zoo_env, monkeypatch):
    second = zoo_env / "second"
    second.mkdir()
    ModelCard.from_dict(card_dict()).write(zoo_env / "cards" / "m.json")
    ModelCard.from_dict(card_dict()).write(second / "m.json")
    monkeypatch.setenv("LEARNEDAUG_ZOO_PATH", f"{zoo_env / 'cards'}:{second}")
    with pytest.raises(CardError, match="name 'm' is already used"):
        list_models()
    (second / "m.json").unlink()
    ModelCard.from_dict(card_dict(name="n")).write(second / "n.json")
    with pytest.raises(CardError, match="weights file 'm.safetensors' is already used"):
        list_models()


@given(
    subset=st.one_of(st.just("all"), st.integers(1, 100).map(lambda p: f"{p}%"), st.integers(1, 500).map(lambda k: f"per-class-{k}")),
    seed=st.integers(0, 2**31),
    metrics=st.dictionaries(st.text(min_size=1, max_size=8), st.floats(allow_nan=False, allow_infinity=False), max_size=4),
    size=st.integers(1, 2**40),
)
def test_cards_round_trip_through_json(subset, seed, metrics, size, tmp_path_factory):
    d = card_dict(training_data={**DATA, "subset": subset, "seed": seed}, metrics=metrics, size=size)
    path = tmp_path_factory.mktemp("card") / "m.json"
    card = ModelCard.from_dict(d)
    card.write(path)
    assert ModelCard.read(path) == card and ModelCard.read(path).to_dict() == d


def test_cards_shipped_in_the_repo_are_valid():
    paths = sorted(REPO_ZOO.glob("*.json")) if REPO_ZOO.is_dir() else []
    names = [ModelCard.read(p).name for p in paths]
    files = [ModelCard.read(p).file for p in paths]
    assert len(set(names)) == len(names) and len(set(files)) == len(files)
