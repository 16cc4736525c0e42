"""FID speed against pytorch-fid, measured in the same run on the same machine.

1. Feature throughput (images/s) of learnedaug's FIDInceptionV3 vs pytorch-fid's InceptionV3([3]) carrying the
   same random weights (the reference file cannot be downloaded everywhere; speed does not depend on the values).
2. Fréchet distance on 2048-d covariances: Cholesky + symmetric eigenvalues vs pytorch-fid's scipy ``sqrtm`` path
   (target: >= 5x), with the two values printed side by side.

    python benchmarks/bench_fid.py [--device cuda] [--batch-size 50] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_features(device: torch.device, batch_size: int, size: int, repeats: int) -> None:
    import pytorch_fid.inception as pfi

    from learnedaug.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    ours = FIDInceptionV3()
    state = dict(ours.state_dict(), **{"fc.weight": torch.randn(1008, 2048) * 0.01, "fc.bias": torch.zeros(1008)})
    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: state  # build pytorch-fid's network without a download
    try:
        ref = pfi.InceptionV3([3]).eval()
    finally:
        pfi.load_state_dict_from_url = original
    ours, ref = ours.to(device), ref.to(device)
    x = torch.rand(batch_size, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)

    def run_ours():
        with torch.inference_mode():
            ours(x)
        _sync(device)

    def run_ref():
        with torch.inference_mode():
            ref(x)
        _sync(device)

    with torch.inference_mode():
        diff = (ours(x) - ref(x)[0].flatten(1)).abs().max().item()
    run_ours(), run_ref()  # warm-up
    t_ours, t_ref = [], []
    for _ in range(repeats):  # interleaved, so load changes on a shared machine hit both alike
        t_ours.append(_median_seconds(run_ours, 1))
        t_ref.append(_median_seconds(run_ref, 1))
    ips_ours, ips_ref = batch_size / statistics.median(t_ours), batch_size / statistics.median(t_ref)
    print(f"features  {size}x{size} -> 299, batch {batch_size}, {device}: max |diff| {diff:.2e}")
    print(f"  learnedaug FIDInceptionV3   {ips_ours:9.1f} images/s")
    print(f"  pytorch-fid InceptionV3     {ips_ref:9.1f} images/s")
    print(f"  ratio                       {ips_ours / ips_ref:9.2f}x")


def bench_frechet(dim: int, n: int, repeats: int) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from learnedaug.metrics.fid import feature_statistics, frechet_distance

    rng = np.random.default_rng(0)
    # Inception-like features: non-negative, correlated, unequal spreads
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    f1 = np.maximum(rng.normal(size=(n, dim)) @ mix, 0)
    f2 = np.maximum(rng.normal(size=(n, dim)) @ mix * 1.1 + 0.02, 0)
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)
    ours = frechet_distance(mu1, s1, mu2, s2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = calculate_frechet_distance(mu1, s1, mu2, s2)
        t_ref = _median_seconds(lambda: calculate_frechet_distance(mu1, s1, mu2, s2), repeats)
    t_ours = _median_seconds(lambda: frechet_distance(mu1, s1, mu2, s2), repeats)
    print(f"frechet   {dim}-d covariances from {n} samples: ours {ours:.10g}, pytorch-fid {ref:.10g}, "
          f"rel diff {abs(ours - ref) / abs(ref):.1e}")
    print(f"  learnedaug Cholesky+eigvalsh {t_ours * 1e3:8.1f} ms")
    print(f"  pytorch-fid sqrtm path      {t_ref * 1e3:9.1f} ms")
    print(f"  speed-up                    {t_ref / t_ours:9.2f}x (target >= 5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=32, help="input image side (resized to 299 inside)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch/BLAS threads (default: torch's choice)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--n", type=int, default=10_000, help="samples behind each covariance")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    bench_features(torch.device(args.device), args.batch_size, args.size, args.repeats)
    bench_frechet(args.dim, args.n, args.repeats)


if __name__ == "__main__":
    main()
