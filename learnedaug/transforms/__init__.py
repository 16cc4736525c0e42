"""torchvision.transforms.v2-compatible augmentations: batched per-sample kernels and random transforms."""

from learnedaug.transforms import functional
from learnedaug.transforms.classic import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate
from learnedaug.transforms.learned import Denoise, LearnedVariation

__all__ = ["functional", "RandomRotation", "RandomGaussianBlur", "RotBlur", "ShiftRotate", "LearnedVariation", "Denoise"]
