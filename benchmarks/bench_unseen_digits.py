"""Learned warps on a data set this project never tuned on: scikit-learn's 8x8 handwritten digits (UCI optdigits).

    python benchmarks/bench_unseen_digits.py --per-class 3 --seeds 0,1,2 --threads 1
    python benchmarks/bench_unseen_digits.py --methods "TUNE(VARY(WARP))" --tune-scales 0,1 --part tuned --seeds 0,1,2

The 1,797 digits (43 writers, not MNIST) are upscaled to 20x20 and padded to 28x28 like MNIST, split in half by a
seeded stratified shuffle (train pool / test), and ``learnedaug bench``'s budget protocol runs on ``--per-class``
training images per class with the settings of ``bench_downstream.py --scale budget`` unchanged (CNN x0.5, 50
epochs of 1,024 images, cosine, no validation split; WarpVAE 2,000 steps): CNN, AUG, VARY(WarpVAE), AUG+VARY(WarpVAE),
and on request the tuned variation (scale chosen per cell by 3-fold cross-validation, one WarpVAE per fold).
Resumable; results in benchmarks/results/unseen_digits_<k>pc.{jsonl,md}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_downstream import LEVERS, SCALES, extra_specs  # noqa: E402  (the budget scale's settings, unchanged)

from learnedaug import bench  # noqa: E402
from learnedaug._io import atomic_path  # noqa: E402
from learnedaug.bench import BenchConfig, read_shards, run_protocol, summarize  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METHODS = ("ORIG", "SHIFT-ROT", "VARY(WARP)", "SHIFT-ROT+VARY(WARP)")
NAMES = {"ORIG": "CNN", "SHIFT-ROT": "AUG", "VARY(WARP)": "VARY(WarpVAE)", "SHIFT-ROT+VARY(WARP)": "AUG+VARY(WarpVAE)",
         "TUNE(VARY(WARP))": "tuned VARY(WarpVAE)"}


def write_digits(directory: Path) -> None:
    """sklearn's digits as MNIST-like 28x28 uint8 ``train.npz`` / ``test.npz`` (half each, stratified, seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.from_numpy(digits.images).float().div(16.0).unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
    x = torch.nn.functional.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4)).squeeze(1).mul(255).round().to(torch.uint8).numpy()
    tr, te = train_test_split(np.arange(len(x)), test_size=0.5, stratify=digits.target, random_state=0)
    directory.mkdir(parents=True, exist_ok=True)
    for split, idx in (("train", tr), ("test", te)):  # test.npz last: its presence means both are whole
        with atomic_path(directory / f"{split}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=x[idx], y=digits.target[idx].astype(np.int64))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-class", type=int, default=3)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--tune-scales", default="0,1", help="TUNE(VARY(WARP)): candidate scales (0: no variation)")
    p.add_argument("--part", help="results of this process go to OUT/<k>pc/PART (default: named by the methods)")
    p.add_argument("--out", type=Path, default=Path("bench_runs/unseen_digits"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = args.out / "data"
    if not (data / "test.npz").is_file():
        write_digits(data)
    s, size = SCALES["budget"], 10 * args.per_class
    config = BenchConfig(
        str(data), methods=[m for m in args.methods.split(",") if m], sizes=(size,),
        seeds=[int(v) for v in args.seeds.split(",")], classifier="cnn", width=s["width"], epochs=s["epochs"],
        patience=None, batch_size=32, lr=1e-3, val_fraction=0.0, schedule=s["schedule"], online=True,
        epoch_size=s["epoch_size"], generators={"WARP": extra_specs("budget", size)["WARP"]},
        tune_scales=[float(v) for v in args.tune_scales.split(",")],
    )
    part = args.part or "-".join(m.replace("+", "_").replace("(", "").replace(")", "") for m in config.methods)
    run_protocol(config, args.out / f"{args.per_class}pc" / part)
    records = read_shards(args.out / f"{args.per_class}pc", "*/results.jsonl", unique=lambda r: (r["method"], r["seed"]),
                          setup_of=lambda r: {k: v for k, v in r["setup"].items() if k not in LEVERS})
    text = (f"# Unseen data: scikit-learn's 8x8 digits at {args.per_class} images per class\n\n"
            "Produced by `benchmarks/bench_unseen_digits.py` (budget protocol of bench_downstream.py, settings "
            f"unchanged; test set: the other half of the 1,797 digits, {records[0]['n_test']} images). Machine: 2-core "
            "CPU VM shared with other jobs, no GPU; rerun the same command to resume or to rewrite this report.\n\n"
            + summarize([dict(r, method=NAMES.get(r["method"], r["method"])) for r in records]))
    bench.write_report(records, REPO / "benchmarks" / "results", f"unseen_digits_{args.per_class}pc", markdown=text)
    print(text)


if __name__ == "__main__":
    main()
