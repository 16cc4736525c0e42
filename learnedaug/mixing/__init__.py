"""Synthetic data into training: sample pools, synthetic/mixed datasets, in-loop batch mixing."""

from .batch import BatchMixer
from .curation import CuratedSampler, DiscriminatorJudge
from .datasets import AugOrig, MixedDataset, SyntheticDataset
from .pool import SamplePool

__all__ = ["AugOrig", "BatchMixer", "CuratedSampler", "DiscriminatorJudge", "MixedDataset", "SamplePool", "SyntheticDataset"]
