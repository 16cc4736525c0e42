"""learnedaug.bench.tune: the one-standard-error rule (closed forms), ratio and variation-scale choice by k-fold
cross-validation or on a validation split, and the bench's TUNE methods."""

import json

import numpy as np
import pytest
import torch

from sklearn.metrics import f1_score

from learnedaug.bench import BenchConfig, run_protocol, runner, tune
from learnedaug.bench.spec import _parse_method
from learnedaug.bench.tune import (
    _bootstrap_macro_f1, choose_on_validation, choose_ratio, choose_scale, choose_threshold, one_standard_error_choice)
from learnedaug.classifiers import evaluate
from learnedaug.data import ImageSet

TINY = dict(epochs=8, batch_size=16, model_kwargs={"width": 0.25}, schedule="cosine")


def bars(n: int = 36, seed: int = 0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = torch.rand(n, 1, 12, 12, generator=g) * 0.4
    x[labels == 0, :, :6] += 0.6
    x[labels == 1, :, 6:] += 0.6
    return ImageSet((x * 255).round().to(torch.uint8), labels, ["top", "bottom"])


class Noise:
    """A useless generator: uniform noise, whatever the label."""

    num_classes, image_shape = 2, (1, 12, 12)

    def sample(self, labels, *, generator=None):
        return torch.rand(labels.shape[0], *self.image_shape, generator=generator)


def test_one_standard_error_rule_closed_forms():
    assert one_standard_error_choice({0: [0.8, 0.8, 0.8], 1: [0.9, 0.9, 0.9]}) == 1  # a sure gain is taken
    # gaps 0.02, 0.01, -0.01: mean 0.00667 <= standard error 0.00882 -> the simpler 0 stays
    assert one_standard_error_choice({0: [0.80, 0.83, 0.92], 1: [0.82, 0.84, 0.91]}) == 0
    # gaps 0.02, 0.03, 0.025: mean 0.025 > standard error 0.0029 -> 1
    assert one_standard_error_choice({0: [0.80, 0.80, 0.80], 1: [0.82, 0.83, 0.825]}) == 1
    assert one_standard_error_choice({0: [0.7, 0.7], 0.5: [0.9, 0.9], 1: [0.9, 0.9]}) == 0.5  # ties: the smaller
    assert one_standard_error_choice({0: [0.9, 0.9], 2: [0.5, 0.6]}) == 0  # harmful -> off
    for bad in ({}, {0: [0.5]}, {0: [0.5, 0.6], 1: [0.5]}):
        with pytest.raises(ValueError, match="one score per fold"):
            one_standard_error_choice(bad)


def test_a_useless_generator_is_switched_off():
    result = choose_ratio(bars(), Noise(), ratios=(0, 1, 3), folds=3, seed=0, **TINY)
    assert result.chosen == 0
    assert set(result.scores) == {0.0, 1.0, 3.0} and all(len(s) == 3 for s in result.scores.values())
    assert result.mean(0.0) >= result.mean(3.0)  # three noise images per real one do not help
    again = choose_ratio(bars(), Noise(), ratios=(0, 1, 3), folds=3, seed=0, **TINY)
    assert again == result  # seeded
    assert "<- chosen" in result.summary() and result.to_dict()["chosen"] == 0


def test_a_generator_factory_trains_one_generator_per_fold_on_that_folds_part_only():
    train, parts = bars(), []

    def factory(part, fold):
        parts.append((fold, part))
        return Noise()

    result = choose_ratio(train, factory, ratios=(0, 1), folds=3, seed=0, **TINY)
    assert [f for f, _ in parts] == [0, 1, 2] and result.chosen == 0
    rows = {tuple(x.flatten().tolist()) for x in train.images}
    seen = [{tuple(x.flatten().tolist()) for x in part.images} for _, part in parts]
    assert all(len(s) == 24 and s <= rows for s in seen)  # two of three folds of 36 images
    assert set.union(*seen) == rows and not set.intersection(*seen)  # each image is held out exactly once
    assert choose_ratio(train, lambda part, fold: Noise(), ratios=(0, 1), folds=3, seed=0, **TINY) == result
    with pytest.raises(TypeError, match="factory's result for fold 0"):
        choose_ratio(train, lambda part, fold: object(), ratios=(0, 1), folds=3, **TINY)


def test_choose_ratio_errors():
    with pytest.raises(ValueError, match=">= 3 images"):
        choose_ratio(bars(4), Noise(), folds=3, **TINY)
    with pytest.raises(ValueError, match="ratios"):
        choose_ratio(bars(), Noise(), ratios=(-1, 1), **TINY)
    with pytest.raises(TypeError, match="sampler"):
        choose_ratio(bars(), object(), **TINY)


def test_bench_tune_method_records_its_choice(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("test", 40)):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.4, (n, 12, 12))
        x[y == 0, :6] += 0.6
        x[y == 1, 6:] += 0.6
        np.savez(tmp_path / f"{split}.npz", x=(x * 255).round().astype(np.uint8), y=y.astype(np.int64))
    config = BenchConfig(str(tmp_path), methods=("TUNE(N)", "ROT+TUNE(N)"), sizes=(30,), models={"N": Noise()},
                         allow_foreign_models=True, tune_ratios=(0, 2), tune_folds=2, classifier="cnn", width=0.25,
                         epochs=6, batch_size=16, patience=None, val_fraction=0.0)
    records = run_protocol(config, tmp_path / "out", progress=False)
    for r in records:
        assert r["tuned"]["chosen"] == 0 and set(r["tuned"]["scores"]) == {"0.0", "2.0"}
        assert r["setup"]["tune_ratios"] == [0, 2] and r["setup"]["tune_folds"] == 2
    with pytest.raises(ValueError, match="TUNE"):
        BenchConfig("mnist", methods=("TUNE(X)",), models={"N": Noise()}, allow_foreign_models=True)
    with pytest.raises(ValueError, match="tune_folds"):
        BenchConfig("mnist", methods=("TUNE(N)",), models={"N": Noise()}, allow_foreign_models=True, tune_folds=1)


def test_bench_tune_retrains_a_cell_generator_per_fold(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 80), ("test", 20)):
        y = np.arange(n) % 2
        np.savez(tmp_path / f"{split}.npz", x=rng.integers(0, 256, (n, 12, 12), dtype=np.uint8), y=y.astype(np.int64))
    config = BenchConfig(str(tmp_path), methods=("TUNE(G)",), sizes=(12,), tune_ratios=(0, 1), tune_folds=2,
                         generators={"G": "classvae:latent_dim=2,fc_dim=8,filters=4,epochs=1,batch_size=8,patience=none"},
                         classifier="cnn", width=0.125, epochs=1, batch_size=8, patience=None, val_fraction=0.0)
    (record,) = run_protocol(config, tmp_path / "out", progress=False)
    cells = sorted(p.name for p in (tmp_path / "out" / "generators" / "G").iterdir())
    assert cells == ["seed0-size12", "seed0-size12-fold0", "seed0-size12-fold1"]
    for fold in (0, 1):
        meta = json.loads((tmp_path / "out" / "generators" / "G" / f"seed0-size12-fold{fold}" / "cell.json").read_text())
        assert meta["n_images"] == 6  # half of the cell: the held-out fold never reaches its generator
    assert set(record["tuned"]["scores"]) == {"0.0", "1.0"}


def test_validation_choice_switches_a_useless_generator_off_and_returns_the_chosen_model():
    train, val = bars(36, seed=0), bars(24, seed=1)
    result = choose_ratio(train, Noise(), ratios=(0, 3), val=val, seed=0, **TINY)
    assert result.rule == "validation" and result.chosen == 0
    assert set(result.scores) == {0.0, 3.0} and all(len(s) == 1 for s in result.scores.values())
    assert result.standard_error[max(result.scores, key=result.mean)] == 0  # the best's gap to itself
    assert evaluate(result.model, val)["macro_f1"] == pytest.approx(result.mean(0.0))  # the chosen run's model
    assert choose_ratio(train, Noise(), ratios=(0, 3), val=val, seed=0, **TINY) == result  # seeded
    assert result.to_dict()["rule"] == "validation" and set(result.to_dict()["standard_error"]) == {"0.0", "3.0"}
    assert "SE of gap" in result.summary() and "<- chosen" in result.summary().splitlines()[1]
    with pytest.raises(TypeError, match="not a factory"):
        choose_ratio(train, lambda part, fold: Noise(), val=val, **TINY)


class Fixed(torch.nn.Module):
    """A classifier whose predictions are given: ``preds[i]`` for the i-th image of the set it is shown."""

    def __init__(self, preds, k=2):
        super().__init__()
        self.logits = torch.nn.functional.one_hot(torch.as_tensor(preds), k).float()
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # predict() reads the device off a parameter
        self.seen = 0

    def forward(self, x):
        out = self.logits[self.seen:self.seen + x.shape[0]]
        self.seen = (self.seen + x.shape[0]) % self.logits.shape[0]
        return out


def test_validation_rule_closed_forms_and_bootstrap_against_a_naive_loop():
    val = bars(40, seed=2)
    y = val.labels
    right, wrong_one, wrong_ten = y.clone(), y.clone(), y.clone()
    wrong_one[0] = 1 - y[0]
    wrong_ten[:10] = 1 - y[:10]
    # one mistake in 40 is within bootstrap noise of perfect -> the smaller ratio; ten are not -> the better one
    assert choose_on_validation({0: Fixed(wrong_one), 1: Fixed(right)}, val).chosen == 0
    assert choose_on_validation({0: Fixed(wrong_ten), 1: Fixed(right)}, val).chosen == 1
    assert choose_on_validation({0: Fixed(right), 2: Fixed(wrong_ten)}, val).chosen == 0  # harmful -> off
    assert choose_on_validation({0.5: Fixed(right), 1: Fixed(right)}, val).chosen == 0.5  # ties: the smaller

    preds = {0.0: wrong_ten, 1.0: wrong_one}
    boot = _bootstrap_macro_f1(y, preds, 2, resamples=50, seed=3)
    idx = torch.randint(40, (50, 40), generator=torch.Generator().manual_seed(3))
    for c, p in preds.items():
        naive = [f1_score(y[i].numpy(), p[i].numpy(), average="macro") for i in idx]
        np.testing.assert_allclose(boot[c].numpy(), naive, atol=1e-12)
    with pytest.raises(ValueError, match="models is empty"):
        choose_on_validation({}, val)
    with pytest.raises(ValueError, match="resamples"):
        choose_on_validation({0: Fixed(right)}, val, resamples=1)


def test_bench_tune_with_a_validation_split_reuses_the_baseline_as_ratio_0(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("test", 40)):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.4, (n, 12, 12))
        x[y == 0, :6] += 0.6
        x[y == 1, 6:] += 0.6
        np.savez(tmp_path / f"{split}.npz", x=(x * 255).round().astype(np.uint8), y=y.astype(np.int64))
    calls = []
    original = runner.train_classifier
    monkeypatch.setattr(runner, "train_classifier", lambda *a, **kw: calls.append(kw["extra_dataset"]) or original(*a, **kw))
    config = BenchConfig(str(tmp_path), methods=("ORIG", "TUNE(N)"), sizes=(40,), models={"N": Noise()},
                         allow_foreign_models=True, tune_ratios=(0, 2), classifier="cnn", width=0.25,
                         epochs=6, batch_size=16, patience=None, val_fraction=0.25)
    orig, tuned = run_protocol(config, tmp_path / "out", progress=False)
    assert len(calls) == 2 and calls[0] is None and len(calls[1]) == 2 * 30  # ORIG once, then ratio 2 only
    assert tuned["tuned"]["rule"] == "validation" and set(tuned["tuned"]["scores"]) == {"0.0", "2.0"}
    assert tuned["tuned"]["seconds"]["0.0"] == orig["seconds"]  # every candidate's cost is on the record
    if tuned["tuned"]["chosen"] == 0:  # ratio 0 is ORIG's own run: the same test score
        assert tuned["macro_f1"] == orig["macro_f1"]


class NoiseVary(Noise, torch.nn.Module):
    """A useless learned variation: every varied image becomes uniform noise (more of it at a larger scale)."""

    needs_labels = False

    def __init__(self):
        torch.nn.Module.__init__(self)

    def vary(self, images, labels=None, *, scale=1.0, generator=None):
        noise = torch.rand(images.shape, generator=generator, device=images.device)
        return ((1 - min(scale, 1.0)) * images + min(scale, 1.0) * noise).clamp(0, 1)


def bars_data(root, n_train=80, n_test=40):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 2
        x = rng.uniform(0, 0.4, (n, 12, 12))
        x[y == 0, :6] += 0.6
        x[y == 1, 6:] += 0.6
        np.savez(root / f"{split}.npz", x=(x * 255).round().astype(np.uint8), y=y.astype(np.int64))


def test_a_useless_variation_is_switched_off_by_cross_validation_and_on_validation():
    result = choose_scale(bars(), NoiseVary(), scales=(0, 1), p=1.0, folds=3, seed=0, **TINY)
    assert result.chosen == 0 and result.quantity == "scale" and set(result.scores) == {0.0, 1.0}
    assert result.mean(0.0) > result.mean(1.0)  # noise in place of every image is worse than none
    assert result.to_dict()["quantity"] == "scale" and result.summary().split()[0] == "scale"
    assert choose_scale(bars(), NoiseVary(), scales=(0, 1), p=1.0, folds=3, seed=0, **TINY) == result  # seeded
    on_val = choose_scale(bars(36), NoiseVary(), scales=(0, 1), p=1.0, val=bars(24, seed=1), seed=0, **TINY)
    assert on_val.chosen == 0 and on_val.rule == "validation" and on_val.model is not None


def test_choose_scale_factory_and_errors():
    folds_seen = []
    result = choose_scale(bars(), lambda part, fold: folds_seen.append(len(part)) or NoiseVary(), scales=(0, 1),
                          folds=3, seed=0, **TINY)
    assert folds_seen == [24, 24, 24] and set(result.scores) == {0.0, 1.0}
    with pytest.raises(ValueError, match="p must be"):
        choose_scale(bars(), NoiseVary(), p=0, **TINY)
    with pytest.raises(ValueError, match="scales"):
        choose_scale(bars(), NoiseVary(), scales=(-0.5, 1), **TINY)
    with pytest.raises(TypeError, match="vary"):
        choose_scale(bars(), Noise(), **TINY)  # a sampler has no vary
    with pytest.raises(TypeError, match="not a factory"):
        choose_scale(bars(), lambda part, fold: NoiseVary(), val=bars(24, seed=1), **TINY)
    with pytest.raises(TypeError, match="factory's result for fold 0 must be a model with vary"):
        choose_scale(bars(), lambda part, fold: Noise(), scales=(0, 1), **TINY)


def test_repeats_multiplies_the_real_images_per_epoch(monkeypatch):
    shown = []
    original = tune.train_classifier
    monkeypatch.setattr(tune, "train_classifier", lambda *a, **kw: shown.append(kw["repeats"]) or original(*a, **kw))
    choose_scale(bars(), NoiseVary(), scales=(0, 1), folds=2, epoch_size=48, repeats=2, seed=0, **TINY)
    assert shown == [2 * 3] * 4  # 2 folds x 2 scales; each fold trains on 18 images: ceil(48 / 18) = 3, twice


def test_method_grammar_for_tuned_variations_and_augorig():
    learned = {"N"}
    assert _parse_method("TUNE(VARY(N))", learned) == (None, "N", True, False, True, False)
    assert _parse_method("ROT+TUNE(VARY(N))", learned).baseline == "ROT"
    augorig = _parse_method("AUGORIG+TUNE(VARY(N))", learned)
    assert augorig.duplicate and augorig.tune and augorig.baseline == "AUGORIG"
    assert _parse_method("AUGORIG+VARY(N)", learned).baseline == "AUGORIG"
    assert _parse_method("TUNE(N)", learned).baseline == "ORIG"
    assert _parse_method("ROT+TUNE(CURATE(N))", learned) == ("ROT", "N", False, True, True, False)
    for bad in ("AUGORIG+N", "AUGORIG+ROT", "AUGORIG+ROT+VARY(N)", "AUGORIG+TUNE(CURATE(N))", "TUNE(TUNE(N))",
                "VARY(TUNE(N))", "CURATE(VARY(N))",
                "TUNE(VARY(X))", "ROT+AUGORIG+VARY(N)"):
        with pytest.raises(ValueError, match="AUGORIG\\+VARY"):
            _parse_method(bad, learned)


def test_bench_tuned_variation_reuses_augorig_as_scale_0_and_records_its_choice(tmp_path, monkeypatch):
    bars_data(tmp_path)
    calls = []
    original = runner.train_classifier
    monkeypatch.setattr(runner, "train_classifier",
                        lambda *a, **kw: calls.append((kw["repeats"], kw["augment"])) or original(*a, **kw))
    config = BenchConfig(str(tmp_path), methods=("AUGORIG", "AUGORIG+TUNE(VARY(V))"), sizes=(40,),
                         models={"V": NoiseVary()}, allow_foreign_models=True, tune_scales=(0, 1), vary_p=1.0,
                         classifier="cnn", width=0.25, epochs=6, batch_size=16, patience=None, val_fraction=0.25)
    augorig, tuned = run_protocol(config, tmp_path / "out", progress=False)
    assert [r for r, _ in calls] == [2, 2]  # AUGORIG once, then scale 1 only, both with every image twice
    assert calls[0][1] is None and calls[1][1].scale == 1.0 and calls[1][1].p == 1.0
    assert tuned["tuned"]["quantity"] == "scale" and set(tuned["tuned"]["scores"]) == {"0.0", "1.0"}
    assert tuned["tuned"]["chosen"] == 0 and tuned["macro_f1"] == augorig["macro_f1"]  # noise off: AUGORIG's run
    assert tuned["setup"]["tune_scales"] == [0, 1] and "tune_ratios" not in tuned["setup"]
    table = (tmp_path / "out" / "table.md").read_text()
    scores = tuned["tuned"]["scores"]
    assert "## What TUNE chose" in table and ("| AUGORIG+TUNE(VARY(V)) | 40 | 0 | scale | 0 | validation | "
                                             f"0: {100 * scores['0.0'][0]:.1f}; 1: {100 * scores['1.0'][0]:.1f} |") in table


def test_bench_tuned_variation_by_cross_validation(tmp_path):
    bars_data(tmp_path)
    config = BenchConfig(str(tmp_path), methods=("ROT+TUNE(VARY(V))",), sizes=(30,), models={"V": NoiseVary()},
                         allow_foreign_models=True, tune_scales=(0, 1), tune_folds=2, vary_p=1.0, classifier="cnn",
                         width=0.25, epochs=6, batch_size=16, patience=None, val_fraction=0.0)
    (record,) = run_protocol(config, tmp_path / "out", progress=False)
    assert record["tuned"]["rule"] == "kfold" and record["tuned"]["chosen"] == 0
    assert all(len(v) == 2 for v in record["tuned"]["scores"].values())
    with pytest.raises(ValueError, match="tune_scales"):
        BenchConfig("mnist", methods=("TUNE(VARY(V))",), models={"V": NoiseVary()}, allow_foreign_models=True,
                    tune_scales=(-1,))


class Mislabelled(Noise):
    """Bars drawn for the wrong class three times in four: curation is needed to make its samples useful."""

    def sample(self, labels, *, generator=None):
        flip = torch.rand(labels.shape[0], generator=generator) < 0.75
        drawn = torch.where(flip, 1 - labels, labels)
        x = torch.rand(labels.shape[0], 1, 12, 12, generator=generator) * 0.4
        x[drawn == 0, :, :6] += 0.6
        x[drawn == 1, :, 6:] += 0.6
        return x


class BarJudge(torch.nn.Module):
    """A perfect judge for bars: logits from which half is brighter."""

    def forward(self, x):
        gap = x[:, :, :6].mean(dim=(1, 2, 3)) - x[:, :, 6:].mean(dim=(1, 2, 3))
        return torch.stack([gap, -gap], dim=1) * 50


@pytest.mark.filterwarnings("ignore:CuratedSampler")  # a quarter of the candidates pass: some classes run short
def test_threshold_tuning_curates_mislabelled_samples():
    result = choose_threshold(bars(), (Mislabelled(), BarJudge()), thresholds=(0, 0.5, 0.9), ratio=3, folds=3, seed=0,
                              **TINY)
    assert result.quantity == "threshold" and set(result.scores) == {0.0, 0.5, 0.9}
    assert result.mean(0.0) < 0.5 < result.mean(0.5)  # uncurated: mostly wrong labels; curated: right ones
    assert result.chosen == 0.5  # the smallest threshold within noise of the best
    on_val = choose_threshold(bars(36), (Mislabelled(), BarJudge()), thresholds=(0, 0.9), ratio=3,
                              val=bars(24, seed=1), seed=0, **TINY)
    assert on_val.rule == "validation" and on_val.chosen == 0.9 and on_val.model is not None
    folds = []
    choose_threshold(bars(), lambda part, fold: folds.append(fold) or (Mislabelled(), BarJudge()), thresholds=(0, 0.5),
                     folds=3, seed=0, **TINY)
    assert folds == [0, 1, 2]
    with pytest.raises(ValueError, match="thresholds must be probabilities"):
        choose_threshold(bars(), (Mislabelled(), BarJudge()), thresholds=(0, 1.5), **TINY)
    with pytest.raises(ValueError, match="ratio must be > 0"):
        choose_threshold(bars(), (Mislabelled(), BarJudge()), ratio=0, **TINY)
    with pytest.raises(TypeError, match="sampler, judge"):
        choose_threshold(bars(), (BarJudge(), Mislabelled()), **TINY)


@pytest.mark.filterwarnings("ignore:CuratedSampler")
def test_bench_tuned_curation_records_threshold_and_acceptance(tmp_path):
    bars_data(tmp_path)
    common = dict(models={"M": Mislabelled()}, allow_foreign_models=True, tune_thresholds=(0, 0.5), synthetic_ratio=2,
                  classifier="cnn", width=0.25, epochs=6, batch_size=16, patience=None)
    on_val = BenchConfig(str(tmp_path), methods=("TUNE(CURATE(M))",), sizes=(40,), val_fraction=0.25, **common)
    (record,) = run_protocol(on_val, tmp_path / "val", progress=False)
    assert record["tuned"]["quantity"] == "threshold" and set(record["tuned"]["scores"]) == {"0.0", "0.5"}
    assert ("acceptance_rate" in record) == (record["tuned"]["chosen"] == 0.5)  # the chosen run's curation counts
    assert record["setup"]["tune_thresholds"] == [0, 0.5] and "curate_threshold" not in record["setup"]
    kfold = BenchConfig(str(tmp_path), methods=("ROT+TUNE(CURATE(M))",), sizes=(30,), val_fraction=0.0, tune_folds=2,
                        **common)
    (record,) = run_protocol(kfold, tmp_path / "kfold", progress=False)
    assert record["tuned"]["rule"] == "kfold" and all(len(v) == 2 for v in record["tuned"]["scores"].values())
