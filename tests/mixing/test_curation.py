"""CuratedSampler: filtering by a judge, exact acceptance counts, starvation, top-k, determinism, mixers unchanged."""

import math

import pytest
import torch
from torch import nn

from learnedaug.mixing import BatchMixer, MixedDataset, SamplePool, SyntheticDataset
from learnedaug.mixing.curation import CuratedSampler, DiscriminatorJudge
from learnedaug.models.base import ConditionalSampler
from tests.models.tiny import tiny

K = 4


class CodedSampler:
    """Image value = (label + 1) / 10 everywhere, plus a per-draw counter in pixel [0, 0, 0, 0] (0.5 + i / 10^6)."""

    num_classes = K
    image_shape = (1, 2, 2)

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.count = 0

    def sample(self, labels, *, generator=None):
        self.calls.append(int(labels.shape[0]))
        x = ((labels.float() + 1) / 10).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
        if generator is not None:
            x[:, 0, 0, 1] = torch.rand(labels.shape[0], generator=generator) * 0.01 + 0.5
        idx = torch.arange(self.count, self.count + labels.shape[0])
        self.count += labels.shape[0]
        x[:, 0, 0, 0] = 0.5 + idx.float() / 1e6
        return x


def decode(x):
    return torch.round(x[:, 0, 1, 1] * 10).long() - 1


class ExactJudge(nn.Module):
    """Confident in the true label for accepted classes; for class c in `fraction`, only every other draw."""

    def __init__(self, reject=(), half=()) -> None:
        super().__init__()
        self.reject, self.half = set(reject), set(half)
        self.lin = nn.Linear(1, 1)  # a parameter so model_device / mode logic applies
        self.modes: list[bool] = []

    def forward(self, x):
        self.modes.append(self.training)
        assert not torch.is_grad_enabled()
        y = decode(x)
        draw = torch.round((x[:, 0, 0, 0] - 0.5) * 1e6).long()
        good = torch.tensor([int(c) not in self.reject and (int(c) not in self.half or int(d) % 2 == 0)
                             for c, d in zip(y, draw)])
        logits = torch.zeros(x.shape[0], K)
        logits[torch.arange(x.shape[0]), torch.where(good, y, (y + 1) % K)] = 10.0
        return logits


def test_keeps_only_accepted_and_counts_exact():
    s, judge = CodedSampler(), ExactJudge(half={1})
    cur = CuratedSampler(s, judge, threshold=0.9, oversample=2)
    labels = torch.tensor([0, 1, 1, 2, 3, 1])
    out = cur.sample(labels)
    assert torch.equal(decode(out), labels)
    draws = torch.round((out[:, 0, 0, 0] - 0.5) * 1e6).long()
    assert all(int(d) % 2 == 0 for d, y in zip(draws, labels) if y == 1)
    # round 1: 2 candidates each for 0, 2, 3 and 6 for class 1 (draws 2..7: evens 2, 4, 6 accepted) -> full
    assert s.calls == [12]
    assert cur.drawn.tolist() == [2, 6, 2, 2]
    assert cur.accepted.tolist() == [2, 3, 2, 2]
    assert torch.allclose(cur.acceptance_rate(), torch.tensor([1.0, 0.5, 1.0, 1.0], dtype=torch.float64))
    assert "class" in cur.summary() and "50.0%" in cur.summary()
    cur.reset_stats()
    assert cur.drawn.sum() == 0 and torch.isnan(cur.acceptance_rate()).all()


@pytest.mark.parametrize("mode", [True, False])
def test_judge_mode_restored_and_eval_while_judging(mode):
    judge = ExactJudge().train(mode)
    CuratedSampler(CodedSampler(), judge, threshold=0.9).sample(torch.tensor([0, 1]))
    assert judge.modes == [False] and judge.training is mode


def test_starved_class_warns_with_rate_and_fills_best_rejected():
    s = CodedSampler()
    cur = CuratedSampler(s, ExactJudge(reject={2}), threshold=0.9, oversample=2, max_rounds=3)
    with pytest.warns(UserWarning, match=r"class 2 accepted 0/12 candidates \(0.0%\)"):
        out = cur.sample(torch.tensor([2, 2, 0]))
    assert torch.equal(decode(out), torch.tensor([2, 2, 0]))
    assert len(s.calls) == 3 and cur.filled.tolist() == [0, 0, 2, 0]


def test_starved_class_raises():
    cur = CuratedSampler(CodedSampler(), ExactJudge(reject={3}), threshold=0.9, max_rounds=2, on_starved="raise")
    with pytest.raises(RuntimeError, match=r"class 3 accepted 0/8 candidates \(0.0%\)"):
        cur.sample(torch.tensor([3, 3]))


class ScoreJudge(nn.Module):
    """Softmax probability of the true label equals a known per-draw confidence."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf

    def forward(self, x):
        draw = torch.round((x[:, 0, 0, 0] - 0.5) * 1e6).long()
        p = self.conf[draw]
        y = decode(x)
        logits = torch.full((x.shape[0], K), -1e4)
        logits[torch.arange(x.shape[0]), y] = 0.0
        logits[torch.arange(x.shape[0]), (y + 1) % K] = torch.log(1 - p) - torch.log(p)
        return logits


def test_top_k_picks_exactly_the_k_best_per_group():
    conf = torch.rand(100, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.05
    cur = CuratedSampler(CodedSampler(), ScoreJudge(conf), threshold=None, top_k=2, oversample=4)
    out = cur.sample(torch.tensor([1, 1, 1]))  # 2 groups of 8 candidates: draws 0-7 and 8-15
    draws = torch.round((out[:, 0, 0, 0] - 0.5) * 1e6).long().tolist()
    first = conf[:8].argsort(descending=True)[:2].sort().values.tolist()
    second = (conf[8:16].argsort(descending=True)[:1] + 8).tolist()
    assert draws == first + second
    assert cur.drawn[1] == 16 and cur.accepted[1] == 4


def test_deterministic_under_generator():
    def run():
        cur = CuratedSampler(CodedSampler(), ExactJudge(half={0}), threshold=0.9)
        return cur.sample(torch.tensor([0, 0, 1, 2]), generator=torch.Generator().manual_seed(5))

    a, b = run(), run()
    assert torch.equal(a, b) and not torch.equal(a[:, 0, 0, 1], torch.full((4,), a[0, 0, 0, 1].item()))


def test_int_seed_is_one_stream_across_rounds():
    """An int seed becomes one generator for all rounds: redraws are new candidates, output as with a Generator."""

    class Recording(CodedSampler):
        def sample(self, labels, *, generator=None):
            x = super().sample(labels, generator=generator)
            self.noise.append(x[:, 0, 0, 1].clone())
            return x

    def run(generator):
        s = Recording()
        s.noise = []
        cur = CuratedSampler(s, ExactJudge(half={0}), threshold=0.9, oversample=1, max_rounds=4)
        return cur.sample(torch.tensor([0, 0, 0, 0]), generator=generator), s.noise

    out, noise = run(7)
    ref, ref_noise = run(torch.Generator().manual_seed(7))
    assert torch.equal(out, ref) and len(noise) >= 2
    assert not torch.equal(noise[0][: noise[1].shape[0]], noise[1])  # round 2 is not a replay of round 1


def test_bad_arguments_named():
    s, j = CodedSampler(), ExactJudge()
    with pytest.raises(ValueError, match="threshold"):
        CuratedSampler(s, j, threshold=1.5)
    with pytest.raises(ValueError, match="oversample"):
        CuratedSampler(s, j, oversample=0.5)
    with pytest.raises(ValueError, match="on_starved"):
        CuratedSampler(s, j, on_starved="ignore")
    with pytest.raises(ValueError, match="top_k"):
        CuratedSampler(s, j, threshold=None)
    with pytest.raises(ValueError, match="threshold=None"):
        CuratedSampler(s, DiscriminatorJudge(nn.Identity()), top_k=2)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        CuratedSampler(s, lambda x: torch.zeros(x.shape[0], K + 1)).sample(torch.tensor([0]))


def test_follows_sampler_contract_and_mixers_unchanged():
    cur = CuratedSampler(CodedSampler(), ExactJudge(half={1}), threshold=0.9)
    assert isinstance(cur, ConditionalSampler)
    pool = SamplePool(cur, 8, "balanced", seed=0)
    assert torch.equal(decode(pool.images.float() / 255), pool.labels)
    ds = SyntheticDataset(cur, 8, seed=0)
    items = [ds[i] for i in range(len(ds))]
    assert all(int(decode(x[None])) == y for x, y in items)
    real = [(torch.full((1, 2, 2), 0.1), 0)] * 4
    mixed = MixedDataset(real, ds, ratio=1.0)
    assert len(mixed) == 8 and all(int(decode(mixed[i][0][None])) == mixed[i][1] for i in range(8))
    mixer = BatchMixer(cur, ratio=0.5, mode="append", generator=0)
    x, y = mixer(torch.full((4, 1, 2, 2), 0.1), torch.zeros(4, dtype=torch.long))
    assert x.shape[0] == 6 and torch.equal(decode(x[4:]), y[4:])
    assert cur.drawn[1] > 0 and cur.accepted[1] < cur.drawn[1]


def test_discriminator_judge_prefers_real_looking_on_tiny_cdcgan(monkeypatch):
    gan = tiny("cdcgan", image_shape=(1, 28, 28)).train()
    judge = DiscriminatorJudge(gan)
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    seen = []

    def fake_d(images, labels):  # D finds images more real the darker they are
        seen.append(gan.discriminator.training)
        return -images.mean(dim=(1, 2, 3)) + 0 * labels

    assert judge.score(x, y).shape == (6,) and gan.discriminator.training  # real D runs, mode restored
    monkeypatch.setattr(gan.discriminator, "forward", fake_d)
    x[2] = 0.0  # the "real-looking" input
    assert judge.score(x, y).argmax() == 2 and seen == [False]


def test_discriminator_top_k_keeps_most_real():
    s = CodedSampler()
    scores = torch.randn(64, generator=torch.Generator().manual_seed(1))

    class D(nn.Module):
        def forward(self, images, labels):
            return scores[torch.round((images[:, 0, 0, 0] - 0.5) * 1e6).long()]

    cur = CuratedSampler(s, DiscriminatorJudge(D()), threshold=None, top_k=3, oversample=2)
    out = cur.sample(torch.tensor([2, 2, 2]))
    draws = sorted(torch.round((out[:, 0, 0, 0] - 0.5) * 1e6).long().tolist())
    assert draws == sorted(scores[:6].argsort(descending=True)[:3].tolist())
    assert math.isclose(float(cur.acceptance_rate()[2]), 0.5)
