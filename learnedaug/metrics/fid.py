"""FID and KID between image sets, models or zoo names, with feature statistics cached on disk.

* :func:`feature_statistics` - mean and covariance of features, float64.
* :func:`frechet_distance` - ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2), where the last trace is the sum of
  square roots of the eigenvalues of the symmetric PSD matrix R^T S2 R, R R^T = S1 (a Cholesky factor, or sqrt(S1)
  when the covariances are singular; no ``scipy.linalg.sqrtm``); agrees with pytorch-fid's
  ``calculate_frechet_distance``.
* :func:`kernel_inception_distance` - unbiased MMD^2 with the kernel (x.y / d + 1)^3 averaged over random subsets, as
  in torch-fidelity and clean-fid.
* :func:`compute_statistics`, :func:`compute_fid`, :func:`compute_kid` - from any image source (see
  :func:`learnedaug.metrics.features.open_source`). Statistics of real sets are stored as ``.npz`` keyed on the
  extractor's name and a SHA-256 of the images, so a real set is embedded once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .._io import atomic_path
from .._random import as_generator
from .features import FeatureExtractor, InceptionExtractor, extract_features, open_source

ArrayLike = np.ndarray | torch.Tensor


def default_cache_dir() -> Path:
    """``<learnedaug cache>/fid``: ``$LEARNEDAUG_HOME``, else ``$XDG_CACHE_HOME/learnedaug``, else ``~/.cache/learnedaug``."""
    home = os.environ.get("LEARNEDAUG_HOME")
    if home:
        return Path(home).expanduser() / "fid"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() / "learnedaug" if xdg else Path("~/.cache/learnedaug").expanduser()) / "fid"


def _as_float64(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


def _as_features(features: ArrayLike, name: str) -> torch.Tensor:
    f = features if isinstance(features, torch.Tensor) else torch.from_numpy(np.asarray(features))
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"{name} must be (N, D) features with N >= 2, got shape {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return f.to(torch.float64)


def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, D), N >= 2 -> mean (D,) and unbiased covariance (D, D), both float64 (like ``np.cov``).

    Computed on the features' device (a CUDA tensor stays on the GPU until the result).
    """
    f = _as_features(features, "features")
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    return mu.cpu().numpy(), sigma.cpu().numpy()


def _drop_rounding(eig: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric PSD matrix with the rounding noise of a rank-deficient one set to 0.

    A zero eigenvalue comes out of ``eigh`` as +-(D * eps * largest); its square root (~1e-8 of the scale) would add
    up over the null space, so everything below that bound counts as zero.
    """
    floor = eig.size * np.finfo(np.float64).eps * max(float(np.abs(eig).max(initial=0.0)), np.finfo(np.float64).tiny)
    return np.where(eig > floor, eig, 0.0)


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (eigenvalues at rounding level count as zero)."""
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(_drop_rounding(w))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for symmetric PSD (D, D) float64 matrices, without a matrix square root of S1 S2.

    S1 S2 is similar to the symmetric PSD matrix R^T S2 R for any R with R R^T = S1, so the trace is the sum of
    square roots of that matrix's eigenvalues. R is a Cholesky factor of S1 (or of S2, the roles being symmetric);
    when both are singular, R = sqrt(S1) from an eigen-decomposition.
    """
    for a, b in ((sigma1, sigma2), (sigma2, sigma1)):
        try:
            r = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            continue
        m = r.T @ b @ r
        break
    else:
        r = _sqrt_psd(sigma1)
        m = r @ sigma2 @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(_drop_rounding(eig)).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); means (D,), covariances (D, D) symmetric PSD.

    ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2), the last term from one Cholesky factorisation and one
    symmetric eigenvalue solve (:func:`trace_sqrt_product`) instead of the Schur-based ``sqrtm`` of a non-symmetric
    product; singular covariances (fewer samples than dimensions) need no diagonal offset.
    """
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must be vectors of one length, got shapes {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must be ({d}, {d}) to match the means, got shape {s.shape}")
    tr_covmean = trace_sqrt_product((sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def kernel_inception_distance(
    features1: ArrayLike,
    features2: ArrayLike,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    generator: torch.Generator | int | None = 0,
) -> tuple[float, float]:
    """KID: mean and standard deviation over ``num_subsets`` of the unbiased MMD^2 with kernel (x.y / d + 1)^3.

    Each subset draws ``min(subset_size, N1, N2)`` rows of each feature set without replacement (seeded by
    ``generator``). Computed in float64 on the features' device.
    """
    x_all, y_all = _as_features(features1, "features1"), _as_features(features2, "features2")
    if x_all.shape[1] != y_all.shape[1]:
        raise ValueError(f"features1 and features2 must have the same width, got {x_all.shape[1]} and {y_all.shape[1]}")
    if num_subsets < 1 or subset_size < 2:
        raise ValueError(f"num_subsets must be >= 1 and subset_size >= 2, got {num_subsets} and {subset_size}")
    g = as_generator(generator)
    d = x_all.shape[1]
    m = min(subset_size, x_all.shape[0], y_all.shape[0])
    mmds = torch.empty(num_subsets, dtype=torch.float64)
    for i in range(num_subsets):
        x = x_all[torch.randperm(x_all.shape[0], generator=g)[:m].to(x_all.device)]
        y = y_all[torch.randperm(y_all.shape[0], generator=g)[:m].to(y_all.device)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        off_diag = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        mmds[i] = (off_diag - 2 * kxy.sum() / (m * m)).cpu()
    return float(mmds.mean()), float(mmds.std(unbiased=False))


@dataclass
class FeatureStats:
    """Mean (D,) and covariance (D, D) float64 of a set's features, and the features (N, D) float32 when known.

    Stats files written by pytorch-fid (``mu``, ``sigma`` only) load too; they serve FID but not KID.
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None = None

    @classmethod
    def from_features(cls, features: torch.Tensor) -> "FeatureStats":
        mu, sigma = feature_statistics(features)
        return cls(mu, sigma, features.detach().float().cpu().numpy())

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``mu``, ``sigma`` (and ``features``) to an ``.npz`` atomically."""
        path = Path(path)
        arrays = {"mu": self.mu, "sigma": self.sigma}
        if self.features is not None:
            arrays["features"] = self.features
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureStats":
        path = Path(path)
        with np.load(path, allow_pickle=False) as data:
            if not {"mu", "sigma"} <= set(data.files):
                raise ValueError(f"{path} is not a statistics file: arrays {data.files}, expected 'mu' and 'sigma'")
            features = data["features"] if "features" in data.files else None
            return cls(data["mu"].astype(np.float64), data["sigma"].astype(np.float64), features)


def _is_stats_file(source) -> bool:
    if not isinstance(source, (str, os.PathLike)) or Path(source).suffix != ".npz" or not Path(source).is_file():
        return False
    with np.load(source, allow_pickle=False) as data:
        return {"mu", "sigma"} <= set(data.files)


def resolve_extractor(
    extractor: FeatureExtractor | Literal["inception"], device: torch.device | str | None, progress: bool = True
) -> FeatureExtractor:
    """``"inception"`` -> the reference :class:`InceptionExtractor`; an extractor is moved to ``device`` if given."""
    if isinstance(extractor, str):
        if extractor != "inception":
            raise ValueError(
                f"extractor must be 'inception' or a FeatureExtractor (e.g. DomainExtractor), got {extractor!r}"
            )
        return InceptionExtractor(device=device or "cpu", progress=progress)
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(f"extractor must be 'inception' or a FeatureExtractor, got {type(extractor).__name__}")
    return extractor.to(device) if device is not None else extractor


def compute_statistics(
    source,
    extractor: FeatureExtractor | Literal["inception"] = "inception",
    *,
    n: int | None = None,
    batch_size: int = 50,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    cache_dir: str | os.PathLike | None | Literal[False] = None,
) -> FeatureStats:
    """Feature statistics of ``source`` (tensor, ``.npz``, image folder, sampler, model folder, zoo name, or a
    ``mu``/``sigma`` stats ``.npz``).

    ``n`` caps real sets (seeded subset) and sets the number of samples drawn from models (default 10,000); ``seed``
    drives both. Statistics of tensors, ``.npz`` files and folders are cached under ``cache_dir``
    (default :func:`default_cache_dir`; ``False`` disables) keyed on the extractor's name and the images' SHA-256.
    """
    if _is_stats_file(source):
        return FeatureStats.load(source)
    extractor = resolve_extractor(extractor, device, progress)
    src = open_source(source, n=n, generator=seed)
    key = src.content_hash()
    cache_file = None
    if key is not None and cache_dir is not False:
        cache_file = Path(default_cache_dir() if cache_dir is None else cache_dir) / f"{extractor.name}-{key[:32]}.npz"
        if cache_file.is_file():
            return FeatureStats.load(cache_file)
    stats = FeatureStats.from_features(extract_features(src, extractor, batch_size=batch_size, progress=progress))
    if cache_file is not None:
        stats.save(cache_file)
    return stats


def compute_fid(
    a,
    b,
    extractor: FeatureExtractor | Literal["inception"] = "inception",
    *,
    n: int | None = None,
    batch_size: int = 50,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    cache_dir: str | os.PathLike | None | Literal[False] = None,
) -> float:
    """FID between two sources; arguments as for :func:`compute_statistics` (``n`` applies to each set)."""
    extractor = resolve_extractor(extractor, device, progress)
    sa, sb = (compute_statistics(s, extractor, n=n, batch_size=batch_size, seed=seed, progress=progress,
                                 cache_dir=cache_dir) for s in (a, b))
    return frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)


def compute_kid(
    a,
    b,
    extractor: FeatureExtractor | Literal["inception"] = "inception",
    *,
    n: int | None = None,
    batch_size: int = 50,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    cache_dir: str | os.PathLike | None | Literal[False] = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
) -> tuple[float, float]:
    """KID (mean, std) between two sources; see :func:`compute_statistics` and :func:`kernel_inception_distance`."""
    extractor = resolve_extractor(extractor, device, progress)
    stats = [compute_statistics(s, extractor, n=n, batch_size=batch_size, seed=seed, progress=progress,
                                cache_dir=cache_dir) for s in (a, b)]
    return kid_from_stats(*stats, num_subsets=num_subsets, subset_size=subset_size, seed=seed)


def kid_from_stats(
    a: FeatureStats, b: FeatureStats, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std) from two :class:`FeatureStats` that carry their features."""
    for name, stats in (("a", a), ("b", b)):
        if stats.features is None:
            raise ValueError(f"{name} holds only mu/sigma (a pytorch-fid stats file?): KID needs the features")
    return kernel_inception_distance(a.features, b.features, num_subsets=num_subsets, subset_size=subset_size,
                                     generator=seed)
