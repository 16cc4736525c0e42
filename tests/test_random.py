import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from learnedaug._random import as_generator, rand, randint, randn, uniform, worker_seed


def test_as_generator_accepts_seed_generator_none():
    assert as_generator(None) is None
    g = torch.Generator()
    assert as_generator(g) is g
    a, b = as_generator(7), as_generator(7)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


@pytest.mark.parametrize("bad", [1.5, "3", True])
def test_as_generator_rejects_other_types(bad):
    with pytest.raises(TypeError, match="generator"):
        as_generator(bad)


def test_draws_follow_the_generator_stream():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(randn((4, 2), generator=g1), torch.randn((4, 2), generator=g2))
    assert torch.equal(rand((3,), generator=g1), torch.rand((3,), generator=g2))
    assert torch.equal(randint(10, (6,), generator=g1), torch.randint(10, (6,), generator=g2))


@given(st.floats(-5, 5), st.floats(0.01, 5))
def test_uniform_range(low, width):
    x = uniform(low, low + width, (200,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert x.min() >= low and x.max() <= low + width


def test_worker_seed_distinct_and_deterministic():
    seeds = {worker_seed(0, epoch=e, rank=r, worker=w) for e in range(4) for r in range(4) for w in range(4)}
    assert len(seeds) == 64
    assert worker_seed(5, epoch=1, rank=2, worker=3) == worker_seed(5, epoch=1, rank=2, worker=3)
    assert worker_seed(5) != worker_seed(6)


def test_worker_stream_in_the_main_process_is_the_users_generator(monkeypatch):
    from learnedaug._random import WorkerStream

    g = torch.Generator().manual_seed(3)
    assert WorkerStream(g).get() is g and WorkerStream(None).get() is None
    assert WorkerStream(5).get().initial_seed() == 5
    monkeypatch.setenv("RANK", "2")
    derived = WorkerStream(g)
    other = derived.get()
    assert other is not g and other is derived.get()  # derived once, then the same stream continues
    assert other.initial_seed() == worker_seed(3, rank=2)
