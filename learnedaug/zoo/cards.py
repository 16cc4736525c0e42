"""Model cards: one JSON file per pretrained model, validated on load.

A card names the model, how to rebuild it (family + config), exactly what it was trained on,
how (the training command), what it measures, and which weights file (name, SHA-256, size,
download URLs) holds it. See ``model_zoo/README.md`` for the format.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from .download import check_filename, check_sha256, check_url

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SUBSET_RE = re.compile(r"^(all|\d+(\.\d+)?%|per-class-\d+)$")
_REQUIRED = ("name", "family", "config", "training_data", "recipe", "metrics", "file", "sha256", "size", "urls")
_OPTIONAL = ("description",)
_DATA_KEYS = ("dataset", "subset", "seed", "licence")


class CardError(ValueError):
    """A model card is malformed; the message names the card file and the field."""


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """What a model was trained on: ``dataset`` (e.g. "mnist"), ``subset`` ("all", "10%" or "per-class-5"),
    the subset's ``seed`` (None for "all") and the data's ``licence``."""

    dataset: str
    subset: str
    seed: int | None
    licence: str


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A validated model card. ``source`` is the JSON file it came from (None if built in memory)."""

    name: str
    family: str
    config: dict[str, Any]
    training_data: TrainingData
    recipe: str
    metrics: dict[str, float]
    file: str
    sha256: str
    size: int
    urls: tuple[str, ...]
    description: str = ""
    source: Path | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str | os.PathLike | None = None) -> "ModelCard":
        """Validate a parsed card; raise CardError naming ``source`` and the offending field."""
        where = str(source) if source is not None else "model card"

        def fail(msg: str) -> CardError:
            return CardError(f"{where}: {msg}")

        if not isinstance(data, dict):
            raise fail(f"a card must be a JSON object, got {type(data).__name__}")
        missing = [k for k in _REQUIRED if k not in data]
        unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
        if missing:
            raise fail(f"missing field(s) {missing}")
        if unknown:
            raise fail(f"unknown field(s) {unknown}; allowed: {sorted(_REQUIRED + _OPTIONAL)}")

        def text(value: Any, field: str) -> str:
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{field} must be a non-empty string, got {value!r}")
            return value

        name = text(data["name"], "name")
        if not _NAME_RE.match(name):
            raise fail(f"name must be lower-case letters, digits, '.', '_' or '-', got {name!r}")
        if source is not None and Path(source).stem != name:
            raise fail(f"name {name!r} must match the file name {Path(source).name!r}")
        config = data["config"]
        if not isinstance(config, dict):
            raise fail(f"config must be an object (the model config), got {config!r}")
        metrics = data["metrics"]
        if not isinstance(metrics, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in metrics.items()
        ):
            raise fail(f"metrics must map names to measured numbers, got {metrics!r}")
        size = data["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise fail(f"size must be a positive integer (bytes), got {size!r}")
        urls = data["urls"]
        if not isinstance(urls, list):
            raise fail(f"urls must be a list of URLs, got {urls!r}")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise fail(f"description must be a string, got {description!r}")
        try:
            file = check_filename(data["file"], "file")
            if not file.endswith(".safetensors"):
                raise ValueError(f"file must be a .safetensors file name, got {file!r}")
            sha256 = check_sha256(data["sha256"], "sha256")
            urls = tuple(check_url(u, f"urls[{i}]") for i, u in enumerate(urls))
        except (TypeError, ValueError) as e:
            raise fail(str(e)) from None
        return cls(
            name=name,
            family=text(data["family"], "family"),
            config=config,
            training_data=_training_data(data["training_data"], fail),
            recipe=text(data["recipe"], "recipe"),
            metrics={k: float(v) for k, v in metrics.items()},
            file=file,
            sha256=sha256,
            size=size,
            urls=urls,
            description=description,
            source=Path(source) if source is not None else None,
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ModelCard":
        """Read and validate a card JSON file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise CardError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(data, source=path)

    def to_dict(self) -> dict[str, Any]:
        """The card as plain JSON data (the inverse of :meth:`from_dict`)."""
        d = {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "config": self.config,
            "training_data": dataclasses.asdict(self.training_data),
            "recipe": self.recipe,
            "metrics": self.metrics,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "urls": list(self.urls),
        }
        if not self.description:
            del d["description"]
        return d

    def write(self, path: str | os.PathLike) -> Path:
        """Write the card as indented JSON, atomically; the file stem must equal the card name."""
        path = Path(path)
        ModelCard.from_dict(self.to_dict(), source=path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def check_training_data(self, dataset: str, subset: str, seed: int | None = None) -> None:
        """Raise ValueError unless this model was trained on exactly ``dataset``/``subset``/``seed``.

        A generator trained on more data than a benchmark's training subset has seen the images the
        classifier is evaluated without; a benchmark must refuse it.
        """
        td = self.training_data
        same_seed = subset == "all" or td.seed == seed  # the whole split is the same whatever the seed
        if (td.dataset, td.subset) != (dataset, subset) or not same_seed:
            raise ValueError(
                f"model {self.name!r} was trained on dataset={td.dataset!r} subset={td.subset!r} seed={td.seed!r}, "
                f"not on dataset={dataset!r} subset={subset!r} seed={seed!r}: using it would leak data"
            )


def _training_data(value: Any, fail) -> TrainingData:
    if not isinstance(value, dict):
        raise fail(f"training_data must be an object with {list(_DATA_KEYS)}, got {value!r}")
    missing = [k for k in _DATA_KEYS if k not in value]
    unknown = sorted(set(value) - set(_DATA_KEYS))
    if missing or unknown:
        raise fail(f"training_data needs exactly {list(_DATA_KEYS)}: missing {missing}, unknown {unknown}")
    for key in ("dataset", "licence"):
        if not isinstance(value[key], str) or not value[key].strip():
            raise fail(f"training_data.{key} must be a non-empty string, got {value[key]!r}")
    subset, seed = value["subset"], value["seed"]
    if not isinstance(subset, str) or not _SUBSET_RE.match(subset):
        raise fail(f"training_data.subset must be 'all', a percentage like '10%' or 'per-class-5', got {subset!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise fail(f"training_data.seed must be an integer or null, got {seed!r}")
    if subset != "all" and seed is None:
        raise fail(f"training_data.seed is required for subset {subset!r} (the subset depends on it)")
    return TrainingData(dataset=value["dataset"], subset=subset, seed=seed, licence=value["licence"])
