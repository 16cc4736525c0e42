import pytest
import torch

from learnedaug._checks import check_images, check_labels


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
