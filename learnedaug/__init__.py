"""learnedaug: learned data augmentation for PyTorch."""

__version__ = "0.1.0"
