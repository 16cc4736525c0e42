"""``learnedaug zoo list | info | download | card`` through the subcommand's own parser."""

from __future__ import annotations

import argparse
import json

import torch

from learnedaug.models import build_model
from learnedaug.zoo import add_arguments, cache_dir, file_sha256, get_card, run


def zoo(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="learnedaug zoo")
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


def test_card_list_info_download(zoo_env, server, capsys):
    torch.manual_seed(0)
    saved = build_model("cdcvae", image_shape=(1, 8, 8), fc_dim=16, base_channels=4, latent_dim=4).save_pretrained(
        zoo_env / "saved", dtype=torch.float16
    )
    url = server.url("/zoo/tiny.safetensors")
    rc = zoo(
        "card", str(saved), "--name", "tiny", "--dataset", "mnist", "--subset", "10%", "--seed", "3",
        "--licence", "CC BY-SA 3.0", "--recipe", "learnedaug train cdcvae --subset 10% --seed 3",
        "--metric", "fid=41.25", "--url", url, "--zoo-dir", str(zoo_env / "cards"),
    )
    assert rc == 0
    card = get_card("tiny")
    weights = zoo_env / "cards" / "weights" / "tiny.safetensors"
    assert card.sha256 == file_sha256(weights) and card.metrics == {"fid": 41.25} and card.training_data.seed == 3
    assert card.sha256 in capsys.readouterr().out

    assert zoo("list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "FAMILY", "TRAINED", "ON", "SIZE", "LOCAL"]
    assert out[1].split()[:5] == ["tiny", "cdcvae", "mnist", "10%", "seed"] and out[1].endswith("yes")
    assert zoo("list", "gan*") == 0 and len(capsys.readouterr().out.splitlines()) == 1

    assert zoo("info", "tiny") == 0
    out = capsys.readouterr().out
    assert json.loads(out[: out.index("\ncard: ")]) == card.to_dict() and f"weights: {weights}" in out

    server.add("/zoo/tiny.safetensors", weights.read_bytes())
    weights.unlink()
    assert zoo("download", "tiny", "--quiet") == 0
    assert capsys.readouterr().out.strip() == str(cache_dir() / "models" / "tiny.safetensors")
    assert server.gets == {"/zoo/tiny.safetensors": 1}


def test_errors_are_reported_not_raised(zoo_env, capsys):
    assert zoo("info", "nope") == 1
    assert "error: unknown model 'nope'" in capsys.readouterr().err
    assert zoo("card", str(zoo_env), "--name", "x", "--dataset", "mnist", "--subset", "all", "--licence", "l",
               "--recipe", "r", "--metric", "fid:3", "--zoo-dir", str(zoo_env / "cards")) == 1
    assert "--metric must be KEY=NUMBER, got 'fid:3'" in capsys.readouterr().err
