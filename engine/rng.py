"""A small explicit random number generator for Numba kernels (xorshift64*).

Kernels never touch a global random state: the caller owns a ``uint64[1]`` array and passes it in, so one seed
reproduces a playout or a game exactly, on any thread. Streams for parallel work come from :func:`make_rng` with
different seeds (seeds are scrambled by splitmix64, so seeds 0, 1, 2 ... give unrelated streams).
"""

from __future__ import annotations

import numpy as np

from .jit import kernel

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def make_rng(seed: int | None = None) -> np.ndarray:
    """A fresh generator state. ``seed=None`` draws one from the operating system."""
    if seed is None:
        seed = int.from_bytes(np.random.SeedSequence().generate_state(2, np.uint32).tobytes(), "little")
    state = _splitmix64(int(seed) & _MASK64)
    if state == 0:  # xorshift must not start at zero
        state = 0x9E3779B97F4A7C15
    return np.array([state], dtype=np.uint64)


@kernel
def next_u64(rng):
    """Advance the state and return 64 random bits (xorshift64*)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return x * np.uint64(0x2545F4914F6CDD1D)


@kernel
def randint(rng, n):
    """A uniform integer in ``[0, n)`` for ``0 < n < 2**32`` (Lemire's multiply-shift, bias below 2**-32·n)."""
    return np.int64(((next_u64(rng) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@kernel
def random_float(rng):
    """A uniform float in ``[0, 1)`` with 53 random bits."""
    return np.float64(next_u64(rng) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
