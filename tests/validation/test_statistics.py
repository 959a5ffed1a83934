"""Histogram statistics against direct multinomial sampling: the exact `E[tv]`,
noise floor and standard error of `tv_statistics`, and the chi-square test.

Tolerances: 4 standard errors of a Monte Carlo mean, or 3.5 binomial standard
errors of a coverage fraction (`conftest.coverage_band`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpemba_jax.theory import total_variation
from mpemba_jax.validation import (
    expected_tv,
    merge_cells,
    pearson_chi2,
    tv_between,
    tv_distance,
    tv_null_se,
    tv_statistics,
)


@pytest.fixture(scope="module")
def cells():
    rng = np.random.default_rng(20240611)
    ref = rng.dirichlet(np.full(30, 3.0))
    near = 0.97 * ref + 0.03 * rng.dirichlet(np.ones(30))
    far = 0.8 * ref + 0.2 * rng.dirichlet(np.ones(30))
    return ref, {"at the floor": ref, "near the floor": near, "far above it": far}


@pytest.mark.statistical
@pytest.mark.parametrize("regime", ["at the floor", "near the floor", "far above it"])
def test_tv_floor_expectation_and_error_bars_are_calibrated(cells, regime, coverage_band):
    ref, probs = cells
    p = probs[regime]
    n, m = 20_000, 1000
    rng = np.random.default_rng(7)
    x = rng.multinomial(n, p, size=m)
    st = tv_statistics(x, ref)
    # E[tv] (exact) against the Monte Carlo mean of tv.
    target = expected_tv(p, ref, n)
    mc_mean, mc_se = st["tv"].mean(), st["tv"].std(ddof=1) / math.sqrt(m)
    assert abs(mc_mean - target) < 4 * mc_se, (mc_mean, target, mc_se)
    # The floor is E[tv] of a sample of the reference itself, for every draw.
    floor = expected_tv(ref, ref, n)
    np.testing.assert_allclose(st["floor"], floor, rtol=1e-12)
    # ... and close to the large-n formula sum sqrt(r (1 - r) / (2 pi n)).
    approx = np.sum(np.sqrt(ref * (1 - ref) / (2 * math.pi * n)))
    assert abs(floor / approx - 1) < 0.02
    # The stated standard error matches the spread of tv (sd of an sd estimate ~ 1/sqrt(2m)).
    ratio = st["se"].mean() / st["tv"].std(ddof=1)
    assert abs(ratio - 1) < 3.5 / math.sqrt(2 * m) + 0.05, ratio
    # Coverage of the 95% interval tv +- 1.96 se for E[tv].
    cover = np.mean(np.abs(st["tv"] - target) <= 1.96 * st["se"])
    lo, hi = coverage_band(m)
    assert lo <= cover <= hi, cover


@pytest.mark.statistical
def test_pearson_chi2_merges_cells_and_is_uniform_under_the_null():
    rng = np.random.default_rng(3)
    p = np.concatenate([[1e-5, 2e-5], rng.dirichlet(np.ones(25)), [3e-6]])
    p /= p.sum()
    n = 5000
    labels = merge_cells(n * p, 5.0)
    assert np.all(np.bincount(labels, n * p) >= 5.0)
    assert np.all(np.diff(labels) >= 0)  # adjacent cells only
    pv = np.array([pearson_chi2(rng.multinomial(n, p), p)[2] for _ in range(2000)])
    # Under the null the p-values are uniform: P(p <= 0.05) = 0.05.
    frac = np.mean(pv <= 0.05)
    sd = math.sqrt(0.05 * 0.95 / len(pv))
    assert abs(frac - 0.05) < 3.5 * sd, frac
    # An observed count where nothing is expected is an outright rejection.
    assert pearson_chi2([3, 0, 10], [0.0, 0.5, 0.5])[2] == 0.0


@pytest.mark.statistical
def test_bootstrap_and_exact_distances_are_the_one_total_variation():
    """`tv_distance`, `tv_between` and `tv_statistics` measure `theory.total_variation`
    of the frequencies; the bootstrap floor estimates the exact `expected_tv`."""
    rng = np.random.default_rng(5)
    ref = rng.dirichlet(np.ones(12))
    a, b = rng.multinomial(4000, ref), rng.multinomial(3000, ref)
    d = tv_distance(a, ref, predicted=ref, n_boot=400)
    assert d["tv"] == float(total_variation(a / a.sum(), ref))
    assert d["exact"] == 0.0
    assert tv_between(a, b)["tv"] == float(total_variation(a / a.sum(), b / b.sum()))
    np.testing.assert_allclose(tv_statistics(a, ref)["tv"], d["tv"], rtol=1e-12)
    floor = float(expected_tv(ref, ref, a.sum()))
    # The bootstrap mean of 400 draws within 4 of its SEs (the sd of one draw's tv is
    # 0.25 of its mean here, measured on 20000 draws; 0.3 allows for that estimate).
    assert abs(d["floor"] - floor) < 4 * 0.3 * floor / math.sqrt(400), (d["floor"], floor)


@pytest.mark.statistical
def test_tv_test_under_the_hypothesis_is_calibrated_at_small_n(cells, coverage_band):
    """`|tv - E[tv]| / tv_null_se` (the error under the predicted probabilities) rejects
    5% of multinomial samples of them at 1024 particles in 30 cells, where the data-based
    error is too small when the sample's tv is (the two are correlated)."""
    ref, probs = cells
    n, m = 1024, 2000
    rng = np.random.default_rng(11)
    for regime in ("near the floor", "far above it"):
        p = probs[regime]
        tv = tv_statistics(rng.multinomial(n, p, size=m), ref)["tv"]
        z = (tv - expected_tv(p, ref, n)) / tv_null_se(p, ref, n)
        lo, hi = coverage_band(m)
        assert lo <= np.mean(np.abs(z) <= 1.96) <= hi, (regime, np.mean(np.abs(z) <= 1.96))
