"""Batched kernels against torchvision (image by image), scipy.ndimage and closed forms.

Tolerances: float results must match the reference within 1e-5 absolute on [0, 1] images (grid coordinates are
built in a different order than torchvision's, ~1e-6 apart); uint8 results within 1 grey level. Where a reference
handles the rim of the rotated image differently (non-zero ``fill``), the compared region is defined explicitly.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage
from torchvision.transforms.v2 import functional as TF

from learnedaug.transforms import functional as F

FLOAT_ATOL = 1e-5
BILINEAR = TF.InterpolationMode.BILINEAR


def _images(shape, seed=0, dtype=torch.float32):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    return (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)


def _uniform(low, high, shape, seed=1):
    return low + (high - low) * torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _max_abs(a, b):
    return (a.double() - b.double()).abs().max().item()


# --------------------------------------------------------------------------------------------------- rotate


@pytest.mark.parametrize("shape", [(6, 3, 32, 32), (5, 1, 28, 28), (4, 2, 17, 23)])
def test_rotate_float_matches_torchvision_per_image(shape):
    x = _images(shape)
    angles = _uniform(-180, 180, shape[0])
    out = F.rotate(x, angles)
    for i in range(shape[0]):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=BILINEAR, fill=None)
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_rotate_quarter_turns_match_torchvision():
    # torchvision takes an exact rot90 fast path for these on square images.
    x = _images((4, 3, 12, 12))
    angles = torch.tensor([0.0, 90.0, 180.0, -90.0])
    out = F.rotate(x, angles)
    for i in range(4):
        assert _max_abs(out[i], TF.rotate(x[i], float(angles[i]), interpolation=BILINEAR)) <= FLOAT_ATOL


def test_rotate_uint8_within_one_grey_level():
    x = _images((6, 3, 32, 32), dtype=torch.uint8)
    angles = _uniform(-25, 25, 6)
    out = F.rotate(x, angles)
    assert out.dtype == torch.uint8
    for i in range(6):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=BILINEAR, fill=None)
        assert _max_abs(out[i], ref) <= 1


def test_rotate_nearest_matches_torchvision():
    x = _images((5, 1, 28, 28))
    angles = _uniform(-40, 40, 5)
    out = F.rotate(x, angles, interpolation="nearest")
    for i in range(5):
        ref = TF.rotate(x[i], float(angles[i]), fill=None)
        # A sampling point exactly half-way between two pixels may round either way: allow a tiny share.
        assert ((out[i] - ref).abs() > FLOAT_ATOL).float().mean().item() <= 0.01


def test_rotate_fill_matches_torchvision_off_the_rim():
    x = _images((4, 3, 20, 20))
    angles = _uniform(-30, 30, 4)
    fill = [0.2, 0.5, 0.9]
    out = F.rotate(x, angles, fill=fill)
    for i in range(4):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=BILINEAR, fill=fill)
        # Rim = output pixels partly covered by the rotated image: torchvision weights the sample by the coverage
        # twice there. Everywhere else (fully inside or fully outside) both must agree.
        coverage = TF.rotate(torch.ones(1, 20, 20), float(angles[i]), interpolation=BILINEAR, fill=None)
        off_rim = ((coverage < 1e-6) | (coverage > 1 - 1e-6)).expand_as(ref)
        assert off_rim.float().mean() > 0.8
        assert _max_abs(out[i][off_rim], ref[off_rim]) <= FLOAT_ATOL
        # Outside the rotated image the fill colour itself appears.
        outside = (coverage < 1e-6)[0]
        if outside.any():
            torch.testing.assert_close(out[i][:, outside], torch.tensor(fill)[:, None].expand(3, int(outside.sum())))


def _scipy_rotate_shift(image, angle, shift, mode):
    """Reference rotation (counter-clockwise on screen) + shift with scipy, bilinear, in (row, col) coordinates."""
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    h, w = image.shape[-2:]
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    # Output -> input map about the centre, x right / y down, after removing the shift (dx, dy):
    # x_in = c x - s y, y_in = s x + c y (what lies below the centre turns to its right: counter-clockwise).
    # In scipy's (row, col) = (y, x) order:
    m = np.array([[c, s], [-s, c]])
    shift_rc = np.array([shift[1], shift[0]])
    offset = centre - m @ (centre + shift_rc)
    return np.stack([ndimage.affine_transform(ch, m, offset=offset, order=1, mode=mode) for ch in image.numpy()])


@pytest.mark.parametrize(("padding_mode", "scipy_mode"), [("edge", "nearest"), ("reflect", "reflect"), ("constant", "constant")])
def test_affine_padding_modes_match_scipy(padding_mode, scipy_mode):
    x = _images((3, 2, 16, 21)).double()
    angles = torch.tensor([17.0, -33.0, 64.0], dtype=torch.float64)
    shifts = torch.tensor([[2.5, -3.0], [-4.25, 1.0], [0.0, 6.0]], dtype=torch.float64)
    out = F.affine(x, angles, translate=shifts, padding_mode=padding_mode)
    for i in range(3):
        ref = _scipy_rotate_shift(x[i], float(angles[i]), shifts[i].tolist(), scipy_mode)
        diff = np.abs(out[i].numpy() - ref)
        if padding_mode == "constant":
            # scipy's constant mode leaves the outermost half pixel to interpolation differently: compare inside.
            coverage = F.affine(torch.ones(1, 1, 16, 21, dtype=torch.float64), angles[i : i + 1], shifts[i : i + 1])
            diff = diff[:, coverage[0, 0].numpy() > 1 - 1e-9]
        assert diff.max() <= FLOAT_ATOL


def test_affine_matches_torchvision_with_clockwise_angle():
    x = _images((6, 3, 24, 30))
    angles = _uniform(-45, 45, 6, seed=2)
    translate = _uniform(-5, 5, (6, 2), seed=3)
    scale = _uniform(0.7, 1.3, 6, seed=4)
    shear = _uniform(-15, 15, (6, 2), seed=5)
    out = F.affine(x, angles, translate, scale, shear)
    for i in range(6):
        ref = TF.affine(
            x[i],
            angle=-float(angles[i]),
            translate=translate[i].tolist(),
            scale=float(scale[i]),
            shear=shear[i].tolist(),
            interpolation=BILINEAR,
            fill=None,
        )
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_affine_rotation_only_equals_rotate_and_shared_parameter_shorthands():
    x = _images((4, 1, 20, 20))
    angles = _uniform(-20, 20, 4)
    torch.testing.assert_close(F.affine(x, angles), F.rotate(x, angles))
    torch.testing.assert_close(F.affine(x, 0.0, shear=7.5), F.affine(x, 0.0, shear=torch.tensor([[7.5, 0.0]]).expand(4, 2)))
    torch.testing.assert_close(F.gaussian_blur(x, (0.8, 1.6)), F.gaussian_blur(x, torch.tensor([[0.8, 1.6]]).expand(4, 2)))


def test_torchvision_interpolation_modes_are_accepted():
    x = _images((2, 1, 10, 10))
    torch.testing.assert_close(F.rotate(x, 30.0, interpolation=TF.InterpolationMode.NEAREST), F.rotate(x, 30.0, interpolation="nearest"))


def test_integer_translation_is_an_exact_shift():
    x = _images((1, 1, 10, 10))
    out = F.affine(x, 0.0, translate=torch.tensor([[2.0, -3.0]]))
    # Content moves 2 right and 3 up.
    torch.testing.assert_close(out[0, 0, :7, 2:], x[0, 0, 3:, :8], atol=FLOAT_ATOL, rtol=0)
    assert (out[0, 0, 7:] == 0).all() and (out[0, 0, :, :2] == 0).all()


# ------------------------------------------------------------------------------------------------------ blur


@pytest.mark.parametrize("shape", [(8, 3, 32, 32), (6, 1, 28, 28), (3, 2, 19, 26)])
def test_gaussian_blur_matches_torchvision_per_image(shape):
    x = _images(shape)
    sigmas = _uniform(0.25, 2.25, shape[0])
    out = F.gaussian_blur(x, sigmas)
    sizes = F.gaussian_kernel_size(sigmas)
    for i in range(shape[0]):
        ref = TF.gaussian_blur(x[i], [int(sizes[i])] * 2, [float(sigmas[i])] * 2)
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_gaussian_blur_anisotropic_and_fixed_kernel_size():
    x = _images((4, 3, 24, 20))
    sigmas = _uniform(0.3, 3.0, (4, 2))
    out = F.gaussian_blur(x, sigmas, kernel_size=(9, 5))
    for i in range(4):
        assert _max_abs(out[i], TF.gaussian_blur(x[i], [9, 5], sigmas[i].tolist())) <= FLOAT_ATOL
    auto = F.gaussian_blur(x, sigmas)
    sizes = F.gaussian_kernel_size(sigmas)
    for i in range(4):
        assert _max_abs(auto[i], TF.gaussian_blur(x[i], sizes[i].tolist(), sigmas[i].tolist())) <= FLOAT_ATOL


def test_gaussian_blur_large_images_use_convolution_path_with_same_result():
    x = _images((2, 1, 150, 140))
    sigmas = torch.tensor([0.8, 2.2])
    out = F.gaussian_blur(x, sigmas)
    for i in range(2):
        ref = TF.gaussian_blur(x[i], [int(F.gaussian_kernel_size(sigmas[i]))] * 2, [float(sigmas[i])] * 2)
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_gaussian_blur_uint8_within_one_grey_level():
    x = _images((5, 3, 32, 32), dtype=torch.uint8)
    sigmas = _uniform(0.25, 2.25, 5)
    out = F.gaussian_blur(x, sigmas)
    assert out.dtype == torch.uint8
    sizes = F.gaussian_kernel_size(sigmas)
    for i in range(5):
        assert _max_abs(out[i], TF.gaussian_blur(x[i], [int(sizes[i])] * 2, [float(sigmas[i])] * 2)) <= 1


@pytest.mark.parametrize(("sigma", "size"), [(0.1, 3), (0.25, 3), (0.34, 5), (1.0, 7), (1.5, 11), (2.25, 15)])
def test_gaussian_kernel_size_closed_form(sigma, size):
    assert int(F.gaussian_kernel_size(torch.tensor(sigma))) == size == 2 * math.ceil(3 * sigma) + 1


def test_blur_preserves_constant_images_and_mean_of_symmetric_signal():
    x = torch.full((3, 2, 12, 12), 0.37)
    torch.testing.assert_close(F.gaussian_blur(x, torch.tensor([0.5, 1.0, 2.0])), x)


def test_single_image_equals_batch_of_one():
    x = _images((3, 15, 15))
    torch.testing.assert_close(F.rotate(x, 12.0), F.rotate(x[None], torch.tensor([12.0]))[0])
    torch.testing.assert_close(F.gaussian_blur(x, 1.2), F.gaussian_blur(x[None], torch.tensor([1.2]))[0])


def test_empty_batch():
    x = torch.zeros(0, 3, 8, 8)
    assert F.rotate(x, torch.zeros(0)).shape == x.shape
    assert F.gaussian_blur(x, torch.zeros(0)).shape == x.shape


# -------------------------------------------------------------------------------------------- properties

dtypes = st.sampled_from([torch.float32, torch.float64, torch.uint8])
shapes = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(8, 20), st.integers(8, 20))


@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16), interpolation=st.sampled_from(["bilinear", "nearest"]))
def test_rotate_properties(shape, dtype, seed, interpolation):
    x = _images(shape, seed, dtype)
    angles = _uniform(-180, 180, shape[0], seed + 1)
    out = F.rotate(x, angles, interpolation=interpolation)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    # Convex combinations of pixels and the zero fill.
    assert out.double().min() >= min(0.0, x.double().min().item()) - 1e-9
    assert out.double().max() <= x.double().max() + 1e-9
    assert torch.equal(out, F.rotate(x, angles, interpolation=interpolation))
    # Angle 0 is the identity (up to float32 grid rounding, ~1e-6; uint8 exactly).
    assert _max_abs(F.rotate(x, 0.0, interpolation=interpolation), x) <= (0 if dtype == torch.uint8 else FLOAT_ATOL)


@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_blur_properties(shape, dtype, seed):
    x = _images(shape, seed, dtype)
    sigmas = _uniform(0.25, 2.25, shape[0], seed + 1)
    out = F.gaussian_blur(x, sigmas)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.double().min() >= x.double().min() - 1e-6
    assert out.double().max() <= x.double().max() + 1e-6
    # A tiny sigma is the identity.
    torch.testing.assert_close(F.gaussian_blur(x, 0.05), x)


@given(seed=st.integers(0, 2**16))
def test_per_image_parameters_are_independent(seed):
    """Image i of a batch only depends on its own parameters."""
    x = _images((4, 1, 12, 12), seed)
    angles = _uniform(-30, 30, 4, seed + 1)
    sigmas = _uniform(0.3, 2.0, 4, seed + 2)
    rot, blur = F.rotate(x, angles), F.gaussian_blur(x, sigmas)
    for i in range(4):
        torch.testing.assert_close(rot[i], F.rotate(x[i], float(angles[i])))
        torch.testing.assert_close(blur[i], F.gaussian_blur(x[i], float(sigmas[i])), atol=1e-6, rtol=0)


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.rotate(torch.rand(8, 8), 1.0), ValueError, "images must have shape"),
        (lambda: F.rotate(torch.zeros(1, 1, 8, 8, dtype=torch.int32), 1.0), TypeError, "images must have dtype"),
        (lambda: F.rotate([[0.0]], 1.0), TypeError, "images must be a torch.Tensor"),
        (lambda: F.rotate(torch.rand(3, 1, 8, 8), torch.zeros(2)), ValueError, r"angles must .* shape \(3,\)"),
        (lambda: F.rotate(torch.rand(2, 1, 8, 8), float("nan")), ValueError, "angles must be finite"),
        (lambda: F.rotate(torch.rand(1, 1, 8, 8), 1.0, interpolation="bicubic"), ValueError, "interpolation .*'bicubic'"),
        (lambda: F.rotate(torch.rand(1, 1, 8, 8), 1.0, padding_mode="wrap"), ValueError, "padding_mode .*'wrap'"),
        (lambda: F.rotate(torch.rand(1, 3, 8, 8), 1.0, fill=[1.0, 0.0]), ValueError, "fill must have 1 or 3 values"),
        (lambda: F.rotate(torch.rand(1, 3, 8, 8), 1.0, fill="white"), TypeError, "fill must be a number"),
        (lambda: F.affine(torch.rand(2, 1, 8, 8), 0.0, scale=torch.tensor([1.0, -1.0])), ValueError, "scale must be positive"),
        (lambda: F.affine(torch.rand(2, 1, 8, 8), 0.0, translate=torch.zeros(2, 3)), ValueError, "translate must"),
        (lambda: F.gaussian_blur(torch.rand(2, 1, 8, 8), torch.tensor([1.0, -0.5])), ValueError, "sigmas must be positive"),
        (lambda: F.gaussian_blur(torch.rand(2, 1, 8, 8), 0.0), ValueError, "sigmas must be positive"),
        (lambda: F.gaussian_blur(torch.rand(2, 1, 8, 8), 1.0, kernel_size=4), ValueError, "kernel_size .* 4"),
        (lambda: F.gaussian_blur(torch.rand(1, 1, 8, 8), 5.0), ValueError, "kernel_size 31 is too large for image side 8"),
        (lambda: F.gaussian_blur(torch.rand(1, 1, 8, 8), True), TypeError, "sigmas must be a number"),
        (lambda: F.rotate(torch.rand(2, 1, 8, 8), 1.0, center=(1.0, 2.0, 3.0)), ValueError, r"center must .* shape \(3,\)"),
        (lambda: F.rotate(torch.rand(2, 1, 8, 8), 1.0, center=(1.0, float("nan"))), ValueError, "center must be finite"),
    ],
)
def test_bad_input_names_argument_and_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
def test_cuda_results_stay_on_device_and_match_cpu():
    x = _images((8, 3, 32, 32))
    angles, sigmas = _uniform(-25, 25, 8), _uniform(0.25, 2.25, 8)
    for fn, params in ((F.rotate, angles), (F.gaussian_blur, sigmas)):
        out = fn(x.cuda(), params.cuda())
        assert out.device.type == "cuda"
        torch.testing.assert_close(out.cpu(), fn(x, params), atol=1e-4, rtol=0)


def test_real_mnist_digits_match_torchvision(shared_data):
    x = torch.from_numpy(np.load(shared_data / "mnist" / "test.npz")["x"][:16])
    x = x.unsqueeze(1) if x.ndim == 3 else x
    angles = _uniform(-25, 25, 16)
    out = F.rotate(x, angles)
    for i in range(16):
        assert _max_abs(out[i], TF.rotate(x[i], float(angles[i]), interpolation=BILINEAR, fill=None)) <= 1


@given(
    h=st.integers(3, 13),
    w=st.integers(3, 13),
    angle=st.floats(-180, 180),
    cx=st.floats(-4, 17),
    cy=st.floats(-4, 17),
    nearest=st.booleans(),
)
def test_rotate_about_a_center_matches_torchvision(h, w, angle, cx, cy, nearest):
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(h * w))
    mode = TF.InterpolationMode.NEAREST if nearest else BILINEAR
    out = F.rotate(x, angle, center=(cx, cy), interpolation=mode)
    ref = TF.rotate(x, angle, interpolation=mode, center=[cx, cy])
    if nearest:  # a pixel centre exactly between two source pixels may round either way: compare almost all
        assert (out - ref).abs().gt(FLOAT_ATOL).float().mean() <= 0.02
    else:
        assert (out - ref).abs().max() <= FLOAT_ATOL


def test_rotate_center_per_image_and_default_is_the_image_centre():
    x = torch.rand(3, 1, 9, 12, generator=torch.Generator().manual_seed(0))
    angles = torch.tensor([10.0, -30.0, 75.0])
    centers = torch.tensor([[0.0, 0.0], [6.0, 4.5], [2.0, 8.0]])
    out = F.rotate(x, angles, center=centers)
    for i in range(3):
        assert torch.allclose(out[i], F.rotate(x[i], float(angles[i]), center=centers[i].tolist()), atol=FLOAT_ATOL)
    assert torch.allclose(F.rotate(x, angles, center=(6.0, 4.5)), F.rotate(x, angles), atol=FLOAT_ATOL)
