import threading

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from learnedaug._random import worker_seed
from learnedaug.mixing import SamplePool
from learnedaug.mixing.pool import plan_labels


def reference_pool(model, labels, seed, epoch, batch_size):
    """What the pool must hold: the model's samples for ``labels``, drawn in the same batches, as torchvision uint8."""
    g = torch.Generator().manual_seed(worker_seed(seed, epoch=epoch))
    parts = [model.sample(labels[i : i + batch_size], generator=g) for i in range(0, len(labels), batch_size)]
    return TF.to_dtype(torch.cat(parts), torch.uint8, scale=True)


def test_pool_holds_the_models_samples_in_batches(fake):
    pool = SamplePool(fake, 10, batch_size=4, seed=3)
    assert fake.calls == [4, 4, 2]
    assert pool.images.dtype == torch.uint8 and pool.images.shape == (10, 1, 8, 8) and pool.images.device.type == "cpu"
    assert pool.labels.dtype == torch.int64
    torch.testing.assert_close(pool.images, reference_pool(fake, pool.labels, 3, 0, 4), rtol=0, atol=0)
    torch.testing.assert_close(pool.float_images(), pool.images.float() / 255)


def test_refill_is_seeded_per_epoch(fake):
    pool = SamplePool(fake, 12, seed=1)
    first = pool.images.clone(), pool.labels.clone()
    pool.refill(1)
    assert pool.epoch == 1 and not torch.equal(pool.images, first[0])
    torch.testing.assert_close(pool.images, reference_pool(fake, pool.labels, 1, 1, 1024), rtol=0, atol=0)
    pool.refill(0)
    assert torch.equal(pool.images, first[0]) and torch.equal(pool.labels, first[1])
    other = SamplePool(fake, 12, seed=2)
    assert not torch.equal(other.images, first[0])


def test_label_specs(fake):
    counts = torch.bincount(SamplePool(fake, 10).labels, minlength=4)
    assert counts.tolist() == [3, 3, 2, 2]
    pool = SamplePool(fake, 6, {0: 1, 3: 5})
    assert torch.bincount(pool.labels, minlength=4).tolist() == [1, 0, 0, 5]
    given = [3, 1, 2, 0, 0]
    assert SamplePool(fake, 5, given).labels.tolist() == given  # explicit labels keep their order
    balanced, shuffle = plan_labels("balanced", 8, 4)
    assert shuffle and sorted(balanced.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert plan_labels(np.array(given), 5, 4)[0].tolist() == given  # npz-backed labels
    with pytest.raises(TypeError, match="integer dtype"):
        plan_labels(np.array([0.5, 1.7, 2.2]), 3, 4)  # refused, never truncated to [0, 1, 2]


@pytest.mark.parametrize(
    "labels, match",
    [("uniform", "balanced"), ({0: 2}, "sum to 2"), ({7: 3}, "keys"), ({0: -1, 1: 4}, ">= 0"), ([0, 1], "2 entries"), ([0, 1, 9], r"\[0, 4\)")],
)
def test_bad_label_specs(fake, labels, match):
    with pytest.raises(ValueError, match=match):
        SamplePool(fake, 3, labels)


def test_bad_arguments(fake):
    with pytest.raises(TypeError, match="sampler contract"):
        SamplePool(object(), 3)
    with pytest.raises(ValueError, match="size"):
        SamplePool(fake, 0)
    with pytest.raises(ValueError, match="batch_size"):
        SamplePool(fake, 3, batch_size=0)
    with pytest.raises(TypeError, match="size must be an int, got float 2.5"):
        SamplePool(fake, 2.5)
    with pytest.raises(TypeError, match="seed must be an int, got str '0'"):
        SamplePool(fake, 3, seed="0")
    pool = SamplePool(fake, 3)
    with pytest.raises(ValueError, match=r"epoch must be an int in \[0, inf\], got -1"):
        pool.refill(-1)
    with pytest.raises(TypeError, match="epoch must be an int, got bool True"):
        pool.refill(True)


def test_out_of_range_samples_are_refused(fake):
    fake.sample = lambda labels, generator=None: torch.full((len(labels), 1, 8, 8), 2.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SamplePool(fake, 3)


def test_refill_async_keeps_the_old_pool_readable(fake):
    pool = SamplePool(fake, 8, seed=5)
    old = pool.images.clone()
    gate, started = threading.Event(), threading.Event()
    original = fake.sample

    def slow_sample(labels, generator=None):
        started.set()
        gate.wait(5)
        return original(labels, generator=generator)

    fake.sample = slow_sample
    pool.refill_async(1)
    started.wait(5)
    assert pool.pending == 1 and pool.epoch == 0 and torch.equal(pool.images, old)
    gate.set()
    pool.wait()
    fake.sample = original
    assert pool.pending is None and pool.epoch == 1
    sync = SamplePool(fake, 8, seed=5)
    sync.refill(1)
    assert torch.equal(pool.images, sync.images) and torch.equal(pool.labels, sync.labels)
    pool.refill_async(0)
    pool.refill(0)  # waits for the matching background refill instead of generating twice
    assert pool.epoch == 0 and torch.equal(pool.images, old)


def test_refill_async_reports_errors(fake):
    pool = SamplePool(fake, 4)

    def broken(labels, generator=None):
        raise OSError("device lost")

    fake.sample = broken
    pool.refill_async(1)
    with pytest.raises(RuntimeError, match="epoch 1 failed: device lost"):
        pool.wait()
    assert pool.epoch == 0


def test_real_small_model():
    from learnedaug.models import build_model

    torch.manual_seed(0)
    vae = build_model("classvae", num_classes=10, image_shape=(1, 28, 28), filters=4, fc_dim=8)
    pool = SamplePool(vae, 30, batch_size=16, seed=1)
    assert torch.bincount(pool.labels, minlength=10).tolist() == [3] * 10
    torch.testing.assert_close(pool.images, reference_pool(vae, pool.labels, 1, 0, 16), rtol=0, atol=0)
