"""BatchMixer: put synthetic samples into a batch inside the training loop, on the batch's device (like v2.CutMix)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as TF

from .._checks import check_images, check_labels
from .._random import GeneratorLike, WorkerStream, rand, randint
from ..models.base import ConditionalSampler, check_sampler, model_device
from ..transforms.learned import labels_key

MODES = ("append", "replace")
LABEL_MODES = ("batch", "balanced")


class BatchMixer(Transform):
    """``x, y = mixer(x, y)``: append or swap in ``round(ratio * N)`` synthetic samples drawn from ``model``.

    Args:
        model: a sampler (``num_classes``, ``image_shape``, ``sample(labels, generator=)``).
        ratio: synthetic samples per batch image; ``mode="replace"`` needs ``ratio <= 1``.
        mode: ``"append"`` (batch grows to N + n) or ``"replace"`` (n random positions are overwritten).
        labels: how synthetic labels are drawn. ``"batch"`` (default): from the batch's own label distribution
            (a random batch row's class; for soft/one-hot rows, a class drawn with that row's probabilities), so the
            class prior of the data is kept. ``"balanced"``: uniform over the model's classes.
        transform: applied to the synthetic batch after dtype conversion, e.g. the ``v2.Normalize`` the real
            batch already went through (BatchMixer cannot guess it).
        generator: torch.Generator or int seed for positions, labels and the model's noise (None: global RNG);
            on DDP ranks > 0 (and in DataLoader workers) it is re-derived per rank (see WorkerStream), so ranks
            seeded alike still draw different synthetic samples.
        synthetic_weight: loss weight of synthetic rows, >= 0 (real rows weigh 1.0); used with ``return_weights``.
        label_smoothing: s in [0, 1); s > 0 gives synthetic rows the soft target (1 - s) * onehot + s / K and
            promotes the labels to (N', K) float (real class indices become one-hot rows).
        return_weights: if True, ``mixer(x, y)`` returns ``(x, y, w)`` with w (N',) float32 on x's device (dict
            samples get a ``"weights"`` entry); feed it to :func:`~learnedaug.mixing.losses.weighted_cross_entropy`.

    ``x`` is (N, C, H, W) uint8 or float in [0, 1] (before ``transform``), on any device; synthetic images are made
    on the model's device and moved to ``x``'s device and dtype. ``y`` is (N,) class indices or (N, K) one-hot /
    soft labels (as v2.CutMix/MixUp output); synthetic rows get one-hot labels in that case.
    """

    def __init__(
        self,
        model: ConditionalSampler,
        ratio: float,
        mode: str = "append",
        *,
        labels: str = "batch",
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        generator: GeneratorLike = None,
        synthetic_weight: float = 1.0,
        label_smoothing: float = 0.0,
        return_weights: bool = False,
    ) -> None:
        super().__init__()
        check_sampler(model)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if labels not in LABEL_MODES:
            raise ValueError(f"labels must be one of {LABEL_MODES}, got {labels!r}")
        limit = 1.0 if mode == "replace" else float("inf")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= limit:
            raise ValueError(f"ratio must be a number in [0, {limit}] for mode={mode!r}, got {ratio!r}")
        if isinstance(synthetic_weight, bool) or not isinstance(synthetic_weight, (int, float)) or not 0 <= synthetic_weight < float("inf"):
            raise ValueError(f"synthetic_weight must be a finite number >= 0, got {synthetic_weight!r}")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}")
        if not isinstance(return_weights, bool):
            raise TypeError(f"return_weights must be a bool, got {return_weights!r}")
        self.synthetic_weight = float(synthetic_weight)
        self.label_smoothing = float(label_smoothing)
        self.return_weights = return_weights
        self.model = model
        self.ratio = float(ratio)
        self.mode = mode
        self.labels = labels
        self.synthetic_transform = transform
        self._stream = WorkerStream(generator)

    def forward(self, *inputs: Any) -> Any:
        """``mixer(x, y)``, ``mixer((x, y))`` or, like v2.CutMix, ``mixer({"image": x, "labels": y, ...})`` (the
        image is the ``tv_tensors.Image`` value, else the first other tensor; the labels as
        :func:`~learnedaug.transforms.learned.labels_key` finds them; other entries pass through, and
        ``mode="append"`` refuses other tensors, which would no longer line up). Without labels: TypeError."""
        if len(inputs) == 1 and isinstance(inputs[0], Mapping):
            return self._mix_dict(inputs[0])
        pair = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) else inputs
        if len(pair) != 2:
            got = ", ".join(type(v).__name__ for v in pair)
            raise TypeError(
                f"BatchMixer needs (images, labels): call it as x, y = mixer(x, y) with x (N, C, H, W) and y (N,) "
                f"or (N, K) labels; got {len(pair)} input(s): ({got})"
            )
        return self.mix(*pair)

    def _mix_dict(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        label_key = labels_key(sample)
        tensors = [k for k, v in sample.items() if isinstance(v, torch.Tensor) and k != label_key]
        image_key = next((k for k in tensors if isinstance(sample[k], tv_tensors.Image)), tensors[0] if tensors else None)
        if label_key is None or image_key is None:
            raise TypeError(
                f"BatchMixer needs (images, labels): a dict sample must hold an image tensor and a 'labels' key, "
                f"got keys {list(sample)}"
            )
        others = [k for k in tensors if k != image_key]
        if others and self.mode == "append":
            raise ValueError(f"BatchMixer(mode='append') grows the batch, so the other tensors {others} would not line up")
        out = dict(sample)
        mixed = self.mix(sample[image_key], sample[label_key])
        out[image_key], out[label_key] = mixed[0], mixed[1]
        if self.return_weights:
            out["weights"] = mixed[2]
        return out

    @property
    def generator(self) -> torch.Generator | None:
        """The generator given at construction (None: torch's global RNG)."""
        return self._stream.generator

    def _synthetic_labels(self, targets: torch.Tensor, n: int, device: torch.device, g: torch.Generator | None) -> torch.Tensor:
        k = self.model.num_classes
        if self.labels == "balanced":
            return randint(k, (n,), generator=g, device=device)
        rows = randint(targets.shape[0], (n,), generator=g, device=device)
        if targets.ndim == 1:
            return targets[rows].long()
        # Soft rows: inverse-CDF draw of one class per row with that row's probabilities.
        probs = targets[rows].float().clamp_min(0)
        cdf = probs.cumsum(1) / probs.sum(1, keepdim=True)
        u = rand((n, 1), generator=g, device=device)
        return (cdf < u).sum(1).clamp_max(k - 1)

    def mix(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """See the class docstring: ``(x, y)``, or ``(x, y, w)`` with ``return_weights``; the inputs are not modified."""
        out_x, out_y, is_syn = self._mix(images, targets)
        k = self.model.num_classes
        if self.label_smoothing > 0:
            soft = out_y.float() if out_y.ndim == 2 else F.one_hot(out_y.long(), k).float()
            smoothed = soft * (1 - self.label_smoothing) + self.label_smoothing / k
            out_y = torch.where(is_syn.to(soft.device)[:, None], smoothed, soft)
        if not self.return_weights:
            return out_x, out_y
        ones = torch.ones(is_syn.shape[0], dtype=torch.float32, device=is_syn.device)
        return out_x, out_y, torch.where(is_syn, ones * self.synthetic_weight, ones)

    def _mix(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, y, is_synthetic)`` with is_synthetic (N',) bool on x's device."""
        check_images(images, name="images", ndims=(4,), allow_uint8=True)
        n_batch = images.shape[0]
        shape = tuple(self.model.image_shape)
        if tuple(images.shape[1:]) != shape:
            raise ValueError(f"BatchMixer: images have shape (C, H, W) = {tuple(images.shape[1:])} but the model makes {shape}")
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"labels must be a tensor, got {type(targets).__name__}")
        k = self.model.num_classes
        if targets.ndim == 2:
            if targets.shape != (n_batch, k) or not targets.dtype.is_floating_point:
                raise ValueError(
                    f"2-D labels must be float (N, num_classes) = {(n_batch, k)}, got {targets.dtype} {tuple(targets.shape)}"
                )
        else:
            check_labels(targets, k, name="labels", n=n_batch)
        n = round(self.ratio * n_batch)
        if n == 0 or n_batch == 0:
            return images, targets, torch.zeros(n_batch, dtype=torch.bool, device=images.device)

        device, g = images.device, self._stream.get()
        syn_labels = self._synthetic_labels(targets, n, targets.device, g)
        synthetic = self.model.sample(syn_labels.to(model_device(self.model)), generator=g).to(device)
        synthetic = TF.to_dtype(synthetic, images.dtype, scale=True)
        if self.synthetic_transform is not None:
            synthetic = self.synthetic_transform(synthetic)
        syn_targets = F.one_hot(syn_labels, k).to(targets.dtype) if targets.ndim == 2 else syn_labels.to(targets.dtype)

        plain = images.as_subclass(torch.Tensor)
        if self.mode == "append":
            out_x, out_y = torch.cat([plain, synthetic]), torch.cat([targets, syn_targets])
            is_syn = torch.arange(n_batch + n, device=device) >= n_batch
        else:
            positions = torch.randperm(n_batch, generator=g, device=device if g is None else g.device)[:n]
            out_x, out_y = plain.clone(), targets.clone()
            out_x[positions.to(device)] = synthetic
            out_y[positions.to(targets.device)] = syn_targets
            is_syn = torch.zeros(n_batch, dtype=torch.bool, device=device)
            is_syn[positions.to(device)] = True
        if isinstance(images, tv_tensors.TVTensor):
            out_x = tv_tensors.wrap(out_x, like=images)
        return out_x, out_y, is_syn
