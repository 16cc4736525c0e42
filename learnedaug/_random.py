"""Reproducible randomness: every random op in learnedaug takes a ``torch.Generator`` or a seed."""

from __future__ import annotations

import torch

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
