"""learnedaug: learned data augmentation for PyTorch.

Subpackages: ``models`` (generators behind one sampler interface), ``train`` (one loop for all), ``transforms``
(torchvision-v2 transforms, classic and learned), ``mixing`` (synthetic data into training), ``metrics`` (FID/KID,
downstream accuracy), ``data`` (datasets and the papers' subsets), ``zoo`` (pretrained models).
"""

from importlib import import_module

from ._version import __version__

# Public name -> defining subpackage. Resolved on first access (PEP 562), so ``import learnedaug`` stays light and
# does not import torch; ``from learnedaug import X`` works as before.
_SUBPACKAGES = ("data", "metrics", "mixing", "models", "train", "transforms", "zoo")
_NAMES = {
    **dict.fromkeys(("ImageSet", "balanced_subset", "load_dataset", "load_demo_digits", "nested_subsets",
                     "stratified_split"), "data"),
    **dict.fromkeys(("AugOrig", "BatchMixer", "MixedDataset", "SamplePool", "SyntheticDataset"), "mixing"),
    **dict.fromkeys(("CDCGAN", "CDCVAE", "ClassVAE", "DenoisingVAE", "GenerativeModel", "build_model"), "models"),
    **dict.fromkeys(("TrainResult", "fit"), "train"),
    **dict.fromkeys(("Denoise", "LearnedVariation", "RandomGaussianBlur", "RandomRotation", "RotBlur", "ShiftRotate"),
                    "transforms"),
}


def __getattr__(name: str):
    """Import the subpackage or public name on first use and cache it in the module namespace."""
    if name in _SUBPACKAGES:
        value = import_module(f".{name}", __name__)
    elif name in _NAMES:
        value = getattr(import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AugOrig", "BatchMixer", "CDCGAN", "CDCVAE", "ClassVAE", "Denoise", "DenoisingVAE", "GenerativeModel", "ImageSet",
    "LearnedVariation", "MixedDataset", "RandomGaussianBlur", "RandomRotation", "RotBlur", "SamplePool", "ShiftRotate",
    "SyntheticDataset", "TrainResult", "balanced_subset", "build_model", "data", "fit", "load_dataset",
    "load_demo_digits", "metrics", "mixing", "models", "nested_subsets", "stratified_split", "train", "transforms",
    "zoo",
]
