"""Equivalence tests (`equivalence_check`) and the Clopper–Pearson interval."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from mpemba_jax.validation import (NOT_VERIFIED, STRADDLES_MARGIN, VERIFIED, binomial_interval,
                                   combine_outcomes, equivalence_check, outcome_kind)


def test_outcomes_follow_the_interval_against_the_margin():
    z = scipy.stats.norm.isf(0.01)
    assert equivalence_check("c", 0.0, 0.001, 0.003, 0.01).outcome == VERIFIED
    # interval (0.001 +- 2.33 * 0.001) reaches past the margin: undecided
    assert equivalence_check("c", 0.001, 0.001, 0.003, 0.01).outcome == STRADDLES_MARGIN
    # far outside: the claim's negation holds at level 1%
    c = equivalence_check("c", -0.0118, 0.001, 0.003, 0.01)
    assert c.outcome == NOT_VERIFIED and c.statistic == -0.0118
    # too few particles: the interval holds the whole margin, never "verified"
    assert equivalence_check("c", 0.0, 0.015, 0.003, 0.01).outcome == STRADDLES_MARGIN
    # p < level exactly when verified
    c = equivalence_check("c", 0.003 - z * 0.001 - 1e-9, 0.001, 0.003, 0.01)
    assert c.outcome == VERIFIED and c.p_value < 0.01
    with pytest.raises(ValueError, match="margin must be > 0"):
        equivalence_check("c", 0.0, 0.001, 0.0, 0.01)
    with pytest.raises(ValueError, match="se must be finite"):
        equivalence_check("c", 0.0, 0.0, 0.1, 0.01)


@pytest.mark.statistical
def test_false_equivalence_at_the_margin_is_at_most_the_level():
    """At |theta| = margin a false "verified" has probability `level` (one one-sided test
    at its boundary, the other far from it)."""
    rng = np.random.default_rng(3)
    m, level, se, margin = 4000, 0.05, 1.0, 3.0
    est = margin + se * rng.standard_normal(m)
    hits = sum(equivalence_check("c", x, se, margin, level).outcome == VERIFIED for x in est)
    k = scipy.stats.norm.isf(0.0027 / 2)
    assert abs(hits / m - level) < k * np.sqrt(level * (1 - level) / m), hits / m


def test_clopper_pearson_matches_scipy_and_its_edges():
    for k, n in ((0, 10), (3, 100), (10, 10), (57, 200)):
        ref = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        np.testing.assert_allclose(binomial_interval(k, n), (ref.low, ref.high), rtol=1e-9)
    with pytest.raises(ValueError, match="need integers 0 <= k <= n"):
        binomial_interval(5, 3)


def test_outcome_words_combine():
    assert outcome_kind("not verified (EM bias resolved: predicted 1, measured 2)") == NOT_VERIFIED
    assert outcome_kind(STRADDLES_MARGIN) == "inconclusive"
    assert combine_outcomes([VERIFIED, STRADDLES_MARGIN]) == STRADDLES_MARGIN
    assert combine_outcomes([STRADDLES_MARGIN, NOT_VERIFIED]) == NOT_VERIFIED
    assert combine_outcomes([VERIFIED, VERIFIED]) == VERIFIED
    with pytest.raises(ValueError, match="outcome must be one of"):
        outcome_kind("maybe")
