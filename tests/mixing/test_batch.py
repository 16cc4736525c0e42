import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learnedaug._random import randint
from learnedaug.mixing import BatchMixer


def batch(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)


def test_append_matches_reference(fake):
    x, y = batch()
    out_x, out_y = BatchMixer(fake, 0.3, generator=7)(x, y)
    assert out_x.shape == (13, 1, 8, 8) and out_y.shape == (13,)
    assert torch.equal(out_x[:10], x) and torch.equal(out_y[:10], y)
    g = torch.Generator().manual_seed(7)  # same draws in the same order: batch rows, then the model's noise
    labels = y[randint(10, (3,), generator=g)]
    torch.testing.assert_close(out_x[10:], fake.sample(labels, generator=g), rtol=0, atol=0)
    assert torch.equal(out_y[10:], labels)


def test_replace_swaps_exactly_n(fake):
    x, y = batch(20)
    out_x, out_y = BatchMixer(fake, 0.25, "replace", generator=1)(x, y)
    assert out_x.shape == x.shape
    changed = (out_x != x).flatten(1).any(1)
    assert int(changed.sum()) == 5
    assert torch.equal(out_y[~changed], y[~changed])
    assert torch.equal(out_x[~changed], x[~changed])


def test_uint8_and_tv_tensor_batches(fake):
    x, y = batch()
    x8 = tv_tensors.Image(TF.to_dtype(x, torch.uint8, scale=True))
    out_x, _ = BatchMixer(fake, 0.5, generator=0)(x8, y)
    assert isinstance(out_x, tv_tensors.Image) and out_x.dtype == torch.uint8
    assert torch.equal(out_x[:10], x8)
    ref, _ = BatchMixer(fake, 0.5, generator=0)(x, y)
    assert torch.equal(out_x[10:].as_subclass(torch.Tensor), TF.to_dtype(ref[10:], torch.uint8, scale=True))


def test_dict_samples_like_cutmix(fake):
    x, y = batch()
    ref_x, ref_y = BatchMixer(fake, 0.5, generator=0)(x, y)
    ref_r = BatchMixer(fake, 0.5, "replace", generator=0)(x, y)
    reference = v2.CutMix(num_classes=4)({"image": tv_tensors.Image(x), "labels": y})  # the shape torchvision accepts
    assert set(reference) == {"image", "labels"}
    out = BatchMixer(fake, 0.5, generator=0)({"image": tv_tensors.Image(x), "labels": y, "name": "batch 0"})
    assert isinstance(out["image"], tv_tensors.Image) and out["name"] == "batch 0"
    assert torch.equal(out["image"].as_subclass(torch.Tensor), ref_x) and torch.equal(out["labels"], ref_y)
    ids = torch.arange(10)
    out = BatchMixer(fake, 0.5, "replace", generator=0)({"x": x, "Labels": y, "ids": ids})
    assert torch.equal(out["x"], ref_r[0]) and torch.equal(out["Labels"], ref_r[1]) and out["ids"] is ids
    with pytest.raises(ValueError, match=r"other tensors \['ids'\] would not line up"):
        BatchMixer(fake, 0.5)({"x": x, "labels": y, "ids": ids})
    with pytest.raises(TypeError, match=r"BatchMixer needs \(images, labels\).*keys \['image'\]"):
        BatchMixer(fake, 0.5)({"image": x})


def test_transform_applies_to_synthetic_part_only(fake):
    x, y = batch()
    norm = v2.Normalize([0.5], [0.25])
    out_x, _ = BatchMixer(fake, 0.2, transform=norm, generator=3)(norm(x), y)
    ref_x, _ = BatchMixer(fake, 0.2, generator=3)(x, y)
    torch.testing.assert_close(out_x, norm(ref_x))


def test_soft_labels_follow_each_rows_distribution(fake):
    n = 4000
    x = torch.rand(n, 1, 8, 8)
    soft = torch.zeros(n, 4)
    soft[:, 1] = soft[:, 2] = 0.5  # like a CutMix/MixUp output mixing classes 1 and 2 half/half
    out_x, out_y = BatchMixer(fake, 1.0, generator=0)(x, soft)
    syn = out_y[n:]
    assert out_y.shape == (2 * n, 4) and torch.equal(syn.sum(1), torch.ones(n))
    counts = syn.sum(0)
    assert counts[0] == counts[3] == 0
    assert abs(counts[1].item() - n / 2) < 5 * (n * 0.25) ** 0.5  # binomial(n, 1/2), 5 sigma
    one_hot = F.one_hot(torch.full((8,), 3), 4).float()
    _, out = BatchMixer(fake, 0.5, "replace", generator=0)(x[:8], one_hot)
    assert torch.equal(out, one_hot)  # every synthetic label drawn from class-3 rows is class 3


def test_balanced_labels_cover_all_classes(fake):
    n = 4000
    x, y = torch.rand(n, 1, 8, 8), torch.zeros(n, dtype=torch.long)
    _, out_y = BatchMixer(fake, 1.0, labels="balanced", generator=0)(x, y)
    counts = torch.bincount(out_y[n:], minlength=4).float()
    sigma = (n * 0.25 * 0.75) ** 0.5
    assert ((counts - n / 4).abs() < 5 * sigma).all()
    _, out_y = BatchMixer(fake, 1.0, generator=0)(x, y)
    assert (out_y == 0).all()  # "batch" keeps the batch's class prior


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(ratio=1.5, mode="replace"), ValueError, "ratio"),
        (dict(ratio=-0.1), ValueError, "ratio"),
        (dict(ratio=0.5, mode="swap"), ValueError, "mode"),
        (dict(ratio=0.5, labels="uniform"), ValueError, "labels"),
    ],
)
def test_bad_arguments(fake, kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchMixer(fake, **kwargs)


def test_bad_batches(fake):
    mixer = BatchMixer(fake, 0.5)
    with pytest.raises(ValueError, match=r"\(3, 8, 8\) but the model makes \(1, 8, 8\)"):
        mixer(torch.rand(4, 3, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        mixer(torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 9]))
    with pytest.raises(ValueError, match="4 entries but there are 2"):
        mixer(torch.rand(2, 1, 8, 8), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="2-D labels"):
        mixer(torch.rand(2, 1, 8, 8), torch.zeros(2, 5))
    with pytest.raises(TypeError, match="sampler contract"):
        BatchMixer(torch.nn.Linear(2, 2), 0.5)


def test_labels_are_required_with_a_clear_message(fake):
    mixer = BatchMixer(fake, 0.5, generator=0)
    x, y = batch(4)
    for call in (lambda: mixer(x), lambda: mixer((x,)), lambda: mixer(x, y, y)):
        with pytest.raises(TypeError, match=r"BatchMixer needs \(images, labels\)"):
            call()
    with pytest.raises(TypeError, match=r"got 1 input\(s\): \(Tensor\)"):
        mixer(x)
    assert torch.equal(mixer((x, y))[0][:4], x) and torch.equal(BatchMixer(fake, 0.5, generator=0)([x, y])[1][:4], y)


@given(
    n=st.integers(1, 12),
    ratio=st.floats(0, 1),
    mode=st.sampled_from(["append", "replace"]),
    uint8=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_properties(fake_cls, n, ratio, mode, uint8, seed):
    model = fake_cls()
    x, y = batch(n, seed)
    if uint8:
        x = TF.to_dtype(x, torch.uint8, scale=True)
    mixer = BatchMixer(model, ratio, mode, generator=seed)
    out_x, out_y = mixer(x, y)
    k = round(ratio * n)
    assert out_x.shape[0] == out_y.shape[0] == (n + k if mode == "append" else n)
    assert out_x.dtype == x.dtype and out_y.dtype == y.dtype
    if not uint8:
        assert 0 <= out_x.min() and out_x.max() <= 1
    again = BatchMixer(model, ratio, mode, generator=seed)(x, y)
    assert torch.equal(again[0], out_x) and torch.equal(again[1], out_y)


def test_ranks_seeded_alike_draw_different_samples(monkeypatch, fake):
    x, y = batch()
    rank0, _ = BatchMixer(fake, 0.5, generator=4)(x, y)
    monkeypatch.setenv("RANK", "1")
    rank1, _ = BatchMixer(fake, 0.5, generator=4)(x, y)
    assert torch.equal(rank0[:10], rank1[:10]) and not torch.equal(rank0[10:], rank1[10:])


def test_real_small_model():
    from learnedaug.models import build_model

    torch.manual_seed(0)
    gan = build_model("cdcgan", num_classes=10, image_shape=(1, 28, 28), fc_dim=32, base_channels=8)
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    out_x, out_y = BatchMixer(gan, 0.5, labels="balanced", generator=2)(x, y)
    g = torch.Generator().manual_seed(2)
    labels = randint(10, (3,), generator=g)
    torch.testing.assert_close(out_x[6:], gan.sample(labels, generator=g), rtol=0, atol=0)
    assert torch.equal(out_y[6:], labels)
