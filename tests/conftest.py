"""Shared test fixtures: the optional real datasets, thread limits, hypothesis profile, the ``cuda`` marker."""

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


REQUIRE_CUDA = os.environ.get("LEARNEDAUG_REQUIRE_CUDA") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA device; skipped without one unless LEARNEDAUG_REQUIRE_CUDA=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``cuda``-marked tests without CUDA; with LEARNEDAUG_REQUIRE_CUDA=1 they run (and fail) instead."""
    if REQUIRE_CUDA or torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (set LEARNEDAUG_REQUIRE_CUDA=1 to fail instead of skipping)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data`` (MNIST/CIFAR-10 as .npz); skips the test when it is absent."""
    if not (SHARED_DATA / "mnist" / "train.npz").is_file():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA
