"""``learnedaug demo`` at a tiny scale: every method runs per seed, the table and the picture are written."""

from __future__ import annotations

import math

import pytest

from learnedaug.data import load_demo_digits
from learnedaug.demo import run_demo, split_digits

pytestmark = pytest.mark.slow


def test_split_is_disjoint_and_balanced():
    digits = load_demo_digits()
    train, test = split_digits(digits, 50, 100, seed=3)
    assert train.class_counts().tolist() == [5] * 10 and test.class_counts().tolist() == [10] * 10
    flat = lambda s: {bytes(img.numpy()) for img in s.images}  # noqa: E731
    assert not flat(train) & flat(test)


def test_demo_tiny(tmp_path):
    results = run_demo(tmp_path, train_size=20, test_size=40, seeds=2, vae_epochs=2, warp_steps=2, cnn_epochs=1,
                       progress=False)
    assert list(results) == ["CNN", "AUG", "AUG + VAE", "learned warps", "AUG + learned warps"]
    for scores in results.values():
        assert len(scores["accuracy"]) == 2 and all(0 <= v <= 100 and math.isfinite(v) for v in scores["macro_f1"])
    table = (tmp_path / "results.md").read_text()
    assert "gain over AUG" in table and table.count("\n| ") == 6  # header + 5 methods
    assert "| AUG | " in table and " 0.00 ± 0.00 |" in table  # AUG's gain over itself
    assert (tmp_path / "demo.png").stat().st_size > 0
