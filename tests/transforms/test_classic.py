"""v2 transforms: per-image parameters, p and same_on_batch, seeding, input types, Compose, errors.

Each transform's output is checked against torchvision's functional ops applied image by image with the
parameters the transform drew (``make_params``); tolerances as in test_functional (1e-5 float, 1 grey level uint8).
"""

import PIL.Image
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learnedaug.transforms import RandomGaussianBlur, RandomRotation, RotBlur, ShiftRotate
from learnedaug.transforms import functional as F

FLOAT_ATOL = 1e-5
BILINEAR = TF.InterpolationMode.BILINEAR
ALL = [RandomRotation, RandomGaussianBlur, RotBlur, ShiftRotate]


def _images(shape, seed=0, dtype=torch.float32):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    return (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x


def _max_abs(a, b):
    return (a.double() - b.double()).abs().max().item()


def _params_and_output(t, x):
    """The parameters a transform draws for ``x`` and its output with them (the v2 forward, split in two)."""
    params = t.make_params([x])
    return params, t.transform(x, params)


# ------------------------------------------------------------------------ matches torchvision per image


def test_random_rotation_matches_torchvision_per_image():
    x = _images((8, 3, 32, 32))
    params, out = _params_and_output(RandomRotation(25, generator=0), x)
    assert params["angles"].abs().max() <= 25
    for i in range(8):
        ref = TF.rotate(x[i], float(params["angles"][i]), interpolation=BILINEAR, fill=None)
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


@pytest.mark.parametrize("center", [(0.0, 0.0), (20.0, 7.5), (31.0, 31.0)])
def test_random_rotation_center_matches_torchvision_per_image(center):
    x = _images((4, 3, 32, 32))
    params, out = _params_and_output(RandomRotation(40, center=center, generator=2), x)
    for i in range(4):
        ref = TF.rotate(x[i], float(params["angles"][i]), interpolation=BILINEAR, center=list(center))
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_random_gaussian_blur_matches_torchvision_per_image():
    x = _images((8, 1, 28, 28), dtype=torch.uint8)
    params, out = _params_and_output(RandomGaussianBlur((0.25, 2.25), generator=1), x)
    sigmas = params["sigmas"]
    assert ((sigmas >= 0.25) & (sigmas <= 2.25)).all()
    for i in range(8):
        k = int(F.gaussian_kernel_size(sigmas[i]))
        assert _max_abs(out[i], TF.gaussian_blur(x[i], [k, k], [float(sigmas[i])] * 2)) <= 1


def test_rot_blur_is_rotation_then_blur_with_own_draws():
    x = _images((6, 3, 24, 24))
    params, out = _params_and_output(RotBlur(generator=2), x)
    assert not torch.allclose(params["angles"], params["sigmas"])
    for i in range(6):
        angle, sigma = float(params["angles"][i]), float(params["sigmas"][i])
        k = int(F.gaussian_kernel_size(torch.tensor(sigma)))
        ref = TF.gaussian_blur(TF.rotate(x[i], angle, interpolation=BILINEAR, fill=None), [k, k], [sigma, sigma])
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_shift_rotate_draws_keras_ranges_and_matches_torchvision_affine():
    x = _images((16, 1, 28, 28))
    t = ShiftRotate(degrees=20, translate=(0.2, 0.1), padding_mode="constant", generator=3)
    params, out = _params_and_output(t, x)
    assert params["angles"].abs().max() <= 20 and params["shifts"].abs().max() <= 1
    pixels = params["shifts"] * torch.tensor([0.2 * 28, 0.1 * 28])
    for i in range(16):
        ref = TF.affine(x[i], angle=-float(params["angles"][i]), translate=pixels[i].tolist(), scale=1.0,
                        shear=[0.0, 0.0], interpolation=BILINEAR, fill=None)
        assert _max_abs(out[i], ref) <= FLOAT_ATOL


def test_shift_rotate_defaults_to_keras_edge_fill():
    # An image with a bright border: Keras' fill_mode="nearest" repeats it, so no black corners appear.
    x = torch.ones(4, 1, 20, 20)
    out = ShiftRotate(generator=4)(x)
    torch.testing.assert_close(out, x)
    assert ShiftRotate(padding_mode="constant", generator=4)(x).min() < 0.5


# ------------------------------------------------------------------ per-sample, p, same_on_batch, seeds


@pytest.mark.parametrize("cls", ALL)
def test_each_image_gets_its_own_parameters_unless_same_on_batch(cls):
    x = _images((8, 1, 16, 16))
    params = cls(generator=5).make_params([x])
    shared = cls(same_on_batch=True, generator=5).make_params([x])
    for key, value in params.items():
        if key == "selected":
            continue
        assert len(torch.unique(value, dim=0)) == 8, key
        assert (shared[key] == shared[key][0]).all(), key
    copies = x[:1].expand(8, 1, 16, 16).contiguous()
    out = cls(same_on_batch=True, generator=6)(copies)
    assert all(torch.equal(out[0], out[i]) for i in range(8))


@pytest.mark.parametrize("cls", ALL)
def test_same_seed_same_output_and_stream_advances(cls):
    x = _images((5, 3, 16, 16))
    assert torch.equal(cls(generator=7)(x), cls(generator=7)(x))
    assert not torch.equal(cls(generator=7)(x), cls(generator=8)(x))
    t = cls(generator=torch.Generator().manual_seed(7))
    assert torch.equal(t(x), cls(generator=7)(x))
    assert not torch.equal(t(x), cls(generator=7)(x))  # the generator's stream moved on


@pytest.mark.parametrize("cls", ALL)
def test_p_zero_is_bit_identical_and_p_selects_per_image(cls):
    x = _images((32, 1, 12, 12))
    assert torch.equal(cls(p=0.0)(x), x)
    params, out = _params_and_output(cls(p=0.5, generator=9), x)
    selected = params["selected"]
    assert 0 < int(selected.sum()) < 32
    for i in range(32):
        assert torch.equal(out[i], x[i]) != bool(selected[i])
    # Selected images get exactly what the kernel gives them with their own parameters.
    full = cls(p=1.0).transform(x, {**params, "selected": torch.ones(32, dtype=torch.bool)})
    torch.testing.assert_close(out[selected], full[selected])


def test_zero_angle_and_tiny_sigma_are_the_identity():
    x = _images((6, 3, 16, 16))
    assert _max_abs(RandomRotation(degrees=0, generator=0)(x), x) <= FLOAT_ATOL
    assert _max_abs(ShiftRotate(degrees=0, translate=0, generator=0)(x), x) <= FLOAT_ATOL
    assert _max_abs(RandomGaussianBlur(sigma=0.05, generator=0)(x), x) <= FLOAT_ATOL
    assert _max_abs(RotBlur(degrees=0, sigma=0.05, generator=0)(x), x) <= FLOAT_ATOL


def test_same_on_batch_shares_the_p_decision():
    x = _images((16, 1, 8, 8))
    for seed in range(6):
        selected = RandomRotation(p=0.5, same_on_batch=True, generator=seed).make_params([x])["selected"]
        assert selected.all() or not selected.any()


# -------------------------------------------------------------------------------------------- input types


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_types_shapes_and_single_images(cls, dtype):
    batch = _images((3, 3, 16, 16), dtype=dtype)
    image = tv_tensors.Image(batch[0])
    for inpt in (batch, batch[0], image, tv_tensors.Image(batch)):
        out = cls(generator=10)(inpt)
        assert type(out) is type(inpt) and out.shape == inpt.shape and out.dtype == dtype
    # A single image is the batch of one.
    torch.testing.assert_close(cls(generator=11)(batch[0]), cls(generator=11)(batch[:1])[0])


@pytest.mark.parametrize("cls", ALL)
def test_pil_images_come_back_as_pil(cls):
    img = PIL.Image.fromarray(_images((12, 14, 3), dtype=torch.uint8).numpy(), mode="RGB")
    out = cls(generator=12)(img)
    assert isinstance(out, PIL.Image.Image) and out.size == img.size and out.mode == img.mode
    ref = cls(generator=12)(TF.pil_to_tensor(img))
    assert torch.equal(TF.pil_to_tensor(out), ref)


@pytest.mark.parametrize("cls", ALL)
def test_compose_with_labels_passes_labels_untouched(cls):
    pipeline = v2.Compose([cls(generator=13), v2.ToDtype(torch.float32, scale=True)])
    image = tv_tensors.Image(_images((1, 28, 28), dtype=torch.uint8))
    out, label = pipeline(image, 7)
    assert isinstance(out, tv_tensors.Image) and out.dtype == torch.float32 and label == 7
    sample = {"image": image, "label": torch.tensor(3), "name": "a"}
    out = pipeline(sample)
    assert isinstance(out["image"], tv_tensors.Image) and out["label"] == 3 and out["name"] == "a"
    # With a plain tensor image, the first tensor is the image and the rest (labels) pass through.
    images, labels = cls(generator=13)(_images((4, 1, 8, 8)), torch.arange(4))
    assert images.shape == (4, 1, 8, 8) and torch.equal(labels, torch.arange(4))


def test_geometric_transforms_refuse_boxes_and_masks_but_blur_passes_them():
    image = tv_tensors.Image(_images((3, 16, 16)))
    boxes = tv_tensors.BoundingBoxes([[1, 1, 5, 5]], format="XYXY", canvas_size=(16, 16))
    mask = tv_tensors.Mask(torch.zeros(16, 16, dtype=torch.uint8))
    for cls in (RandomRotation, RotBlur, ShiftRotate):
        with pytest.raises(TypeError, match=f"{cls.__name__} does not support BoundingBoxes"):
            cls()(image, boxes)
        with pytest.raises(TypeError, match="does not support Mask"):
            cls()(image, mask)
    _, out_boxes, out_mask = RandomGaussianBlur()(image, boxes, mask)
    assert out_boxes is boxes and out_mask is mask


def test_inputs_given_together_must_share_batch_size():
    with pytest.raises(ValueError, match=r"same batch size, got \[2, 3\]"):
        RandomRotation()({"a": tv_tensors.Image(torch.rand(2, 1, 8, 8)), "b": tv_tensors.Image(torch.rand(3, 1, 8, 8))})


# -------------------------------------------------------------------------------------------- properties


@given(
    cls=st.sampled_from(ALL),
    shape=st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(8, 20), st.integers(8, 20)),
    dtype=st.sampled_from([torch.float32, torch.uint8]),
    seed=st.integers(0, 2**16),
    p=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_transform_properties(cls, shape, dtype, seed, p):
    x = _images(shape, seed, dtype)
    out = cls(p=p, generator=seed)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    # Rotation fills with 0 and interpolates, blur averages: values stay within [min(0, min x), max x].
    assert out.double().min() >= min(0.0, x.double().min().item()) - 1e-6
    assert out.double().max() <= x.double().max() + 1e-6
    assert torch.equal(out, cls(p=p, generator=seed)(x))


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: RandomRotation(degrees=(10, -10)), ValueError, r"degrees must have min <= max, got \(10, -10\)"),
        (lambda: RandomRotation(degrees=-5), ValueError, "degrees must be >= 0 when a single number, got -5"),
        (lambda: RandomRotation(degrees="big"), TypeError, "degrees must be a number or a"),
        (lambda: RandomRotation(p=1.5), ValueError, "p must be a probability in \\[0, 1\\], got 1.5"),
        (lambda: RandomRotation(interpolation="bicubic"), ValueError, "interpolation .*'bicubic'"),
        (lambda: RandomRotation(padding_mode="wrap"), ValueError, "padding_mode .*'wrap'"),
        (lambda: RandomRotation(fill="black"), TypeError, "fill must be a number"),
        (lambda: RandomRotation(generator="seed"), TypeError, "generator must be"),
        (lambda: RandomRotation(center=5), TypeError, r"center must be None or an \(x, y\) pair .* got 5"),
        (lambda: RandomRotation(center=(1.0, float("inf"))), TypeError, r"center .* got \(1.0, inf\)"),
        (lambda: RandomGaussianBlur(sigma=-1.0), ValueError, "sigma must be > 0, got -1.0"),
        (lambda: RandomGaussianBlur(sigma=(2.0, 1.0)), ValueError, r"sigma must have min <= max, got \(2.0, 1.0\)"),
        (lambda: RandomGaussianBlur(kernel_size=4), ValueError, "kernel_size .* got 4"),
        (lambda: RotBlur(p=-0.1), ValueError, "p must be a probability"),
        (lambda: ShiftRotate(translate=1.5), ValueError, "translate fractions must lie in \\[0, 1\\], got 1.5"),
        (lambda: ShiftRotate(translate=(0.1, 0.2, 0.3)), TypeError, "translate must be"),
    ],
)
def test_bad_arguments_name_argument_and_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cls", ALL)
def test_bad_images_are_refused(cls):
    with pytest.raises(TypeError, match="image must have dtype"):
        cls()(torch.zeros(1, 1, 8, 8, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"image must have shape .* got shape \(8, 8\)"):
        cls()(torch.zeros(8, 8))


def test_torchvision_interpolation_mode_is_accepted():
    assert RandomRotation(interpolation=TF.InterpolationMode.NEAREST).interpolation == "nearest"


@pytest.mark.parametrize("cls", [RandomRotation, RandomGaussianBlur, RotBlur, ShiftRotate])
def test_ddp_ranks_seeded_alike_draw_different_parameters(monkeypatch, cls):
    x = torch.rand(6, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    rank0 = cls(generator=3)(x)
    assert torch.equal(rank0, cls(generator=torch.Generator().manual_seed(3))(x))  # rank 0: the seed's own stream
    monkeypatch.setenv("RANK", "1")
    rank1 = cls(generator=3)(x)
    assert torch.equal(rank1, cls(generator=3)(x)) and not torch.equal(rank0, rank1)
