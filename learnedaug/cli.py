"""``learnedaug`` command line: ``train | sample | fid | zoo | bench | demo``.

Each subcommand lives in the module that owns it, which defines ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import urllib.error

from ._version import __version__

DEBUG_ENV = "LEARNEDAUG_DEBUG"
# The library's user-facing failures: bad arguments, missing files, unknown names, failed downloads, bad checkpoints.
# (FileNotFoundError and urllib's URLError are OSErrors.)
USER_ERRORS = (ValueError, TypeError, KeyError, OSError, RuntimeError)

COMMANDS = {
    "train": ("learnedaug.train.cli", "train a generator (cdcvae, cdcgan, classvae, dvae) on labelled images"),
    "sample": ("learnedaug.sample", "draw labelled samples from a trained model or zoo name into a PNG grid / .npz"),
    "fid": ("learnedaug.metrics.cli", "FID / KID between two image sets, models or zoo names"),
    "zoo": ("learnedaug.zoo.cli", "list, inspect and download pretrained models"),
    "bench": ("learnedaug.bench.cli", "downstream benchmark: does augmentation X improve a classifier?"),
    "demo": ("learnedaug.demo", "the main job end to end on embedded real digits, offline, in minutes"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (so ``learnedaug train`` never loads the FID network)."""
    parser = argparse.ArgumentParser(prog="learnedaug", description="Learned data augmentation for PyTorch.")
    parser.add_argument("--version", action="version", version=f"learnedaug {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help=f"show the full traceback on errors (or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def _message(err: BaseException) -> str:
    """One line for ``err``: KeyError's repr quotes are dropped, URLError shows its reason."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = str(err.args[0])
    elif isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        text = f"download failed: {err.reason}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run ``learnedaug COMMAND ...``; a user error is one line ``learnedaug COMMAND: error: ...`` on stderr, exit 1.

    ``--debug`` or ``LEARNEDAUG_DEBUG=1`` re-raises with the traceback; Ctrl-C exits 130 quietly.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        args = build_parser(command if command in COMMANDS else None).parse_args(argv)
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        return 130
    except USER_ERRORS as err:
        if debug:
            raise
        print(f"learnedaug {command}: error: {_message(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
