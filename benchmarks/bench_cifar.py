"""Seed 000's CIFAR10-10 % experiment (Table 2) with the ``learnedaug bench`` protocol, reduced to fit a CPU.

One cell: the nested 10 % subset of the CIFAR-10 training split (seed 0: 5,000 images, split 85 / 15 into 4,250
training images - the paper's CIFAR10-10 size - and 750 for model selection), a CDCVAE and a CDCGAN trained on the
cell's 4,250 only, then seed 000's VGG-style classifier (batch norm, dropout 0.6) trained six ways - ORIG, AUGORIG,
ROT, BLUR, CDCVAE, CDCGAN, each addition doubling the epoch with a fresh draw every epoch - and scored on all
10,000 test images.

    python benchmarks/bench_cifar.py --part a --methods ORIG,AUGORIG,ROT,BLUR   # resumable: rerun the line to go on
    python benchmarks/bench_cifar.py --part b --methods CDCVAE                   # one process per part
    python benchmarks/bench_cifar.py --part t --methods ORIG,"TUNE(CDCVAE)" --tune-ratios 0,0.5,1   # ratio on val
    python benchmarks/bench_cifar.py --report                                    # merge parts into benchmarks/results/
    python benchmarks/bench_cifar.py --epochs 60 --out runs/seed000_cifar10_e60 --name seed000_cifar10_e60 ...
    python benchmarks/bench_cifar.py --width 1 --epochs 200 --vae-epochs 500 --gan-epochs 500 --device cuda ...  # paper

Deviations from the paper (all in the report): classifier width ×``--width`` (paper ×1), ``--epochs`` epochs with
cosine decay and the best-validation-loss weights kept (paper: 200 epochs, constant rate, best validation
accuracy), generators trained ``--vae-epochs`` / ``--gan-epochs`` (paper: 500).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from learnedaug._io import atomic_path
from learnedaug import bench
from learnedaug.bench import BenchConfig, read_shards, run_protocol, summarize

REPO = Path(__file__).resolve().parents[1]
METHODS = ("ORIG", "AUGORIG", "ROT", "BLUR", "CDCVAE", "CDCGAN")
# Seed 000, Table 2, CIFAR10-10: test accuracy (%).
PAPER = {"ORIG": 70.60, "AUGORIG": 71.98, "BLUR": 71.30, "ROT": 71.30, "ROT-BLUR": 70.63, "CDCVAE": 67.13,
         "CDCGAN": 69.34}


def config_for(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(
        "cifar10", root=args.root, methods=args.methods, fractions=(0.1,), seeds=(0,), classifier="vgg",
        width=args.width, epochs=args.epochs, patience=None, batch_size=32, lr=1e-3, val_fraction=0.15,
        schedule="cosine", device=args.device, synthetic_weight=args.synthetic_weight,
        curate_threshold=args.curate_threshold, tune_ratios=args.tune_ratios, tune_scales=args.tune_scales,
        tune_thresholds=args.tune_thresholds,
        generators={"CDCVAE": f"cdcvae:epochs={args.vae_epochs},batch_size=64,patience=none",
                    "CDCGAN": f"cdcgan:epochs={args.gan_epochs},batch_size=64,patience=none",
                    "WARP": f"warpvae:padding=reflection,likelihood=gaussian,epochs={args.warp_epochs},batch_size=64,"
                            "grad_clip=5,patience=none"},
    )


def _methods(records: list[dict]) -> list[str]:
    """The methods that have results: the paper's six in table order, then any other (e.g. ``ROT+CDCGAN``)."""
    ran = {r["method"] for r in records}
    return [m for m in METHODS if m in ran] + sorted(ran - set(METHODS))


# options a part records in its setup only when its methods use them
LEVERS = ("vary_p", "curate_threshold", "tune_ratios", "tune_scales", "tune_thresholds", "tune_folds",
          "synthetic_weight")


def read_parts(out: Path) -> list[dict]:
    """Every run of every part, checked to share one setup (the LEVERS aside) and to hold each method once (the cell
    is single)."""
    try:
        return read_shards(out, "*/results.jsonl", unique=lambda r: r["method"],
                           setup_of=lambda r: {k: v for k, v in r["setup"].items() if k not in LEVERS})
    except ValueError as err:
        raise SystemExit(str(err)) from None


def report_markdown(records: list[dict], name: str) -> str:
    setup = records[0]["setup"]
    by_method = {r["method"]: r for r in records}
    lines = [
        "# Seed 000 CIFAR10-10 % (Table 2): this machine vs the paper", "",
        "Produced by `benchmarks/bench_cifar.py` (rerun it to resume). Machine: 2-core CPU VM, no GPU; one split "
        "(seed 0), as in the paper.", "",
        "| method | accuracy (%) ours | paper | ours − AUGORIG | macro-F1 (%) | best epoch | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    base = by_method.get("AUGORIG")
    for method in _methods(records):
        r = by_method[method]
        delta = "–" if base is None else f"{100 * (r['accuracy'] - base['accuracy']):+.2f}"
        paper = f"{PAPER[method]:.2f}" if method in PAPER else "–"
        lines.append(f"| {method} | {100 * r['accuracy']:.2f} | {paper} | {delta} | "
                     f"{100 * r['macro_f1']:.2f} | {r['best_epoch'] + 1} | {r['seconds']:.0f} |")
    gens = setup["generators"]
    used = {g for g in gens if any(g in m for m in by_method)}  # generators the methods of this report ran
    lines += [
        "", "## Setup and deviations from the paper", "",
        f"- Cell: nested 10 % of the 50,000 training images (seed 0), {records[0]['n_train']:,} for training and "
        f"{records[0]['n_val']:,} for model selection (paper: 10 % of a 42,500-image training split = 4,250, validation "
        "separate). Test: all 10,000 CIFAR-10 test images.",
        f"- Classifier: seed 000's VGG-style net (64/128/256, two 3×3 convs per stage, batch norm, LeakyReLU, dropout "
        f"0.6) at width ×{setup['width']} (paper ×1), Adam lr {setup['lr']} with cosine decay over {setup['epochs']} "
        f"epochs, batch {setup['batch_size']}; the weights of the epoch with the lowest validation loss are scored "
        "(paper: 200 epochs at a constant rate, the epoch with the best validation accuracy).",
        "- Additions double the epoch and are drawn afresh every epoch: AUGORIG a second copy of every image, ROT "
        "(±25°) and BLUR (σ 0.25-2.25) a transformed copy, CDCVAE/CDCGAN as many class-balanced samples (paper: "
        "one fixed synthetic set).",
        *(["- CLASSIC+NAME (seed 001's AUG+VAE): the subset plus as many samples, the classic transform applied to "
            "every training batch (real and synthetic images alike)."]
          if any(m.partition("+")[0] in bench.CLASSIC for m in by_method) else []),
        *(["- VARY(NAME): in every batch a share of the real images (`vary_p` = "
            f"{records[0]['setup'].get('vary_p', 0.5):g}) is replaced by a learned variation of it, ORIG's steps; "
            "AUGORIG+VARY(NAME): the same with every image twice per epoch, AUGORIG's steps."]
          if any("VARY(" in m for m in by_method) else []),
        *[f"- {r['method']}: the {r['tuned'].get('quantity', 'ratio')} chosen on the validation split (one classifier "
          f"per candidate, candidate 0 the baseline's own run; smallest candidate within one bootstrap standard error "
          f"of the best): " + ", ".join(f"{c}: {100 * v[0]:.2f} % validation macro-F1 (gap SE "
                                        f"{100 * r['tuned']['standard_error'][c]:.2f})"
                                        for c, v in r["tuned"]["scores"].items())
          + f" -> **{r['tuned']['chosen']:g}**." for r in records if r.get("tuned", {}).get("rule") == "validation"],
        *[f"- {name}: {g['family']} {g['config'] or '(defaults: the InfoGAN nets, z 100)'} trained on the cell's "
          f"{records[0]['n_train']:,} training images only, {g['epochs']} epochs, batch {g['batch_size']} (paper: 500 "
          "epochs)." for name, g in gens.items() if name in used],
        *[f"- {gen} samples (its last epoch, one row per class): [`{name}_{gen}_samples.png`]({name}_{gen}_samples.png)."
          for gen in gens if gen in used],
        "",
        "## learnedaug bench summary", "", summarize(records),
    ]
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = _methods(records)
    ours = {r["method"]: 100 * r["accuracy"] for r in records}
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(methods)), 3.8), dpi=120)
    x = torch.arange(len(methods), dtype=torch.float64)
    ax.bar(x - 0.2, [ours[m] for m in methods], 0.4, label="ours (reduced scale)")
    ax.bar(x + 0.2, [PAPER.get(m, 0.0) for m in methods], 0.4, label="paper (Table 2)", alpha=0.6)
    ax.set_xticks(x.tolist(), methods, rotation=20, ha="right")
    ax.set_ylim(min([*ours.values(), *(PAPER[m] for m in methods if m in PAPER)]) - 5, None)
    ax.set_ylabel("CIFAR10-10 % test accuracy (%)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_report(out: Path, results: Path, name: str) -> None:
    records = read_parts(out)
    if not records:
        return
    bench.write_report(records, results, name, markdown=report_markdown(records, name), plot=plot)
    # each generator's last grid, once (parts that reuse a generator hold the same grid)
    grids = {grid.parents[2].name: grid for grid in sorted(out.glob("*/generators/*/*/samples/*.png"))}
    for generator, grid in grids.items():
        with atomic_path(results / f"{name}_{generator}_samples.png") as tmp:
            tmp.write_bytes(grid.read_bytes())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", type=lambda t: tuple(t.split(",")), default=METHODS)
    p.add_argument("--width", type=float, default=0.5, help="classifier width multiplier (paper 1)")
    p.add_argument("--epochs", type=int, default=30, help="classifier epochs (paper 200)")
    p.add_argument("--vae-epochs", type=int, default=30, help="CDCVAE epochs (paper 500)")
    p.add_argument("--gan-epochs", type=int, default=25, help="CDCGAN epochs (paper 500)")
    p.add_argument("--warp-epochs", type=int, default=30, help="WarpVAE epochs (about 2,000 steps on 4,250 images)")
    p.add_argument("--synthetic-weight", type=float, default=1.0,
                   help="loss weight of every synthetic sample (real ones weigh 1; default 1: no weighting)")
    p.add_argument("--curate-threshold", type=float, default=0.5,
                   help="CURATE(...) methods keep a sample the cell's ORIG classifier gives its label this probability")
    p.add_argument("--tune-thresholds", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 0.9),
                   help="TUNE(CURATE(...)) methods: candidate judge thresholds (0: every sample kept)")
    p.add_argument("--tune-scales", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 1.0),
                   help="TUNE(VARY(...)) methods: candidate variation scales (0: no learned variation, the baseline)")
    p.add_argument("--tune-ratios", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 1.0, 2.0),
                   help="TUNE(...) methods: candidate synthetic ratios, one classifier each, chosen on the validation "
                        "split (ratio 0 is the ORIG run, reused)")
    p.add_argument("--part", default="main", help="results of this process go to OUT/PART (one process per part)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "seed000_cifar10")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--name", default="seed000_cifar10", help="report files: RESULTS/NAME.{md,png,jsonl}")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only merge the parts into the report")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.report:
        run_protocol(config_for(args), args.out / args.part, progress=sys.stderr.isatty())
    write_report(args.out, args.results, args.name)
    report = args.results / f"{args.name}.md"
    print(report.read_text(encoding="utf-8") if report.is_file() else "no results yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
