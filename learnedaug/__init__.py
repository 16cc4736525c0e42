"""learnedaug: learned data augmentation for PyTorch.

Subpackages: ``models`` (generators behind one sampler interface), ``train`` (one loop for all), ``transforms``
(torchvision-v2 transforms, classic and learned), ``mixing`` (synthetic data into training), ``metrics`` (FID/KID,
downstream accuracy), ``data`` (datasets and the papers' subsets), ``zoo`` (pretrained models).
"""

__version__ = "0.1.0"

from . import data, metrics, mixing, models, train, transforms, zoo
from .data import ImageSet, balanced_subset, load_dataset, load_demo_digits, nested_subsets, stratified_split
from .mixing import AugOrig, BatchMixer, MixedDataset, SamplePool, SyntheticDataset
from .models import CDCGAN, CDCVAE, ClassVAE, DenoisingVAE, GenerativeModel, build_model
from .train import TrainResult, fit
from .transforms import Denoise, LearnedVariation, RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate

__all__ = [
    "AugOrig", "BatchMixer", "CDCGAN", "CDCVAE", "ClassVAE", "Denoise", "DenoisingVAE", "GenerativeModel", "ImageSet",
    "LearnedVariation", "MixedDataset", "RandomGaussianBlur", "RandomRotation", "RotBlur", "SamplePool", "ShiftRotate",
    "SyntheticDataset", "TrainResult", "balanced_subset", "build_model", "data", "fit", "load_dataset",
    "load_demo_digits", "metrics", "mixing", "models", "nested_subsets", "stratified_split", "train", "transforms",
    "zoo",
]
