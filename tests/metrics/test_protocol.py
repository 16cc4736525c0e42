"""learnedaug.metrics.protocol: the bench runner end to end on a tiny synthetic dataset (resume, table, PNG)."""

import argparse
import json

import numpy as np
import pytest
import torch

from learnedaug.metrics.protocol import BenchConfig, add_arguments, run, run_protocol, summarize

FAST = dict(classifier="cnn", width=0.125, epochs=1, batch_size=16, patience=None)


def _write_bars(root, n_train=120, n_test=40, size=12):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.4, (n, size, size))
        x[y == 0, : size // 2] += 0.6
        x[y == 1, size // 2:] += 0.6
        np.savez(root / f"{split}.npz", x=(x * 255).round().astype(np.uint8), y=y.astype(np.int64))
    return root


class Stub:
    """A sampler drawing noise images of the right shape (the contract only)."""

    num_classes = 2
    image_shape = (1, 12, 12)

    def __init__(self):
        self.calls = 0

    def sample(self, labels, *, generator=None):
        self.calls += 1
        return torch.rand(labels.shape[0], *self.image_shape, generator=generator)


def test_runs_resumes_and_reports(tmp_path):
    data = _write_bars(tmp_path)
    stub = Stub()
    config = BenchConfig(str(data), methods=("ORIG", "AUGORIG", "ROT", "STUB", "SHIFT-ROT+STUB"), sizes=(20, 40),
                         seeds=(0, 1), models={"STUB": stub}, **FAST)
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert len(records) == 2 * 2 * 5
    first = records[0]
    assert first["n_train"] + first["n_val"] == 20 and first["n_val"] == 3 and first["n_test"] == 40
    assert {r["method"] for r in records} == set(config.methods)
    assert stub.calls > 0
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["accuracy"] for line in lines] == [r["accuracy"] for r in records]
    # resume: nothing is retrained, the same records come back
    again = run_protocol(config, tmp_path / "out", progress=False)
    assert again == records
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| ORIG |" in table and "Paired tests" in table and "| 20 | 40 |" in table
    png = (tmp_path / "out" / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    other = BenchConfig(str(data), methods=("ORIG",), sizes=(20,), **{**FAST, "epochs": 2})
    with pytest.raises(ValueError, match="another setup"):
        run_protocol(other, tmp_path / "out", progress=False)


def test_same_seed_same_numbers_and_fractions(tmp_path):
    data = _write_bars(tmp_path)
    config = BenchConfig(str(data), methods=("ORIG", "BLUR"), fractions=(0.5, 1.0), **FAST)
    a = run_protocol(config, tmp_path / "a", progress=False)
    b = run_protocol(config, tmp_path / "b", progress=False)
    assert [r["accuracy"] for r in a] == [r["accuracy"] for r in b]
    assert [r["n_train"] + r["n_val"] for r in a] == [60, 60, 120, 120]


def test_config_and_cli_errors(tmp_path):
    with pytest.raises(ValueError, match="method 'VAE'"):
        BenchConfig("mnist", methods=("VAE",))
    with pytest.raises(ValueError, match="method 'ROT\\+BLUR'"):
        BenchConfig("mnist", methods=("ROT+BLUR",))
    with pytest.raises(ValueError, match="not both"):
        BenchConfig("mnist", sizes=(50,), fractions=(0.1,))
    with pytest.raises(ValueError, match="classifier"):
        BenchConfig("mnist", classifier="resnet")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit, match="NAME=SPEC"):
        run(parser.parse_args(["mnist", "--out", str(tmp_path), "--model", "oops"]))


def test_cli_end_to_end(tmp_path, capsys):
    data = _write_bars(tmp_path)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(data), "--out", str(tmp_path / "o"), "--methods", "ORIG,SHIFT-ROT", "--online",
                              "--sizes", "30", "--epochs", "1", "--width", "0.125", "--batch-size", "16"])
    assert run(args) == 0
    assert "Test accuracy" in capsys.readouterr().out
    assert len((tmp_path / "o" / "results.jsonl").read_text().splitlines()) == 2


def test_summarize_marks_missing_cells():
    recs = [{"method": "A", "subset": 50, "seed": 0, "accuracy": 0.5, "macro_f1": 0.5},
            {"method": "B", "subset": 100, "seed": 0, "accuracy": 0.7, "macro_f1": 0.6}]
    md = summarize(recs)
    assert "| A | 50.00 | – |" in md and "Paired" not in md
