"""``learnedaug`` command line: ``train | sample | fid | zoo | bench | demo``.

Each subcommand lives in the module that owns it, which defines ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": ("learnedaug.train.cli", "train a generator (cdcvae, cdcgan, classvae, dvae) on labelled images"),
    "sample": ("learnedaug.sample", "draw labelled samples from a trained model or zoo name into a PNG grid / .npz"),
    "fid": ("learnedaug.metrics.cli", "FID / KID between two image sets, models or zoo names"),
    "zoo": ("learnedaug.zoo.cli", "list, inspect and download pretrained models"),
    "bench": ("learnedaug.metrics.protocol", "downstream benchmark: does augmentation X improve a classifier?"),
    "demo": ("learnedaug.demo", "the main job end to end on embedded real digits, offline, in minutes"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (so ``learnedaug train`` never loads the FID network)."""
    parser = argparse.ArgumentParser(prog="learnedaug", description="Learned data augmentation for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
