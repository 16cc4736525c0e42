"""Fréchet distance vs pytorch-fid and closed forms, KID vs a direct implementation, sources, caching, CLI."""

import json
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import linalg as scipy_linalg

from learnedaug.metrics import cli as fid_cli
from learnedaug.metrics.features import DomainClassifier, DomainClassifierConfig
from learnedaug.metrics.fid import (
    FeatureStats,
    compute_fid,
    compute_kid,
    compute_statistics,
    feature_statistics,
    frechet_distance,
    kernel_inception_distance,
    trace_sqrt_product,
)
from learnedaug.models.base import GenerativeModel, ModelConfig

fid_score = pytest.importorskip("pytorch_fid.fid_score")


def _reference_fid(mu1, s1, mu2, s2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's sqrtm deprecation notes
        return fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)


def _correlated(rng, n, d, shift=0.0):
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift


# ---- statistics and the Fréchet distance -------------------------------------------------------------------------


def test_feature_statistics_match_numpy():
    f = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    mu, sigma = feature_statistics(torch.from_numpy(f))
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, f.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n,d", [(500, 64), (65, 64), (40, 64), (100, 128)])
def test_frechet_matches_pytorch_fid(n, d):
    """Full-rank and singular (n <= d) covariances agree with pytorch-fid's sqrtm path."""
    rng = np.random.default_rng(n + d)
    mu1, s1 = feature_statistics(_correlated(rng, n, d))
    mu2, s2 = feature_statistics(_correlated(rng, n, d, shift=0.2))
    want = _reference_fid(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-6)


def test_frechet_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a, b = rng.uniform(0.1, 2.0, 5), rng.uniform(0.1, 2.0, 5)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)


def test_frechet_closed_form_when_both_covariances_are_singular():
    """Zero-variance features defeat both Cholesky factorisations; the eigen-decomposition path takes over."""
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0.1, 2.0, 6), rng.uniform(0.1, 2.0, 6)
    a[[0, 3]] = 0.0
    b[[1, 3]] = 0.0
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("rank1,rank2", [(20, 20), (5, 20), (5, 8), (3, 3)])
def test_trace_sqrt_product_closed_form_for_low_rank_covariances(rank1, rank2):
    """S1 = A A^T, S2 = B B^T: the non-zero eigenvalues of S1 S2 are the squared singular values of A^T B, so
    tr sqrt(S1 S2) is the nuclear norm of A^T B - exact, with no rounding noise from the null space to sum up."""
    rng = np.random.default_rng(rank1 * rank2)
    a, b = rng.normal(size=(20, rank1)) / np.sqrt(rank1), rng.normal(size=(20, rank2)) / np.sqrt(rank2)
    want = scipy_linalg.svdvals(a.T @ b).sum()
    assert trace_sqrt_product(a @ a.T, b @ b.T) == pytest.approx(want, rel=1e-10)


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 12), n=st.integers(2, 30))
def test_frechet_properties(seed, d, n):
    rng = np.random.default_rng(seed)
    s1 = feature_statistics(rng.normal(size=(n, d)) * rng.uniform(0.1, 3))
    s2 = feature_statistics(rng.normal(size=(n, d)) + rng.normal())
    ab, ba = frechet_distance(*s1, *s2), frechet_distance(*s2, *s1)
    scale = 1 + abs(ab)
    assert ab == pytest.approx(ba, abs=1e-8 * scale)
    assert ab >= -1e-8 * scale
    assert abs(frechet_distance(*s1, *s1)) <= 1e-7 * (1 + np.trace(s1[1]))


def test_frechet_rejects_bad_input():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="mu1 and mu2"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(mu, sigma, mu, np.eye(2))
    with pytest.raises(ValueError, match="sigma1 holds NaN"):
        frechet_distance(mu, np.full((3, 3), np.nan), mu, sigma)
    with pytest.raises(TypeError, match="mu1"):
        frechet_distance([0, 0, 0], sigma, mu, sigma)


# ---- KID -----------------------------------------------------------------------------------------------------


def _mmd2_direct(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out term by term."""
    m, d = x.shape
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_direct_formula():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(15, 6)), rng.normal(size=(15, 6)) + 0.5
    # subsets as large as the sets are permutations of them, and MMD^2 does not depend on the order
    mean, std = kernel_inception_distance(x, y, num_subsets=3, subset_size=100)
    assert mean == pytest.approx(_mmd2_direct(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_subsets_are_seeded_and_separate_distributions():
    rng = np.random.default_rng(3)
    x, y, z = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) + 1.0
    same = kernel_inception_distance(x, y, num_subsets=10, subset_size=50, generator=5)
    assert same == kernel_inception_distance(x, y, num_subsets=10, subset_size=50, generator=5)
    shifted, _ = kernel_inception_distance(x, z, num_subsets=10, subset_size=50, generator=5)
    assert abs(same[0]) < 3 * same[1] + 1e-3 < shifted


def test_kid_rejects_bad_input():
    with pytest.raises(ValueError, match="same width"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="features1"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 3)), subset_size=1)


# ---- sources, caching, end to end ------------------------------------------------------------------------------


class CountingExtractor:
    """Per-channel mean and std of each image: a cheap deterministic extractor that counts its images."""

    name = "test-moments"
    dim = 2

    def __init__(self):
        self.seen = 0

    @property
    def device(self):
        return torch.device("cpu")

    def to(self, device):
        return self

    def __call__(self, images):
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        self.seen += x.shape[0]
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1)


def _digits(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 12, 12), generator=g, dtype=torch.uint8), torch.arange(n) % 10


def test_tensor_npz_and_folder_sources_agree(tmp_path):
    images, labels = _digits()
    np.savez(tmp_path / "set.npz", x=images[:, 0].numpy(), y=labels.numpy())
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(images[:, 0].numpy()):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    ext = CountingExtractor()
    stats = [compute_statistics(s, ext, cache_dir=False, progress=False, batch_size=16)
             for s in (images, images.float() / 255, tmp_path / "set.npz", folder)]
    for s in stats[1:]:
        np.testing.assert_allclose(s.mu, stats[0].mu, rtol=1e-6)
        np.testing.assert_allclose(s.features, stats[0].features, rtol=1e-6)


def test_statistics_are_cached_by_content_and_extractor(tmp_path):
    images, _ = _digits()
    ext = CountingExtractor()
    first = compute_statistics(images, ext, cache_dir=tmp_path, progress=False)
    assert ext.seen == 40 and len(list(tmp_path.glob("test-moments-*.npz"))) == 1
    again = compute_statistics(images.clone(), ext, cache_dir=tmp_path, progress=False)
    assert ext.seen == 40  # same content: read from the cache
    np.testing.assert_array_equal(again.sigma, first.sigma)
    compute_statistics(images[:30], ext, cache_dir=tmp_path, progress=False)
    compute_statistics(images, ext, n=20, cache_dir=tmp_path, progress=False)  # a seeded subset is other content
    assert ext.seen == 90 and len(list(tmp_path.glob("*.npz"))) == 3
    compute_statistics(images, ext, cache_dir=False, progress=False)
    assert ext.seen == 130


def test_pytorch_fid_stats_files_serve_fid_not_kid(tmp_path):
    images, _ = _digits()
    ext = CountingExtractor()
    stats = compute_statistics(images, ext, cache_dir=False, progress=False)
    np.savez(tmp_path / "ref_stats.npz", mu=stats.mu, sigma=stats.sigma)  # pytorch-fid --save-stats layout
    assert compute_fid(tmp_path / "ref_stats.npz", images, ext, cache_dir=False, progress=False) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="KID needs the features"):
        compute_kid(tmp_path / "ref_stats.npz", images, ext, cache_dir=False, progress=False)


def test_stats_file_roundtrip(tmp_path):
    stats = FeatureStats.from_features(torch.randn(10, 3, generator=torch.Generator().manual_seed(0)))
    back = FeatureStats.load(stats.save(tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.sigma, stats.sigma)
    np.testing.assert_array_equal(back.features, stats.features)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary left behind


class ShiftSampler:
    """A conditional 'generator': uniform noise whose brightness grows with the label."""

    num_classes = 4
    image_shape = (1, 12, 12)

    def __init__(self):
        self.label_batches = []

    def sample(self, labels, *, generator=None):
        self.label_batches.append(labels.clone())
        noise = torch.rand((labels.shape[0], *self.image_shape), generator=generator)
        return (noise * 0.5 + labels.view(-1, 1, 1, 1) / 8).clamp(0, 1)


def test_sampler_source_is_balanced_batched_and_seeded():
    sampler = ShiftSampler()
    ext = CountingExtractor()
    a = compute_statistics(sampler, ext, n=22, batch_size=8, cache_dir=False, progress=False, seed=1)
    labels = torch.cat(sampler.label_batches)
    assert [b.shape[0] for b in sampler.label_batches] == [8, 8, 6]
    assert torch.bincount(labels).tolist() == [6, 6, 5, 5]
    b = compute_statistics(sampler, ext, n=22, batch_size=8, cache_dir=False, progress=False, seed=1)
    c = compute_statistics(sampler, ext, n=22, batch_size=8, cache_dir=False, progress=False, seed=2)
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)


class TinyModel(GenerativeModel):
    family = "fid-test-tiny"

    def __init__(self, config):
        super().__init__(config)
        self.level = torch.nn.Parameter(torch.linspace(0.1, 0.9, config.num_classes))

    def sample(self, labels, *, generator=None):
        c, h, w = self.image_shape
        return self.level[labels].view(-1, 1, 1, 1).expand(-1, c, h, w).detach().clone()


def test_saved_model_folder_and_zoo_name(tmp_path, monkeypatch):
    model = TinyModel(ModelConfig(num_classes=3, image_shape=(1, 8, 8)))
    model.save_pretrained(tmp_path / "tiny")
    ext = CountingExtractor()
    from_dir = compute_statistics(tmp_path / "tiny", ext, n=9, cache_dir=False, progress=False)
    np.testing.assert_allclose(np.sort(from_dir.features[:, 0]), np.repeat([0.1, 0.5, 0.9], 3), rtol=1e-6)
    zoo = pytest.importorskip("learnedaug.zoo")
    monkeypatch.setattr(zoo, "load", lambda name, **kw: model if name == "tiny-zoo-model" else None)
    from_zoo = compute_statistics("tiny-zoo-model", ext, n=9, cache_dir=False, progress=False)
    np.testing.assert_array_equal(from_zoo.features, from_dir.features)


def test_bad_sources_are_rejected(tmp_path):
    ext = CountingExtractor()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TypeError, match="cannot read images from a dict"):
        compute_statistics({"x": 1}, ext, cache_dir=False)
    with pytest.raises(ValueError, match="notes.txt"):
        compute_statistics(tmp_path / "notes.txt", ext, cache_dir=False)
    with pytest.raises(ValueError, match="n must be"):
        compute_statistics(torch.rand(4, 1, 8, 8), ext, n=0, cache_dir=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        compute_statistics(torch.rand(4, 1, 8, 8) * 2, ext, cache_dir=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        compute_statistics(empty, ext, cache_dir=False)
    with pytest.raises(ValueError, match="extractor must be"):
        compute_fid(torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8), extractor="vgg")


# ---- CLI -------------------------------------------------------------------------------------------------------


def _run_cli(argv, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    fid_cli.add_arguments(parser)
    code = fid_cli.run(parser.parse_args(argv))
    return code, capsys.readouterr()


def test_cli_domain_fid_and_kid(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (60, 12, 12), generator=g, dtype=torch.uint8)
    np.savez(tmp_path / "a.npz", x=x.numpy(), y=(torch.arange(60) % 3).numpy())
    np.savez(tmp_path / "b.npz", x=(x // 2).numpy())
    common = ["--features", "domain", "--cache-dir", str(tmp_path / "cache"), "--quiet", "--device", "cpu"]
    code, out = _run_cli([str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), *common, "--kid",
                          "--kid-subset-size", "20", "--kid-subsets", "5", "--json"], capsys)
    assert code == 0
    result = json.loads(out.out)
    assert result["features"].startswith("domain-") and result["fid"] > 0 and "kid" in result
    assert len(list((tmp_path / "cache").glob("domain-classifier-*.safetensors"))) == 1  # trained on A, kept

    weights = DomainClassifier(DomainClassifierConfig((1, 12, 12), 3)).save(tmp_path / "clf.safetensors")
    code, out = _run_cli([str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), "--domain-weights", str(weights),
                          *common], capsys)
    assert code == 0 and "FID (domain-" in out.out and float(out.out.split(":")[-1]) == pytest.approx(0, abs=1e-6)

    with pytest.raises(ValueError, match="needs --domain-weights"):  # learnedaug.cli.main makes it one line, exit 1
        _run_cli([str(tmp_path / "b.npz"), str(tmp_path / "a.npz"), *common], capsys)


def test_cli_reports_missing_inception_weights(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEARNEDAUG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEARNEDAUG_OFFLINE", "1")
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 8, 8), np.uint8))
    from learnedaug.cli import main

    code = main(["fid", str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("learnedaug fid: error:")
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "OFFLINE" in err
    assert "--features domain" in err and "--inception-weights" in err
