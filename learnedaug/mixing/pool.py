"""SamplePool: one epoch's worth of synthetic labelled images, generated in big batches, stored compactly.

Generation runs in the main process on the model's device (no grad, large batches); the pool keeps uint8
(N, C, H, W) images and int64 (N,) labels on the host, which DataLoader workers index without touching CUDA.
``refill(epoch)`` regenerates with a seed derived from (seed, epoch); ``refill_async(epoch)`` does it in a
background thread (on a side CUDA stream when the model is on a GPU) into a second buffer, and ``wait()``
swaps it in: the previous pool stays readable meanwhile (double buffering).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import torch
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from .._checks import as_labels, check_images, check_int, check_labels, to_float_image
from .._random import worker_seed
from ..models.base import ConditionalSampler, check_sampler, model_device

# check_sampler and model_device live in models.base; re-exported here for code that imports them from pool.
__all__ = ["SamplePool", "plan_labels", "check_sampler", "model_device", "LabelSpec", "PROGRESS_MIN_BATCHES"]

LabelSpec = str | torch.Tensor | Sequence[int] | Mapping[int, int]

# Pools needing more than this many batches show a tqdm progress bar (``progress=None``).
PROGRESS_MIN_BATCHES = 8


def plan_labels(labels: LabelSpec, size: int, num_classes: int) -> tuple[torch.Tensor, bool]:
    """Resolve a label spec to ``(labels (size,) int64, shuffle)``.

    ``"balanced"``: ``size // K`` per class, the first ``size % K`` classes one more. A dict ``{class: count}``:
    per-class counts summing to ``size``. A list, tensor or numpy array: the labels themselves (length ``size``,
    order kept; float labels are refused, not truncated).
    The first two are shuffled at every refill so any slice of the pool is class-mixed.
    """
    if isinstance(labels, str):
        if labels != "balanced":
            raise ValueError(f"labels must be 'balanced', a {{class: count}} dict or a sequence of labels, got {labels!r}")
        counts = torch.full((num_classes,), size // num_classes, dtype=torch.long)
        counts[: size % num_classes] += 1
        return torch.repeat_interleave(torch.arange(num_classes), counts), True
    if isinstance(labels, Mapping):
        bad = [c for c in labels if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < num_classes]
        if bad:
            raise ValueError(f"labels dict keys must be classes in [0, {num_classes}), got {bad}")
        neg = {c: n for c, n in labels.items() if isinstance(n, bool) or not isinstance(n, int) or n < 0}
        if neg:
            raise ValueError(f"labels dict counts must be ints >= 0, got {neg}")
        if sum(labels.values()) != size:
            raise ValueError(f"labels dict counts sum to {sum(labels.values())} but size is {size}")
        counts = torch.tensor([labels.get(c, 0) for c in range(num_classes)], dtype=torch.long)
        return torch.repeat_interleave(torch.arange(num_classes), counts), True
    t = as_labels(labels, num_classes)
    check_labels(t, num_classes, name="labels", n=size)
    return t.detach().to("cpu", torch.long).clone(), False


class SamplePool:
    """``size`` synthetic images drawn from ``model`` with the labels ``labels``, regenerated per epoch.

    Args:
        model: any sampler (``num_classes``, ``image_shape``, ``sample(labels, generator=)``); it runs on its own
            device, which is where generation happens.
        size: number of images.
        labels: ``"balanced"``, a ``{class: count}`` dict, or the (size,) labels themselves (see :func:`plan_labels`).
        batch_size: images per ``sample`` call.
        device: where the pool is stored (default the host CPU, pinned when the model is on CUDA). Keep it on the
            host when DataLoader workers read it.
        seed: base seed; epoch ``e`` uses ``worker_seed(seed, epoch=e)`` (the same on every DDP rank, so every rank
            holds the same pool and a DistributedSampler splits it like a real dataset).
        progress: show a tqdm bar (None: only for pools of more than 8 batches).

    Attributes ``images`` (N, C, H, W) uint8 and ``labels`` (N,) int64 hold generation ``epoch``.
    The constructor fills epoch 0.
    """

    def __init__(
        self,
        model: ConditionalSampler,
        size: int,
        labels: LabelSpec = "balanced",
        *,
        batch_size: int = 1024,
        device: torch.device | str | None = None,
        seed: int = 0,
        progress: bool | None = None,
    ) -> None:
        check_sampler(model)
        self.model = model
        self.size = check_int(size, "size")
        self.batch_size = check_int(batch_size, "batch_size")
        self.seed = check_int(seed, "seed", min=None)
        self.progress = progress
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self._plan, self._shuffle = plan_labels(labels, self.size, model.num_classes)
        self.images = self._empty_images()
        self.labels = torch.empty(self.size, dtype=torch.long, device=self.device)
        self.epoch: int | None = None
        self._back = (self.images, self.labels)  # replaced by a second buffer on the first refill_async
        self._thread: threading.Thread | None = None
        self._pending: int | None = None
        self._error: BaseException | None = None
        self.refill(0)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (f"SamplePool(model={type(self.model).__name__}, size={self.size}, image_shape="
                f"{tuple(self.model.image_shape)}, epoch={self.epoch}, seed={self.seed})")

    def _empty_images(self) -> torch.Tensor:
        pin = self.device.type == "cpu" and model_device(self.model).type == "cuda"
        return torch.empty((self.size, *self.model.image_shape), dtype=torch.uint8, device=self.device, pin_memory=pin)

    @property
    def pending(self) -> int | None:
        """The epoch a background refill is producing, or None."""
        return self._pending

    def float_images(self, index: torch.Tensor | slice | int = slice(None)) -> torch.Tensor:
        """Images at ``index`` as float32 in [0, 1]."""
        return to_float_image(self.images[index])

    def refill(self, epoch: int) -> None:
        """Regenerate the whole pool for ``epoch`` now (waits for a running background refill first)."""
        check_int(epoch, "epoch", min=0)
        if self._pending is not None:
            self.wait()
            if self.epoch == epoch:
                return
        self._generate(epoch, self.images, self.labels)
        self.epoch = epoch

    def refill_async(self, epoch: int) -> None:
        """Start regenerating for ``epoch`` in a background thread; the current pool stays readable until :meth:`wait`."""
        check_int(epoch, "epoch", min=0)
        if self._pending is not None:
            self.wait()
        if self._back[0] is self.images:
            self._back = (self._empty_images(), torch.empty_like(self.labels))
        self._pending = epoch
        self._thread = threading.Thread(target=self._background, args=(epoch,), name=f"SamplePool.refill({epoch})", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Finish a background refill (if any) and swap it in; re-raises its error."""
        if self._thread is None:
            return
        self._thread.join()
        epoch, error = self._pending, self._error
        self._thread, self._pending, self._error = None, None, None
        if error is not None:
            raise RuntimeError(f"background refill of epoch {epoch} failed: {error}") from error
        (self.images, self.labels), self._back = self._back, (self.images, self.labels)
        self.epoch = epoch

    def _background(self, epoch: int) -> None:
        images, labels = self._back
        try:
            device = model_device(self.model)
            if device.type == "cuda":
                with torch.cuda.device(device), torch.cuda.stream(torch.cuda.Stream(device)):
                    self._generate(epoch, images, labels)
            else:
                self._generate(epoch, images, labels)
        except BaseException as e:  # handed to wait()
            self._error = e

    def labels_for(self, epoch: int) -> torch.Tensor:
        """The (N,) labels generation ``epoch`` uses (the plan, shuffled with the epoch's seed for balanced/dict)."""
        if not self._shuffle:
            return self._plan
        g = torch.Generator().manual_seed(worker_seed(self.seed, epoch=epoch))
        return self._plan[torch.randperm(self.size, generator=g)]

    @torch.no_grad()
    def _generate(self, epoch: int, images: torch.Tensor, labels_out: torch.Tensor) -> None:
        device = model_device(self.model)
        seed = worker_seed(self.seed, epoch=epoch)
        labels = self.labels_for(epoch)
        noise = torch.Generator(device=device).manual_seed(seed)
        starts = range(0, self.size, self.batch_size)
        show = len(starts) > PROGRESS_MIN_BATCHES if self.progress is None else self.progress
        for start in tqdm(starts, desc=f"sampling pool (epoch {epoch})", unit="batch", disable=not show, leave=False):
            y = labels[start : start + self.batch_size].to(device, non_blocking=True)
            x = self.model.sample(y, generator=noise)
            if tuple(x.shape) != (y.shape[0], *self.model.image_shape):
                raise ValueError(
                    f"model.sample returned shape {tuple(x.shape)}, expected {(y.shape[0], *self.model.image_shape)}"
                )
            check_images(x, name="model.sample output", unit_range=True)
            images[start : start + y.shape[0]].copy_(TF.to_dtype(x, torch.uint8, scale=True), non_blocking=True)
        labels_out.copy_(labels)
        if device.type == "cuda":
            torch.cuda.current_stream(device).synchronize()
