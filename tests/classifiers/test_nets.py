"""learnedaug.classifiers.nets: the papers' CNN and VGG-style nets (layer counts, shapes, init, errors)."""

import pytest
import torch
from torch import nn

from learnedaug.classifiers import SmallCNN, VGGNet, build_classifier


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _conv(i, o):
    return 9 * i * o + o


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_cnn_matches_seed001_table1(shape):
    c, h, w = shape
    model = build_classifier("cnn", shape, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [
        (c, 64, (3, 3)), (64, 128, (3, 3)), (128, 128, (3, 3)), (128, 128, (3, 3))]
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5, 0.5]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    # Keras' count for the same layers ('same' padding): convs + FC(128) on the 4x-pooled map + FC(10).
    flat = 128 * (h // 4) * (w // 4)
    expected = _conv(c, 64) + _conv(64, 128) + 2 * _conv(128, 128) + flat * 128 + 128 + 128 * 10 + 10
    assert _params(model) == expected
    assert model(torch.rand(2, *shape)).shape == (2, 10)


@pytest.mark.parametrize("shape,bn", [((1, 28, 28), False), ((3, 32, 32), True)])
def test_vgg_matches_seed000(shape, bn):
    c, h, w = shape
    model = build_classifier("vgg", shape, 10)
    assert model.batch_norm is bn  # paper: batch norm on CIFAR10, not on MNIST
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 128, 256, 256]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == (6 if bn else 0)
    assert sum(isinstance(m, nn.LeakyReLU) for m in model.modules()) == 6
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.6] * 3
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 256 * (h // 8) * (w // 8)
    expected = (_conv(c, 64) + _conv(64, 64) + _conv(64, 128) + _conv(128, 128) + _conv(128, 256) + _conv(256, 256)
                + (4 * (64 + 128 + 256) if bn else 0) + linears[0].in_features * 10 + 10)
    assert _params(model) == expected
    model.eval()
    assert model(torch.rand(3, *shape)).shape == (3, 10)


def test_glorot_uniform_init_and_zero_bias():
    torch.manual_seed(0)
    model = SmallCNN((1, 28, 28), 10)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
            assert torch.count_nonzero(m.bias) == 0


def test_width_scales_channels_and_seed_fixes_weights():
    small = build_classifier("vgg", (1, 16, 16), 3, width=0.25)
    assert [m.out_channels for m in small.modules() if isinstance(m, nn.Conv2d)] == [16, 16, 32, 32, 64, 64]
    torch.manual_seed(5)
    a = build_classifier("cnn", (1, 12, 12), 2, width=0.125)
    torch.manual_seed(5)
    b = build_classifier("cnn", (1, 12, 12), 2, width=0.125)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_errors():
    with pytest.raises(ValueError, match="name must be one of"):
        build_classifier("resnet", (1, 28, 28))
    with pytest.raises(ValueError, match="in_shape"):
        build_classifier("cnn", (28, 28))
    with pytest.raises(ValueError, match="in_shape"):
        build_classifier("vgg", (1, 4, 4))
    with pytest.raises(ValueError, match="num_classes"):
        build_classifier("cnn", (1, 28, 28), 1)
    with pytest.raises(ValueError, match="width"):
        VGGNet((3, 32, 32), 10, width=0)
    model = build_classifier("cnn", (1, 28, 28))
    with pytest.raises(ValueError, match="channels"):
        model(torch.rand(1, 3, 28, 28))
    with pytest.raises(ValueError, match="spatial size"):
        model(torch.rand(1, 1, 32, 32))
