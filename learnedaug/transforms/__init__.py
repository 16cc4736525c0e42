"""torchvision.transforms.v2-compatible augmentations: batched per-sample kernels and random transforms."""

from learnedaug.transforms import functional
from learnedaug.transforms.classic import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate

__all__ = ["functional", "RandomRotation", "RandomGaussianBlur", "RotBlur", "ShiftRotate"]
