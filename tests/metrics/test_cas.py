"""CAS (train on samples, test on real): perfect, label-shifted and noise samplers against closed forms."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from learnedaug.classifiers import evaluate, train_classifier
from learnedaug.data import ImageSet
from learnedaug.metrics import CASResult, classification_accuracy_score

SHAPE = (1, 12, 12)
FAST = dict(n_per_class=40, width=0.125, epochs=6, batch_size=16, lr=3e-3, progress=False)


def separable(num_classes: int, n_per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c: faint noise plus a bright 4x4 patch at a class-specific place; float (N, 1, 12, 12) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    images = 0.2 * torch.rand(labels.shape[0], *SHAPE, generator=g)
    for i, c in enumerate(labels.tolist()):
        r, q = divmod(c, 3)
        images[i, :, 4 * r:4 * r + 4, 4 * q:4 * q + 4] = 1.0
    return images, labels


class LookupSampler:
    """Returns real images of class ``(c + shift) % K`` for label c: shift 0 is a perfect generator."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, shift: int = 0) -> None:
        self.num_classes = int(labels.max()) + 1
        self.image_shape = tuple(images.shape[1:])
        self.pools = [images[labels == c] for c in range(self.num_classes)]
        self.shift = shift

    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        out = []
        for c in labels.tolist():
            pool = self.pools[(c + self.shift) % self.num_classes]
            out.append(pool[int(torch.randint(pool.shape[0], (1,), generator=generator))])
        return torch.stack(out)


class NoiseSampler:
    """Uniform noise whatever the label: samples carry no class."""

    def __init__(self, num_classes: int, image_shape=SHAPE) -> None:
        self.num_classes, self.image_shape = num_classes, image_shape

    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(labels.shape[0], *self.image_shape, generator=generator)


@pytest.fixture(scope="module")
def data3():
    return separable(3, 40, seed=1), separable(3, 30, seed=2)


def test_perfect_sampler_matches_real_data(data3):
    (train_x, train_y), test = data3
    result = classification_accuracy_score(LookupSampler(train_x, train_y), test, **FAST)
    assert isinstance(result, CASResult)
    assert result.accuracy >= 0.9 and result.macro_f1 >= 0.9
    assert result.n_train == 3 * 40 and result.n_test == 90
    # the "CAS of real data" reference: the same recipe trained on the real training images themselves
    model, _ = train_classifier("cnn", (train_x, train_y), epochs=FAST["epochs"], batch_size=FAST["batch_size"],
                                lr=FAST["lr"], patience=None, schedule="cosine", num_classes=3,
                                model_kwargs={"width": FAST["width"]}, seed=0, progress=False)
    assert abs(result.accuracy - evaluate(model, test)["accuracy"]) <= 0.1


@pytest.mark.parametrize("k", [2, 3])
def test_label_shifted_sampler_is_an_anti_classifier(k):
    train_x, train_y = separable(k, 40, seed=1)
    test = separable(k, 30, seed=2)
    result = classification_accuracy_score(LookupSampler(train_x, train_y, shift=1), test, **FAST)
    # trained on class c+1 images labelled c, it labels every real image of class j as j-1: accuracy 0
    assert result.accuracy <= 0.1
    assert all(a <= 0.1 for a in result.per_class_accuracy)


def test_noise_sampler_is_near_chance(data3):
    _, test = data3
    accs = [classification_accuracy_score(NoiseSampler(3), test, **{**FAST, "seed": s}).accuracy for s in range(4)]
    assert abs(sum(accs) / len(accs) - 1 / 3) <= 0.2


def test_same_seed_same_result_different_seed_differs(data3):
    _, test = data3
    sampler = NoiseSampler(3)
    a = classification_accuracy_score(sampler, test, **{**FAST, "epochs": 2}).to_dict()
    b = classification_accuracy_score(sampler, test, **{**FAST, "epochs": 2}).to_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    others = [classification_accuracy_score(sampler, test, **{**FAST, "epochs": 2, "seed": s}).to_dict()
              for s in (1, 2, 3)]
    assert any((o["accuracy"], o["per_class_accuracy"]) != (a["accuracy"], a["per_class_accuracy"]) for o in others)


@given(st.lists(st.integers(0, 2), min_size=3, max_size=3))
def test_per_class_accuracy_mean_is_accuracy_on_balanced_test(shifts):
    # samplers that label some classes right and some wrong: on a balanced test set accuracy = mean per-class one
    train_x, train_y = separable(3, 20, seed=1)
    test = separable(3, 10, seed=2)

    class Mixed(LookupSampler):
        def sample(self, labels, *, generator=None):
            return torch.stack([self.pools[(c + shifts[c]) % 3][int(torch.randint(20, (1,), generator=generator))]
                                for c in labels.tolist()])

    result = classification_accuracy_score(Mixed(train_x, train_y), test,
                                           **{**FAST, "n_per_class": 20, "epochs": 2})
    assert math.isclose(sum(result.per_class_accuracy) / 3, result.accuracy, abs_tol=1e-12)


def test_absent_test_class_is_nan_and_accepts_imageset(data3):
    (train_x, train_y), (x, y) = data3
    keep = y != 2
    test = ImageSet((x[keep] * 255).round().to(torch.uint8), y[keep], classes=["a", "b", "c"])
    result = classification_accuracy_score(LookupSampler(train_x, train_y), test, **{**FAST, "epochs": 2})
    assert math.isnan(result.per_class_accuracy[2]) and result.n_test == int(keep.sum())


def test_errors_name_argument_and_value(data3):
    (train_x, train_y), test = data3
    sampler = LookupSampler(train_x, train_y)
    with pytest.raises(ValueError, match=r"test images have shape \(1, 8, 8\).*sampler.image_shape"):
        classification_accuracy_score(sampler, (torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])), **FAST)
    with pytest.raises(ValueError, match=r"test labels must lie in \[0, 2\).*\[0, 2\]"):
        classification_accuracy_score(NoiseSampler(2), test, **FAST)
    with pytest.raises(ValueError, match="test has 4 classes but sampler.num_classes is 3"):
        classification_accuracy_score(sampler, ImageSet(torch.zeros(2, *SHAPE, dtype=torch.uint8),
                                                        torch.tensor([0, 1]), classes=list("abcd")), **FAST)
    for bad, err in [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]:
        with pytest.raises(err, match=f"n_per_class.*{bad!r}" if err is TypeError else "n_per_class.*got -?[0-9]"):
            classification_accuracy_score(sampler, test, **{**FAST, "n_per_class": bad})
    with pytest.raises(TypeError, match="sampler must follow the sampler contract.*got str"):
        classification_accuracy_score("vae", test, **FAST)
    with pytest.raises(ValueError, match="classifier must be one of.*'mlp'"):
        classification_accuracy_score(sampler, test, **{**FAST, "classifier": "mlp"})
    with pytest.raises(ValueError, match="width must be a number > 0, got 0"):
        classification_accuracy_score(sampler, test, **{**FAST, "width": 0})


def test_sampler_returning_wrong_shape_is_refused(data3):
    _, test = data3

    class Bad(NoiseSampler):
        def sample(self, labels, *, generator=None):
            return torch.rand(labels.shape[0], 1, 10, 10, generator=generator)

    with pytest.raises(ValueError, match=r"sampler.sample\(...\) must return shape"):
        classification_accuracy_score(Bad(3), test, **FAST)


def test_mnist_real_lookup_vs_shifted(shared_data):
    # real MNIST digits as a "perfect" sampler beat chance clearly; the same digits with labels shifted by one fall
    # far below it (the classifier learns the wrong class for every digit)
    from learnedaug.data import balanced_subset, load_dataset

    train = load_dataset("mnist", root=shared_data)
    train = train.subset(balanced_subset(train.labels, per_class=30, seed=0))
    test = load_dataset("mnist", split="test", root=shared_data)
    test = test.subset(balanced_subset(test.labels, per_class=30, seed=0))
    x, y = train.images.float() / 255, train.labels
    settings = dict(n_per_class=30, width=0.25, epochs=10, batch_size=32, lr=2e-3, progress=False)
    perfect = classification_accuracy_score(LookupSampler(x, y), test, **settings)
    shifted = classification_accuracy_score(LookupSampler(x, y, shift=1), test, **settings)
    assert perfect.accuracy >= 0.5 and perfect.n_test == 300
    assert shifted.accuracy <= 0.1 < perfect.accuracy - 0.4
