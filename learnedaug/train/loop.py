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
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from .._checks import check_int
from .._io import atomic_path, atomic_write_text, disk_bytes
from .._random import worker_seed
from .batching import collate, fast_view, to_device_images, validate_dataset
from .checkpoint import (
    BEST_NAME, CHECKPOINT_NAME, CHECKPOINT_VERSION, load_checkpoint, model_state, save_checkpoint, unpack_optimizer,
)
from .distributed import Dist, setup_distributed
from .early_stopping import EarlyStopping, keep_best, per_class_stopping
from .objectives import objective_for
from .plots import save_loss_curve, save_sample_grid

MODEL_DIRNAME = "model"
HISTORY_NAME = "history.json"
LOSS_PLOT_NAME = "loss.png"
SAMPLES_DIRNAME = "samples"
__all__ = ["BEST_NAME", "CHECKPOINT_NAME", "TrainResult", "fit", "load_checkpoint", "validate_dataset"]


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` produced.

    ``history``: one dict per completed epoch (``epoch`` 1-based, the mean of every logged loss, ``val_loss`` when a
    validation split is used, ``seconds``). ``model_dir``: the ``save_pretrained`` directory (``out_dir/model``).
    ``best_epoch``: with early stopping, the (latest) epoch whose weights were kept, else None; ``best_epochs``: that
    epoch per class when ClassVAE classes stop one by one. ``stopped_early``: some patience ran out. ``checkpoint``:
    its path, None when ``keep_checkpoint=False`` removed it. ``disk_bytes``: the size of ``out_dir`` at the end.
    """

    model: torch.nn.Module
    history: list[dict[str, float]]
    out_dir: Path
    model_dir: Path
    checkpoint: Path | None
    disk_bytes: int
    epochs_completed: int
    best_epoch: int | None
    best_epochs: list[int | None] | None
    stopped_early: bool


# ---- distributed ---------------------------------------------------------------------------------
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
    ddp: Dist,
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
              ddp: Dist, per_class: bool) -> tuple[float, list[float] | None]:
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
                x, y = to_device_images(images, device), labels.to(device)
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


def fit(
    model: torch.nn.Module,
    dataset: Dataset,
    *,
    out_dir: str | os.PathLike,
    epochs: int | None = None,
    batch_size: int | None = None,
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
    sample_every: int | None = None,
    checkpoint_every: int | None = None,
    grad_clip: float | None = None,
    keep_checkpoint: bool = True,
    optimizer_state: bool = True,
    export_dtype: torch.dtype | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` with ``objective``; write checkpoints, PNG reports and the final model.

    ``dataset``: map-style, items ``(image (C, H, W) float in [0, 1] or uint8, label int)``; checked in full before
    training. ``objective``: default ``objective_for(model)``. ``epochs``, ``batch_size``, ``val_fraction`` and
    ``patience`` default to the objective's :class:`~learnedaug.train.objectives.Recipe` (the family's paper values,
    e.g. ClassVAE: batch 8, 200 epochs, a 15 % validation split, patience 10; WarpVAE: about 2,000 steps whatever
    the data size, gradient norm clipped at 5); an objective without a recipe needs
    ``epochs`` and ``batch_size``, and trains without validation or early stopping unless told.
    ``batch_size`` is per process; an epoch is the full batches of the (shuffled) data, or one batch if the data is
    smaller. ``patience``: stop after that many epochs without a better validation loss and keep the best weights
    (per class where the model and objective support it: each ClassVAE class stops on its own).
    ``device``: default the model's. ``amp``: None = bf16 autocast on CUDA, off on CPU; True/"bf16"; "fp16" (with a
    GradScaler); False. ``compile``: ``nn.Module.compile`` each top-level submodule. ``sample_every``: epochs
    between the PNG reports (sample grid, loss curve; always after the last epoch; 0 = never; None = about 50 per
    run, every epoch for runs of up to 50 epochs). ``checkpoint_every``:
    epochs between checkpoints (always after the last epoch; None = about 50 per run, like ``sample_every``: a
    2,000-epoch run of 50 images does not write 2,000); a resume restarts from the last one written, and
    because every epoch is re-seeded from (seed, epoch) it still repeats the uninterrupted run. ``grad_clip``: max
    gradient norm per optimizer step (None: the recipe's, if any; ``float("inf")`` turns a recipe's clipping off).

    What stays on disk: ``keep_checkpoint=False`` deletes the checkpoint once the run has finished (it protects the
    run while it trains; keep it to extend the run later with ``resume``). ``optimizer_state=False`` writes
    checkpoints without optimizer state (about a half / a third the size for RMSprop / Adam); resuming from one then
    restarts the optimizers and is no longer bit-exact (a warning says so). ``export_dtype`` (e.g. torch.float16)
    stores ``model/`` in that precision (loading casts back to float32).

    Under ``torchrun`` (RANK/WORLD_SIZE set) every rank calls this with the same arguments; gradients are averaged
    over ranks, BatchNorm buffers are copied from rank 0 after each epoch and rank 0 writes the files.

    Writes into ``out_dir``: ``checkpoint.safetensors`` (atomic), ``history.json``, ``loss.png``,
    ``samples/epoch_XXX.png`` and ``model/`` (``save_pretrained``); while early stopping runs also
    ``best.safetensors``, removed at the end when ``model/`` holds the same weights in float32. ``resume=True``
    continues from ``checkpoint.safetensors`` (starting fresh if there is none); without it an existing checkpoint
    is an error rather than silently overwritten.
    """
    if objective is None:
        objective = objective_for(model)
    recipe = getattr(objective, "recipe", None)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value is None and recipe is None:
            raise ValueError(f"{name} is required: objective {type(objective).__name__} has no recipe of defaults")
    if epochs is not None:
        check_int(epochs, "epochs")
    batch_size = check_int(batch_size if batch_size is not None else recipe.batch_size, "batch_size")
    if grad_clip is None and recipe is not None:
        grad_clip = recipe.grad_clip
    check_int(num_workers, "num_workers", min=0)
    if sample_every is not None:
        check_int(sample_every, "sample_every", min=0)
    if checkpoint_every is not None:
        check_int(checkpoint_every, "checkpoint_every")
    check_int(seed, "seed", min=None)
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip!r}")
    if export_dtype is not None and not (isinstance(export_dtype, torch.dtype) and export_dtype.is_floating_point):
        raise TypeError(f"export_dtype must be a floating torch.dtype such as torch.float16, got {export_dtype!r}")
    if val_fraction is None:
        val_fraction = recipe.val_fraction if recipe is not None else 0.0
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if patience is None and recipe is not None and val_fraction > 0:
        patience = recipe.patience
    if patience is not None:
        check_int(patience, "patience")
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
    ddp, device = setup_distributed(device)
    if epochs is None:  # the recipe's, for about this many training images per process
        epochs = recipe.epochs_for(int(len(labels) * (1 - float(val_fraction))) // ddp.world, batch_size)
    if sample_every is None:
        sample_every = -(-epochs // 50)
    if checkpoint_every is None:
        checkpoint_every = -(-epochs // 50)
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=rng_devices):
            return _fit(
                model, dataset, labels, ddp, device, amp_dtype, out_dir, ckpt_path,
                objective=objective, epochs=epochs, batch_size=batch_size, val_fraction=float(val_fraction),
                patience=patience, seed=seed, resume=resume, compile=compile, num_workers=num_workers,
                progress=progress, sample_every=sample_every, checkpoint_every=checkpoint_every, grad_clip=grad_clip,
                keep_checkpoint=keep_checkpoint, optimizer_state=optimizer_state, export_dtype=export_dtype,
            )
    finally:
        if ddp.owns_group:
            dist.destroy_process_group()


def _fit(model, dataset, labels, ddp: Dist, device, amp_dtype, out_dir: Path, ckpt_path: Path, *, objective, epochs,
         batch_size, val_fraction, patience, seed, resume, compile, num_workers, progress, sample_every, checkpoint_every,
         grad_clip, keep_checkpoint, optimizer_state, export_dtype) -> TrainResult:
    family = getattr(model, "family", type(model).__name__)
    model.to(device)
    if compile:
        _compile_in_place(model)
    optimizers = objective.configure_optimizers(model)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    # Validation split and data order: functions of the seed only.
    dataset = fast_view(dataset)
    if val_fraction > 0:
        from ..data import stratified_split

        train_idx, val_idx = stratified_split(labels, val_fraction, seed=seed)
        train_set: Dataset = Subset(dataset, train_idx.tolist())
        val_loader = DataLoader(Subset(dataset, val_idx.tolist()), batch_size=batch_size, num_workers=num_workers,
                                collate_fn=collate)
    else:
        train_set, val_loader = dataset, None
    if hasattr(objective, "setup"):  # the GAN sizes its DiffAugment policy to the training set; WarpVAE stores it
        objective.setup(model, train_set)
    sampler = DistributedSampler(train_set, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=seed)
    loader_gen = torch.Generator()
    loader = DataLoader(
        train_set, batch_size=batch_size, sampler=sampler, num_workers=num_workers, generator=loader_gen, collate_fn=collate,
        drop_last=len(sampler) >= batch_size,  # full batches only, unless the whole shard is smaller than one batch
        pin_memory=device.type == "cuda",
    )
    fingerprint = {"family": family, "dataset_size": len(labels), "seed": seed, "val_fraction": val_fraction}

    # State carried across epochs (and checkpoints).
    per_class = patience is not None and per_class_stopping(model, objective)
    stopper = EarlyStopping(patience, int(model.num_classes) if per_class else 1) if patience is not None else None
    best: dict[str, torch.Tensor] | None = None  # CPU copy of the kept weights (early stopping)
    start_epoch, history = 0, []
    if resume and ckpt_path.exists():
        tensors, meta = load_checkpoint(ckpt_path)
        for key, value in fingerprint.items():
            if meta.get(key) != value:
                raise ValueError(f"cannot resume {ckpt_path}: it was trained with {key}={meta.get(key)!r}, this run has {key}={value!r}")
        model.load_state_dict(model_state(tensors))
        if meta["optimizers"] is None:
            warnings.warn(f"{ckpt_path} holds no optimizer state (optimizer_state=False): the optimizers restart, "
                          "so the resumed run will not repeat an uninterrupted one exactly", stacklevel=3)
        elif sorted(meta["optimizers"]) != sorted(optimizers):
            raise ValueError(f"cannot resume {ckpt_path}: it holds optimizers {sorted(meta['optimizers'])}, the objective built {sorted(optimizers)}")
        else:
            for name, opt in optimizers.items():
                unpack_optimizer(name, opt, meta["optimizers"][name], tensors)
        if meta["scaler"] is not None and scaler.is_enabled():
            scaler.load_state_dict(meta["scaler"])
        start_epoch, history = meta["epoch"], meta["history"]
        if stopper is not None and meta["early_stopping"] is not None:
            stopper.load(meta["early_stopping"])
            best = _load_best(out_dir)
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
                x, y = to_device_images(images, device), batch_labels.to(device, non_blocking=True)
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
                        best = keep_best(model, best, improved if per_class else None)
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
                meta = {"version": CHECKPOINT_VERSION, **fingerprint, "epoch": epoch + 1, "epochs": epochs,
                        "batch_size": batch_size, "world_size": ddp.world, "history": history,
                        "early_stopping": stopper.state() if stopper is not None else None}
                save_checkpoint(ckpt_path, model, optimizers if optimizer_state else None, scaler, meta)
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
        model.save_pretrained(model_dir, dtype=export_dtype)
        if export_dtype in (None, torch.float32):  # model/ now holds the kept weights exactly
            (out_dir / BEST_NAME).unlink(missing_ok=True)
        if not keep_checkpoint:
            ckpt_path.unlink(missing_ok=True)
            (out_dir / BEST_NAME).unlink(missing_ok=True)
    ddp.barrier()
    kept = [e for e in stopper.best_epoch if e is not None] if stopper is not None else []
    return TrainResult(
        model=model, history=history, out_dir=out_dir, model_dir=model_dir,
        checkpoint=ckpt_path if keep_checkpoint else None, disk_bytes=disk_bytes(out_dir),
        epochs_completed=len(history), best_epoch=max(kept) if kept else None,
        best_epochs=list(stopper.best_epoch) if per_class else None,
        stopped_early=stopper is not None and any(stopper.stopped),
    )


def _load_best(out_dir: Path) -> dict[str, torch.Tensor]:
    """The kept weights of an early-stopping run: ``best.safetensors``, or the finished run's float32 ``model/``."""
    from ..models.base import WEIGHTS_NAME

    if (out_dir / BEST_NAME).is_file():
        return model_state(load_file(out_dir / BEST_NAME))
    if (out_dir / MODEL_DIRNAME / WEIGHTS_NAME).is_file():
        return load_file(out_dir / MODEL_DIRNAME / WEIGHTS_NAME)
    raise FileNotFoundError(f"cannot resume early stopping in {out_dir}: neither {BEST_NAME} nor {MODEL_DIRNAME}/ holds "
                            "the kept weights; start a fresh run in another out_dir")
