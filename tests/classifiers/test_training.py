"""learnedaug.classifiers.training: training recipe, early stopping, scoring vs sklearn."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from torch.utils.data import Dataset

from learnedaug.data import ImageSet
from learnedaug.classifiers import evaluate, f1_per_class, macro_f1, predict, train_classifier

TINY = {"width": 0.125}


def _bars(n: int, seed: int, size: int = 12) -> ImageSet:
    """Two separable classes: a bright top half (0) or bottom half (1) over noise; uint8 (n, 1, size, size)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, size, size, generator=g) * 0.4
    half = size // 2
    images[labels == 0, :, :half] += 0.6
    images[labels == 1, :, half:] += 0.6
    return ImageSet((images * 255).round().to(torch.uint8), labels, ["top", "bottom"])


def test_learns_separable_classes_quickly():
    train, val, test = _bars(96, 0), _bars(32, 1), _bars(64, 2)
    model, history = train_classifier("cnn", train, val, epochs=3, batch_size=16, model_kwargs=TINY, progress=False)
    scores = evaluate(model, test)
    assert scores["accuracy"] >= 0.95 and scores["macro_f1"] >= 0.95 and scores["n"] == 64
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_accuracy) == 3
    assert 0 <= history.best_epoch < len(history.val_loss)


def test_vgg_and_tensor_pairs_and_generic_dataset():
    train = _bars(64, 0, size=16)
    pair = (train.float_images(), train.labels)

    class Items(Dataset):
        def __len__(self):
            return len(train)

        def __getitem__(self, i):
            return train[i]

    a, ha = train_classifier("vgg", pair, pair, epochs=2, model_kwargs=TINY, progress=False, seed=3)
    b, hb = train_classifier("vgg", train, train, epochs=2, model_kwargs=TINY, progress=False, seed=3)
    assert ha.train_loss == pytest.approx(hb.train_loss, rel=1e-5)  # uint8 and float storage give the same batches
    c, hc = train_classifier("vgg", Items(), Items(), epochs=2, model_kwargs=TINY, progress=False, seed=3)
    assert len(hc.train_loss) == 2 and c.num_classes == 2
    assert predict(c, Items()).shape == (64,)


def test_early_stopping_restores_best_weights():
    train = _bars(64, 0)
    flipped = ImageSet(_bars(32, 1).images, 1 - _bars(32, 1).labels, ["top", "bottom"])  # val disagrees with train
    model, history = train_classifier(
        "cnn", train, flipped, epochs=30, patience=3, batch_size=16, model_kwargs=TINY, progress=False
    )
    assert history.stopped_early and len(history.val_loss) == history.best_epoch + 4
    assert history.val_loss[history.best_epoch] == min(history.val_loss)
    assert evaluate(model, flipped)["loss"] == pytest.approx(history.val_loss[history.best_epoch], rel=1e-5)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_schedule(schedule):
    """Cosine: epoch e trains with lr (1 + cos(pi e / E)) / 2 (CosineAnnealingLR stepped per epoch); constant: lr."""
    epochs, lr = 5, 2e-3
    _, history = train_classifier("cnn", _bars(32, 0), epochs=epochs, lr=lr, schedule=schedule, batch_size=16,
                                  model_kwargs=TINY, progress=False)
    want = [lr * (1 + math.cos(math.pi * e / epochs)) / 2 if schedule == "cosine" else lr for e in range(epochs)]
    assert history.lr == pytest.approx(want, rel=1e-12)
    assert history.best_epoch == epochs - 1  # no validation data: the final weights are kept


def test_seeded_determinism_and_rng_isolation():
    train, val = _bars(48, 0), _bars(16, 1)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    kw = dict(epochs=2, batch_size=8, model_kwargs=TINY, progress=False)
    m1, h1 = train_classifier("cnn", train, val, seed=7, **kw)
    assert torch.equal(torch.rand(1), before)  # the caller's global RNG is untouched
    m2, h2 = train_classifier("cnn", train, val, seed=7, **kw)
    m3, h3 = train_classifier("cnn", train, val, seed=8, **kw)
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert h1.train_loss != h3.train_loss


def test_augment_and_extra_dataset_are_used():
    train, val = _bars(32, 0), _bars(16, 1)
    seen = []

    def augment(x, y):
        seen.append((x.shape[0], float(x.min()), float(x.max()), y.dtype))
        return 1.0 - x, torch.nn.functional.one_hot(y, 2).float()  # soft labels are accepted

    model, history = train_classifier(
        "cnn", train, val, augment=augment, extra_dataset=train, epochs=1, batch_size=16, model_kwargs=TINY,
        progress=False,
    )
    assert sum(s[0] for s in seen) == 64  # train + extra, every image once per epoch
    assert all(0.0 <= lo and hi <= 1.0 and dt == torch.int64 for _, lo, hi, dt in seen)
    with pytest.raises(TypeError, match="augment must return a pair"):
        train_classifier("cnn", train, epochs=1, augment=lambda x, y: x, model_kwargs=TINY, progress=False)


def test_set_epoch_is_called():
    base = _bars(16, 0)

    class Epochal(Dataset):
        def __init__(self):
            self.epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

        def __len__(self):
            return len(base)

        def __getitem__(self, i):
            return base[i]

    extra = Epochal()
    train_classifier("cnn", base, epochs=3, extra_dataset=extra, model_kwargs=TINY, progress=False)
    assert extra.epochs == [0, 1, 2]


def test_repeats_show_train_that_many_times_and_extra_once():
    """Every epoch: each training image exactly ``repeats`` times, each extra item once, all shuffled together."""
    train = (torch.rand(6, 1, 12, 12), torch.arange(6) % 2)
    extra = (torch.rand(4, 1, 12, 12), torch.arange(4) % 2)
    seen = []

    def record(x, y):
        seen.append(x.clone())
        return x, y

    kw = dict(model_kwargs=TINY, progress=False, batch_size=5, augment=record)
    train_classifier("cnn", train, extra_dataset=extra, repeats=3, epochs=2, **kw)
    epoch0 = torch.cat(seen[:5])  # 6 * 3 + 4 = 22 items: 5 batches of at most 5
    assert epoch0.shape[0] == 22
    matches = (epoch0.flatten(1)[:, None] == torch.cat([train[0], extra[0]]).flatten(1)[None]).all(-1)
    assert matches.sum(0).tolist() == [3] * 6 + [1] * 4
    assert not torch.equal(torch.cat(seen[5:10]), epoch0)  # reshuffled next epoch

    class Items(Dataset):  # the DataLoader path repeats the same way
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return train[0][i], int(train[1][i])

    seen.clear()
    train_classifier("cnn", Items(), extra_dataset=extra, repeats=3, epochs=1, **kw)
    assert torch.cat(seen).shape[0] == 22
    # repeats=2 without extra is the AUGORIG control: the same batches as appending a copy of train
    a, _ = train_classifier("cnn", train, repeats=2, epochs=2, model_kwargs=TINY, progress=False, seed=4)
    b, _ = train_classifier("cnn", train, extra_dataset=train, epochs=2, model_kwargs=TINY, progress=False, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_synthetic_dataset_is_batched_as_tensors_with_a_fresh_slice_each_epoch():
    """A SyntheticDataset part is read through epoch_tensors (no per-item DataLoader): every epoch shows exactly its
    current slice, and the slice changes between epochs."""
    from learnedaug.mixing import SyntheticDataset

    class Noise:
        num_classes, image_shape = 2, (1, 12, 12)

        def sample(self, labels, *, generator=None):
            return torch.rand(labels.shape[0], *self.image_shape, generator=generator)

    train = _bars(6, 0)
    synthetic = SyntheticDataset(Noise(), size=8, seed=0)
    seen = []

    def record(x, y):
        seen.append((x.clone(), y.clone()))
        return x, y

    slices = []
    real_set_epoch = synthetic.set_epoch

    def set_epoch(epoch):
        real_set_epoch(epoch)
        images, labels = synthetic.epoch_tensors()
        slices.append(images.float().div(255).flatten(1))

    synthetic.set_epoch = set_epoch
    train_classifier("cnn", train, extra_dataset=synthetic, augment=record, epochs=2, batch_size=14,
                     model_kwargs=TINY, progress=False)
    assert len(seen) == 2  # one batch of 6 + 8 per epoch
    for (x, _), current in zip(seen, slices):
        flat = x.flatten(1)
        hits = (flat[:, None] == current[None]).all(-1).sum(0)
        assert hits.tolist() == [1] * 8  # each synthetic item of this epoch exactly once
    assert not torch.equal(slices[0], slices[1])
    assert synthetic.epoch_tensors() is not None
    assert SyntheticDataset(Noise(), size=8, transform=lambda im: im).epoch_tensors() is None  # per-item path


def test_bad_input():
    train = _bars(16, 0)
    kw = dict(model_kwargs=TINY, progress=False)
    for bad in ({"epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"patience": 0}, {"monitor": "acc"}, {"repeats": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            train_classifier("cnn", train, **bad, **kw)
    with pytest.raises(ValueError, match=r"train images must be float in \[0, 1\]"):
        train_classifier("cnn", (torch.full((4, 1, 12, 12), 2.0), torch.zeros(4, dtype=torch.int64)), **kw)
    with pytest.raises(ValueError, match="3 entries but there are 4"):
        train_classifier("cnn", (torch.rand(4, 1, 12, 12), torch.zeros(3, dtype=torch.int64)), **kw)
    with pytest.raises(TypeError, match="model must be"):
        train_classifier(3, train, **kw)
    with pytest.raises(TypeError, match="train must be"):
        train_classifier("cnn", "data", **kw)


@given(
    y_true=st.lists(st.integers(0, 4), min_size=1, max_size=60),
    seed=st.integers(0, 1000),
)
def test_f1_matches_sklearn(y_true, seed):
    rng = np.random.default_rng(seed)
    y_true = np.array(y_true)
    y_pred = np.where(rng.random(y_true.size) < 0.6, y_true, rng.integers(0, 5, y_true.size))
    t, p = torch.from_numpy(y_true), torch.from_numpy(y_pred)
    assert macro_f1(t, p, 5) == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    present = np.union1d(y_true, y_pred)
    ours = f1_per_class(t, p, 5)
    np.testing.assert_allclose(ours[present].numpy(), f1_score(y_true, y_pred, labels=present, average=None,
                                                               zero_division=0))
    assert torch.isnan(ours[np.setdiff1d(np.arange(5), present)]).all()


def test_evaluate_on_real_mnist_subset_runs(shared_data):
    from learnedaug.data import balanced_subset, load_dataset

    test = load_dataset("mnist", split="test", root=shared_data)
    small = test.subset(balanced_subset(test.labels, per_class=10, seed=0))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    scores = evaluate(model, small)
    assert scores["n"] == 100 and len(scores["per_class_f1"]) == 10 and 0.0 <= scores["accuracy"] <= 1.0


@pytest.mark.parametrize("as_dataset", [False, True])
def test_extra_weight_scales_the_loss_of_added_rows(as_dataset):
    """Added rows with the wrong labels ruin the classifier at weight 1 and are ignored at weight 0."""
    train, test = _bars(40, seed=0), _bars(60, seed=1)
    wrong = _bars(120, seed=2)
    wrong = (wrong.images, 1 - wrong.labels)
    if as_dataset:  # the DataLoader path: a generic Dataset of float items
        wrong = torch.utils.data.TensorDataset(wrong[0].float() / 255, wrong[1])
        wrong = _ItemsOf(wrong)
    scores = {}
    for w in (0.0, 1.0):
        model, _ = train_classifier("cnn", train, extra_dataset=wrong, extra_weight=w, epochs=8, batch_size=16,
                                    patience=None, num_classes=2, model_kwargs=TINY, seed=0, progress=False)
        scores[w] = evaluate(model, test)["accuracy"]
    assert scores[0.0] > 0.9 and scores[1.0] < 0.5
    with pytest.raises(ValueError, match="extra_weight"):
        train_classifier("cnn", train, extra_dataset=wrong, extra_weight=-1, epochs=1, progress=False)


class _ItemsOf(Dataset):
    def __init__(self, tensors):
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors)

    def __getitem__(self, i):
        x, y = self.tensors[i]
        return x, int(y)
