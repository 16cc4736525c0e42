"""``learnedaug zoo list | info | download | card``."""

from __future__ import annotations

import argparse
import json
import sys

from .registry import all_cards, get_card, list_models, make_card, weights_dirs, weights_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="zoo_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="list pretrained models (optionally matching a glob PATTERN)")
    p.add_argument("pattern", nargs="?", default=None, metavar="PATTERN")
    p = sub.add_parser("info", help="show a model's card and where its weights are")
    p.add_argument("name", metavar="NAME")
    p = sub.add_parser("download", help="download (or find locally) and verify a model's weights; print the path")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("card", help="publish a saved model directory: copy its weights, hash them, write the card")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="directory with config.json + model.safetensors")
    p.add_argument("--name", required=True, help="model name, e.g. cdcvae-mnist-per-class-5")
    p.add_argument("--dataset", required=True, help="training dataset, e.g. mnist")
    p.add_argument("--subset", required=True, help="training subset: all, 10%%, per-class-5, ...")
    p.add_argument("--seed", type=int, default=None, help="seed that drew the subset (required unless subset is all)")
    p.add_argument("--licence", required=True, help="licence of the training data, e.g. 'CC BY-SA 3.0'")
    p.add_argument("--recipe", required=True, help="the exact training command")
    p.add_argument("--metric", action="append", default=[], metavar="KEY=VALUE", help="a measured metric (repeatable)")
    p.add_argument("--url", action="append", default=[], help="a URL the weights file will be served from (repeatable)")
    p.add_argument("--description", default="", help="one line about the model")
    p.add_argument("--zoo-dir", default="model_zoo", help="where the card and weights/ go (default: model_zoo)")


def run(args: argparse.Namespace) -> int:
    try:
        return _ACTIONS[args.zoo_command](args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _list(args: argparse.Namespace) -> int:
    cards = all_cards()
    rows = [("NAME", "FAMILY", "TRAINED ON", "SIZE", "LOCAL")]
    for name in list_models(args.pattern):
        c = cards[name]
        td = c.training_data
        local = "yes" if any((d / c.file).is_file() for d in weights_dirs(c)) else "no"
        seed = "" if td.seed is None else f" seed {td.seed}"
        rows.append((name, c.family, f"{td.dataset} {td.subset}{seed}", f"{c.size / 2**20:.1f} MiB", local))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return 0


def _info(args: argparse.Namespace) -> int:
    card = get_card(args.name)
    print(json.dumps(card.to_dict(), indent=2))
    print(f"card: {card.source}")
    local = [d / card.file for d in weights_dirs(card) if (d / card.file).is_file()]
    print(f"weights: {local[0]}" if local else f"weights: not local yet (looked in {', '.join(map(str, weights_dirs(card)))})")
    return 0


def _download(args: argparse.Namespace) -> int:
    print(weights_path(args.name, progress=not args.quiet))
    return 0


def _card(args: argparse.Namespace) -> int:
    metrics = {}
    for item in args.metric:
        key, _, value = item.partition("=")
        try:
            if not key:
                raise ValueError
            metrics[key] = float(value)
        except ValueError:
            raise ValueError(f"--metric must be KEY=NUMBER, got {item!r}") from None
    card = make_card(
        args.model_dir,
        name=args.name,
        training_data={"dataset": args.dataset, "subset": args.subset, "seed": args.seed, "licence": args.licence},
        recipe=args.recipe,
        metrics=metrics,
        urls=args.url,
        zoo_dir=args.zoo_dir,
        description=args.description,
    )
    print(f"wrote {card.source} (weights {card.source.parent / 'weights' / card.file}, {card.size} bytes, sha256 {card.sha256})")
    return 0


_ACTIONS = {"list": _list, "info": _info, "download": _download, "card": _card}
