"""`learnedaug fid` through learnedaug.cli.main: a set smaller than --n warns in one line, user errors are one line
with exit 1, and an A/B that names nothing fails before any weights are looked for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from learnedaug.cli import main
from learnedaug.metrics import cli as fid_cli
from learnedaug.metrics.features import DomainClassifier, DomainClassifierConfig


@pytest.fixture
def sets(tmp_path, monkeypatch):
    """a.npz: 20 labelled 12x12 images; b.npz: 60 unlabelled ones; clf.safetensors: a domain classifier for them."""
    monkeypatch.setenv("LEARNEDAUG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "1")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (60, 12, 12), generator=g, dtype=torch.uint8)
    np.savez(tmp_path / "a.npz", x=x[:20].numpy(), y=(torch.arange(20) % 3).numpy())
    np.savez(tmp_path / "b.npz", x=x.numpy())
    torch.manual_seed(0)
    weights = DomainClassifier(DomainClassifierConfig((1, 12, 12), 3)).save(tmp_path / "clf.safetensors")
    return tmp_path / "a.npz", tmp_path / "b.npz", weights


def fid(*argv: object) -> list[str]:
    return ["fid", *map(str, argv), "--quiet", "--device", "cpu", "--no-cache"]


def test_n_larger_than_a_set_warns_in_one_line_naming_it(sets, capsys):
    a, b, weights = sets
    assert main(fid(a, b, "--features", "domain", "--domain-weights", weights, "--n", 50, "--json")) == 0
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"learnedaug fid: warning: {a} has 20 images, fewer than n=50")
    assert "equal-size sets" in lines[0] and str(b) not in lines[0]  # B has 60 >= 50: subsampled, no warning
    assert json.loads(out.out)["fid"] >= 0
    assert main(fid(a, b, "--features", "domain", "--domain-weights", weights, "--n", 20)) == 0
    assert capsys.readouterr().err == ""  # equal sizes: nothing to say


def test_domain_features_without_weights_or_labels_is_one_line_exit_1(sets, capsys):
    a, b, _ = sets
    assert main(fid(b, a, "--features", "domain")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("learnedaug fid: error: --features domain needs --domain-weights")


@pytest.mark.parametrize("where", ["A", "B"])
def test_a_missing_path_fails_before_any_weights_are_fetched(sets, capsys, monkeypatch, tmp_path, where):
    def no_weights(*args, **kwargs):
        raise AssertionError("the Inception weights must not be looked for")

    monkeypatch.setattr(fid_cli, "InceptionExtractor", no_weights)
    a, _, _ = sets
    missing = tmp_path / "nonexistent"
    argv = fid(missing, a) if where == "A" else fid(a, missing)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"learnedaug fid: error: {where}: '{missing}' is neither a model directory nor a zoo name")
    assert f"no file or directory exists at {missing}" in err
    assert main(fid(a, "hf-hub:owner/name")) == 1
    assert "B: hf-hub ids are not supported yet" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()  # nothing was downloaded or cached
