"""zoo.load is the one loader: a saved model directory, a zoo name, or (reserved) an hf-hub: id, everywhere a model
is named (GenerativeModel.from_pretrained, the deprecated sample.load_model, FID sources, the benchmark, the CLI)."""

from __future__ import annotations

import shutil

import pytest
import torch

from learnedaug import zoo
from learnedaug.cli import main
from learnedaug.metrics.features import SamplerSource, open_source
from learnedaug.bench.runner import _load_model as bench_load_model
from learnedaug.models import CDCGAN, CDCVAE, build_model
from learnedaug.models.base import GenerativeModel

TINY = {"image_shape": (1, 8, 8), "fc_dim": 16, "base_channels": 4, "latent_dim": 4}
DATA = {"dataset": "mnist", "subset": "per-class-5", "seed": 0, "licence": "CC BY-SA 3.0"}


@pytest.fixture
def published(zoo_env, server):
    """A tiny CDCVAE saved (fp16) at zoo_env/saved and published as zoo model 'tiny-cdcvae', served only over HTTP
    (the copy beside the card is removed, so loading the name downloads it)."""
    torch.manual_seed(0)
    saved = build_model("cdcvae", **TINY).save_pretrained(zoo_env / "saved", dtype=torch.float16)
    url = server.url("/zoo/tiny-cdcvae.safetensors")
    card = zoo.make_card(saved, name="tiny-cdcvae", training_data=DATA, recipe="learnedaug train cdcvae ...",
                         metrics={}, urls=[url], zoo_dir=zoo_env / "cards")
    beside = zoo_env / "cards" / "weights" / card.file
    server.add("/zoo/tiny-cdcvae.safetensors", beside.read_bytes())
    shutil.rmtree(beside.parent)
    return saved


def same_samples(a: GenerativeModel, b: GenerativeModel) -> bool:
    labels = torch.arange(4) % a.num_classes
    return torch.equal(a.sample(labels, generator=3), b.sample(labels, generator=3))


def test_a_directory_and_a_zoo_name_load_the_same_model(published, server):
    from_dir = zoo.load(published)
    from_name = zoo.load("tiny-cdcvae", progress=False)
    assert server.gets == {"/zoo/tiny-cdcvae.safetensors": 1}  # the name was resolved through a verified download
    assert isinstance(from_dir, CDCVAE) and isinstance(from_name, CDCVAE)
    assert not from_dir.training and not from_name.training
    assert same_samples(from_dir, from_name)
    assert same_samples(zoo.load(str(published)), from_dir)  # str or Path


def test_from_pretrained_takes_a_zoo_name_and_checks_the_class(published, server):
    by_name = GenerativeModel.from_pretrained("tiny-cdcvae")
    assert isinstance(by_name, CDCVAE) and same_samples(by_name, GenerativeModel.from_pretrained(published))
    assert same_samples(CDCVAE.from_pretrained("tiny-cdcvae"), by_name)
    with pytest.raises(TypeError, match="zoo model 'tiny-cdcvae' is a 'cdcvae' model, not a CDCGAN"):
        CDCGAN.from_pretrained("tiny-cdcvae")
    with pytest.raises(TypeError, match="holds a 'cdcvae' model, not a CDCGAN"):
        CDCGAN.from_pretrained(published)
    assert server.gets == {"/zoo/tiny-cdcvae.safetensors": 1}  # downloaded once, then read from the cache


def test_device_is_honoured_for_both_kinds(published):
    for spec in (published, "tiny-cdcvae"):
        assert zoo.load(spec, device="cpu", progress=False).device == torch.device("cpu")


def test_hf_hub_ids_are_reserved_with_what_to_pass_instead(published):
    for call in (zoo.load, GenerativeModel.from_pretrained, zoo.resolve):
        with pytest.raises(ValueError, match=r"hf-hub ids are not supported yet \(got 'hf-hub:owner/name'\).*"
                                             r"pass its directory.*zoo name"):
            call("hf-hub:owner/name")


def test_an_unknown_spec_names_itself_the_missing_path_and_the_zoo(published, zoo_env):
    missing = zoo_env / "no-such-model"
    for call in (zoo.load, GenerativeModel.from_pretrained):
        with pytest.raises(ValueError, match=r"is neither a model directory nor a zoo name: no file or directory "
                                             r"exists at .*no-such-model.*known models: tiny-cdcvae"):
            call(missing)
    with pytest.raises(ValueError, match="'tiny-cdcvea'.*did you mean tiny-cdcvae"):
        zoo.load("tiny-cdcvea")
    (zoo_env / "weights.safetensors").write_bytes(b"x")
    with pytest.raises(ValueError, match="weights.safetensors is a file, not a model directory"):
        zoo.load(zoo_env / "weights.safetensors")
    with pytest.raises(TypeError, match="spec must be .* got int"):
        zoo.load(3)


def test_path_is_only_for_zoo_names(published, zoo_env):
    with pytest.raises(ValueError, match="path= is only for zoo names"):
        zoo.load(published, path=published / "model.safetensors")


def test_sample_load_model_is_a_deprecated_alias(published):
    from learnedaug.sample import load_model

    with pytest.warns(DeprecationWarning, match="use learnedaug.zoo.load"):
        model = load_model("tiny-cdcvae")
    assert same_samples(model, zoo.load(published))


def test_fid_sources_and_the_benchmark_load_through_the_zoo(published):
    for spec in (published, "tiny-cdcvae"):
        src = open_source(spec, n=6)
        assert isinstance(src, SamplerSource) and isinstance(src.sampler, CDCVAE) and len(src) == 6
        assert isinstance(bench_load_model(spec, "cpu"), CDCVAE)
    with pytest.raises(ValueError, match="known models: tiny-cdcvae"):
        open_source("nothing-here")


def test_cli_sample_takes_a_name_and_refuses_an_unknown_one_in_one_line(published, zoo_env, capsys):
    out = zoo_env / "s.npz"
    assert main(["sample", "tiny-cdcvae", "--out", str(out), "--n", "2"]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert main(["sample", "unknown-model", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("learnedaug sample: error: 'unknown-model' is neither")
    assert main(["sample", "hf-hub:o/n", "--out", str(out)]) == 1
    assert "hf-hub ids are not supported yet" in capsys.readouterr().err
