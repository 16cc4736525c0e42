"""The training checkpoint: one safetensors file, model and optimizer tensors, the run's bookkeeping as JSON.

Tensors are keyed ``model/<name>`` and ``optim/<opt>/<i>/<key>``; the header entry ``learnedaug_checkpoint`` holds
the epoch, history, seed, optimizer scalars and param groups, GradScaler and early-stopping state. Loading never
unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .._io import atomic_path

CHECKPOINT_NAME = "checkpoint.safetensors"
BEST_NAME = "best.safetensors"
_META_KEY = "learnedaug_checkpoint"
CHECKPOINT_VERSION = 1


def _jsonable(value: Any, where: str) -> Any:
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"cannot checkpoint {where}: {value!r} is not JSON-serialisable") from None
    return value


def cpu_copy(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True).contiguous()


def pack_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{name}/{idx}/{key}"] = cpu_copy(value)
            else:
                scalars.setdefault(str(idx), {})[key] = _jsonable(value, f"optimizer {name!r} state {key!r}")
    return {"param_groups": _jsonable(sd["param_groups"], f"optimizer {name!r} param_groups"), "scalars": scalars}


def unpack_optimizer(name: str, opt: torch.optim.Optimizer, packed: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optim/{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, field = key[len(prefix):].split("/", 1)
            state.setdefault(int(idx), {})[field] = value
    for idx, fields in packed["scalars"].items():
        state.setdefault(int(idx), {}).update(fields)
    if len(packed["param_groups"]) != len(opt.param_groups):
        raise ValueError(
            f"checkpoint optimizer {name!r} has {len(packed['param_groups'])} parameter groups, "
            f"the objective built {len(opt.param_groups)}"
        )
    # JSON turned tuples (e.g. Adam's betas) into lists.
    groups = [{k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()}
              for saved, current in zip(packed["param_groups"], opt.param_groups)]
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer] | None,
    scaler: torch.amp.GradScaler,
    meta: dict[str, Any],
) -> None:
    """One safetensors file: model and optimizer tensors, everything else as JSON in the header; atomic.

    ``optimizers`` None leaves the optimizer state out (``meta["optimizers"]`` is then None)."""
    tensors = {f"model/{k}": cpu_copy(v) for k, v in model.state_dict().items()}
    meta = dict(meta)
    meta["optimizers"] = (None if optimizers is None else
                          {name: pack_optimizer(name, opt, tensors) for name, opt in optimizers.items()})
    meta["scaler"] = scaler.state_dict() if scaler.is_enabled() else None
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta)})


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a training checkpoint: ``(tensors, meta)``; tensors keyed ``model/<name>`` and ``optim/<opt>/<i>/<key>``.

    ``meta`` holds ``epoch`` (completed epochs), ``history``, ``seed`` and the rest of the run's bookkeeping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several unrelated types for a damaged file
        raise ValueError(f"cannot read checkpoint {path} (corrupt or not a safetensors file): {e}") from e
    if _META_KEY not in header:
        raise ValueError(f"{path} is not a learnedaug training checkpoint (no {_META_KEY!r} header)")
    return tensors, json.loads(header[_META_KEY])


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
