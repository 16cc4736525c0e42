"""DiffAugment: closed-form checks of each kernel, per-sample randomness, seeding, gradients and input errors."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from learnedaug.train.diffaugment import (
    OPS,
    DiffAugment,
    brightness,
    contrast,
    auto_policy,
    cutout,
    cutout_size,
    diff_augment,
    max_shift,
    parse_policy,
    saturation,
    translate,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FLOATS = [torch.float32, torch.float64, torch.bfloat16]
shapes = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(1, 12), st.integers(1, 12))


def positive_images(shape, seed=0, dtype=torch.float32):
    """Images in [0.5, 1]: no zeros, so any zero in an output is fill or cutout."""
    return 0.5 + 0.5 * torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def shifted_reference(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``img`` (C, H, W) rolled by (dy, dx) with the wrapped-around rows and columns zeroed."""
    out = torch.roll(img, shifts=(dy, dx), dims=(1, 2)).clone()
    h, w = img.shape[1:]
    if dy > 0:
        out[:, :dy] = 0
    elif dy < 0:
        out[:, h + dy :] = 0
    if dx > 0:
        out[:, :, :dx] = 0
    elif dx < 0:
        out[:, :, w + dx :] = 0
    return out


@settings(max_examples=15)
@given(shape=shapes, dtype=st.sampled_from(FLOATS), device=st.sampled_from(DEVICES))
def test_shape_dtype_device_preserved(shape, dtype, device):
    x = torch.rand(shape, dtype=dtype, device=device)
    y = diff_augment(x, generator=torch.Generator(device=device).manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y.float()).all()


def test_identity_policy_returns_input():
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(diff_augment(x, "", generator=0), x)
    assert torch.equal(DiffAugment(" ")(x), x)
    assert parse_policy("") == ()


def test_gradient_flows_to_input():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    diff_augment(x, generator=3).square().sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert x.grad.abs().sum() > 0 and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_gradcheck(policy):
    # An int seed gives a fresh generator per call: the same parameters every evaluation.
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: diff_augment(t, policy, generator=5), (x,))


@settings(max_examples=15)
@given(shape=shapes, seed=st.integers(0, 2**31))
def test_translation_is_an_integer_shift_with_zero_fill(shape, seed):
    x = positive_images(shape, seed)
    y = diff_augment(x, "translation", generator=seed)
    h, w = shape[2:]
    sh, sw = max_shift(h), max_shift(w)
    for img, out in zip(x, y):
        matches = [
            (dy, dx)
            for dy in range(-sh, sh + 1)
            for dx in range(-sw, sw + 1)
            if torch.equal(out, shifted_reference(img, dy, dx))
        ]
        assert matches, "output is not a zero-filled integer shift of its input within the allowed range"


def test_max_shift_is_an_eighth_rounded_half_up():
    assert [max_shift(s) for s in (1, 3, 4, 8, 12, 28, 32, 64)] == [0, 0, 1, 1, 2, 4, 4, 8]


def test_translation_covers_the_whole_range_and_differs_per_sample():
    # One image repeated 400 times: each sample's shift is recovered from where the single bright pixel lands.
    x = torch.zeros(400, 1, 32, 32)
    x[:, :, 16, 16] = 1.0
    y = diff_augment(x, "translation", generator=0)
    flat = y.flatten(1).argmax(1)
    dy, dx = flat // 32 - 16, flat % 32 - 16
    assert set(dy.tolist()) == set(range(-4, 5)) and set(dx.tolist()) == set(range(-4, 5))
    assert torch.equal(y.sum((1, 2, 3)), torch.ones(400))


@pytest.mark.parametrize("device", DEVICES)
def test_translate_kernel_matches_roll_reference(device):
    x = torch.rand(3, 2, 7, 9, device=device)
    shifts = torch.tensor([[2, -3], [-1, 0], [7, 9]], device=device)
    out = translate(x, shifts)
    for img, o, (dy, dx) in zip(x, out, shifts.tolist()):
        ref = shifted_reference(img, dy, dx) if abs(dy) < 7 and abs(dx) < 9 else torch.zeros_like(img)
        assert torch.equal(o, ref)


def _zero_rectangle(mask: torch.Tensor) -> tuple[range, range]:
    """The rows and columns of ``mask`` (H, W bool) if it is exactly one axis-aligned rectangle; asserts so."""
    rows = mask.any(1).nonzero().flatten().tolist()
    cols = mask.any(0).nonzero().flatten().tolist()
    assert rows == list(range(rows[0], rows[-1] + 1)) and cols == list(range(cols[0], cols[-1] + 1))
    rect = torch.zeros_like(mask)
    rect[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
    assert torch.equal(mask, rect)
    return range(rows[0], rows[-1] + 1), range(cols[0], cols[-1] + 1)


@settings(max_examples=15)
@given(shape=shapes, seed=st.integers(0, 2**31))
def test_cutout_zeroes_one_clipped_square_and_keeps_the_rest(shape, seed):
    x = positive_images(shape, seed)
    y = diff_augment(x, "cutout", generator=seed)
    h, w = shape[2:]
    size = cutout_size(h, w)
    assert size == ((h + 1) // 2, (w + 1) // 2)
    for img, out in zip(x, y):
        zero = out == 0
        assert torch.equal(zero, zero[:1].expand_as(zero)), "the hole must cover every channel"
        rows, cols = _zero_rectangle(zero[0])
        for span, side, full in ((rows, size[0], h), (cols, size[1], w)):
            assert len(span) == side or (len(span) < side and (span.start == 0 or span.stop == full))
        assert torch.equal(out[~zero], img[~zero])


def test_cutout_kernel_clips_at_borders():
    x = torch.ones(2, 1, 6, 6)
    out = cutout(x, torch.tensor([[0, 5], [3, 3]]), (4, 4))
    expected = torch.ones(2, 1, 6, 6)
    expected[0, 0, :2, 3:] = 0  # rows [-2, 2), cols [3, 7), clipped
    expected[1, 0, 1:5, 1:5] = 0
    assert torch.equal(out, expected)


def test_color_kernels_closed_forms():
    x = torch.rand(3, 3, 5, 5, dtype=torch.float64)
    b = torch.tensor([-0.4, 0.0, 0.3], dtype=torch.float64)
    torch.testing.assert_close(brightness(x, b), x + b.view(-1, 1, 1, 1))
    # saturation 0: every channel becomes the per-pixel channel mean; factor s scales the deviation from it
    gray = x.mean(1, keepdim=True)
    torch.testing.assert_close(saturation(x, torch.zeros(3)), gray.expand_as(x))
    s = torch.tensor([0.0, 0.5, 1.7], dtype=torch.float64)
    torch.testing.assert_close(saturation(x, s), gray + s.view(-1, 1, 1, 1) * (x - gray))
    # contrast c scales the deviation from the per-image mean; a constant image is a fixed point
    c = torch.tensor([0.5, 1.0, 1.4], dtype=torch.float64)
    mean = x.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(contrast(x, c), mean + c.view(-1, 1, 1, 1) * (x - mean))
    const = torch.full((3, 3, 5, 5), 0.7, dtype=torch.float64)
    torch.testing.assert_close(contrast(const, c), const, rtol=0, atol=1e-15)


def test_color_on_constant_and_single_channel_images():
    const = torch.full((8, 3, 4, 4), 0.25)
    y = diff_augment(const, "color", generator=0)
    values = y[:, 0, 0, 0]
    # saturation and contrast leave a constant image unchanged: only the brightness offset remains
    assert torch.equal(y, values.view(-1, 1, 1, 1).expand_as(y))
    offsets = values - 0.25
    assert ((offsets >= -0.25) & (offsets < 0.25)).all(), "the paper's +-0.5 on [-1, 1] is +-0.25 on [0, 1]"
    assert offsets.unique().numel() == 8, "brightness must be drawn per sample"
    # one channel: saturation is an exact no-op whatever its factor
    gray = torch.rand(8, 1, 6, 6)
    factors = torch.linspace(0, 2, 8)
    assert torch.equal(saturation(gray, factors), gray)


def test_color_moves_mean_and_spread_within_the_drawn_ranges():
    x = torch.rand(256, 3, 8, 8, dtype=torch.float64)
    y = diff_augment(x, "color", generator=1)
    shift = y.mean((1, 2, 3)) - x.mean((1, 2, 3))  # saturation and contrast preserve the per-image mean
    assert (shift >= -0.25).all() and (shift < 0.25).all() and shift.std() > 0.1
    one = x[:, :1]
    ratio = diff_augment(one, "color", generator=1).std((1, 2, 3)) / one.std((1, 2, 3))
    assert (ratio >= 0.5 - 1e-9).all() and (ratio < 1.5 + 1e-9).all() and ratio.std() > 0.2


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_parameters_differ_within_a_batch(policy):
    x = positive_images((1, 3, 16, 16)).expand(16, -1, -1, -1)
    y = diff_augment(x, policy, generator=2)
    assert len({tuple(img.flatten().tolist()) for img in y}) > 8


def test_seeding():
    x = torch.rand(6, 3, 12, 12)
    a = diff_augment(x, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, diff_augment(x, generator=7))
    assert torch.equal(a, DiffAugment()(x, generator=7))
    assert not torch.equal(a, diff_augment(x, generator=8))
    torch.manual_seed(3)
    b = diff_augment(x)
    torch.manual_seed(3)
    assert torch.equal(b, diff_augment(x))


def test_same_seed_applies_the_same_geometry_to_real_and_fake():
    real, fake = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    policy = "translation,cutout"  # linear in x for fixed parameters
    both = diff_augment(real + fake, policy, generator=4)
    torch.testing.assert_close(both, diff_augment(real, policy, generator=4) + diff_augment(fake, policy, generator=4))


def test_parse_policy_and_errors():
    assert parse_policy("color, translation,cutout") == OPS
    with pytest.raises(ValueError, match="'colour'.*color, translation, cutout"):
        parse_policy("colour,cutout")
    with pytest.raises(ValueError, match="unknown op ''"):
        parse_policy("color,,cutout")
    with pytest.raises(ValueError, match="twice"):
        parse_policy("cutout,cutout")
    with pytest.raises(TypeError, match="policy must be"):
        parse_policy(["color"])
    with pytest.raises(ValueError, match="unknown op 'flip'"):
        DiffAugment("flip")


def test_bad_images_and_generator():
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\), got shape \(3, 8, 8\)"):
        diff_augment(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="x must have dtype"):
        diff_augment(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        diff_augment([[0.0]])
    with pytest.raises(ValueError, match="H, W >= 1"):
        diff_augment(torch.rand(1, 1, 0, 4))
    with pytest.raises(TypeError, match="generator must be"):
        diff_augment(torch.rand(1, 1, 4, 4), generator="seed")


def test_auto_policy():
    assert auto_policy(50) == auto_policy(10_000) == "color,translation,cutout"
    assert auto_policy(10_001) == auto_policy(50_000) == "translation,cutout"
    with pytest.raises(ValueError, match="n_train"):
        auto_policy(0)
    with pytest.raises(TypeError, match="n_train"):
        auto_policy(1.5)
