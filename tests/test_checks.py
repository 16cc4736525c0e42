import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from learnedaug._checks import as_labels, check_images, check_int, check_labels, to_float_image, to_uint8_image


def test_accepts_valid_batch():
    check_images(torch.rand(2, 1, 8, 8), channels=1, unit_range=True)
    check_images(torch.zeros(3, 8, 8, dtype=torch.uint8), ndims=(3, 4), allow_uint8=True)


@pytest.mark.parametrize(
    "x, kwargs, exc, words",
    [
        (torch.rand(8, 8), {}, ValueError, "(N, C, H, W)"),
        (torch.rand(2, 3, 8, 8), {"channels": 1}, ValueError, "1 channels, got 3"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.int32), {}, TypeError, "torch.int32"),
        (torch.zeros(2, 1, 4, 4, dtype=torch.uint8), {}, TypeError, "torch.uint8"),
        (torch.full((1, 1, 2, 2), 1.5), {"unit_range": True}, ValueError, "[0, 1]"),
        (torch.full((1, 1, 2, 2), float("nan")), {"unit_range": True}, ValueError, "[0, 1]"),
        ([[0.0]], {}, TypeError, "list"),
    ],
)
def test_rejects_with_named_problem(x, kwargs, exc, words):
    with pytest.raises(exc, match="images") as info:
        check_images(x, **kwargs)
    assert words in str(info.value)


def test_labels():
    check_labels(torch.tensor([0, 9]), 10, n=2)
    with pytest.raises(ValueError, match=r"\[0, 10\).*\[0, 10\]"):
        check_labels(torch.tensor([0, 10]), 10)
    with pytest.raises(ValueError, match="1-D integer"):
        check_labels(torch.tensor([0.0, 1.0]), 10)
    with pytest.raises(ValueError, match="3 entries but there are 2"):
        check_labels(torch.tensor([0, 1, 2]), 10, n=2)


def test_check_int_accepts_python_numpy_and_tensor_ints():
    assert check_int(3, "n") == 3
    assert type(check_int(np.int64(4), "n")) is int
    assert check_int(torch.tensor(5), "n") == 5
    assert check_int(0, "n", min=0) == 0
    assert check_int(-7, "n", min=None, max=0) == -7


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, torch.tensor(2.0), torch.tensor([1, 2]), torch.tensor(True)])
def test_check_int_type_errors_name_argument_and_value(bad):
    with pytest.raises(TypeError, match="batch_size must be an int, got"):
        check_int(bad, "batch_size")


@pytest.mark.parametrize("value, kw, words", [(0, {}, r"\[1, inf\], got 0"), (6, {"min": None, "max": 5}, r"\[-inf, 5\], got 6"), (2, {"min": 3, "max": 9}, r"\[3, 9\], got 2")])
def test_check_int_range_errors(value, kw, words):
    with pytest.raises(ValueError, match="epochs must be an int in " + words):
        check_int(value, "epochs", **kw)


@given(arrays(np.uint8, st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))))
def test_uint8_float_round_trip(a):
    x = torch.from_numpy(a)
    f = to_float_image(x)
    assert f.dtype == torch.float32 and f.min() >= 0 and f.max() <= 1
    assert torch.equal(f, x.float() / 255)
    assert torch.equal(to_uint8_image(f), x)
    assert to_uint8_image(x) is x


def test_to_uint8_rounds_and_clamps():
    x = torch.tensor([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 1.0, 2.0])
    assert to_uint8_image(x).tolist() == [0, 0, 0, 2, 255, 255]  # round half to even, like torch.round
    assert to_float_image(torch.tensor([0.25], dtype=torch.float64), torch.float16).dtype == torch.float16
    with pytest.raises(TypeError, match="int32"):
        to_float_image(torch.zeros(2, dtype=torch.int32))
    with pytest.raises(TypeError, match="int32"):
        to_uint8_image(torch.zeros(2, dtype=torch.int32))


@pytest.mark.parametrize(
    "labels, expected",
    [
        (3, [3]),
        (np.int64(2), [2]),
        (torch.tensor(4), [4]),
        (np.array(1), [1]),
        ([1, 2], [1, 2]),
        ((0, np.int32(9)), [0, 9]),
        (np.array([5, 6], dtype=np.int64), [5, 6]),
        (torch.tensor([7, 8], dtype=torch.int16), [7, 8]),
        ([], []),
    ],
)
def test_as_labels_accepts_what_users_hold(labels, expected):
    out = as_labels(labels, 10)
    assert out.dtype == torch.int64 and out.ndim == 1 and out.tolist() == expected


@pytest.mark.parametrize(
    "labels, error, words",
    [
        (True, TypeError, "y must be an int, got bool True"),
        (1.0, TypeError, "y must be an int, got float 1.0"),
        ([1, 2.0], TypeError, "y must be class indices (ints), got 2.0 in list [1, 2.0]"),
        (np.array([0.5]), TypeError, "integer dtype), got numpy dtype float64"),
        (np.str_("3"), TypeError, "got numpy dtype <U1"),
        (np.bool_(True), TypeError, "got numpy dtype bool"),
        (torch.tensor([True]), TypeError, "got dtype torch.bool"),
        (torch.zeros(2, 2, dtype=torch.long), ValueError, "y must be one class index per sample, shape (N,), got shape (2, 2)"),
        ([3, 10], ValueError, "y must lie in [0, 10), got values in [3, 10]"),
    ],
)
def test_as_labels_refusals_name_argument_and_value(labels, error, words):
    with pytest.raises(error) as info:
        as_labels(labels, 10, name="y")
    assert words in str(info.value)
