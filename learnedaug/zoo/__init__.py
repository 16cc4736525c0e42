"""Pretrained model zoo: cards, hash-verified downloads, a local cache, offline mode and mirrors.

    >>> import learnedaug.zoo as zoo
    >>> zoo.list_models("cdcvae-*")
    >>> model = zoo.load("cdcvae-mnist-per-class-5", device="cuda")   # or a saved model directory
"""

from .cards import CardError, ModelCard, TrainingData
from .cli import add_arguments, run  # the `learnedaug zoo` subcommand
from .download import ChecksumError, DownloadError, cache_dir, download_file, file_sha256, is_offline
from .registry import (
    HF_HUB_PREFIX,
    all_cards,
    build_from_card,
    card_dirs,
    get_card,
    list_models,
    load,
    make_card,
    resolve,
    weights_dirs,
    weights_path,
)

__all__ = [
    "CardError",
    "ChecksumError",
    "DownloadError",
    "HF_HUB_PREFIX",
    "ModelCard",
    "TrainingData",
    "all_cards",
    "build_from_card",
    "cache_dir",
    "card_dirs",
    "download_file",
    "file_sha256",
    "get_card",
    "is_offline",
    "list_models",
    "load",
    "make_card",
    "resolve",
    "weights_dirs",
    "weights_path",
]
