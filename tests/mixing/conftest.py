"""A tiny deterministic sampler (and vary-er) for the mixing tests: label-dependent images from seeded noise."""

import pytest
import torch
from torch import nn

from learnedaug._random import randn


class FakeSampler(nn.Module):
    """Class k lights row band k of the image; noise on top. Records the batch sizes of its ``sample`` calls."""

    def __init__(self, num_classes: int = 4, image_shape=(1, 8, 8)) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        patterns = torch.zeros(num_classes, c, h, w)
        for k in range(num_classes):
            patterns[k, :, (k * h) // num_classes : ((k + 1) * h) // num_classes] = 1.0
        self.register_buffer("patterns", patterns)
        self.calls: list[int] = []

    @property
    def device(self) -> torch.device:
        return self.patterns.device

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        self.calls.append(int(labels.shape[0]))
        noise = randn((labels.shape[0], *self.image_shape), generator=generator, device=self.device)
        return torch.sigmoid(6.0 * (self.patterns[labels.to(self.device)] - 0.5) + 0.5 * noise)

    @torch.no_grad()
    def vary(self, images, labels, *, scale=1.0, generator=None):
        """Add 0.1 * scale Gaussian noise, clamped to [0, 1] (a stand-in for encode / perturb / decode)."""
        noise = randn(images.shape, generator=generator, device=self.device)
        return (images.to(self.device) + 0.1 * scale * noise).clamp(0, 1)


@pytest.fixture
def fake():
    return FakeSampler()


@pytest.fixture(scope="session")
def fake_cls():
    return FakeSampler


@pytest.fixture(autouse=True)
def one_thread():
    """Intra-op threads on a loaded shared CPU slow these small models down many times over: use one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
