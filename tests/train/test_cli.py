"""``learnedaug train``: data selection, subsets, config flags, resume, errors; on tiny .npz files written here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from learnedaug._io import disk_bytes, umask
from learnedaug.cli import main
from learnedaug.data import DEFAULT_FRACTIONS, nested_subsets
from learnedaug.models import read_config
from learnedaug.train import load_checkpoint

SMALL = ["--set", "fc_dim=16", "--set", "base_channels=4", "--no-progress"]


def write_npz(path, n=30, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % num_classes
    x = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for i, c in enumerate(y):
        x[i, 4 + 8 * c: 8 + 8 * c] = 250
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, y=y)
    return path


@pytest.fixture
def fit_kwargs(monkeypatch) -> dict:
    """Stand-in for ``fit``: records its keyword arguments, then fails like a bad run (exit status 2)."""
    seen: dict = {}

    def fake_fit(model, dataset, **kw):
        seen.update(kw, model=model, dataset=dataset)
        raise ValueError("stop here")

    monkeypatch.setattr("learnedaug.train.loop.fit", fake_fit)
    return seen


def train(*args: str) -> int:
    return main(["train", *args])


def test_trains_npz_and_reports_paths(tmp_path, capsys):
    data = write_npz(tmp_path / "digits.npz")
    out = tmp_path / "out"
    assert train("cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "8", "--out", str(out),
                 "--latent-dim", "3", *SMALL) == 0
    printed = capsys.readouterr().out
    assert "30 images (1, 28, 28) of 3 classes" in printed
    for path in (out / "model", out / "checkpoint.safetensors", out / "samples", out / "loss.png"):
        assert str(path) in printed and path.exists()
    family, config = read_config(out / "model")
    assert family == "cdcvae" and config["latent_dim"] == 3 and config["fc_dim"] == 16
    # Resume continues to epoch 2; a second plain run refuses to overwrite.
    assert train("cdcvae", "--data", str(data), "--epochs", "2", "--batch-size", "8", "--out", str(out),
                 "--latent-dim", "3", "--resume", *SMALL) == 0
    assert load_checkpoint(out / "checkpoint.safetensors")[1]["epoch"] == 2
    capsys.readouterr()
    assert train("cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "8", "--out", str(out), *SMALL) == 2
    assert "resume" in capsys.readouterr().err


@pytest.mark.parametrize("flags, size", [(["--per-class", "2"], 6), (["--subset", "50%"], 15), (["--subset", "0.2"], 6)])
def test_subsets(tmp_path, flags, size):
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "out"
    assert train("cdcgan", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--out", str(out),
                 "--sample-every", "0", *flags, *SMALL) == 0
    assert load_checkpoint(out / "checkpoint.safetensors")[1]["dataset_size"] == size


def test_subset_is_the_benchmark_nested_subset(tmp_path, fit_kwargs):
    """--subset 20% trains on the 20% member of the standard nested series for the seed."""
    data = write_npz(tmp_path / "d.npz", n=60)
    assert train("cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "o"),
                 "--subset", "20%", "--seed", "4", *SMALL) == 2
    with np.load(data) as z:
        x, y = torch.from_numpy(z["x"]), torch.from_numpy(z["y"])
    idx = nested_subsets(y, DEFAULT_FRACTIONS, seed=4)[0.2]
    assert torch.equal(fit_kwargs["dataset"].images[:, 0], x[idx])


def test_named_dataset_from_env_and_shared_default(tmp_path, monkeypatch, capsys):
    write_npz(tmp_path / "env" / "mnist" / "train.npz", n=12)
    write_npz(tmp_path / "shared" / "data" / "mnist" / "train.npz", n=9)
    monkeypatch.chdir(tmp_path / "env")  # ../shared/data from here is tmp_path/shared/data
    args = ["cdcvae", "--data", "mnist", "--epochs", "1", "--batch-size", "4", "--sample-every", "0", *SMALL]
    monkeypatch.setenv("LEARNEDAUG_DATA", str(tmp_path / "env"))
    assert train(*args, "--out", str(tmp_path / "a")) == 0
    assert "12 images" in capsys.readouterr().out
    monkeypatch.delenv("LEARNEDAUG_DATA")
    assert train(*args, "--out", str(tmp_path / "b")) == 0
    assert "9 images" in capsys.readouterr().out


def test_unknown_model_lists_known(capsys):
    with pytest.raises(SystemExit) as exc:
        train("vqgan", "--data", "x.npz", "--epochs", "1", "--batch-size", "1", "--out", "o")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'vqgan'" in err and all(name in err for name in ("cdcvae", "cdcgan", "classvae", "dvae"))


@pytest.mark.parametrize("flags, message", [
    (["--set", "nope=3"], "unknown CDCVAEConfig field"),
    (["--data", "missing.npz"], "missing.npz"),
    (["--per-class", "50"], "class 0 has 10 images but the subset needs 50"),
])
def test_errors_are_reported(tmp_path, capsys, flags, message):
    data = write_npz(tmp_path / "d.npz")
    args = ["cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "o"), *SMALL]
    assert train(*args, *flags) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [(["--subset", "0%"], "--subset"), (["--epochs", "0"], "positive"),
                                            (["--set", "oops"], "KEY=VALUE")])
def test_bad_flags_rejected_by_parser(tmp_path, capsys, flags, message):
    args = ["cdcvae", "--data", "d.npz", "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit):
        train(*args, *flags)
    assert message in capsys.readouterr().err


def test_history_written(tmp_path):
    data = write_npz(tmp_path / "d.npz")
    out = tmp_path / "out"
    assert train("classvae", "--data", str(data), "--epochs", "2", "--batch-size", "8", "--out", str(out),
                 "--set", "filters=4", "--set", "fc_dim=8", "--sample-every", "0", "--no-progress") == 0
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2] and all("val_loss" in row for row in history)


def test_init_fine_tunes_a_saved_model(tmp_path, capsys):
    """--init starts from the pretrained weights (epoch-0 state == the saved model) and refuses misfits."""
    from learnedaug.models import GenerativeModel

    data = write_npz(tmp_path / "d.npz")
    base = tmp_path / "base"
    assert train("cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "8", "--out", str(base),
                 "--sample-every", "0", "--seed", "5", *SMALL) == 0
    pretrained = GenerativeModel.from_pretrained(base / "model")
    tuned = tmp_path / "tuned"
    assert train("cdcvae", "--data", str(data), "--per-class", "2", "--epochs", "1", "--batch-size", "6",
                 "--out", str(tuned), "--init", str(base / "model"), "--sample-every", "0", "--no-progress") == 0
    after = GenerativeModel.from_pretrained(tuned / "model")
    assert after.config == pretrained.config
    assert train("cdcvae", "--data", str(data), "--per-class", "2", "--epochs", "1", "--batch-size", "6",
                 "--out", str(tmp_path / "scratch"), "--sample-every", "0", *SMALL) == 0
    scratch = GenerativeModel.from_pretrained(tmp_path / "scratch" / "model")

    def distance(model):
        return sum(float((v.float() - model.state_dict()[k].float()).pow(2).sum())
                   for k, v in pretrained.state_dict().items() if v.is_floating_point())

    # one epoch of fine-tuning moves the weights, but far less than another initialisation is away
    assert 0 < distance(after) < distance(scratch) / 10
    capsys.readouterr()
    assert train("cdcgan", "--data", str(data), "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "x"),
                 "--init", str(base / "model"), "--no-progress") == 2
    assert "is a 'cdcvae' model, not 'cdcgan'" in capsys.readouterr().err
    assert train("cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "y"),
                 "--init", str(base / "model"), "--set", "fc_dim=8", "--no-progress") == 2
    assert "drop --set" in capsys.readouterr().err


def test_defaults_and_disk_options_reach_fit(tmp_path, fit_kwargs):
    """Without --epochs/--batch-size fit gets None (the family recipe fills them); the disk flags map one to one."""
    data = write_npz(tmp_path / "d.npz", n=12)
    seen = fit_kwargs
    assert train("classvae", "--data", str(data), "--out", str(tmp_path / "o"), "--no-progress") == 2
    assert seen["epochs"] is None and seen["batch_size"] is None
    assert seen["keep_checkpoint"] and seen["optimizer_state"] and seen["export_dtype"] is None
    assert train("classvae", "--data", str(data), "--out", str(tmp_path / "o"), "--no-progress",
                 "--no-checkpoint", "--no-optimizer-state", "--fp16") == 2
    assert not seen["keep_checkpoint"] and not seen["optimizer_state"] and seen["export_dtype"] == torch.float16


def test_help_shows_family_defaults(capsys):
    with pytest.raises(SystemExit):
        train("--help")
    out = " ".join(capsys.readouterr().out.split())
    assert "classvae 8" in out and "cdcvae 500" in out and "classvae 0.15" in out and "--no-optimizer-state" in out


def test_lean_run_prints_sizes_and_keeps_less(tmp_path, capsys):
    data = write_npz(tmp_path / "d.npz", n=12)
    args = ["cdcvae", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--sample-every", "0", *SMALL]
    assert train(*args, "--out", str(tmp_path / "full")) == 0
    full = capsys.readouterr().out
    assert "run folder:" in full and "MB in all" in full and "checkpoint:" in full
    assert train(*args, "--out", str(tmp_path / "lean"), "--no-checkpoint", "--fp16") == 0
    lean = capsys.readouterr().out
    assert "checkpoint:" not in lean and not (tmp_path / "lean" / "checkpoint.safetensors").exists()
    assert disk_bytes(tmp_path / "lean") < disk_bytes(tmp_path / "full") / 2
    mode = (tmp_path / "lean" / "model" / "model.safetensors").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask()  # ordinary permissions, not safetensors' 0600


def test_diffaugment_option_reaches_the_gan_objective(tmp_path, fit_kwargs):
    data = write_npz(tmp_path / "d.npz", n=12)
    seen = fit_kwargs
    args = ["--data", str(data), "--out", str(tmp_path / "o"), "--no-progress"]
    assert train("cdcgan", *args, "--diffaugment", "translation") == 2
    assert seen["objective"].policy == "translation"
    assert train("cdcgan", *args, "--diffaugment", "none") == 2
    assert seen["objective"].policy == ""
    assert train("cdcgan", *args) == 2 and seen["objective"] is None  # fit builds the default: none
    assert train("cdcvae", *args, "--diffaugment", "translation") == 2  # one-line error: GANs only
