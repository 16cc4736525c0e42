"""Shared test fixtures: the optional real datasets, thread limits, hypothesis profile."""

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LEARNEDAUG_SHARED_DATA", REPO.parent / "shared" / "data"))

# One intra-op thread per test process (``make test`` runs one process per core): small test tensors gain nothing
# from threads and oversubscribed cores slow every test down several times.
torch.set_num_threads(1)

# CPU timings on shared machines are noisy: no per-example deadline, a moderate number of examples.
settings.register_profile("learnedaug", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("learnedaug")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data`` (MNIST/CIFAR-10 as .npz); skips the test when it is absent."""
    if not (SHARED_DATA / "mnist" / "train.npz").is_file():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA
