"""The chi-square summed over records (`aggregate_chi2`): calibrated under correlated
records, sees a bias present at every record that the Bonferroni minimum misses,
conservative without replicate groups.

The synthetic runs are what the records of one ensemble are: `N` particles
following a stationary AR(1) chain (correlation `rho` between records, as a
slow mode gives), binned at every record, in `G` contiguous replicate groups.
Tolerances: binomial bands at the family level of `tests/conftest.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from mpemba_jax.validation import aggregate_chi2, pearson_chi2

EDGES = np.linspace(-2.5, 2.5, 21)
_CDF = scipy.stats.norm.cdf(EDGES)
P = np.concatenate([[_CDF[0]], np.diff(_CDF), [1 - _CDF[-1]]])
K = len(P)


def _records(rng, n, records, groups, rho, shift=0.0):
    """Counts `(R, K)` and group counts `(R, G, K)` of an AR(1) ensemble, `shift` added
    to every particle at every record (a bias present at every record)."""
    y = rng.standard_normal(n)
    grp = np.arange(n) * groups // n
    counts, gc = np.zeros((records, K)), np.zeros((records, groups, K))
    for r in range(records):
        cell = np.searchsorted(EDGES, y + shift, side="right")
        gc[r] = np.bincount(grp * K + cell, minlength=groups * K).reshape(groups, K)
        counts[r] = gc[r].sum(0)
        y = rho * y + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return counts, gc


def _band(m, level, n_tests):
    tail = 0.0027 / (2 * n_tests)
    return scipy.stats.binom.ppf(tail, m, level), scipy.stats.binom.isf(tail, m, level)


@pytest.mark.statistical
@pytest.mark.parametrize("rho", [0.0, 0.95])
def test_size_under_correlated_records(rho):
    rng = np.random.default_rng(17 + int(100 * rho))
    m, records = 400, 12
    probs = np.tile(P, (records, 1))
    p = []
    for _ in range(m):
        counts, gc = _records(rng, 2048, records, 16, rho)
        p.append(aggregate_chi2(counts, probs, gc)["p_value"])
    p = np.asarray(p)
    for level in (0.05, 0.2):
        lo, hi = _band(m, level, 4)
        assert lo <= np.sum(p <= level) <= hi, (rho, level, np.sum(p <= level))


@pytest.mark.statistical
def test_sees_a_bias_at_every_record_that_the_bonferroni_minimum_misses():
    rng = np.random.default_rng(5)
    m, records, level = 100, 12, 0.01
    probs = np.tile(P, (records, 1))
    agg, bonf = 0, 0
    for _ in range(m):
        counts, gc = _records(rng, 4096, records, 16, 0.5, shift=0.05)
        agg += aggregate_chi2(counts, probs, gc)["p_value"] <= level
        p_min = min(pearson_chi2(c, P)[2] for c in counts)
        bonf += p_min * records <= level
    # A shift of 0.05 sd gives a noncentrality of about 10 per record (4096 particles):
    # the sum over 12 records rejects most runs (85 of 100 when this test was written),
    # the smallest per-record p-value with Bonferroni about a third (34 of 100).
    assert agg >= 0.7 * m and bonf <= 0.5 * m, (agg, bonf)


@pytest.mark.statistical
def test_without_groups_the_bound_is_conservative():
    rng = np.random.default_rng(8)
    m, records = 200, 12
    probs = np.tile(P, (records, 1))
    p = np.array([aggregate_chi2(_records(rng, 2048, records, 16, 0.95)[0], probs)["p_value"]
                  for _ in range(m)])
    _, hi = _band(m, 0.05, 1)
    assert np.sum(p <= 0.05) <= hi
    out = aggregate_chi2(_records(rng, 2048, records, 16, 0.95)[0], probs)
    assert out["groups"] == 0 and "Cauchy" in out["method"]


def test_noncentrality_and_impossible_counts_and_bad_shapes():
    counts = np.array([[50.0, 50.0], [40.0, 60.0]])
    probs = np.array([[0.5, 0.5], [0.5, 0.5]])
    out = aggregate_chi2(counts, probs)
    # X^2 = 0 at the first record and (10^2 / 50) * 2 = 4 at the second; dof 1 each.
    assert out["statistic"] == pytest.approx(4.0) and out["dof"] == 2.0
    assert out["excess"] == pytest.approx(2.0)
    assert aggregate_chi2([[3.0, 1.0]], [[1.0, 0.0]])["p_value"] == 0.0
    with pytest.raises(ValueError, match="counts and probs must both have shape"):
        aggregate_chi2(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="group_counts must have shape"):
        aggregate_chi2(counts, probs, np.ones((2, 4, 3)))
