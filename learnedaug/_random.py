"""Reproducible randomness: every random op in learnedaug takes a ``torch.Generator`` or a seed.

:class:`WorkerStream` is the one place where a user's generator becomes a stream that differs per DataLoader
worker, per epoch and per DDP rank; every random transform and mixer draws through it.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import get_worker_info

GeneratorLike = torch.Generator | int | None


def as_generator(seed_or_generator: GeneratorLike, device: torch.device | str = "cpu") -> torch.Generator | None:
    """Return ``None`` (use torch's global RNG), the given generator, or a new generator seeded with the int."""
    if seed_or_generator is None or isinstance(seed_or_generator, torch.Generator):
        return seed_or_generator
    if isinstance(seed_or_generator, bool) or not isinstance(seed_or_generator, int):
        raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(seed_or_generator).__name__}")
    g = torch.Generator(device=device)
    g.manual_seed(seed_or_generator)
    return g


def _draw(fn, shape, generator, device, dtype, **kw) -> torch.Tensor:
    device = torch.device(device)
    if generator is None or generator.device.type == device.type:
        return fn(shape, generator=generator, device=device, dtype=dtype, **kw)
    # Draw where the generator lives, then move: the stream stays the generator's own.
    return fn(shape, generator=generator, device=generator.device, dtype=dtype, **kw).to(device)


def randn(shape, *, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Standard normal draws on ``device``; a generator on another device is honoured (draw there, then move)."""
    return _draw(torch.randn, shape, generator, device, dtype)


def rand(shape, *, generator: torch.Generator | None = None, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Uniform [0, 1) draws on ``device``; see :func:`randn` for the generator's device."""
    return _draw(torch.rand, shape, generator, device, dtype)


def uniform(low: float, high: float, shape, *, generator=None, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Uniform draws in ``[low, high)``."""
    return low + (high - low) * rand(shape, generator=generator, device=device, dtype=dtype)


def randint(high: int, shape, *, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """Integers uniform in ``[0, high)`` as int64."""
    device = torch.device(device)
    gdev = device if generator is None else generator.device
    return torch.randint(high, tuple(shape), generator=generator, device=gdev).to(device)


def worker_seed(base_seed: int, *, epoch: int = 0, rank: int = 0, worker: int = 0) -> int:
    """A 63-bit seed distinct for every (base seed, epoch, DDP rank, DataLoader worker) combination."""
    g = torch.Generator().manual_seed(int(base_seed) & 0x7FFF_FFFF_FFFF_FFFF)
    # Mix the coordinates through the generator so nearby tuples do not give nearby seeds.
    for part in (epoch, rank, worker):
        offset = int(torch.randint(0, 2**62, (1,), generator=g))
        g.manual_seed((offset + int(part) * 0x9E37_79B9_7F4A_7C15) & 0x7FFF_FFFF_FFFF_FFFF)
    return int(torch.randint(0, 2**62, (1,), generator=g))


def distributed_rank() -> int:
    """This process's DDP rank: ``torch.distributed`` when initialised, else ``$RANK`` (set by torchrun), else 0."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


class WorkerStream:
    """The generator to draw from here: distinct per DataLoader worker, per epoch and per DDP rank.

    * Main process of rank 0 (``num_workers=0``): the user's generator itself, so a seeded transform called
      outside a DataLoader behaves exactly like ``torch.Generator().manual_seed(seed)``.
    * A DataLoader worker or a rank > 0: a generator (on the user's generator's device) seeded with
      ``worker_seed(generator.initial_seed(), epoch=<worker's DataLoader seed>, rank=rank, worker=id)``. The
      DataLoader draws its base seed from its own ``generator`` (else torch's global RNG) every time an
      iterator starts, i.e. every epoch, and gives worker ``i`` the seed ``base + i``; non-persistent workers
      are re-created with that new seed each epoch, so each (worker, epoch) gets its own stream, and the same
      seed plus the same DataLoader generator reproduces all of them. Persistent workers keep their seed but
      also keep their derived generator, which continues where the previous epoch stopped: no epoch replays.
    * ``None`` stays None: torch's global RNG, which the DataLoader already seeds per worker and epoch.
    """

    def __init__(self, generator: GeneratorLike) -> None:
        self.generator = as_generator(generator)
        self._key: tuple[int, int | None] | None = None
        self._derived: torch.Generator | None = None

    def get(self) -> torch.Generator | None:
        """The generator for this process (see the class docstring); derived once per (rank, worker seed)."""
        g = self.generator
        info, rank = get_worker_info(), distributed_rank()
        if g is None or (info is None and rank == 0):
            return g
        key = (rank, None if info is None else info.seed)
        if key != self._key:
            seed = worker_seed(
                g.initial_seed(),
                epoch=0 if info is None else info.seed,
                rank=rank,
                worker=0 if info is None else info.id,
            )
            self._derived = torch.Generator(device=g.device).manual_seed(seed)
            self._key = key
        return self._derived
