"""Coverage arithmetic shared by the room's calibration tests (as fixtures).

Tolerances come from binomial standard errors of coverage fractions, at 3.5
sigma or a 0.1% binomial tail: a calibrated implementation fails by bad luck
less than once in a thousand runs, a miscalibrated one (coverage off by a few
percent) fails.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats


def _binomial_floor(n: int, p: float, tail: float = 1e-3) -> int:
    """Smallest count a calibrated interval reaches except with probability `tail`."""
    return int(scipy.stats.binom.ppf(tail, n, p))


def _coverage_band(m: int, p: float = 0.95, k: float = 3.5) -> tuple[float, float]:
    """`p +- k` binomial standard errors of a coverage fraction over `m` intervals."""
    sd = math.sqrt(p * (1 - p) / m)
    return p - k * sd, p + k * sd


@pytest.fixture
def binomial_floor():
    """`binomial_floor(n, p, tail=1e-3)`: see `_binomial_floor`."""
    return _binomial_floor


@pytest.fixture
def coverage_band():
    """`coverage_band(m, p=0.95, k=3.5) -> (lo, hi)`: see `_coverage_band`."""
    return _coverage_band
