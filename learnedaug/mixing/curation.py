"""CuratedSampler: a sampler that keeps only the generated samples a judge accepts for their requested label.

A judge is either a classifier, any callable ``images (N, C, H, W) in [0, 1] -> logits (N, K)`` (its softmax
probability of the requested label is the score), or a :class:`DiscriminatorJudge` (a CDCGAN's discriminator
logit, ranked with ``top_k``). Judges run under ``torch.no_grad`` in eval mode; a judge that is an ``nn.Module``
gets its previous train/eval mode back, so the classifier being trained can be its own judge::

    clf = build_classifier("cnn", (1, 28, 28), 10)
    curated = CuratedSampler(vae, clf, threshold=0.8)          # judged by clf as it is now
    mixer = BatchMixer(curated, ratio=0.25, generator=0)        # every step: clf's current weights judge
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import nn

from .._checks import as_labels, check_images, check_int
from .._random import GeneratorLike, as_generator
from ..models.base import ConditionalSampler, check_sampler, model_device

__all__ = ["CuratedSampler", "DiscriminatorJudge"]

STARVED_MODES = ("warn", "raise")


@contextlib.contextmanager
def _judging(module: object) -> Iterator[None]:
    """``no_grad`` + eval mode for an ``nn.Module``, its previous train/eval mode restored afterwards."""
    was_training = module.training if isinstance(module, nn.Module) else None
    if isinstance(module, nn.Module):
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if isinstance(module, nn.Module):
            module.train(was_training)


class DiscriminatorJudge:
    """Scores samples by a conditional GAN discriminator: ``score(images, labels)`` -> (N,) logits, higher = more real.

    ``model`` is a CDCGAN (its ``discriminator`` is used) or any module called as ``D(images, labels) -> (N,)``.
    The logits are unbounded, so use it with ``CuratedSampler(..., threshold=None, top_k=k)``.
    """

    def __init__(self, model: nn.Module) -> None:
        discriminator = getattr(model, "discriminator", model)
        if not callable(discriminator):
            raise TypeError(f"model must be a CDCGAN or a discriminator D(images, labels), got {type(model).__name__}")
        self.discriminator = discriminator

    def score(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] and (N,) labels -> (N,) float32 discriminator logits, no grad, D in eval mode."""
        device = model_device(self.discriminator)
        with _judging(self.discriminator):
            scores = self.discriminator(images.to(device), labels.to(device)).float()
        if scores.shape != (images.shape[0],):
            raise ValueError(f"discriminator must return (N,) = ({images.shape[0]},) logits, got shape {tuple(scores.shape)}")
        return scores.to(images.device)


Judge = Callable[[torch.Tensor], torch.Tensor] | DiscriminatorJudge


class CuratedSampler:
    """A :class:`~learnedaug.models.base.ConditionalSampler` that filters ``sampler``'s samples through ``judge``.

    For each requested class it draws ``ceil(oversample * missing)`` candidates per round (one ``sampler.sample``
    call per round for all classes) and accepts those that pass the filter:

    - ``threshold``: the judge's softmax probability of the requested label is >= ``threshold`` (classifiers only);
    - ``top_k``: candidates come in groups of ``ceil(oversample * top_k)`` per class and only the ``top_k``
      best-scoring of a group (that also pass ``threshold``, when given) are accepted.

    Accepted candidates fill the class's slots in draw order. After ``max_rounds`` rounds, a class still short is
    *starved*: ``on_starved="warn"`` warns with its acceptance rate and fills the rest with its best-scoring
    rejected candidates; ``"raise"`` raises RuntimeError naming the class and the rate. It never loops forever.

    Every candidate is counted: ``acceptance_rate()`` is accepted / drawn per class (NaN where none were drawn),
    ``summary()`` a readable table, ``reset_stats()`` zeroes the counts. The same ``generator`` state gives the
    same output (the judge must be deterministic). Output: (N, C, H, W) float in [0, 1] on the sampler's device.
    """

    def __init__(
        self,
        sampler: ConditionalSampler,
        judge: Judge,
        *,
        threshold: float | None = 0.5,
        top_k: int | None = None,
        oversample: float = 2.0,
        max_rounds: int = 10,
        on_starved: str = "warn",
    ) -> None:
        check_sampler(sampler, "sampler")
        is_scorer = isinstance(judge, DiscriminatorJudge)
        if not is_scorer and not callable(judge):
            raise TypeError(f"judge must be a classifier (images -> logits (N, K)) or a DiscriminatorJudge, got {type(judge).__name__}")
        if threshold is not None:
            if is_scorer:
                raise ValueError(
                    f"threshold applies to classifier probabilities; a DiscriminatorJudge ranks unbounded scores: "
                    f"pass threshold=None and top_k, got threshold={threshold!r}"
                )
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                raise ValueError(f"threshold must be a probability in [0, 1] or None, got {threshold!r}")
        if top_k is not None:
            top_k = check_int(top_k, "top_k")
        if threshold is None and top_k is None:
            raise ValueError("give a threshold, a top_k, or both (with neither, nothing is filtered)")
        if isinstance(oversample, bool) or not isinstance(oversample, (int, float)) or not oversample >= 1:
            raise ValueError(f"oversample must be a number >= 1, got {oversample!r}")
        if on_starved not in STARVED_MODES:
            raise ValueError(f"on_starved must be one of {STARVED_MODES}, got {on_starved!r}")
        self.sampler = sampler
        self.judge = judge
        self.threshold = None if threshold is None else float(threshold)
        self.top_k = top_k
        self.oversample = float(oversample)
        self.max_rounds = check_int(max_rounds, "max_rounds")
        self.on_starved = on_starved
        self.num_classes: int = sampler.num_classes
        self.image_shape: tuple[int, int, int] = tuple(sampler.image_shape)
        self.reset_stats()

    @property
    def device(self) -> torch.device:
        return model_device(self.sampler)

    def reset_stats(self) -> None:
        """Zero the per-class drawn / accepted / filled-from-rejected counts."""
        self.drawn = torch.zeros(self.num_classes, dtype=torch.long)
        self.accepted = torch.zeros(self.num_classes, dtype=torch.long)
        self.filled = torch.zeros(self.num_classes, dtype=torch.long)

    def acceptance_rate(self) -> torch.Tensor:
        """(K,) float64: accepted / drawn candidates per class since the last reset, NaN for classes never drawn."""
        return self.accepted.double() / self.drawn.double()

    def summary(self) -> str:
        """One line per drawn class: accepted / drawn, the rate, and how many slots starvation filled with rejects."""
        lines = ["class  accepted/drawn  rate    filled-from-rejected"]
        for c in range(self.num_classes):
            if self.drawn[c]:
                rate = float(self.accepted[c]) / float(self.drawn[c])
                lines.append(f"{c:5d}  {int(self.accepted[c]):>8d}/{int(self.drawn[c]):<5d}  {rate:6.1%}  {int(self.filled[c])}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"CuratedSampler({type(self.sampler).__name__}, threshold={self.threshold}, top_k={self.top_k}, "
                f"oversample={self.oversample}, max_rounds={self.max_rounds}, on_starved={self.on_starved!r})")

    def _scores(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(N,) scores: a DiscriminatorJudge's logits, else the classifier's softmax probability of ``labels``."""
        if isinstance(self.judge, DiscriminatorJudge):
            return self.judge.score(images, labels)
        device = model_device(self.judge) if isinstance(self.judge, nn.Module) else images.device
        with _judging(self.judge):
            logits = self.judge(images.to(device))
        if not isinstance(logits, torch.Tensor) or logits.shape != (images.shape[0], self.num_classes):
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"judge must return logits of shape (N, K) = ({images.shape[0]}, {self.num_classes}), got {got}")
        probs = logits.float().softmax(dim=1)
        return probs.gather(1, labels.to(probs.device).unsqueeze(1)).squeeze(1).to(images.device)

    def _accept(self, scores: torch.Tensor) -> torch.Tensor:
        """(M,) scores of one class's candidates in draw order -> (M,) bool accepted."""
        keep = scores >= self.threshold if self.threshold is not None else torch.ones_like(scores, dtype=torch.bool)
        if self.top_k is not None:
            group = math.ceil(self.oversample * self.top_k)
            ranked = torch.zeros_like(keep)
            for start in range(0, scores.shape[0], group):
                best = scores[start : start + group].argsort(descending=True, stable=True)[: self.top_k]
                ranked[start + best] = True
            keep &= ranked
        return keep

    def _candidates(self, missing: int) -> int:
        if self.top_k is None:
            return math.ceil(self.oversample * missing)
        return math.ceil(missing / self.top_k) * math.ceil(self.oversample * self.top_k)

    def sample(self, labels: torch.Tensor, *, generator: GeneratorLike = None) -> torch.Tensor:
        """``labels`` (N,) int64 -> accepted images (N, C, H, W) float in [0, 1] on the sampler's device, no grad.

        ``generator``: a Generator, an int seed (one generator for all rounds, so each round draws new
        candidates) or None."""
        labels = as_labels(labels, self.num_classes).cpu()
        generator = as_generator(generator, device=self.device)
        out = torch.empty((labels.shape[0], *self.image_shape), device=self.device)
        classes = labels.unique().tolist()
        kept: dict[int, list[torch.Tensor]] = {c: [] for c in classes}
        need = {c: int((labels == c).sum()) for c in classes}
        rejects: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # class -> (best rejected images, their scores)
        for _ in range(self.max_rounds):
            short = {c: need[c] - sum(k.shape[0] for k in kept[c]) for c in classes}
            short = {c: n for c, n in short.items() if n > 0}
            if not short:
                break
            plan = torch.cat([torch.full((self._candidates(n),), c, dtype=torch.long) for c, n in short.items()])
            images = self.sampler.sample(plan.to(self.device), generator=generator)
            if tuple(images.shape) != (plan.shape[0], *self.image_shape):
                raise ValueError(f"sampler.sample returned shape {tuple(images.shape)}, expected {(plan.shape[0], *self.image_shape)}")
            check_images(images, name="sampler.sample output", unit_range=True)
            scores = self._scores(images, plan.to(images.device)).cpu()
            for c, n in short.items():
                rows = (plan == c).nonzero().squeeze(1)
                ok = self._accept(scores[rows])
                self.drawn[c] += rows.shape[0]
                self.accepted[c] += int(ok.sum())
                kept[c].append(images[rows[ok].to(images.device)][:n])
                bad = rows[~ok]
                old_x, old_s = rejects.get(c, (images[:0], scores[:0]))
                pool_x, pool_s = torch.cat([old_x, images[bad.to(images.device)]]), torch.cat([old_s, scores[bad]])
                best = pool_s.argsort(descending=True, stable=True)[:n]
                rejects[c] = (pool_x[best.to(pool_x.device)], pool_s[best])
        for c in classes:
            got = torch.cat(kept[c]) if kept[c] else out[:0]
            missing = need[c] - got.shape[0]
            if missing > 0:
                rate = float(self.accepted[c]) / float(self.drawn[c])
                message = (f"class {c} accepted {int(self.accepted[c])}/{int(self.drawn[c])} candidates ({rate:.1%}) "
                           f"and is {missing} of {need[c]} samples short after max_rounds={self.max_rounds}")
                if self.on_starved == "raise":
                    raise RuntimeError(f"CuratedSampler: {message}; lower threshold or raise oversample / max_rounds")
                warnings.warn(f"CuratedSampler: {message}; filled with its best-scoring rejected candidates", stacklevel=2)
                got = torch.cat([got, rejects[c][0][:missing]])
                self.filled[c] += missing
            out[(labels == c).nonzero().squeeze(1).to(out.device)] = got.to(out.device, out.dtype)
        return out
