"""The downstream classifiers of the source papers, for (1, 28, 28) and (3, 32, 32) inputs (any size >= 8 works).

- ``"cnn"`` (:class:`SmallCNN`): seed 001 Table 1 / thesis 003 section 5.3 (Keras code): Conv64-3x3, Conv128-3x3,
  MaxPool2, Drop.5, Conv128, Conv128, MaxPool2, Drop.5, Flatten, FC128, Drop.5, FC(num_classes); ReLU, 'same' padding.
- ``"vgg"`` (:class:`VGGNet`): seed 000 section 2.2: three stages of 64/128/256 filters, two 3x3 convs each,
  optional BatchNorm after each conv (on for RGB, off for grayscale, as in the paper), LeakyReLU, MaxPool 2x2,
  dropout 0.6 after each stage, one fully-connected layer.

Both take float images ``(N, C, H, W)`` in [0, 1] and return logits ``(N, num_classes)`` (the softmax lives in the
loss). Weights use Glorot-uniform init and zero biases (Keras defaults, which both papers' code used).
``width`` scales every hidden width (1.0 = the papers' networks; smaller for quick CPU runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_images


def _glorot_(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _check_shape(in_shape: Sequence[int], num_classes: int, width: float, min_side: int) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in in_shape) if isinstance(in_shape, Sequence) else ()
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < min_side:
        raise ValueError(f"in_shape must be (C, H, W) with C in {{1, 3}} and H, W >= {min_side}, got {in_shape!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if not (width > 0):
        raise ValueError(f"width must be > 0, got {width!r}")
    return shape  # type: ignore[return-value]


class _Classifier(nn.Module):
    in_shape: tuple[int, int, int]
    num_classes: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: float ``(N, C, H, W)`` in [0, 1] -> logits ``(N, num_classes)``."""
        check_images(x, name="x", channels=self.in_shape[0])
        if tuple(x.shape[-2:]) != self.in_shape[1:]:
            raise ValueError(f"x must have spatial size {self.in_shape[1:]}, got shape {tuple(x.shape)}")
        return self.head(torch.flatten(self.features(x), 1))


class SmallCNN(_Classifier):
    """Seed 001's CNN (Table 1)."""

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10, *, width: float = 1.0,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.in_shape = _check_shape(in_shape, num_classes, width, 4)
        self.num_classes = num_classes
        c, h, w = self.in_shape
        c1, c2, fc = _scaled(64, width), _scaled(128, width), _scaled(128, width)

        def conv(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(c, c1), *conv(c1, c2), nn.MaxPool2d(2), nn.Dropout(dropout),
            *conv(c2, c2), *conv(c2, c2), nn.MaxPool2d(2), nn.Dropout(dropout),
        )
        self.head = nn.Sequential(
            nn.Linear(c2 * (h // 4) * (w // 4), fc), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(fc, num_classes)
        )
        _glorot_(self)


class VGGNet(_Classifier):
    """Seed 000's VGG-style classifier. ``batch_norm=None`` follows the paper: on for RGB input, off for grayscale.

    The paper does not state the LeakyReLU slope; ``negative_slope=0.3`` is Keras' default (its other settings were
    framework defaults).
    """

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10, *, width: float = 1.0,
                 batch_norm: bool | None = None, dropout: float = 0.6, negative_slope: float = 0.3) -> None:
        super().__init__()
        self.in_shape = _check_shape(in_shape, num_classes, width, 8)
        self.num_classes = num_classes
        c, h, w = self.in_shape
        self.batch_norm = (c == 3) if batch_norm is None else bool(batch_norm)
        layers: list[nn.Module] = []
        for out in (_scaled(64, width), _scaled(128, width), _scaled(256, width)):
            for _ in range(2):
                layers.append(nn.Conv2d(c, out, 3, padding=1))
                if self.batch_norm:
                    layers.append(nn.BatchNorm2d(out))
                layers.append(nn.LeakyReLU(negative_slope, inplace=True))
                c = out
            layers += [nn.MaxPool2d(2), nn.Dropout(dropout)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * (h // 8) * (w // 8), num_classes)
        _glorot_(self)


CLASSIFIERS: dict[str, type[_Classifier]] = {"cnn": SmallCNN, "vgg": VGGNet}


def build_classifier(name: str, in_shape: Sequence[int], num_classes: int = 10, **kwargs) -> nn.Module:
    """``name`` in ``{"cnn", "vgg"}`` -> a fresh classifier for float images of shape ``in_shape`` = (C, H, W).

    ``kwargs`` go to the class (``width``, ``dropout``; for ``"vgg"`` also ``batch_norm``, ``negative_slope``).
    Initialisation draws from torch's global RNG: seed it (``torch.manual_seed``) for a reproducible network.
    """
    if name not in CLASSIFIERS:
        raise ValueError(f"name must be one of {sorted(CLASSIFIERS)}, got {name!r}")
    return CLASSIFIERS[name](in_shape, num_classes, **kwargs)
