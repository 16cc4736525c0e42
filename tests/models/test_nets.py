"""Stacked per-class layers against torch's own layers applied class by class."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from learnedaug.models.nets import StackedConv2d, StackedConvTranspose2d, StackedLinear

from .tiny import gen


def grouped(x: torch.Tensor) -> torch.Tensor:
    """(K, M, C, H, W) -> (M, K * C, H, W)."""
    return x.transpose(0, 1).flatten(1, 2)


@settings(max_examples=20)
@given(
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    size=st.integers(3, 7),
    classes=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True),
)
def test_stacked_conv_transpose_equals_conv_transpose2d_per_class(kernel, stride, padding, size, classes):
    torch.manual_seed(0)
    layer = StackedConvTranspose2d(4, 3, 2, kernel, stride=stride, padding=padding)
    layer.bias.data.normal_()
    index = torch.tensor(sorted(classes))
    x = torch.randn(len(classes), 5, 3, size, size, generator=gen(1))
    out_size = (size - 1) * stride + kernel - 2 * padding
    if out_size < 1:
        return
    with torch.no_grad():
        out = layer(grouped(x), index).unflatten(1, (len(classes), 2))
        for j, k in enumerate(index.tolist()):
            ref = F.conv_transpose2d(x[j], layer.weight[k], layer.bias[k], stride=stride, padding=padding)
            torch.testing.assert_close(out[:, j], ref, rtol=1e-5, atol=1e-5)
        uncropped = layer(grouped(x), index, crop=False)
        torch.testing.assert_close(uncropped[..., padding : padding + out_size, padding : padding + out_size], layer(grouped(x), index))


@settings(max_examples=15)
@given(kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), all_classes=st.booleans())
def test_stacked_conv_equals_conv2d_per_class(kernel, stride, padding, all_classes):
    torch.manual_seed(0)
    layer = StackedConv2d(3, 2, 4, kernel, stride=stride, padding=padding)
    layer.bias.data.normal_()
    index = None if all_classes else torch.tensor([0, 2])
    ks = [0, 1, 2] if all_classes else [0, 2]
    x = torch.randn(len(ks), 4, 2, 6, 6, generator=gen(1))
    with torch.no_grad():
        out = layer(grouped(x), index).unflatten(1, (len(ks), 4))
        for j, k in enumerate(ks):
            torch.testing.assert_close(out[:, j], F.conv2d(x[j], layer.weight[k], layer.bias[k], stride, padding), rtol=1e-5, atol=1e-5)


def test_stacked_linear_equals_linear_per_class():
    torch.manual_seed(0)
    layer = StackedLinear(5, 6, 3)
    layer.bias.data.normal_()
    x = torch.randn(2, 4, 6, generator=gen(0))
    with torch.no_grad():
        out = layer(x, torch.tensor([1, 4]))
        for j, k in enumerate([1, 4]):
            torch.testing.assert_close(out[j], F.linear(x[j], layer.weight[k], layer.bias[k]))


def test_glorot_init_bounds():
    layer = StackedConv2d(10, 64, 64, 3)
    bound = (6 / (64 * 9 + 64 * 9)) ** 0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert not layer.bias.any()
