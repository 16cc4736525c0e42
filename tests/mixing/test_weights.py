import pytest
import torch
import torch.nn.functional as F
from torchvision import tv_tensors

from learnedaug.mixing import BatchMixer
from learnedaug.mixing.losses import weighted_cross_entropy


def batch(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)


def test_defaults_unchanged(fake):
    x, y = batch()
    a = BatchMixer(fake, 0.3, generator=7)(x, y)
    b = BatchMixer(fake, 0.3, generator=7, return_weights=True, synthetic_weight=0.5)(x, y)
    assert len(a) == 2 and len(b) == 3
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_append_weights(fake):
    x, y = batch()
    _, out_y, w = BatchMixer(fake, 0.3, generator=7, return_weights=True, synthetic_weight=0.25)(x, y)
    assert w.dtype == torch.float32 and w.shape == (13,)
    assert torch.equal(w, torch.tensor([1.0] * 10 + [0.25] * 3))


def test_replace_weights_mark_swapped_rows(fake):
    x, y = batch(20)
    out_x, _, w = BatchMixer(fake, 0.25, "replace", generator=1, return_weights=True, synthetic_weight=0.5)(x, y)
    changed = (out_x != x).flatten(1).any(1)
    assert torch.equal(w, torch.where(changed, 0.5, 1.0))


def test_label_smoothing_closed_form(fake):
    x, y = batch()
    s = 0.2
    _, plain_y = BatchMixer(fake, 0.3, generator=7)(x, y)
    _, soft, w = BatchMixer(fake, 0.3, generator=7, label_smoothing=s, return_weights=True)(x, y)
    assert soft.shape == (13, 4) and soft.dtype == torch.float32
    onehot = F.one_hot(plain_y, 4).float()
    torch.testing.assert_close(soft[:10], onehot[:10])
    torch.testing.assert_close(soft[10:], (1 - s) * onehot[10:] + s / 4)
    torch.testing.assert_close(soft.sum(1), torch.ones(13))
    assert torch.equal(w, torch.ones(13))


def test_dict_input_gets_weights(fake):
    x, y = batch()
    out = BatchMixer(fake, 0.5, generator=3, return_weights=True, synthetic_weight=0.1)(
        {"image": tv_tensors.Image(x), "labels": y}
    )
    assert torch.equal(out["weights"], torch.tensor([1.0] * 10 + [0.1] * 5))
    assert out["labels"].shape == (15,)


def test_ratio_zero_weights_all_real(fake):
    x, y = batch()
    _, out_y, w = BatchMixer(fake, 0.0, return_weights=True, label_smoothing=0.1)(x, y)
    assert torch.equal(w, torch.ones(10))
    assert torch.equal(out_y, F.one_hot(y, 4).float())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"synthetic_weight": -0.1}, "synthetic_weight"),
        ({"synthetic_weight": float("inf")}, "synthetic_weight"),
        ({"synthetic_weight": True}, "synthetic_weight"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.5}, "label_smoothing"),
    ],
)
def test_bad_values_refused(fake, kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchMixer(fake, 0.3, **kwargs)


def test_return_weights_must_be_bool(fake):
    with pytest.raises(TypeError, match="return_weights"):
        BatchMixer(fake, 0.3, return_weights=1)


def test_weighted_ce_equals_cross_entropy_with_unit_weights():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(6, 4, generator=g), torch.randint(0, 4, (6,), generator=g)
    torch.testing.assert_close(weighted_cross_entropy(logits, y, torch.ones(6)), F.cross_entropy(logits, y))
    torch.testing.assert_close(weighted_cross_entropy(logits, y), F.cross_entropy(logits, y))
    soft = torch.softmax(torch.randn(6, 4, generator=g), 1)
    torch.testing.assert_close(weighted_cross_entropy(logits, soft, torch.ones(6)), F.cross_entropy(logits, soft))


def test_weighted_ce_two_rows_closed_form():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    y = torch.tensor([0, 1])
    ce0, ce1 = torch.log(torch.tensor(2.0)), torch.log1p(torch.exp(torch.tensor(2.0)))
    expected = (1.0 * ce0 + 0.25 * ce1) / 1.25
    torch.testing.assert_close(weighted_cross_entropy(logits, y, torch.tensor([1.0, 0.25])), expected)


def test_weighted_ce_bad_weight():
    logits, y = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="weight"):
        weighted_cross_entropy(logits, y, torch.ones(3))
    with pytest.raises(ValueError, match="weight"):
        weighted_cross_entropy(logits, y, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="weight"):
        weighted_cross_entropy(logits, y, torch.zeros(2))
