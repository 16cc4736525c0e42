"""``learnedaug fid A B``: FID (and KID) between two image sets, saved models or zoo names."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import TextIO

import torch

from .features import (
    DomainExtractor,
    FeatureExtractor,
    InceptionExtractor,
    SetSizeWarning,
    open_source,
    train_domain_classifier,
)
from .fid import FeatureStats, compute_statistics, default_cache_dir, frechet_distance, kid_from_stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="first set: .npz (x, y), image folder, saved model folder, zoo name, or mu/sigma .npz")
    parser.add_argument("b", help="second set (same kinds as A)")
    parser.add_argument("--features", choices=("inception", "domain"), default="inception",
                        help="inception: the reference FID network (2048-d); domain: a small classifier trained on "
                             "the real data (fast on CPU, not comparable with published FIDs)")
    parser.add_argument("--n", type=int, default=None,
                        help="images per set: real sets are subsampled (seeded), models draw this many "
                             "(default: all real images; 10000 samples)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0, help="seeds subsampling, model sampling and KID subsets")
    parser.add_argument("--kid", action="store_true", help="also report KID (mean and std over subsets)")
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--kid-subset-size", type=int, default=1000)
    parser.add_argument("--inception-weights", type=Path, default=None,
                        help="local FID Inception weights (.pth or .safetensors) instead of the download")
    parser.add_argument("--domain-weights", type=Path, default=None,
                        help="domain classifier .safetensors; default: train one on A (needs labels), cached")
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"statistics cache (default {default_cache_dir()})")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached statistics")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _domain_extractor(args: argparse.Namespace, cache_dir: Path | None) -> DomainExtractor:
    if args.domain_weights is not None:
        return DomainExtractor.from_file(args.domain_weights, device=args.device)
    real = open_source(args.a)
    if getattr(real, "labels", None) is None:
        raise ValueError(
            f"--features domain needs --domain-weights, or a labelled first set (an .npz with 'y') to train on: {args.a}"
        )
    weights = None if cache_dir is None else cache_dir / f"domain-classifier-{real.content_hash()[:32]}.safetensors"
    if weights is not None and weights.is_file():
        return DomainExtractor.from_file(weights, device=args.device)
    classifier = train_domain_classifier(real.images, real.labels, generator=args.seed, device=args.device,
                                         progress=not args.quiet)
    if weights is not None:
        classifier.save(weights)
    return DomainExtractor(classifier)


def _check_input(label: str, spec: str) -> None:
    """Fail on an A/B that names nothing before any weights are downloaded (ValueError naming ``label``)."""
    if Path(spec).exists():
        return
    from ..zoo import resolve

    try:
        resolve(spec)
    except ValueError as e:
        raise ValueError(f"{label}: {e}") from None


def _statistics(args: argparse.Namespace, extractor: FeatureExtractor, **common: object) -> list[FeatureStats]:
    """Statistics of A and B; a SetSizeWarning is printed at once as one ``learnedaug fid: warning:`` line."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     file: TextIO | None = None, line: str | None = None) -> None:
            if issubclass(category, SetSizeWarning):
                print(f"learnedaug fid: warning: {message}", file=sys.stderr)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        warnings.simplefilter("always", SetSizeWarning)
        return [compute_statistics(spec, extractor, **common) for spec in (args.a, args.b)]


def run(args: argparse.Namespace) -> int:
    for label, spec in (("A", args.a), ("B", args.b)):
        _check_input(label, spec)
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    if args.features == "domain":
        extractor = _domain_extractor(args, cache_dir)
    else:
        try:
            extractor = InceptionExtractor(args.inception_weights, device=args.device, progress=not args.quiet)
        except OSError as e:  # download failed, offline mode, missing or mismatching weights file
            raise OSError(f"cannot get the FID Inception weights: {e} (on the command line: --inception-weights "
                          f"PATH, or --features domain which needs no download)") from e
    common = dict(n=args.n, batch_size=args.batch_size, seed=args.seed, progress=not args.quiet,
                  cache_dir=False if cache_dir is None else cache_dir)
    sa, sb = _statistics(args, extractor, **common)
    result = {"features": extractor.name, "fid": frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)}
    if args.kid:
        mean, std = kid_from_stats(sa, sb, num_subsets=args.kid_subsets, subset_size=args.kid_subset_size,
                                   seed=args.seed)
        result.update(kid=mean, kid_std=std)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"FID ({result['features']}): {result['fid']:.4f}")
        if args.kid:
            print(f"KID: {result['kid']:.6f} +- {result['kid_std']:.6f}")
    return 0
