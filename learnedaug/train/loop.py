"""One training loop for every generator family: seeded data order, AMP, atomic checkpoint/resume, DDP, reports.

:func:`fit` drives an *objective* (``learnedaug.train.objectives``) that owns the losses and optimizers; the loop owns
everything around them. The objective calls ``step(opt_name, loss)`` once per optimizer update and the loop does the
backward pass (through a GradScaler for fp16), averages gradients over DDP ranks, clips, steps and zeroes gradients.

Reproducibility: at the start of every epoch the torch RNG, the objective's generator and the DataLoader's generator
are re-seeded from ``(seed, epoch, rank)``, and the data order is a pure function of ``(seed, epoch)``
(``DistributedSampler`` with ``set_epoch``). An epoch is therefore a function of the weights and optimizer state at its
start, which the checkpoint stores exactly, so a resumed run repeats the uninterrupted one bit for bit on CPU, and
under DDP every rank can re-derive its own streams (a rank-0 checkpoint could not hold the other ranks' RNG states).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from .._io import atomic_path, atomic_write_text
from .._random import worker_seed
from .plots import save_loss_curve, save_sample_grid

CHECKPOINT_NAME = "checkpoint.safetensors"
BEST_NAME = "best.safetensors"
MODEL_DIRNAME = "model"
HISTORY_NAME = "history.json"
LOSS_PLOT_NAME = "loss.png"
SAMPLES_DIRNAME = "samples"
_META_KEY = "learnedaug_checkpoint"
_CHECKPOINT_VERSION = 1
CLASSVAE_VAL_FRACTION = 0.15  # seed 001/003: 85/15 split with early stopping
DEFAULT_PATIENCE = 10  # seed 001


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` produced.

    ``history``: one dict per completed epoch (``epoch`` 1-based, the mean of every logged loss, ``val_loss`` when a
    validation split is used, ``seconds``). ``model_dir``: the ``save_pretrained`` directory (``out_dir/model``).
    ``best_epoch``: with early stopping, the (latest) epoch whose weights were kept, else None; ``best_epochs``: that
    epoch per class when ClassVAE classes stop one by one. ``stopped_early``: some patience ran out.
    """

    model: torch.nn.Module
    history: list[dict[str, float]]
    out_dir: Path
    model_dir: Path
    checkpoint: Path
    epochs_completed: int
    best_epoch: int | None
    best_epochs: list[int | None] | None
    stopped_early: bool


# ---- distributed ---------------------------------------------------------------------------------
@dataclasses.dataclass
class _Dist:
    """The process group seen by this process (world 1 without torchrun)."""

    world: int = 1
    rank: int = 0
    owns_group: bool = False
    device: torch.device = torch.device("cpu")  # where collectives run: CUDA for nccl, CPU for gloo

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean_(self, t: torch.Tensor) -> torch.Tensor:
        """Average ``t`` over ranks in place (on any device; nccl needs a CUDA copy)."""
        if self.active:
            buf = t if t.device == self.device else t.to(self.device)
            dist.all_reduce(buf, op=dist.ReduceOp.SUM)
            t.copy_(buf.div_(self.world))
        return t

    def broadcast_state(self, module: torch.nn.Module, *, params: bool) -> None:
        """Copy rank 0's buffers (and parameters) to every rank."""
        if not self.active:
            return
        with torch.no_grad():
            tensors = list(module.buffers()) + (list(module.parameters()) if params else [])
            for t in tensors:
                dist.broadcast(t, src=0)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def _setup_distributed(device: torch.device) -> tuple[_Dist, torch.device]:
    """Join the torchrun process group when RANK/WORLD_SIZE say so (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    comm = device if dist.get_backend() == "nccl" else torch.device("cpu")
    return _Dist(world=dist.get_world_size(), rank=dist.get_rank(), owns_group=owns, device=comm), device


# ---- data ----------------------------------------------------------------------------------------
def _check_item(index: int, item: Any, image_shape: tuple[int, ...], num_classes: int) -> int:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(f"dataset[{index}] must be an (image, label) pair, got {type(item).__name__}")
    image, label = item
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"dataset[{index}] image must be a torch.Tensor (C, H, W), got {type(image).__name__}")
    if tuple(image.shape) != tuple(image_shape):
        raise ValueError(f"dataset[{index}] image has shape {tuple(image.shape)} but the model needs {tuple(image_shape)}")
    if image.dtype != torch.uint8:
        if not image.dtype.is_floating_point:
            raise TypeError(f"dataset[{index}] image must be float in [0, 1] or uint8, got dtype {image.dtype}")
        lo, hi = image.amin().item(), image.amax().item()
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"dataset[{index}] image must be float in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    if isinstance(label, torch.Tensor):
        if label.numel() != 1 or label.dtype.is_floating_point or label.dtype == torch.bool:
            raise ValueError(f"dataset[{index}] label must be an integer, got tensor {label!r}")
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int):
        raise TypeError(f"dataset[{index}] label must be an int, got {type(label).__name__} {label!r}")
    if not 0 <= label < num_classes:
        raise ValueError(f"dataset[{index}] label {label} is outside [0, {num_classes})")
    return label


def validate_dataset(
    dataset: Dataset, image_shape: tuple[int, int, int], num_classes: int, *, num_workers: int = 0, progress: bool = False
) -> torch.Tensor:
    """Check every ``(image, label)`` of ``dataset`` against a model; return the labels as int64 ``(N,)``.

    Images must be ``image_shape`` tensors, float in [0, 1] or uint8; labels ints in ``[0, num_classes)``.
    Raises ValueError/TypeError naming the first bad index. An unchanged in-memory ``ImageSet`` is checked in one
    vectorised pass.
    """
    from ..data import ImageSet

    try:
        n = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"dataset must be a map-style Dataset with __len__, got {type(dataset).__name__}") from None
    if n == 0:
        raise ValueError("dataset is empty: nothing to train on")
    if isinstance(dataset, ImageSet) and dataset.transform is None:
        if dataset.image_shape != tuple(image_shape):
            raise ValueError(f"dataset images have shape {dataset.image_shape} but the model needs {tuple(image_shape)}")
        if int(dataset.labels.max()) >= num_classes:
            bad = int((dataset.labels >= num_classes).nonzero()[0])
            raise ValueError(f"dataset[{bad}] label {int(dataset.labels[bad])} is outside [0, {num_classes})")
        return dataset.labels.clone()
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers, generator=torch.Generator())
    labels = [
        _check_item(i, item, image_shape, num_classes)
        for i, item in enumerate(tqdm(loader, total=n, desc="checking data", disable=not progress, leave=False))
    ]
    return torch.tensor(labels, dtype=torch.int64)


class _Batch(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor


class _InMemory(Dataset):
    """Batched view of an unchanged in-memory ImageSet: one uint8 gather per batch instead of N ``__getitem__``.

    Same values as the ImageSet's items once :func:`_to_device_images` has converted them (on the device).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> _Batch:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return _Batch(self.images[idx], self.labels[idx])


def _collate(batch: Any) -> Any:
    """A ``__getitems__`` batch is already collated; anything else goes through the default collate."""
    if isinstance(batch, _Batch):
        return batch
    return torch.utils.data.default_collate(batch)


def _fast_view(dataset: Dataset) -> Dataset:
    from ..data import ImageSet

    if isinstance(dataset, ImageSet) and dataset.transform is None:
        return _InMemory(dataset.images, dataset.labels)
    return dataset


def _to_device_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


# ---- checkpoint ----------------------------------------------------------------------------------
def _jsonable(value: Any, where: str) -> Any:
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"cannot checkpoint {where}: {value!r} is not JSON-serialisable") from None
    return value


def _cpu_copy(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True).contiguous()


def _pack_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    sd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{name}/{idx}/{key}"] = _cpu_copy(value)
            else:
                scalars.setdefault(str(idx), {})[key] = _jsonable(value, f"optimizer {name!r} state {key!r}")
    return {"param_groups": _jsonable(sd["param_groups"], f"optimizer {name!r} param_groups"), "scalars": scalars}


def _unpack_optimizer(name: str, opt: torch.optim.Optimizer, packed: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
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


def _save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    scaler: torch.amp.GradScaler,
    meta: dict[str, Any],
) -> None:
    """One safetensors file: model and optimizer tensors, everything else as JSON in the header; atomic."""
    tensors = {f"model/{k}": _cpu_copy(v) for k, v in model.state_dict().items()}
    meta = dict(meta)
    meta["optimizers"] = {name: _pack_optimizer(name, opt, tensors) for name, opt in optimizers.items()}
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


def _model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}


# ---- the loop ------------------------------------------------------------------------------------
def _resolve_amp(amp: bool | str | None, device: torch.device) -> torch.dtype | None:
    if amp is None:
        return torch.bfloat16 if device.type == "cuda" else None
    if amp is False:
        return None
    if amp is True or amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    raise ValueError(f"amp must be None, True, False, 'bf16' or 'fp16', got {amp!r}")


def _check_positive_int(**values: Any) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _epoch_seeds(seed: int, epoch: int, rank: int) -> tuple[int, int, int]:
    """Seeds for (torch RNG, objective generator, DataLoader generator) of one epoch on one rank."""
    g = torch.Generator().manual_seed(worker_seed(seed, epoch=epoch, rank=rank))
    return tuple(int(s) for s in torch.randint(0, 2**62, (3,), generator=g).tolist())  # type: ignore[return-value]


@dataclasses.dataclass
class _Position:
    """Where training is, for error messages."""

    checkpoint: Path
    saved_epoch: int = 0  # epochs held by the checkpoint on disk
    epoch: int = 0  # 1-based while training
    step: int = 0  # 1-based within the epoch
    steps: int = 0

    def non_finite(self, what: str, value: float) -> FloatingPointError:
        kept = (f"the last good checkpoint {self.checkpoint} (epoch {self.saved_epoch}) is untouched"
                if self.saved_epoch else "no checkpoint was written yet")
        return FloatingPointError(
            f"{what} is {value} at epoch {self.epoch}, step {self.step} of {self.steps}; training stopped, {kept}"
        )


def _make_step(
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    scaler: torch.amp.GradScaler,
    ddp: _Dist,
    device_type: str,
    grad_clip: float | None,
    pos: _Position,
) -> Callable[[str, torch.Tensor], None]:
    """The ``step(opt_name, loss)`` callback handed to the objective."""
    params = {name: [p for g in opt.param_groups for p in g["params"] if p.requires_grad] for name, opt in optimizers.items()}

    def step(name: str, loss: torch.Tensor) -> None:
        if name not in optimizers:
            raise KeyError(f"step() got optimizer name {name!r}; the objective configured {sorted(optimizers)}")
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(f"step({name!r}, loss) needs a scalar loss tensor, got {type(loss).__name__} {getattr(loss, 'shape', '')}")
        opt = optimizers[name]
        if not ddp.active and not torch.isfinite(loss.detach()).item():
            raise pos.non_finite(f"the loss of optimizer {name!r}", loss.item())
        with torch.autocast(device_type, enabled=False):
            scaler.scale(loss).backward()
        if ddp.active:
            # Mean gradients over ranks in one collective; the loss rides along so every rank sees a NaN anywhere.
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params[name]]
            flat = torch.cat([g.reshape(-1).float() for g in grads] + [loss.detach().float().reshape(1)])
            ddp.mean_(flat)
            if not torch.isfinite(flat[-1]).item():
                raise pos.non_finite(f"the loss of optimizer {name!r} (mean over ranks)", flat[-1].item())
            offset = 0
            for p, g in zip(params[name], grads):
                p.grad = flat[offset: offset + g.numel()].view_as(g).to(g.dtype)
                offset += g.numel()
        if grad_clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params[name], grad_clip)
        scaler.step(opt)
        scaler.update()
        # Zero every gradient (not only this optimizer's): a GAN's generator loss also fills the discriminator's.
        model.zero_grad(set_to_none=True)

    return step


def _compile_in_place(model: torch.nn.Module) -> None:
    """``nn.Module.compile`` on each top-level submodule (state-dict keys unchanged); the model itself if it has none."""
    children = [c for c in model.children() if any(True for _ in c.parameters())]
    for child in children or [model]:
        child.compile()


def _validate(model, objective, loader: DataLoader, device: torch.device, autocast: Callable[[], Any],
              ddp: _Dist, per_class: bool) -> tuple[float, list[float] | None]:
    """Mean validation loss per image (averaged over ranks) and, with ``per_class``, each class's mean (NaN if absent).

    Per-class values come from ``objective.per_class_validation_loss``; otherwise ``objective.validation_loss``.
    """
    k = int(model.num_classes)
    sums = torch.zeros(k + 2, dtype=torch.float64)  # per-class sums, then total sum and count
    counts = torch.zeros(k, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast():
            for images, labels in loader:
                x, y = _to_device_images(images, device), labels.to(device)
                n = y.shape[0]
                if per_class:
                    c = torch.bincount(labels, minlength=k).double()
                    means = objective.per_class_validation_loss(model, x, y).detach().double().cpu()
                    weighted = torch.where(c > 0, means * c, 0.0)
                    sums[:k] += weighted
                    sums[k] += weighted.sum()
                    counts += c
                else:
                    sums[k] += float(objective.validation_loss(model, x, y)) * n
                sums[k + 1] += n
    finally:
        model.train(was_training)
    ddp.mean_(sums)
    ddp.mean_(counts)
    mean = float(sums[k] / sums[k + 1])
    return mean, ((sums[:k] / counts).tolist() if per_class else None)  # 0/0 -> NaN: class not in the split


class _EarlyStopping:
    """Patience on the validation loss, for the whole model or per class (ClassVAE: each class VAE stops alone).

    Slot ``i`` is the whole model, or class ``i``. A class without validation images (NaN loss) counts as improving,
    so it trains for every epoch and keeps its last weights.
    """

    def __init__(self, patience: int, slots: int) -> None:
        self.patience = patience
        self.best: list[float | None] = [None] * slots
        self.best_epoch: list[int | None] = [None] * slots
        self.bad: list[int] = [0] * slots
        self.stopped: list[bool] = [False] * slots

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad": self.bad, "stopped": self.stopped}

    def load(self, state: dict[str, Any]) -> None:
        if len(state["best"]) != len(self.best):
            raise ValueError(f"checkpoint tracks {len(state['best'])} early-stopping slots, this run {len(self.best)}")
        self.best, self.best_epoch, self.bad, self.stopped = state["best"], state["best_epoch"], state["bad"], state["stopped"]

    @property
    def done(self) -> bool:
        return all(self.stopped)

    def update(self, losses: list[float], epoch: int) -> list[int]:
        """Record one epoch's losses; return the slots that improved (their weights should be kept)."""
        improved = []
        for i, loss in enumerate(losses):
            if self.stopped[i]:
                continue
            if math.isnan(loss) or self.best[i] is None or loss < self.best[i]:
                if not math.isnan(loss):
                    self.best[i] = loss
                self.best_epoch[i], self.bad[i] = epoch, 0
                improved.append(i)
            else:
                self.bad[i] += 1
                self.stopped[i] = self.bad[i] >= self.patience
        return improved


def fit(
    model: torch.nn.Module,
    dataset: Dataset,
    *,
    epochs: int,
    batch_size: int,
    out_dir: str | os.PathLike,
    objective: Any = None,
    val_fraction: float | None = None,
    patience: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    resume: bool = False,
    amp: bool | str | None = None,
    compile: bool = False,
    num_workers: int = 0,
    progress: bool = True,
    sample_every: int = 1,
    checkpoint_every: int = 1,
    grad_clip: float | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` with ``objective``; write checkpoints, PNG reports and the final model.

    ``dataset``: map-style, items ``(image (C, H, W) float in [0, 1] or uint8, label int)``; checked in full before
    training. ``batch_size`` is per process; an epoch is the full batches of the (shuffled) data, or one batch if
    the data is smaller. ``objective``: default ``objective_for(model)``.
    ``val_fraction``: stratified hold-out whose loss is logged each epoch (default 0.15 for ClassVAE, else 0).
    ``patience``: stop after that many epochs without a better validation loss and keep the best weights (default
    10 for ClassVAE, where each class VAE stops on its own; otherwise None = no early stopping).
    ``device``: default the model's. ``amp``: None = bf16 autocast on CUDA, off on CPU; True/"bf16"; "fp16" (with a
    GradScaler); False. ``compile``: ``nn.Module.compile`` each top-level submodule. ``sample_every``: epochs
    between the PNG reports (sample grid, loss curve; always after the last epoch; 0 = never). ``checkpoint_every``:
    epochs between checkpoints (always after the last epoch); a resume restarts from the last one written, and
    because every epoch is re-seeded from (seed, epoch) it still repeats the uninterrupted run. ``grad_clip``: max
    gradient norm per optimizer step.

    Under ``torchrun`` (RANK/WORLD_SIZE set) every rank calls this with the same arguments; gradients are averaged
    over ranks, BatchNorm buffers are copied from rank 0 after each epoch and rank 0 writes the files.

    Writes into ``out_dir``: ``checkpoint.safetensors`` (after every epoch, atomic), ``history.json``, ``loss.png``,
    ``samples/epoch_XXX.png``, ``best.safetensors`` (early stopping) and ``model/`` (``save_pretrained``).
    ``resume=True`` continues from ``checkpoint.safetensors`` (starting fresh if there is none); without it an
    existing checkpoint is an error rather than silently overwritten.
    """
    _check_positive_int(epochs=epochs, batch_size=batch_size)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    if isinstance(sample_every, bool) or not isinstance(sample_every, int) or sample_every < 0:
        raise ValueError(f"sample_every must be an int >= 0, got {sample_every!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip!r}")
    family = getattr(model, "family", type(model).__name__)
    if val_fraction is None:
        val_fraction = CLASSVAE_VAL_FRACTION if family == "classvae" else 0.0
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if patience is None and family == "classvae" and val_fraction > 0:
        patience = DEFAULT_PATIENCE
    if patience is not None:
        _check_positive_int(patience=patience)
        if not val_fraction > 0:
            raise ValueError(f"patience={patience} needs a validation split: set val_fraction > 0")

    device = torch.device(device) if device is not None else next(model.parameters()).device
    amp_dtype = _resolve_amp(amp, device)
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not resume:
        raise FileExistsError(f"{ckpt_path} exists from an earlier run: pass resume=True to continue it or use another out_dir")

    with torch.random.fork_rng(devices=[]):  # random dataset transforms must not advance the caller's RNG
        labels = validate_dataset(dataset, tuple(model.image_shape), int(model.num_classes), num_workers=num_workers,
                                  progress=progress)
    ddp, device = _setup_distributed(device)
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=rng_devices):
            return _fit(
                model, dataset, labels, ddp, device, amp_dtype, out_dir, ckpt_path,
                objective=objective, epochs=epochs, batch_size=batch_size, val_fraction=float(val_fraction),
                patience=patience, seed=seed, resume=resume, compile=compile, num_workers=num_workers,
                progress=progress, sample_every=sample_every, checkpoint_every=checkpoint_every, grad_clip=grad_clip,
                family=family,
            )
    finally:
        if ddp.owns_group:
            dist.destroy_process_group()


def _per_class_stopping(model, objective) -> bool:
    """ClassVAE-style models whose objective can mask stopped classes: early stopping runs per class."""
    return all(hasattr(o, a) for o, a in (
        (model, "copy_classes_from"), (objective, "per_class_validation_loss"), (objective, "active_classes")))


def _fit(model, dataset, labels, ddp: _Dist, device, amp_dtype, out_dir: Path, ckpt_path: Path, *, objective, epochs,
         batch_size, val_fraction, patience, seed, resume, compile, num_workers, progress, sample_every, checkpoint_every,
         grad_clip, family) -> TrainResult:
    model.to(device)
    if objective is None:
        from .objectives import objective_for

        objective = objective_for(model)
    if compile:
        _compile_in_place(model)
    optimizers = objective.configure_optimizers(model)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    # Validation split and data order: functions of the seed only.
    dataset = _fast_view(dataset)
    if val_fraction > 0:
        from ..data import stratified_split

        train_idx, val_idx = stratified_split(labels, val_fraction, seed=seed)
        train_set: Dataset = Subset(dataset, train_idx.tolist())
        val_loader = DataLoader(Subset(dataset, val_idx.tolist()), batch_size=batch_size, num_workers=num_workers,
                                collate_fn=_collate)
    else:
        train_set, val_loader = dataset, None
    sampler = DistributedSampler(train_set, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=seed)
    loader_gen = torch.Generator()
    loader = DataLoader(
        train_set, batch_size=batch_size, sampler=sampler, num_workers=num_workers, generator=loader_gen, collate_fn=_collate,
        drop_last=len(sampler) >= batch_size,  # full batches only, unless the whole shard is smaller than one batch
        pin_memory=device.type == "cuda",
    )
    fingerprint = {"family": family, "dataset_size": len(labels), "seed": seed, "val_fraction": val_fraction}

    # State carried across epochs (and checkpoints).
    per_class = patience is not None and _per_class_stopping(model, objective)
    stopper = _EarlyStopping(patience, int(model.num_classes) if per_class else 1) if patience is not None else None
    best: dict[str, torch.Tensor] | None = None  # CPU copy of the kept weights (early stopping)
    start_epoch, history = 0, []
    if resume and ckpt_path.exists():
        tensors, meta = load_checkpoint(ckpt_path)
        for key, value in fingerprint.items():
            if meta.get(key) != value:
                raise ValueError(f"cannot resume {ckpt_path}: it was trained with {key}={meta.get(key)!r}, this run has {key}={value!r}")
        if sorted(meta["optimizers"]) != sorted(optimizers):
            raise ValueError(f"cannot resume {ckpt_path}: it holds optimizers {sorted(meta['optimizers'])}, the objective built {sorted(optimizers)}")
        model.load_state_dict(_model_state(tensors))
        for name, opt in optimizers.items():
            _unpack_optimizer(name, opt, meta["optimizers"][name], tensors)
        if meta["scaler"] is not None and scaler.is_enabled():
            scaler.load_state_dict(meta["scaler"])
        start_epoch, history = meta["epoch"], meta["history"]
        if stopper is not None and meta["early_stopping"] is not None:
            stopper.load(meta["early_stopping"])
            best = _model_state(load_file(out_dir / BEST_NAME))
    if per_class:
        objective.active_classes = torch.tensor([not s for s in stopper.stopped], device=device)
    ddp.broadcast_state(model, params=True)  # identical start on every rank

    pos = _Position(checkpoint=ckpt_path, saved_epoch=start_epoch, steps=len(loader))
    step = _make_step(model, optimizers, scaler, ddp, device.type, grad_clip, pos)
    train_gen = torch.Generator(device=device)
    grid_gen = torch.Generator(device=device)
    end_epoch = start_epoch if stopper is not None and stopper.done else max(epochs, start_epoch)
    bar = tqdm(total=(end_epoch - start_epoch) * len(loader), desc=f"train {family}",
               disable=not (progress and ddp.is_main), dynamic_ncols=True)
    model.train()
    model.zero_grad(set_to_none=True)
    with bar:
        for epoch in range(start_epoch, end_epoch):
            t0 = time.perf_counter()
            torch_seed, gen_seed, loader_seed = _epoch_seeds(seed, epoch, ddp.rank)
            torch.manual_seed(torch_seed)
            train_gen.manual_seed(gen_seed)
            loader_gen.manual_seed(loader_seed)
            sampler.set_epoch(epoch)
            pos.epoch = epoch + 1
            sums: dict[str, float] = {}
            for pos.step, (images, batch_labels) in enumerate(loader, start=1):
                x, y = _to_device_images(images, device), batch_labels.to(device, non_blocking=True)
                with autocast():
                    losses = objective.training_step(model, x, y, step, generator=train_gen)
                for name, value in losses.items():
                    value = float(value)
                    if not math.isfinite(value):
                        raise pos.non_finite(f"loss {name!r}", value)
                    sums[name] = sums.get(name, 0.0) + value
                bar.update(1)
                bar.set_postfix({k: f"{v / pos.step:.4g}" for k, v in sums.items()}, refresh=False)

            # Epoch end: keep ranks identical, then record, validate, write.
            ddp.broadcast_state(model, params=False)
            names = sorted(sums)
            means = ddp.mean_(torch.tensor([sums[k] / max(pos.step, 1) for k in names], dtype=torch.float64)).tolist()
            row: dict[str, Any] = {"epoch": epoch + 1, **dict(zip(names, means))}
            if val_loader is not None:
                row["val_loss"], class_losses = _validate(model, objective, val_loader, device, autocast, ddp, per_class)
                if stopper is not None:
                    improved = stopper.update(class_losses if per_class else [row["val_loss"]], epoch + 1)
                    if improved:
                        best = _keep_best(model, best, improved if per_class else None)
                        if ddp.is_main:
                            with atomic_path(out_dir / BEST_NAME) as tmp:
                                save_file({f"model/{k}": v for k, v in best.items()}, str(tmp))
                    if per_class:
                        objective.active_classes = torch.tensor([not s for s in stopper.stopped], device=device)
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            finished = epoch + 1 == end_epoch or (stopper is not None and stopper.done)
            save_now = (epoch + 1) % checkpoint_every == 0 or finished
            if ddp.is_main and save_now:
                meta = {"version": _CHECKPOINT_VERSION, **fingerprint, "epoch": epoch + 1, "epochs": epochs,
                        "batch_size": batch_size, "world_size": ddp.world, "history": history,
                        "early_stopping": stopper.state() if stopper is not None else None}
                _save_checkpoint(ckpt_path, model, optimizers, scaler, meta)
                atomic_write_text(out_dir / HISTORY_NAME, json.dumps(history, indent=1))
            if ddp.is_main and sample_every and ((epoch + 1) % sample_every == 0 or finished):
                save_loss_curve(history, out_dir / LOSS_PLOT_NAME, title=f"{family} training")
                grid_gen.manual_seed(seed)
                save_sample_grid(model, out_dir / SAMPLES_DIRNAME / f"epoch_{epoch + 1:03d}.png", generator=grid_gen)
            if save_now:
                pos.saved_epoch = epoch + 1
            if finished:
                break

    if best is not None:
        model.load_state_dict(best)
    model_dir = out_dir / MODEL_DIRNAME
    if ddp.is_main:
        model.save_pretrained(model_dir)
    ddp.barrier()
    kept = [e for e in stopper.best_epoch if e is not None] if stopper is not None else []
    return TrainResult(
        model=model, history=history, out_dir=out_dir, model_dir=model_dir, checkpoint=ckpt_path,
        epochs_completed=len(history), best_epoch=max(kept) if kept else None,
        best_epochs=list(stopper.best_epoch) if per_class else None,
        stopped_early=stopper is not None and any(stopper.stopped),
    )


def _keep_best(model: torch.nn.Module, best: dict[str, torch.Tensor] | None, classes: list[int] | None) -> dict[str, torch.Tensor]:
    """CPU copy of the weights to keep: the whole model, or (``classes``) only those classes' rows of a stacked model."""
    state = model.state_dict()
    if best is None or classes is None:
        return {k: _cpu_copy(v) for k, v in state.items()}
    index = torch.tensor(classes, dtype=torch.long)
    for k, v in state.items():
        best[k][index] = v.detach()[index.to(v.device)].cpu()
    return best
