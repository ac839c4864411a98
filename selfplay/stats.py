"""Interval statistics for match and tournament results: the Wilson score interval of a win rate
(:func:`wilson_interval`) and the normal distribution that the Elo fit of :mod:`igo.selfplay.elo` takes its intervals
and likelihoods of superiority from (:data:`Z95`, :func:`normal_cdf`).

The Wilson interval, unlike the normal approximation ``p ± z·sqrt(p(1-p)/n)``, stays inside [0, 1] and is sensible for
small matches and for 0 or N wins; a draw counts as half a win.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["Z95", "normal_cdf", "wilson_interval"]

Z95: Final = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""


def normal_cdf(x: float) -> float:
    """The standard normal CDF, ``Phi(x)``."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def wilson_interval(wins: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a success rate of ``wins`` out of ``n`` (``z`` = 1.96: 95%).

    With p = wins / n: ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``. It stays inside [0, 1], is not
    degenerate at 0 or n wins (0 of 10 gives (0, 0.278)), and covers close to the nominal 95% even for small n,
    which the normal approximation p ± z·sqrt(p(1-p)/n) does not. ``wins`` may be fractional (a draw counts half).
    With n = 0 nothing is known: (0, 1)."""
    if n < 0 or not 0 <= wins <= n:
        raise ValueError(f"need 0 <= wins <= n, got wins={wins!r} n={n!r}")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z!r}")
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
