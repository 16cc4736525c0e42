"""The registry of pretrained models: find cards, resolve weights locally or download them, build models.

Cards are read from every directory in ``$LEARNEDAUG_ZOO_PATH`` (``os.pathsep``-separated), then from
the repository's ``model_zoo/``, which an installed wheel carries as ``learnedaug/zoo/model_zoo/`` (cards and fp16
weights, so the zoo works offline after ``pip install``). A card's weights file is looked for, in order, at an explicit
``path=``, in ``weights/`` beside the card, in ``<cache_dir>/models/``, and only then downloaded.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import atomic_path
from .cards import CardError, ModelCard
from .download import ChecksumError, DownloadError, cache_dir, download_file, file_sha256, is_offline, mirrored

if TYPE_CHECKING:
    import torch

    from ..models.base import GenerativeModel

# The repository's model_zoo/ (source checkout, editable install) and its copy inside an installed wheel.
REPO_ZOO = Path(__file__).resolve().parents[2] / "model_zoo"
PACKAGED_ZOO = Path(__file__).resolve().parent / "model_zoo"


def card_dirs() -> list[Path]:
    """Directories searched for ``*.json`` cards: ``$LEARNEDAUG_ZOO_PATH`` entries first, then the zoo shipped with
    learnedaug (``model_zoo/`` of the checkout, or its copy in the installed package)."""
    extra = [Path(p).expanduser() for p in os.environ.get("LEARNEDAUG_ZOO_PATH", "").split(os.pathsep) if p]
    dirs: list[Path] = []
    for d in [*extra, REPO_ZOO, PACKAGED_ZOO]:
        if d.is_dir() and d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)
    return dirs


def all_cards() -> dict[str, ModelCard]:
    """Every card by name, validated; two cards with the same name or weights file name are an error."""
    cards: dict[str, ModelCard] = {}
    files: dict[str, ModelCard] = {}
    for d in card_dirs():
        for path in sorted(d.glob("*.json")):
            card = ModelCard.read(path)
            for seen, key, what in ((cards, card.name, "name"), (files, card.file, "weights file")):
                if key in seen:
                    raise CardError(f"{path}: {what} {key!r} is already used by {seen[key].source}")
            cards[card.name] = files[card.file] = card
    return cards


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the known pretrained models, optionally filtered by a glob ``pattern`` (e.g. ``"cdcvae-*"``)."""
    names = sorted(all_cards())
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern.lower())]


def get_card(name: str) -> ModelCard:
    """The card of model ``name``; an unknown name raises ValueError listing close matches."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    cards = all_cards()
    if name in cards:
        return cards[name]
    close = difflib.get_close_matches(name, list(cards), n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known models: {', '.join(sorted(cards)) or 'none'}"
    raise ValueError(f"unknown model {name!r}; {hint} (searched {[str(d) for d in card_dirs()]})")


def weights_dirs(card: ModelCard) -> list[Path]:
    """Where ``card``'s weights file is looked for, in order: ``weights/`` beside the card, then ``<cache_dir>/models``."""
    cache = cache_dir() / "models"
    return [card.source.parent / "weights", cache] if card.source is not None else [cache]


def weights_path(name: str, *, path: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """A verified local copy of model ``name``'s weights file, downloaded into the cache if needed.

    Order: explicit ``path``; ``weights/<file>`` beside the card; ``<cache_dir>/models/<file>``; the card's
    URLs (through ``$LEARNEDAUG_MIRROR`` if set). Every local file is checked against the card's size and
    SHA-256; a mismatch raises ChecksumError rather than loading a wrong model.
    """
    card = get_card(name)
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"path {str(path)!r} given for model {name!r} does not exist")
        return _verified(card, path)
    places = weights_dirs(card)
    for place in places:
        if (place / card.file).is_file():
            return _verified(card, place / card.file)
    if is_offline() or not card.urls:
        why = "LEARNEDAUG_OFFLINE is set" if card.urls else "the card lists no URL"
        where = " or ".join(str(p / card.file) for p in places)
        source = f" (from {mirrored(card.urls[0])})" if card.urls else ""
        raise DownloadError(f"weights of model {name!r} not found and {why}: put {card.file}{source} at {where}")
    errors = []
    for url in dict.fromkeys(mirrored(u) for u in card.urls):
        try:
            return _verified(card, download_file(url, sha256=card.sha256, filename=card.file, dest_dir=places[-1], progress=progress))
        except DownloadError as e:
            errors.append(str(e))
    raise DownloadError(f"could not download model {name!r}:\n  " + "\n  ".join(errors))


def _verified(card: ModelCard, path: Path) -> Path:
    size = path.stat().st_size
    if size != card.size:
        raise ChecksumError(f"{path} has {size} bytes but model {card.name!r} needs {card.size}; delete or replace it")
    actual = file_sha256(path)
    if actual != card.sha256:
        raise ChecksumError(f"{path} has SHA-256 {actual} but model {card.name!r} needs {card.sha256}; delete or replace it")
    return path


def build_from_card(card: ModelCard, weights: str | os.PathLike, *, device: torch.device | str | None = None) -> GenerativeModel:
    """Build ``card``'s model from its config and load the safetensors file ``weights`` (float32, eval mode)."""
    from safetensors import safe_open

    from ..models import family_class  # importing the package registers every model family

    model_cls = family_class(card.family)
    try:
        config = model_cls.config_class.from_dict(card.config)
    except (TypeError, ValueError) as e:
        raise CardError(f"{card.source or card.name}: config does not fit family {card.family!r}: {e}") from None
    with safe_open(str(weights), framework="pt") as f:
        stored = (f.metadata() or {}).get("family")
    if stored is not None and stored != card.family:
        raise ValueError(f"weights {weights} hold a {stored!r} model but card {card.name!r} says {card.family!r}")
    model = model_cls(config)
    model.load_weights(weights)
    model.float().eval()
    return model.to(device) if device is not None else model


HF_HUB_PREFIX = "hf-hub:"


def resolve(spec: str | os.PathLike) -> Path | ModelCard:
    """What ``spec`` names, without loading anything: an existing directory (Path) or a zoo card.

    An ``hf-hub:owner/name`` id is reserved (ValueError: not supported yet); a spec that is neither an existing
    directory nor a zoo name raises ValueError naming it and listing the known zoo names.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be a model directory, a zoo name or an hf-hub: id (str), got {type(spec).__name__}")
    text = os.fspath(spec)
    if text.startswith(HF_HUB_PREFIX):
        raise ValueError(
            f"hf-hub ids are not supported yet (got {text!r}): download the repository and pass its directory "
            "(config.json + model.safetensors), or pass a zoo name (see `learnedaug zoo list`)"
        )
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    cards = all_cards()
    if text in cards:
        return cards[text]
    where = f"{path} is a file, not a model directory" if path.exists() else f"no file or directory exists at {path}"
    close = difflib.get_close_matches(text, list(cards), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"{text!r} is neither a model directory nor a zoo name: {where}{hint} "
        f"(known models: {', '.join(sorted(cards)) or 'none'})"
    )


def load(
    spec: str | os.PathLike,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    path: str | os.PathLike | None = None,
) -> GenerativeModel:
    """THE way to load a model: ``spec`` is a saved model directory (``config.json`` + ``model.safetensors``), a zoo
    name, or (reserved, not supported yet) an ``hf-hub:owner/name`` id. Returns it float32, in eval mode, on ``device``.

    A zoo name's weights file is resolved as in :func:`weights_path` (local first, then a verified download); ``path``
    (zoo names only) points at a local copy of it. Bad specs raise ValueError as in :func:`resolve`.
    """
    target = resolve(spec)
    if isinstance(target, Path):
        if path is not None:
            raise ValueError(f"path= is only for zoo names; {str(target)!r} is a model directory, got path={path!r}")
        from ..models.base import GenerativeModel

        return GenerativeModel.from_pretrained(target, device=device)
    return build_from_card(target, weights_path(target.name, path=path, progress=progress), device=device)


def make_card(
    model_dir: str | os.PathLike,
    *,
    name: str,
    training_data: dict[str, Any],
    recipe: str,
    metrics: dict[str, float],
    urls: list[str],
    zoo_dir: str | os.PathLike,
    description: str = "",
) -> ModelCard:
    """Publish a saved model directory (``config.json`` + ``model.safetensors``) into ``zoo_dir``.

    Copies the weights to ``zoo_dir/weights/<name>.safetensors``, computes their size and SHA-256, and
    writes the validated card ``zoo_dir/<name>.json``. Upload the weights file to each of ``urls``.
    """
    from ..models.base import WEIGHTS_NAME, read_config

    model_dir, zoo_dir = Path(model_dir), Path(zoo_dir)
    family, config = read_config(model_dir)
    if not (model_dir / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(f"no {WEIGHTS_NAME} in {model_dir}")
    data = {
        "name": name, "description": description, "family": family, "config": config,
        "training_data": training_data, "recipe": recipe, "metrics": metrics,
        "file": f"{name}.safetensors", "sha256": "0" * 64, "size": 1, "urls": urls,
    }
    ModelCard.from_dict(data, source=zoo_dir / f"{name}.json")  # validate the rest before copying (digest/size filled below)
    weights = zoo_dir / "weights" / data["file"]
    with atomic_path(weights) as tmp:
        shutil.copyfile(model_dir / WEIGHTS_NAME, tmp)
    data.update(sha256=file_sha256(weights), size=weights.stat().st_size)
    card = ModelCard.from_dict(data, source=zoo_dir / f"{name}.json")
    card.write(zoo_dir / f"{name}.json")
    return card
