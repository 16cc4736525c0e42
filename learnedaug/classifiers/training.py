"""Train a small classifier with or without augmentation, and score it (accuracy, macro-F1, loss).

Data arguments (``train``, ``val``, ``test``, ``extra_dataset``) accept any of
  - an :class:`~learnedaug.data.ImageSet` (kept as uint8, converted per batch: fast, low memory),
  - a pair ``(images, labels)``: images uint8 or float in [0, 1] ``(N, C, H, W)``, labels int64 ``(N,)``,
  - a map-style ``Dataset`` of ``(image (C, H, W) float in [0, 1], label)`` pairs. Training re-reads it every epoch
    through a seeded ``DataLoader``, so per-item transforms and datasets that change per epoch work; a dataset
    with ``set_epoch(epoch)`` has it called before each epoch.

The training recipe follows seed 001 / thesis 003: Adam (lr 1e-3), cross-entropy, batch 32, early stopping on the
validation loss with patience 10, and the weights of the best validation epoch are restored.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from .._checks import check_images, check_labels
from ..data import ImageSet, _as_label_tensor
from .nets import build_classifier

Data = Dataset | tuple[torch.Tensor, torch.Tensor] | ImageSet
Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
MONITORS = ("val_loss", "val_accuracy")
SCHEDULES = ("constant", "cosine")


# ---------------------------------------------------------------------------------------------------- data plumbing


def _as_tensors(data: Data, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(images uint8|float (N, C, H, W), labels int64 (N,))`` when ``data`` is held as tensors, else ``None``."""
    if isinstance(data, ImageSet):
        return (data.images, data.labels) if data.transform is None else None
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        data = tuple(data.tensors)
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"{name} must be a pair (images, labels), got a sequence of length {len(data)}")
        images, labels = data
        check_images(images, name=f"{name} images", channels=(1, 3), unit_range=True, allow_uint8=True)
        labels = _as_label_tensor(labels, name=f"{name} labels")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{name} labels has {labels.shape[0]} entries but there are {images.shape[0]} images")
        return images, labels
    if isinstance(data, Dataset):
        return None
    raise TypeError(f"{name} must be an ImageSet, a Dataset or a pair (images, labels), got {type(data).__name__}")


def _materialize(data: Data, name: str, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensors for evaluation; a generic Dataset is read once, in order."""
    tensors = _as_tensors(data, name)
    if tensors is not None:
        return tensors
    if len(data) == 0:
        raise ValueError(f"{name} is empty")
    xs, ys = zip(*DataLoader(data, batch_size=batch_size, shuffle=False))
    images, labels = torch.cat(xs), torch.cat(ys).to(torch.int64)
    check_images(images, name=f"{name} images", channels=(1, 3), unit_range=True)
    return images, labels


def _to_float(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def _num_classes(*parts: Data | None) -> int:
    for part in parts:
        if isinstance(part, ImageSet):
            return part.num_classes
    top = 0
    for i, part in enumerate(parts):
        if part is not None:
            top = max(top, int(_materialize(part, f"data[{i}]")[1].max()) + 1)
    return max(top, 2)


class _PairItems(Dataset):
    """``(image float (C, H, W) in [0, 1], label int)`` items over tensors, like :class:`ImageSet` items."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        return (image.float() / 255 if image.dtype == torch.uint8 else image.float()), int(self.labels[index])


def _epoch_tensors(part: Data) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A dataset's current epoch as tensors when it offers them (e.g. :class:`~learnedaug.mixing.SyntheticDataset`)."""
    get = getattr(part, "epoch_tensors", None)
    return get() if callable(get) else None


class _Batches:
    """Shuffled training batches each epoch: tensor slicing when every part is (or offers its epoch as) tensors, else
    a seeded DataLoader over the items.

    An epoch shows the first part (the real training set) ``repeats`` times and every other part once, all shuffled
    together. A part with ``set_epoch`` has it called first, and a part with ``epoch_tensors()`` is re-read then.
    """

    def __init__(self, parts: list[Data], batch_size: int, generator: torch.Generator, repeats: int = 1) -> None:
        self.parts, self.batch_size, self.generator, self.repeats = parts, batch_size, generator, repeats
        fixed = [_as_tensors(p, "train" if i == 0 else "extra_dataset") for i, p in enumerate(parts)]
        self.per_epoch = [i for i, t in enumerate(fixed) if t is None and _epoch_tensors(parts[i]) is not None]
        if all(t is not None or i in self.per_epoch for i, t in enumerate(fixed)):
            self.fixed, self.loader = fixed, None
            self._gather()
            self.image_shape = tuple(self.images.shape[1:])
        else:
            datasets = [_Tagged(p if t is None else _PairItems(*t), extra=i > 0) for i, (p, t) in enumerate(zip(parts, fixed))]
            datasets = datasets[:1] * repeats + datasets[1:]
            self.images = self.labels = None
            self.loader = DataLoader(ConcatDataset(datasets), batch_size=batch_size, shuffle=True, generator=generator)
            self.image_shape = tuple(datasets[0][0][0].shape)
        if len(self) == 0:
            raise ValueError("train is empty")

    def _gather(self) -> None:
        """Concatenate every part's tensors (the per-epoch parts' current ones) and index the first part ``repeats``
        times."""
        tensors = [_epoch_tensors(p) if i in self.per_epoch else self.fixed[i] for i, p in enumerate(self.parts)]
        float_mix = len({t[0].dtype for t in tensors}) > 1
        self.images = torch.cat([t[0].float() / 255 if float_mix and t[0].dtype == torch.uint8 else t[0] for t in tensors])
        self.labels = torch.cat([t[1] for t in tensors]).to(torch.int64)
        n_first = self.n_first = tensors[0][1].shape[0]
        self.index = torch.cat([torch.arange(n_first).repeat(self.repeats), torch.arange(n_first, self.labels.shape[0])])

    def __len__(self) -> int:
        return self.index.shape[0] if self.loader is None else len(self.loader.dataset)

    def epoch(self, epoch: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(images float (B, C, H, W), labels int64 (B,), extra bool (B,))`` batches; ``extra`` marks rows that
        come from the parts after the first (e.g. synthetic samples)."""
        for part in self.parts:
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        if self.loader is None:
            if self.per_epoch:
                self._gather()
            if self.images.device != device:  # held on the training device: one copy, not one per batch
                self.images, self.labels = self.images.to(device), self.labels.to(device)
            order = self.index[torch.randperm(len(self), generator=self.generator)].to(device)
            for idx in order.split(self.batch_size):
                yield _to_float(self.images[idx], device), self.labels[idx].to(device), idx >= self.n_first
        else:
            for x, y, extra in self.loader:
                yield _to_float(x, device), y.to(device, torch.int64), extra.to(device)


class _Tagged(Dataset):
    """``(image, label, extra)`` items: a part's items with a flag saying whether it is an added (extra) part."""

    def __init__(self, dataset: Dataset, *, extra: bool) -> None:
        self.dataset, self.extra = dataset, extra

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        image, label = self.dataset[index]
        return image, label, self.extra


# ---------------------------------------------------------------------------------------------------- training


@dataclass
class History:
    """Per-epoch curves (index = epoch, 0-based; ``lr``: the learning rate the epoch trained with) and the
    early-stopping outcome.

    ``best_epoch``: the epoch whose weights the returned model holds; ``stopped_early``: patience ran out.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _soft_accuracy_target(y: torch.Tensor) -> torch.Tensor:
    return y.argmax(dim=1) if y.ndim == 2 else y


def _scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device,
            batch_size: int) -> tuple[float, torch.Tensor]:
    """Mean cross-entropy and predicted labels ``(N,)`` (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    total, preds = 0.0, []
    with torch.inference_mode():
        for start in range(0, labels.shape[0], batch_size):
            logits = model(_to_float(images[start:start + batch_size], device))
            y = labels[start:start + batch_size].to(device)
            total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            preds.append(logits.argmax(dim=1).cpu())
    model.train(was_training)
    return total / max(labels.shape[0], 1), torch.cat(preds)


def train_classifier(
    model: str | nn.Module,
    train: Data,
    val: Data | None = None,
    *,
    augment: Augment | None = None,
    extra_dataset: Data | None = None,
    extra_weight: float = 1.0,
    repeats: int = 1,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    patience: int | None = 10,
    monitor: str = "val_loss",
    schedule: str = "constant",
    num_classes: int | None = None,
    model_kwargs: Mapping | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "classifier",
) -> tuple[nn.Module, History]:
    """Train a classifier; returns ``(model with the best validation weights, History)``.

    ``model``: ``"cnn"`` / ``"vgg"`` (built for the data's image shape and ``num_classes``, inferred from the data when
    ``None``; ``model_kwargs`` go to :func:`~learnedaug.classifiers.build_classifier`) or an ``nn.Module``
    (trained in place). ``extra_dataset`` (e.g. synthetic samples, or a copy of ``train`` for the AUGORIG control) is
    appended to ``train``. An epoch shows ``train`` ``repeats`` times (independently shuffled, so online ``augment``
    draws afresh for every showing) and ``extra_dataset`` once: with a few dozen images, ``repeats`` turns an epoch
    of two optimizer steps into enough steps for early stopping to judge. ``extra_weight``: the loss weight of each
    ``extra_dataset`` row relative to a real one (the batch loss is the weighted mean; e.g. 0.5 to down-weight
    synthetic samples; 1 = plain cross-entropy). ``augment(x, y) -> (x, y)`` runs on every training batch (float ``(B, C, H, W)`` in [0, 1]
    on ``device``, int64 labels ``(B,)``); it may return soft labels ``(B, K)`` (CutMix-style). With ``val``, the
    weights of the best epoch by ``monitor`` are restored and training stops after ``patience`` epochs without
    improvement (``None``: never stop early); without ``val`` the final weights are kept. ``schedule``: Adam's
    learning rate stays ``lr`` (``"constant"``) or decays to 0 along a half cosine over ``epochs`` (``"cosine"``,
    stepped once per epoch: the usual choice for a fixed budget without validation).
    Everything random (initialisation, shuffling, dropout, transforms using torch's RNG) is seeded by ``seed``
    without touching the caller's global RNG state; ``generator`` (a CPU ``torch.Generator``), when given, draws the
    shuffling instead. ``desc``: the progress bar's label.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if not (lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if isinstance(extra_weight, bool) or not isinstance(extra_weight, (int, float)) or not extra_weight >= 0:
        raise ValueError(f"extra_weight must be a number >= 0, got {extra_weight!r}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a positive int or None, got {patience!r}")
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    device = torch.device(device)
    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        shuffle = torch.Generator().manual_seed(seed) if generator is None else generator
        batches = _Batches([train] if extra_dataset is None else [train, extra_dataset], batch_size, shuffle, repeats)
        if isinstance(model, str):
            k = num_classes if num_classes is not None else _num_classes(train, val, extra_dataset)
            model = build_classifier(model, batches.image_shape, k, **dict(model_kwargs or {}))
        elif not isinstance(model, nn.Module):
            raise TypeError(f"model must be a classifier name or an nn.Module, got {type(model).__name__}")
        model.to(device)
        val_tensors = None if val is None else _materialize(val, "val")
        history = _fit(model, batches, val_tensors, augment, epochs, lr, schedule, patience, monitor, device,
                       progress, desc, float(extra_weight))
    return model, history


def _fit(model: nn.Module, batches: _Batches, val: tuple[torch.Tensor, torch.Tensor] | None, augment: Augment | None,
         epochs: int, lr: float, schedule: str, patience: int | None, monitor: str, device: torch.device,
         progress: bool, desc: str, extra_weight: float = 1.0) -> History:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs) if schedule == "cosine" else None
    history = History()
    best_score, best_state, waited = math.inf, None, 0
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        history.lr.append(optimizer.param_groups[0]["lr"])
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y, extra in batches.epoch(epoch, device):
            if augment is not None:
                out = augment(x, y)
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    raise TypeError(f"augment must return a pair (images, labels), got {type(out).__name__}")
                x, y = out
            logits = model(x)
            if extra_weight == 1.0:
                loss = F.cross_entropy(logits, y)
            else:
                w = torch.where(extra, extra_weight, 1.0).to(logits.dtype)
                loss = (F.cross_entropy(logits, y, reduction="none") * w).sum() / w.sum().clamp_min(1e-12)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * y.shape[0]
            correct += int((logits.detach().argmax(1) == _soft_accuracy_target(y)).sum())
            seen += y.shape[0]
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(loss_sum / seen)
        history.train_accuracy.append(correct / seen)
        postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
        if val is not None:
            val_loss, preds = _scores(model, val[0], val[1], device, 256)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(float((preds == val[1].cpu()).float().mean()))
            postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{history.val_accuracy[-1]:.4f}")
            score = val_loss if monitor == "val_loss" else -history.val_accuracy[-1]
            if score < best_score:
                best_score, waited, history.best_epoch = score, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
        bar.set_postfix(postfix)
        if patience is not None and val is not None and waited >= patience:
            history.stopped_early = True
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = len(history.train_loss) - 1
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# ---------------------------------------------------------------------------------------------------- scoring


def f1_per_class(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """F1 of each class, float64 ``(num_classes,)``: ``2 TP / (2 TP + FP + FN)``; NaN for a class that appears in
    neither ``y_true`` nor ``y_pred`` (0 when it appears in only one)."""
    check_labels(y_true, num_classes, name="y_true")
    check_labels(y_pred, num_classes, name="y_pred", n=y_true.shape[0])
    confusion = torch.bincount(y_true.long() * num_classes + y_pred.long(), minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes).double()
    tp = confusion.diagonal()
    denom = confusion.sum(0) + confusion.sum(1)  # (TP + FP) + (TP + FN)
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.full_like(tp, math.nan))


def macro_f1(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred`` (``sklearn`` ``average="macro"``)."""
    return float(f1_per_class(y_true, y_pred, num_classes).nanmean())


def predict(model: nn.Module, data: Data, *, batch_size: int = 256, device: torch.device | str | None = None
            ) -> torch.Tensor:
    """Predicted labels int64 ``(N,)`` (on CPU) for ``data``'s images, in eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    images, labels = _materialize(data, "data", batch_size)
    return _scores(model, images, labels, device, batch_size)[1]


def evaluate(model: nn.Module, test: Data, *, batch_size: int = 256, device: torch.device | str | None = None) -> dict:
    """Score ``model`` on ``test``: ``{"accuracy", "macro_f1", "per_class_f1" (list, NaN for absent classes),
    "loss" (mean cross-entropy), "n"}``. The number of classes is the model's output width."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    images, labels = _materialize(test, "test", batch_size)
    loss, preds = _scores(model, images, labels, device, batch_size)
    k = int(getattr(model, "num_classes", 0)) or int(model(_to_float(images[:1], device)).shape[1])
    per_class = f1_per_class(labels, preds, k)
    return {
        "accuracy": float((preds == labels).double().mean()),
        "macro_f1": float(per_class.nanmean()),
        "per_class_f1": per_class.tolist(),
        "loss": loss,
        "n": int(labels.shape[0]),
    }
