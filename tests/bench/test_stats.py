"""learnedaug.bench.stats: Wilcoxon signed-rank tables against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from learnedaug.bench import wilcoxon_table


def test_wilcoxon_table_matches_scipy():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.7, 0.95, 12)
    scores = {"CNN": base, "VAE": base + rng.uniform(0.01, 0.03, 12), "AUG": base + rng.normal(0, 0.01, 12),
              "SAME": base.copy()}
    table = wilcoxon_table(scores, alpha=0.01)
    ref = stats.wilcoxon(scores["VAE"], scores["CNN"])
    vae_cnn = table.tests["VAE", "CNN"]
    assert vae_cnn.pvalue == pytest.approx(ref.pvalue) and vae_cnn.statistic == pytest.approx(ref.statistic)
    assert vae_cnn.verdict == "better" and table.tests["CNN", "VAE"].verdict == "worse"
    assert table.tests["SAME", "CNN"].pvalue == 1.0 and table.tests["SAME", "CNN"].verdict == "n.s."
    assert len(table.tests) == 4 * 3
    md = table.to_markdown()
    assert md.splitlines()[0] == "| | CNN | VAE | AUG | SAME |" and "✓" in md and "✗" in md
    with pytest.raises(ValueError, match="same number"):
        wilcoxon_table({"a": [1, 2, 3], "b": [1, 2]})
    with pytest.raises(ValueError, match="at least two"):
        wilcoxon_table({"a": [1, 2]})
    with pytest.raises(ValueError, match="finite"):
        wilcoxon_table({"a": [1, math.nan], "b": [1, 2]})
