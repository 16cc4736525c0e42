import itertools

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, TensorDataset, get_worker_info

from learnedaug.mixing import AugOrig, MixedDataset, SamplePool, SyntheticDataset
from learnedaug.transforms import LearnedVariation


class Indexed(torch.utils.data.Dataset):
    """Item i is (tensor filled with i, i): identity is visible after the DataLoader."""

    def __init__(self, n):
        self.n = n
        self.epochs = []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((1, 8, 8), float(i)), i

    def set_epoch(self, e):
        self.epochs.append(e)


def test_synthetic_items_come_from_the_pool(fake):
    ds = SyntheticDataset(fake, 12, seed=4)
    assert len(ds) == 12 and ds.num_classes == 4 and ds.image_shape == (1, 8, 8)
    image, label = ds[3]
    assert image.dtype == torch.float32 and image.shape == (1, 8, 8) and 0 <= image.min() and image.max() <= 1
    assert isinstance(label, int) and label == int(ds.pool.labels[3])
    torch.testing.assert_close(image, ds.pool.images[3].float() / 255)
    assert torch.equal(ds[-1][0], ds[11][0])
    with pytest.raises(IndexError, match="out of range"):
        ds[12]


def test_each_epoch_is_fresh_and_reproducible(fake):
    ds = SyntheticDataset(fake, 8, seed=0)
    e0 = torch.stack([ds[i][0] for i in range(8)])
    ds.set_epoch(1)
    e1 = torch.stack([ds[i][0] for i in range(8)])
    assert ds.pool.epoch == 1 and not torch.equal(e0, e1)
    ds.set_epoch(0)
    assert torch.equal(torch.stack([ds[i][0] for i in range(8)]), e0)


def test_pages_walk_a_bigger_pool_before_regenerating(fake):
    ds = SyntheticDataset(fake, 4, pool_size=8)
    assert ds.pages == 2
    whole = ds.pool.images.clone()
    ds.set_epoch(1)
    assert ds.pool.epoch == 0  # second page of generation 0
    assert torch.equal(torch.stack([ds.pool.images[4 + i] for i in range(4)]), whole[4:])
    torch.testing.assert_close(ds[0][0], whole[4].float() / 255)
    ds.set_epoch(2)
    assert ds.pool.epoch == 1


def test_prefetch_gives_the_same_data(fake, fake_cls):
    plain = SyntheticDataset(fake, 6, seed=2)
    pre = SyntheticDataset(fake_cls(), 6, seed=2, prefetch=True)
    for epoch in range(3):
        plain.set_epoch(epoch)
        pre.set_epoch(epoch)
        assert all(torch.equal(plain[i][0], pre[i][0]) and plain[i][1] == pre[i][1] for i in range(6))
    pre.pool.wait()


def test_transform_hooks(fake):
    ds = SyntheticDataset(fake, 4, transform=lambda x: x * 0, transforms=lambda x, y: (x + 1, y + 10))
    image, label = ds[0]
    assert torch.equal(image, torch.ones(1, 8, 8)) and label == int(ds.pool.labels[0]) + 10


def test_synthetic_from_a_pool(fake):
    pool = SamplePool(fake, 10)
    assert len(SyntheticDataset(pool)) == 10
    with pytest.raises(ValueError, match=r"size must be an int in \[1, 10\]"):
        SyntheticDataset(pool, 11)
    with pytest.raises(ValueError, match="size is required"):
        SyntheticDataset(fake)


def test_mixed_dataset_layout_and_epochs():
    real, syn = Indexed(10), Indexed(25)
    mixed = MixedDataset(real, syn, ratio=0.5)
    assert len(mixed) == 15 and mixed.num_synthetic == 5
    assert [mixed[i][1] for i in range(10)] == list(range(10))
    assert [mixed[i][1] for i in range(10, 15)] == [0, 1, 2, 3, 4]
    assert mixed.is_synthetic(10) and not mixed.is_synthetic(9)
    mixed.set_epoch(1)
    assert real.epochs == syn.epochs == [1]
    assert [mixed[i][1] for i in range(10, 15)] == [5, 6, 7, 8, 9]  # a fresh slice of a static synthetic set
    mixed.set_epoch(5)
    assert [mixed[i][1] for i in range(10, 15)] == [0, 1, 2, 3, 4]  # 25 % 25: wraps around
    with pytest.raises(ValueError, match="needs 30 synthetic items"):
        MixedDataset(real, syn, ratio=3)
    with pytest.raises(ValueError, match="ratio"):
        MixedDataset(real, syn, ratio=-1)
    assert len(MixedDataset(real, syn, ratio=0)) == 10


def test_mixed_dataset_weights_flow_through_the_default_collate():
    from torch.utils.data import DataLoader

    from learnedaug.mixing.losses import weighted_cross_entropy

    real, syn = Indexed(4), Indexed(8)
    mixed = MixedDataset(real, syn, ratio=1, synthetic_weight=0.25)
    assert mixed[0][2] == 1.0 and mixed[5][2] == 0.25 and len(mixed[5]) == 3
    images, labels, weights = next(iter(DataLoader(mixed, batch_size=8)))
    assert weights.tolist() == [1.0] * 4 + [0.25] * 4 and labels.shape == (8,)
    logits = torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    ce = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    expected = (ce[:4].sum() + 0.25 * ce[4:].sum()) / (4 + 0.25 * 4)  # closed form
    torch.testing.assert_close(weighted_cross_entropy(logits, labels, weights.float()), expected)
    assert len(MixedDataset(real, syn, ratio=1)[5]) == 2  # without synthetic_weight items are unchanged
    with pytest.raises(ValueError, match="synthetic_weight"):
        MixedDataset(real, syn, ratio=1, synthetic_weight=-0.5)


def test_aug_orig_duplicates():
    real = Indexed(5)
    dup = AugOrig(real)
    assert len(dup) == 10
    assert [dup[i][1] for i in range(10)] == [0, 1, 2, 3, 4] * 2
    dup.set_epoch(3)
    assert real.epochs == [3]


def test_random_sampler_covers_the_mixed_epoch(fake):
    mixed = MixedDataset(Indexed(6), SyntheticDataset(fake, 6), ratio=0.5)
    loader = DataLoader(mixed, batch_size=4, sampler=RandomSampler(mixed, generator=torch.Generator().manual_seed(0)))
    images = torch.cat([x for x, _ in loader])
    assert images.shape == (9, 1, 8, 8)


def _tag_worker(image, label):
    info = get_worker_info()
    return image, (label, -1 if info is None else info.id)


def test_ranks_and_workers_get_disjoint_synthetic_streams(fake):
    """2 simulated DDP ranks x 2 DataLoader workers over one synthetic epoch: no sample is served twice, none is lost."""
    ds = SyntheticDataset(fake, 32, transforms=_tag_worker, seed=9)
    streams = {}
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        pool = {bytes(ds.pool.images[i].numpy()) for i in range(32)}
        assert len(pool) == 32
        seen = []
        for rank in (0, 1):
            sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
            sampler.set_epoch(epoch)
            for x, (_, worker) in DataLoader(ds, batch_size=4, sampler=sampler, num_workers=2):
                assert len(set(worker.tolist())) == 1
                key = (rank, int(worker[0]))
                u8 = (x * 255).round().to(torch.uint8)
                items = [bytes(u8[i].numpy()) for i in range(len(u8))]
                streams.setdefault((epoch, *key), []).extend(items)
                seen.extend(items)
        assert sorted(seen) == sorted(pool)  # each pool image exactly once across ranks and workers
    assert len(streams) == 8
    for a, b in itertools.combinations(streams, 2):
        assert not set(streams[a]) & set(streams[b]), (a, b)


def test_learned_transforms_draw_distinct_noise_per_worker_rank_and_epoch(monkeypatch, fake):
    """The same image through LearnedVariation(generator=0) in each (rank, worker, epoch) gets different noise."""
    same = TensorDataset(torch.full((8, 1, 8, 8), 0.5), torch.zeros(8, dtype=torch.long))
    vary = LearnedVariation(fake, generator=0)

    class Varied(torch.utils.data.Dataset):
        def __len__(self):
            return len(same)

        def __getitem__(self, i):
            x, y = vary(*same[i])
            return x, get_worker_info().id

    outputs = {}
    for rank in ("0", "1"):
        torch.manual_seed(0)  # DDP ranks usually share the seed: only the rank tells them apart
        monkeypatch.setenv("RANK", rank)
        for epoch in (0, 1):
            for x, worker in DataLoader(Varied(), batch_size=4, num_workers=2):
                outputs[(rank, epoch, int(worker[0]))] = x
    assert len(outputs) == 8
    for a, b in itertools.combinations(outputs, 2):
        assert not torch.equal(outputs[a], outputs[b]), (a, b)
    monkeypatch.setenv("RANK", "0")
    x, _ = vary(*same[0])  # main process of rank 0: the user's generator itself
    ref = fake.vary(same[0][0][None], same[0][1].view(1), generator=torch.Generator().manual_seed(0))[0]
    assert torch.equal(x, ref)


def test_persistent_workers_with_a_stale_pool_fail_loudly(fake):
    ds = SyntheticDataset(fake, 8)
    loader = DataLoader(ds, batch_size=4, num_workers=1, persistent_workers=True)
    assert sum(len(x) for x, _ in loader) == 8
    ds.set_epoch(1)
    with pytest.raises(RuntimeError, match="persistent_workers=False"):
        list(loader)
