"""Seed 001's MNIST experiment (Table 2, latent size 3) with the ``learnedaug bench`` protocol, rerunnable and resumable.

For every (seed, training size) cell: a class-balanced MNIST subset, split 85 / 15 (train / early-stopping
validation); a ClassVAE (latent 3) trained on that cell's 85 % only (early-stopped per class on its 15 %); then the
seed 001 CNN trained four ways - CNN (``ORIG``), VAE (the subset plus as many fresh class-balanced VAE samples every
epoch), AUG (``SHIFT-ROT`` online: rotation 20 deg, shifts 20 %, every batch) and AUG+VAE - and scored (macro-F1) on
MNIST test. ``--methods`` may add the curated variants ``CURATE(VAE)`` and ``SHIFT-ROT+CURATE(VAE)`` (VAE samples
kept only when the cell's CNN / AUG classifier gives their label >= ``--curate-threshold``).

    python benchmarks/bench_downstream.py --part a --seeds 0,2      # resumable: rerun the same line to continue
    python benchmarks/bench_downstream.py --part b --seeds 1        # a second process, its own results file
    python benchmarks/bench_downstream.py --report                  # merge every part into benchmarks/results/
    python benchmarks/bench_downstream.py --paper-scale ...         # full-width CNN, 200 epochs, full test set
    python benchmarks/bench_downstream.py --scale budget ...        # our best protocol: no early stopping, see below

Default (``--scale cpu``) is a reduced scale for a shared CPU: every deviation from the paper is listed in the
report. ``--scale budget`` is the best configuration found on this machine: no validation split (classifier and
ClassVAE train on the whole cell for a fixed budget, final weights kept), a cosine learning-rate decay, 1,024
images per epoch, and one more method: AUG plus learned variations from a CDCVAE trained on the cell
(``SHIFT-ROT+VARY(CVAE)``); ``--scale budget-w1`` is the same with the paper's full-width CNN. Parts live in
``--out/<scale>/size<N>/<part>/`` (results.jsonl, generators/VAE/<cell>/; one directory per size because the VAE
epochs depend on the size); the report
``benchmarks/results/seed001_mnist.md`` (our table beside the paper's, Wilcoxon tests), ``seed001_mnist.png``
(learning curves, paper dashed) and ``seed001_mnist.jsonl`` (every run) are rewritten after every cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from learnedaug._io import atomic_path
from learnedaug import bench
from learnedaug.bench import BenchConfig, read_shards, run_protocol, summarize
from learnedaug.bench.spec import GeneratorSpec
from learnedaug.train.objectives import recipe_for

REPO = Path(__file__).resolve().parents[1]
METHODS = ("ORIG", "VAE", "SHIFT-ROT", "SHIFT-ROT+VAE")
NAMES = {"ORIG": "CNN", "VAE": "VAE", "SHIFT-ROT": "AUG", "SHIFT-ROT+VAE": "AUG+VAE",
         "SHIFT-ROT+VARY(CVAE)": "AUG+VARY(CDCVAE)", "CURATE(VAE)": "curated VAE",
         "SHIFT-ROT+CURATE(VAE)": "AUG+curated VAE", "TUNE(VAE)": "tuned VAE", "SHIFT-ROT+TUNE(VAE)": "AUG+tuned VAE",
         "VARY(WARP)": "VARY(WarpVAE)", "SHIFT-ROT+VARY(WARP)": "AUG+VARY(WarpVAE)", "WARP": "WarpVAE samples",
         "SHIFT-ROT+WARP": "AUG+WarpVAE samples", "TUNE(VARY(WARP))": "tuned VARY(WarpVAE)",
         "SHIFT-ROT+TUNE(VARY(WARP))": "AUG+tuned VARY(WarpVAE)"}
SIZES = (50, 100, 250, 500, 1000)
# Seed 001, Table 2, latent space 3: macro-F1 (%) per training size.
PAPER = {
    "CNN": (76.30, 84.38, 93.03, 94.28, 96.54),
    "VAE": (85.40, 91.98, 95.93, 96.38, 97.74),
    "AUG": (86.10, 94.85, 97.12, 98.11, 98.36),
    "AUG+VAE": (90.86, 95.15, 97.97, 98.26, 98.87),
}
# The paper adjusted the VAE epochs "manually according to the size of the training set"; here they shrink with the
# size so that every cell gets a similar number of optimizer steps.
VAE_EPOCHS = {50: 100, 100: 60, 250: 30, 500: 20, 1000: 12}
SCALES = {
    # the papers' settings as far as they are stated
    "paper": dict(width=1.0, epochs=200, patience=10, test_per_class=None, vae_epochs_factor=3,
                  vae="classvae:latent_dim=3,batch_size=8,patience=10"),
    # what fits in about an hour on 2 shared CPU cores
    "cpu": dict(width=0.5, epochs=150, patience=10, test_per_class=100, vae_epochs_factor=1,
                vae="classvae:latent_dim=3,filters=32,batch_size=8,patience=10"),
    # fixed budget on the whole cell (8 validation images at size 50 stop runs on noise), cosine decay
    "budget": dict(width=0.5, epochs=50, patience=None, test_per_class=100, vae_epochs_factor=1,
                   vae="classvae:latent_dim=3,filters=32,batch_size=8,patience=none", val_fraction=0.0,
                   schedule="cosine", epoch_size=1024,
                   extra={"CVAE": "cdcvae:fc_dim=256,base_channels=32,epochs=300,batch_size=16,patience=none,lr=1e-3",
                          "WARP": "warpvae:batch_size=64,grad_clip=5,patience=none"}),
}
# the same with the paper's full-width CNN (2.6x the classifier time)
SCALES["budget-w1"] = {**SCALES["budget"], "width": 1.0}


# options a part records in its setup only when its methods use them (synthetic_weight: when it is not 1)
LEVERS = ("vary_p", "curate_threshold", "tune_ratios", "tune_scales", "tune_thresholds", "tune_folds",
          "synthetic_weight")


def scale_methods(scale: str) -> tuple[str, ...]:
    """The methods a scale runs: seed 001's four, then AUG + learned variations of each of its extra generators."""
    return METHODS + tuple(f"SHIFT-ROT+VARY({n})" for n in SCALES[scale].get("extra", {}))


def vae_spec(scale: str, size: int) -> str:
    s = SCALES[scale]
    return f"{s['vae']},epochs={VAE_EPOCHS[size] * s['vae_epochs_factor']}"


def extra_specs(scale: str, size: int) -> dict[str, str]:
    """The scale's extra generators; a WarpVAE gets the epochs its recipe gives ``size`` images (~2,000 steps)."""
    def with_epochs(spec: str) -> str:
        batch = GeneratorSpec.parse(spec).batch_size
        return f"{spec},epochs={recipe_for('warpvae').epochs_for(size, batch)}"

    return {name: with_epochs(spec) if spec.startswith("warpvae") else spec
            for name, spec in SCALES[scale].get("extra", {}).items()}


def config_for(args: argparse.Namespace, seed: int, size: int) -> BenchConfig:
    scale = SCALES[args.scale]
    return BenchConfig(
        "mnist", root=args.root, methods=args.methods or scale_methods(args.scale), sizes=(size,), seeds=(seed,),
        classifier="cnn", width=scale["width"], epochs=args.epochs or scale["epochs"],
        patience=args.patience or scale["patience"],
        batch_size=32, lr=1e-3, val_fraction=scale.get("val_fraction", 0.15), schedule=scale.get("schedule", "constant"),
        test_per_class=scale["test_per_class"], online=True,
        generators={"VAE": vae_spec(args.scale, size), **extra_specs(args.scale, size)}, device=args.device,
        epoch_size=args.epoch_size or scale.get("epoch_size"), synthetic_ratio=args.synthetic_ratio,
        curate_threshold=args.curate_threshold, tune_ratios=args.tune_ratios, tune_scales=args.tune_scales,
        tune_thresholds=args.tune_thresholds,
        tune_folds=args.tune_folds,
        synthetic_weight=args.synthetic_weight,
    )


def read_parts(out: Path) -> list[dict]:
    """Every run of every part, checked to share one setup (the VAE epochs aside, which depend on the size)."""
    def setup_of(r: dict) -> dict:  # the LEVERS are recorded only by parts that ran them
        return {**{k: v for k, v in r["setup"].items() if k not in LEVERS},
                "generators": {k: {**v, "epochs": None} for k, v in r["setup"]["generators"].items()}}

    try:
        records = read_shards(out, "*/*/results.jsonl", setup_of=setup_of)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    for key in LEVERS:
        values = {json.dumps(r["setup"][key]) for r in records if key in r["setup"]}
        if len(values) > 1:
            raise SystemExit(f"parts under {out} were run with different {key}: {sorted(values)}")
    return records


def _stats(records: list[dict], method: str, size: int) -> tuple[float, float, int] | None:
    vals = torch.tensor([100 * r["macro_f1"] for r in records if r["method"] == method and r["subset"] == size],
                        dtype=torch.float64)
    if vals.numel() == 0:
        return None
    return float(vals.mean()), float(vals.std()) if vals.numel() > 1 else 0.0, vals.numel()


def _methods(records: list[dict]) -> list[str]:
    """The methods that have results, in table order."""
    return [m for m in NAMES if any(r["method"] == m for r in records)]


def _varied(records: list[dict], setup: dict) -> list[tuple[str, dict]]:
    """``(method, generator spec)`` of the ``CLASSIC+VARY(NAME)`` methods in ``records``."""
    return [(m, setup["generators"][m.partition("VARY(")[2].rstrip(")")]) for m in _methods(records) if "VARY(" in m]


def _steps(records: list[dict], spec: dict) -> str:
    """How many optimizer steps ``spec``'s epochs are at the report's first size (an epoch is the full batches of the
    cell, or one batch when the cell is smaller than a batch)."""
    n = records[0]["n_train"]
    return f"{spec['epochs'] * max(1, n // spec['batch_size']):,} steps of batch {spec['batch_size']} at {n} images"


def _samples_per_image(ratio: float) -> str:
    return "as many" if ratio == 1 else f"{ratio:g}× as many"


def report_markdown(records: list[dict], scale: str) -> str:
    setup = records[0]["setup"]
    sizes = [s for s in SIZES if any(r["subset"] == s for r in records)]
    seeds = sorted({r["seed"] for r in records})
    lines = [
        "# Seed 001 MNIST (Table 2, latent 3): this machine vs the paper", "",
        "Produced by `benchmarks/bench_downstream.py` (rerun it to resume or extend). Machine: 2-core CPU shared with "
        "other jobs (noisy), no GPU.", "",
        f"Coverage: {len(records)} runs; seeds {seeds}; sizes {sizes}. A cell shows mean ± std over the seeds that "
        "finished (n in brackets when fewer than the others).", "",
        "## Macro-F1 (%): ours | paper", "",
        "| method | " + " | ".join(str(s) for s in sizes) + " |", "|---" * (len(sizes) + 1) + "|",
    ]
    for method in _methods(records):
        name = NAMES[method]
        cells = []
        for s in sizes:
            st = _stats(records, method, s)
            ours = "–" if st is None else f"{st[0]:.2f} ± {st[1]:.2f}" + (f" (n={st[2]})" if st[2] < len(seeds) else "")
            cells.append(f"{ours} \\| {PAPER[name][SIZES.index(s)]:.2f}" if name in PAPER else ours)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Setup and deviations from the paper", ""]
    gen = setup["generators"]["VAE"]
    vae_epochs = ", ".join(f"{VAE_EPOCHS[s] * SCALES[scale]['vae_epochs_factor']} epochs at size {s}" for s in sizes)
    validated = setup["val_fraction"] > 0
    stopping = (f"at most {setup['epochs']} epochs, early stopping patience {setup['patience']} on validation loss "
                "(paper: 10), best-validation weights kept" if validated else
                f"no validation split: trained on the whole cell for {setup['epochs']} epochs, final weights kept "
                "(paper: 15 % validation, early stopping patience 10)")
    lines += [
        f"- Scale `{scale}`. Classifier: seed 001 CNN, width ×{setup['width']} "
        f"({'the paper’s' if setup['width'] == 1 else 'narrower than the paper’s'}), Adam lr {setup['lr']}"
        f"{' with cosine decay' if setup.get('schedule') == 'cosine' else ''}, batch {setup['batch_size']}, "
        f"{stopping}.",
        f"- Test set: {'all 10,000 MNIST test images' if setup['test_per_class'] is None else str(10 * setup['test_per_class']) + ' MNIST test images (fixed class-balanced subset, seed 0)'}.",
        f"- Generator per cell: {gen['family']} {gen['config']} (paper: filters 64, fc 128), batch "
        f"{gen['batch_size']}, {'at most ' if validated else ''}{vae_epochs} (paper: adjusted manually per "
        "size), " + (f"per-class early stopping patience {gen['patience']} on the cell's 15 %, trained only on the "
                     "cell's 85 %." if validated else "trained on the whole cell."),
        *[f"- {NAMES[m]}: learned variations (`LearnedVariation`, half of every batch"
          f"{', the scale chosen per cell among ' + str(setup['tune_scales']) + ' (0: none)' if 'TUNE(' in m else ''}) "
          f"from a {spec['family']} "
          f"{spec['config']} trained per cell for {spec['epochs']} epochs ({_steps(records, spec)}; objective "
          f"{spec['objective']})" + (", then AUG." if m.startswith("SHIFT-ROT+") else ", no classic transform.")
          for m, spec in _varied(records, setup)],
        f"- VAE methods: the subset plus {_samples_per_image(setup['synthetic_ratio'])} class-balanced samples, "
        "regenerated every epoch. AUG: rotation 20°, "
        "shifts 20 % of width/height, applied online to every batch (the paper's Keras setting).",
        *([f"- Epoch size {setup['epoch_size']}: an epoch shows the cell's training images ceil({setup['epoch_size']} / n) "
           f"times, each with a fresh AUG draw, and {_samples_per_image(setup['synthetic_ratio'])} VAE samples, all fresh "
           "(paper: one pass per epoch)."]
          if "epoch_size" in setup else []),
        f"- {len(seeds)} seed(s) per size (paper: not stated). Scores are macro-F1 on the test set.",
        "",
    ]
    renamed = [dict(r, method=NAMES[r["method"]]) for r in records]
    lines += ["## All scores and paired tests (learnedaug bench summary)", "", summarize(renamed)]
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for i, method in enumerate(_methods(records)):
        name, color = NAMES[method], f"C{i}"
        pts = [(s, _stats(records, method, s)) for s in SIZES]
        pts = [(s, st) for s, st in pts if st is not None]
        if pts:
            ax.errorbar([s for s, _ in pts], [st[0] for _, st in pts], yerr=[st[1] for _, st in pts], marker="o",
                        capsize=3, color=color, label=f"{name} (ours)")
        if name in PAPER:
            ax.plot(SIZES, PAPER[name], ls="--", marker=".", color=color, alpha=0.6, label=f"{name} (paper)")
    ax.set_xscale("log")
    ax.set_xticks(SIZES, [str(s) for s in SIZES])
    ax.minorticks_off()
    ax.set_xlabel("training images (train + validation)")
    ax.set_ylabel("test macro-F1 (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_report(out: Path, results: Path, scale: str, name: str = "seed001_mnist") -> None:
    records = read_parts(out)
    if not records:
        return
    bench.write_report(records, results, name, markdown=report_markdown(records, scale), plot=plot)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    p.add_argument("--paper-scale", dest="scale", action="store_const", const="paper")
    p.add_argument("--sizes", default="50,100,250,500,1000")
    p.add_argument("--methods", type=lambda t: tuple(t.split(",")),
                   help=f"a subset of the scale's methods (default all: {', '.join(scale_methods('budget'))})")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--part", default="main", help="results of this process go to OUT/PART (one process per part)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "seed001_mnist")
    p.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--root", default=str(REPO / ".." / "shared" / "data"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int,
                   help="classifier epochs instead of the scale's; give the runs their own --out and --name")
    p.add_argument("--synthetic-ratio", type=float, default=1.0,
                   help="VAE samples per real training image (paper 1)")
    p.add_argument("--curate-threshold", type=float, default=0.5,
                   help="CURATE methods keep a VAE sample when the cell's baseline classifier gives its label this "
                        "probability (default 0.5)")
    p.add_argument("--tune-thresholds", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 0.9),
                   help="TUNE(CURATE(...)) methods: candidate judge thresholds (0: every sample kept)")
    p.add_argument("--tune-scales", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 1.0),
                   help="TUNE(VARY(...)) methods: candidate variation scales (0: no learned variation, the baseline)")
    p.add_argument("--tune-ratios", type=lambda t: tuple(float(v) for v in t.split(",")), default=(0.0, 0.5, 1.0, 2.0),
                   help="TUNE methods: candidate synthetic ratios chosen per cell by cross-validation")
    p.add_argument("--tune-folds", type=int, default=3, help="TUNE methods: cross-validation folds")
    p.add_argument("--synthetic-weight", type=float, default=1.0,
                   help="loss weight of every synthetic sample (real ones weigh 1; default 1: no weighting); give "
                        "the runs their own --out and --name")
    p.add_argument("--patience", type=int, help="classifier early-stopping patience instead of the scale's")
    p.add_argument("--epoch-size", type=int,
                   help="show the real images ceil(EPOCH_SIZE / n) times per epoch, additions in proportion (default: "
                        "one pass, the paper's); give the runs their own --out and --name")
    p.add_argument("--name", default="seed001_mnist", help="report files: RESULTS/NAME.{md,png,jsonl}")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only merge the parts into the report")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out / args.scale
    if not args.report:
        sizes = [int(s) for s in args.sizes.split(",")]
        seeds = [int(s) for s in args.seeds.split(",")]
        for size in sizes:  # size-major: a complete learning curve point over seeds before the next size
            for seed in seeds:
                run_protocol(config_for(args, seed, size), out / f"size{size}" / args.part, progress=sys.stderr.isatty())
                write_report(out, args.results, args.scale, args.name)
                print(f"done size {size} seed {seed}", flush=True)
    write_report(out, args.results, args.scale, args.name)
    report = args.results / f"{args.name}.md"
    print(report.read_text(encoding="utf-8") if report.is_file() else "no results yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
