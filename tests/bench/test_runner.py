"""learnedaug.bench: the bench runner end to end on a tiny synthetic dataset (resume, table, PNG)."""

import argparse
import json

import numpy as np
import pytest
import torch

from learnedaug.data import balanced_subset, load_dataset
from learnedaug.bench import BenchConfig, GeneratorSpec, card_subset, run_protocol, summarize, train_cell_generator
from learnedaug.bench import runner as protocol
from learnedaug.bench.cli import add_arguments, run

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
                         seeds=(0, 1), models={"STUB": stub}, allow_foreign_models=True, **FAST)
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


def test_epoch_size_repeats_the_subset_and_scales_additions(tmp_path, monkeypatch):
    """epoch_size=40 on a 17-image training part: 3 showings per epoch; AUGORIG 6; synthetic 3 * 17 per epoch."""
    data = _write_bars(tmp_path)
    calls = []
    real = protocol.train_classifier

    def spy(*args, **kwargs):
        extra = kwargs["extra_dataset"]
        calls.append((kwargs["repeats"], None if extra is None else len(extra)))
        return real(*args, **kwargs)

    monkeypatch.setattr(protocol, "train_classifier", spy)
    config = BenchConfig(str(data), methods=("ORIG", "AUGORIG", "BLUR", "STUB"), sizes=(20,), models={"STUB": Stub()},
                         allow_foreign_models=True, epoch_size=40, **FAST)
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert records[0]["n_train"] == 17
    assert calls == [(3, None), (6, None), (3, 51), (3, 51)]
    assert records[0]["setup"]["epoch_size"] == 40
    assert "epoch_size" not in BenchConfig(str(data), **FAST).setup()  # old results files still match
    with pytest.raises(ValueError, match="epoch_size"):
        BenchConfig("mnist", epoch_size=0)


class VaryStub(Stub):
    """A VAE-like stub: ``vary`` inverts the image (a visible, label-keeping change) and counts the images."""

    def __init__(self):
        super().__init__()
        self.varied = 0

    def vary(self, images, labels, *, scale=1.0, generator=None):
        self.varied += images.shape[0]
        return 1 - images


def test_vary_methods_replace_a_share_of_each_batch(tmp_path, monkeypatch):
    data = _write_bars(tmp_path)
    stub = VaryStub()
    batches = []
    real = protocol.train_classifier

    def spy(*args, **kwargs):
        augment, extra = kwargs["augment"], kwargs["extra_dataset"]
        assert extra is None  # variations replace, they do not add
        x = torch.rand(200, 1, 12, 12)
        y = torch.arange(200) % 2
        out, labels = augment(x, y)
        batches.append(((out - x).abs().flatten(1).amax(1) > 0).float().mean().item())
        assert torch.equal(labels, y)
        return real(*args, **kwargs)

    monkeypatch.setattr(protocol, "train_classifier", spy)
    config = BenchConfig(str(data), methods=("VARY(V)", "ROT+VARY(V)"), sizes=(20,), models={"V": stub},
                         allow_foreign_models=True, vary_p=0.5, **FAST)
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert [r["method"] for r in records] == ["VARY(V)", "ROT+VARY(V)"]
    assert 0.35 < batches[0] < 0.65  # about half of the batch was varied
    assert batches[1] > 0.9  # and ROT then moves (nearly) every image
    assert stub.varied > 0 and stub.calls == 0  # no samples were drawn
    assert records[0]["setup"]["vary_p"] == 0.5
    for bad in ("VARY(X)", "VARY(V)+VARY(V)", "VARY(ROT)"):
        with pytest.raises(ValueError, match="VARY"):
            BenchConfig("mnist", methods=(bad,), models={"V": stub}, allow_foreign_models=True)
    with pytest.raises(ValueError, match="vary_p"):
        BenchConfig("mnist", methods=("VARY(V)",), models={"V": stub}, allow_foreign_models=True, vary_p=0)
    with pytest.raises(ValueError, match="brackets"):
        BenchConfig("mnist", methods=("ORIG",), models={"A(B)": stub}, allow_foreign_models=True)


class HalfWrong(Stub):
    """Bar images like ``_write_bars``'s, but every second one shows the other class's bar."""

    def sample(self, labels, *, generator=None):
        self.calls += 1
        n = labels.shape[0]
        x = torch.rand(n, 1, 12, 12, generator=generator) * 0.4
        shown = torch.where(torch.arange(n) % 2 == 0, labels, 1 - labels)
        x[shown == 0, :, :6] += 0.6
        x[shown == 1, :, 6:] += 0.6
        return x


def test_curate_methods_filter_samples_through_the_cells_baseline_classifier(tmp_path, monkeypatch):
    data = _write_bars(tmp_path)
    trained = []
    real = protocol.train_classifier
    monkeypatch.setattr(protocol, "train_classifier", lambda *a, **kw: trained.append(kw["extra_dataset"]) or real(*a, **kw))
    config = BenchConfig(str(data), methods=("ORIG", "CURATE(S)", "ROT+CURATE(S)"), sizes=(40,), models={"S": HalfWrong()},
                         allow_foreign_models=True, curate_threshold=0.6, **{**FAST, "epochs": 15, "width": 0.25})
    records = {r["method"]: r for r in run_protocol(config, tmp_path / "out", progress=False)}
    # ORIG's classifier judges CURATE(S) (not retrained); ROT+CURATE(S) needs ROT's, trained once for it
    kinds = [type(t).__name__ for t in trained]
    assert kinds == ["NoneType", "SyntheticDataset", "ConcatDataset", "SyntheticDataset"]  # ORIG, CURATE, ROT, ROT+CURATE
    for method in ("CURATE(S)", "ROT+CURATE(S)"):
        rates = records[method]["acceptance_rate"]
        assert len(rates) == 2 and all(0.3 < r < 0.7 for r in rates)  # the wrong half is refused
        assert records[method]["setup"]["curate_threshold"] == 0.6
    assert "acceptance_rate" not in records["ORIG"] and "ROT" not in records  # the judge is not a result
    for bad in ("CURATE(X)", "CURATE(S)+VARY(S)"):
        with pytest.raises(ValueError, match="CURATE"):
            BenchConfig("mnist", methods=(bad,), models={"S": HalfWrong()}, allow_foreign_models=True)
    with pytest.raises(ValueError, match="curate_threshold"):
        BenchConfig("mnist", methods=("CURATE(S)",), models={"S": HalfWrong()}, allow_foreign_models=True,
                    curate_threshold=1.5)


def test_synthetic_weight_reaches_the_classifier_of_learned_methods_only(tmp_path, monkeypatch):
    data = _write_bars(tmp_path)
    weights = {}
    real = protocol.train_classifier

    def spy(*args, **kw):
        weights[len(weights)] = kw["extra_weight"]
        return real(*args, **kw)

    monkeypatch.setattr(protocol, "train_classifier", spy)
    config = BenchConfig(str(data), methods=("AUGORIG", "S", "ROT+S"), sizes=(20,), models={"S": Stub()},
                         allow_foreign_models=True, synthetic_weight=0.25, **FAST)
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert list(weights.values()) == [1.0, 0.25, 0.25]  # AUGORIG's copies are real images
    assert records[0]["setup"]["synthetic_weight"] == 0.25
    assert "synthetic_weight" not in BenchConfig(str(data), methods=("S",), models={"S": Stub()},
                                                 allow_foreign_models=True, **FAST).setup()
    with pytest.raises(ValueError, match="synthetic_weight"):
        BenchConfig(str(data), methods=("ORIG",), synthetic_weight=-1, **FAST)


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
    with pytest.raises(SystemExit, match="allow_foreign_models"):
        run(parser.parse_args(["mnist", "--out", str(tmp_path), "--model", f"X={tmp_path}", "--methods", "X"]))
    with pytest.raises(ValueError, match="allow_foreign_models"):
        BenchConfig("mnist", methods=("X",), models={"X": Stub()})
    with pytest.raises(ValueError, match="both as models and as generators"):
        BenchConfig("mnist", methods=("X",), models={"X": Stub()}, generators={"X": "classvae"},
                    allow_foreign_models=True)
    with pytest.raises(ValueError, match="'ROT'"):
        BenchConfig("mnist", methods=("ORIG",), generators={"ROT": "classvae"})
    with pytest.raises(ValueError, match="synthetic_ratio"):
        BenchConfig("mnist", synthetic_ratio=0)


def test_without_validation_every_image_trains_for_the_whole_budget(tmp_path, monkeypatch):
    data = _write_bars(tmp_path)
    fits = []
    real_fit = protocol.fit
    monkeypatch.setattr(protocol, "fit", lambda *a, **kw: fits.append(kw) or real_fit(*a, **kw))
    config = BenchConfig(str(data), methods=("ORIG", "G"), sizes=(20,), val_fraction=0, schedule="cosine",
                         generators={"G": "classvae:latent_dim=2,filters=4,fc_dim=8,epochs=1,patience=none"},
                         **{**FAST, "epochs": 3})
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert [(r["n_train"], r["n_val"], r["best_epoch"], r["epochs_run"]) for r in records] == [(20, 0, 2, 3)] * 2
    assert records[0]["setup"]["schedule"] == "cosine" and records[0]["setup"]["val_fraction"] == 0
    assert [(kw["val_fraction"], kw["patience"]) for kw in fits] == [(0, None)]  # the generator sees all 20 too
    with pytest.raises(ValueError, match="nothing to stop early on.*'patience': 10"):
        BenchConfig("mnist", val_fraction=0, patience=10)
    with pytest.raises(ValueError, match="generator G patience"):
        BenchConfig("mnist", methods=("G",), val_fraction=0, patience=None, generators={"G": "classvae"})
    with pytest.raises(ValueError, match="val_fraction must be in"):
        BenchConfig("mnist", val_fraction=1.0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        BenchConfig("mnist", schedule="step")


def test_cli_end_to_end(tmp_path, capsys):
    data = _write_bars(tmp_path)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(data), "--out", str(tmp_path / "o"), "--methods", "ORIG,SHIFT-ROT", "--online",
                              "--sizes", "30", "--epochs", "1", "--width", "0.125", "--batch-size", "16"])
    assert run(args) == 0
    assert "Test accuracy" in capsys.readouterr().out
    assert len((tmp_path / "o" / "results.jsonl").read_text().splitlines()) == 2
    budget = parser.parse_args([str(data), "--out", str(tmp_path / "b"), "--methods", "ORIG", "--sizes", "30",
                                "--epochs", "2", "--width", "0.125", "--val-fraction", "0", "--patience", "none",
                                "--schedule", "cosine"])
    assert (budget.patience, budget.val_fraction, budget.schedule) == (None, 0.0, "cosine")
    tuned = parser.parse_args([str(data), "--out", str(tmp_path / "t"), "--tune-scales", "0,0.25", "--tune-folds", "2",
                               "--tune-thresholds", "0,0.8"])
    assert (tuned.tune_scales, tuned.tune_thresholds, tuned.tune_folds) == ((0.0, 0.25), (0.0, 0.8), 2)
    assert run(budget) == 0
    (record,) = [json.loads(line) for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    assert (record["n_train"], record["n_val"], record["epochs_run"]) == (30, 0, 2)
    with pytest.raises(SystemExit, match="nothing to stop early on"):  # the default patience 10 needs validation
        run(parser.parse_args([str(data), "--out", str(tmp_path / "c"), "--val-fraction", "0"]))


def test_summarize_marks_missing_cells():
    recs = [{"method": "A", "subset": 50, "seed": 0, "accuracy": 0.5, "macro_f1": 0.5},
            {"method": "B", "subset": 100, "seed": 0, "accuracy": 0.7, "macro_f1": 0.6}]
    md = summarize(recs)
    assert "| A | 50.00 | – |" in md and "Paired" not in md


def test_summarize_tests_methods_run_everywhere_on_all_pairs_and_all_methods_on_the_common_pairs():
    gains = {(50, 0): 0.05, (50, 1): 0.03, (100, 0): 0.04, (100, 1): 0.02, (200, 0): 0.01, (200, 1): 0.06}
    recs = [{"method": m, "subset": s, "seed": seed, "accuracy": 0.0, "macro_f1": 0.5 + gain * k}
            for (s, seed), gain in gains.items() for m, k in (("A", 0), ("B", 1))]
    recs += [{"method": "C", "subset": 50, "seed": seed, "accuracy": 0.0, "macro_f1": 0.6} for seed in (0, 1)]
    md = summarize(recs)
    everywhere, common = md.split("## Paired tests")[1:]
    # A vs B over all 6 pairs (all positive: exact two-sided p = 2 / 2**6), C only where it ran (2 pairs)
    assert "over every (subset, seed)" in everywhere and "| C |" not in everywhere
    assert "n = 6 paired scores" in everywhere and "p=0.0312" in everywhere
    assert "| C |" in common and "n = 2 paired scores" in common
    # the means the common-pair tests compare: (50, 0) and (50, 1) only - A 50.00, B 54.00 ± 1.41, C 60.00
    assert "| A | 50.00 ± 0.00 |" in common and "| B | 54.00 ± 1.41 |" in common and "| C | 60.00 ± 0.00 |" in common


TINY_VAE = "classvae:latent_dim=2,fc_dim=8,filters=4,epochs=2,batch_size=16"


class FitSpy:
    """Wraps protocol.fit, recording what every generator was trained on."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.fit = protocol.fit
        monkeypatch.setattr(protocol, "fit", self)

    def __call__(self, model, dataset, **kwargs):
        self.calls.append({"images": dataset.images.clone(), "labels": dataset.labels.clone(), **kwargs})
        return self.fit(model, dataset, **kwargs)


def test_each_cell_trains_its_own_generator_on_its_subset_only_and_resume_reuses_it(tmp_path, monkeypatch):
    data = _write_bars(tmp_path)
    spy = FitSpy(monkeypatch)
    config = BenchConfig(str(data), methods=("VAE",), sizes=(20, 40), seeds=(0, 1),
                         generators={"VAE": TINY_VAE}, **FAST)
    records = run_protocol(config, tmp_path / "out", progress=False)
    assert len(records) == 4 and len(spy.calls) == 4
    train = load_dataset(str(data), "train")
    for call, (seed, size) in zip(spy.calls, [(0, 20), (0, 40), (1, 20), (1, 40)]):
        cell = train.subset(balanced_subset(train.labels, size, seed=seed))
        # exactly the cell's images; fit's split (same function, fraction and seed) is the classifier's 85/15 split
        assert torch.equal(call["images"], cell.images) and torch.equal(call["labels"], cell.labels)
        assert call["seed"] == seed and call["val_fraction"] == config.val_fraction
        assert call["out_dir"] == tmp_path / "out" / "generators" / "VAE" / f"seed{seed}-size{size}"
        meta = json.loads((call["out_dir"] / "cell.json").read_text())
        assert meta["n_images"] == size and meta["seed"] == seed and meta["spec"]["config"]["latent_dim"] == 2
        assert (call["out_dir"] / "model" / "config.json").is_file()
    # resume with an extra method that needs the generators: loaded from disk, never retrained
    more = BenchConfig(str(data), methods=("VAE", "SHIFT-ROT+VAE"), sizes=(20, 40), seeds=(0, 1),
                       generators={"VAE": TINY_VAE}, **FAST)
    again = run_protocol(more, tmp_path / "out", progress=False)
    assert len(again) == 8 and again[:4] == records and len(spy.calls) == 4
    # another generator spec is another setup
    other = BenchConfig(str(data), methods=("VAE",), sizes=(20,), generators={"VAE": TINY_VAE + ",latent_dim=3"},
                        **FAST)
    with pytest.raises(ValueError, match="another setup"):
        run_protocol(other, tmp_path / "out", progress=False)


def test_cell_generator_dir_refuses_other_data_and_resumes(tmp_path, monkeypatch):
    train = load_dataset(str(_write_bars(tmp_path)), "train")
    spec = GeneratorSpec.parse(TINY_VAE)
    a, b = (train.subset(balanced_subset(train.labels, 20, seed=s)) for s in (0, 1))
    first = train_cell_generator(spec, a, tmp_path / "g", seed=0, progress=False)
    spy = FitSpy(monkeypatch)
    again = train_cell_generator(spec, a, tmp_path / "g", seed=0, progress=False)
    assert not spy.calls and not again.training
    assert all(torch.equal(x, y) for x, y in zip(first.state_dict().values(), again.state_dict().values()))
    labels = torch.tensor([0, 1, 0, 1])
    assert torch.equal(again.sample(labels, generator=torch.Generator().manual_seed(0)),
                       first.sample(labels, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="other data or settings"):
        train_cell_generator(spec, b, tmp_path / "g", seed=0, progress=False)
    with pytest.raises(ValueError, match="other data or settings"):
        train_cell_generator(spec, a, tmp_path / "g", seed=1, progress=False)


def test_generator_spec_parsing_and_early_errors(tmp_path):
    spec = GeneratorSpec.parse("classvae:latent_dim=3,epochs=200,lr=1e-3,patience=none,batch_size=64")
    assert spec.config == {"latent_dim": 3} and spec.objective == {"lr": 1e-3}
    assert (spec.epochs, spec.batch_size, spec.patience) == (200, 64, None)
    assert GeneratorSpec.parse("classvae") == GeneratorSpec("classvae")
    with pytest.raises(ValueError, match="unknown model family 'nope'"):
        GeneratorSpec.parse("nope:epochs=3")
    with pytest.raises(ValueError, match="key=value"):
        GeneratorSpec.parse("classvae:latent_dim")
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        GeneratorSpec.parse("classvae:epochs=0")
    with pytest.raises(ValueError, match=r"config field\(s\) \['depth'\]"):
        GeneratorSpec("classvae", {"depth": 3})
    data = _write_bars(tmp_path)
    bad = BenchConfig(str(data), methods=("VAE",), sizes=(20,), generators={"VAE": TINY_VAE + ",momentum=0.9"}, **FAST)
    with pytest.raises(ValueError, match="momentum"):
        run_protocol(bad, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_card_subset_names():
    assert card_subset(50, 10) == "per-class-5" and card_subset(55, 10) is None
    assert card_subset(0.1, 10) == "10%" and card_subset(0.005, 10) == "0.5%" and card_subset(1.0, 10) == "all"


def test_zoo_model_only_in_the_cell_its_card_names(tmp_path, monkeypatch):
    from learnedaug.zoo import make_card

    data = _write_bars(tmp_path)
    spec = GeneratorSpec.parse(TINY_VAE)
    spec.build(2, (1, 12, 12), 0).save_pretrained(tmp_path / "saved")
    zoo = tmp_path / "zoo"
    make_card(tmp_path / "saved", name="bars-per-class-10", recipe="test", metrics={}, urls=[], zoo_dir=zoo,
              training_data={"dataset": str(data), "subset": "per-class-10", "seed": 0, "licence": "none"})
    monkeypatch.setenv("LEARNEDAUG_ZOO_PATH", str(zoo))
    ok = BenchConfig(str(data), methods=("ORIG", "Z"), sizes=(20,), seeds=(0,), models={"Z": "bars-per-class-10"},
                     **FAST)
    assert len(run_protocol(ok, tmp_path / "ok", progress=False)) == 2
    for sizes, seeds, match in (((20,), (1,), "seed=1.*would leak"), ((40,), (0,), "per-class-20.*would leak"),
                                ((21,), (0,), "not a multiple of 2"), ((20, 40), (0,), "seed0-size40")):
        bad = BenchConfig(str(data), methods=("Z",), sizes=sizes, seeds=seeds, models={"Z": "bars-per-class-10"},
                          **FAST)
        with pytest.raises(ValueError, match=match):
            run_protocol(bad, tmp_path / "bad", progress=False)
        assert not (tmp_path / "bad").exists()
