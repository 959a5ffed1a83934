"""The crossing detector on synthetic curves with a planted crossing (power and
interval coverage, independent and AR(1) noise) and without one (false
crossings at most the family-wise level); `validate_crossing`'s outcomes when
the window or the noise cannot show the crossing. (`mpemba-jax validate` end to
end: `tests/studies/test_mpemba_crossing.py`.)
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mpemba_jax.validation import (INCONCLUSIVE, NOT_VERIFIED, NOTHING_PREDICTED, VERIFIED,
                                   WINDOW_TOO_SHORT, find_crossing, validate_crossing)

T = np.linspace(0.0, 150.0, 61)


def _curves():
    d_a = 0.06 * np.exp(-0.004 * T)               # slow, starts low (cold)
    d_b = 0.15 * np.exp(-0.03 * T) + 0.01 * np.exp(-0.004 * T)  # fast, starts high (hot)
    # planted crossing: 0.05 e^{-0.004 t} = 0.15 e^{-0.03 t}
    t_x = math.log(0.15 / 0.05) / (0.03 - 0.004)
    return d_a, d_b, t_x


@pytest.mark.statistical
@pytest.mark.parametrize("correlated", [False, True])
def test_crossing_detector_finds_a_planted_crossing(correlated, binomial_floor, coverage_band):
    d_a, d_b, t_x = _curves()
    rng = np.random.default_rng(11)
    reps, se = 500, 0.002
    found, covered = 0, 0
    for _ in range(reps):
        if correlated:  # AR(1) noise along the curve, as for one set of particles
            e = np.empty((2, len(T)))
            e[:, 0] = rng.normal(size=2)
            for i in range(1, len(T)):
                e[:, i] = 0.9 * e[:, i - 1] + math.sqrt(1 - 0.81) * rng.normal(size=2)
        else:
            e = rng.normal(size=(2, len(T)))
        c = find_crossing(T, d_a + se * e[0], np.full_like(T, se), d_b + se * e[1],
                          np.full_like(T, se), level=0.05)
        if c["found"]:
            found += 1
            covered += c["ci"][0] <= t_x <= c["ci"][1]
            assert c["sign_before"] == -1  # b above a first
    assert found >= reps - binomial_floor(reps, 0.01, 0.999)  # power >= 99%
    lo, _ = coverage_band(found)
    assert covered / found >= lo, covered / found


@pytest.mark.statistical
def test_crossing_detector_reports_none_without_a_crossing():
    d_a, d_b, _ = _curves()
    rng = np.random.default_rng(12)
    reps, se = 500, 0.002
    above = np.maximum(d_a, d_b) + 0.002  # never crosses the other curve
    false_pos = {"apart": 0, "identical": 0}
    for _ in range(reps):
        e = rng.normal(size=(4, len(T)))
        s = np.full_like(T, se)
        false_pos["apart"] += find_crossing(T, above + se * e[0], s, d_b + se * e[1], s)["found"]
        false_pos["identical"] += find_crossing(T, d_a + se * e[2], s, d_a + se * e[3], s)["found"]
    # Family-wise level 5% (Bonferroni over the records): false crossings <= 5%.
    for k, v in false_pos.items():
        assert v / reps <= 0.05 + 3.5 * math.sqrt(0.05 * 0.95 / reps), (k, v)


def _verdict(t, tv, se, expected, resolved=True):
    """The fields of a `Verdict` that `validate_crossing` reads."""
    return SimpleNamespace(times=t, tv=tv, tv_se=np.full_like(t, se), tv_expected=expected,
                           tv_binned=expected, tv_resolved=np.full(t.shape, resolved),
                           run={"init": {"kind": "equilibrium", "lr": 0.02}},
                           prediction={"method": "quench (spectral sum)"})


@pytest.mark.parametrize("t_end, se, resolved, shift, outcome", [
    (150.0, 0.002, True, 0.0, VERIFIED),            # noise-free curves, crossing inside
    (30.0, 0.002, True, 0.0, WINDOW_TOO_SHORT),     # crossing beyond the last record
    (46.0, 0.002, True, 0.0, WINDOW_TOO_SHORT),     # just past it: not yet detectable
    (150.0, 0.05, True, 0.0, INCONCLUSIVE),         # never detectable at this noise
    (150.0, 0.002, False, 0.0, INCONCLUSIVE),       # curves not above the floor there
    (150.0, 0.002, True, 0.012, NOT_VERIFIED),      # measured crossing far from predicted
])
def test_no_crossing_verdict_without_evidence(t_end, se, resolved, shift, outcome):
    """A crossing is verified only where the records cover it plus the margin in which
    the predicted difference becomes detectable, both curves above the floor."""
    d_a, d_b, t_x = _curves()
    keep = T <= t_end
    t = T[keep]
    theory = SimpleNamespace(crossing_time=lambda a, b: t_x)
    v_a = _verdict(t, d_a[keep] + shift, se, d_a[keep], resolved)
    v_b = _verdict(t, d_b[keep], se, d_b[keep], resolved)
    c = validate_crossing(v_a, v_b, theory=theory)
    assert c.check.outcome == outcome, c.check.detail
    if outcome == VERIFIED:
        assert c.ci[0] <= t_x <= c.ci[1]


def test_nothing_predicted_is_not_a_verified_crossing():
    t = T
    flat = np.full_like(t, 0.05)
    v_a, v_b = _verdict(t, flat + 0.01, 0.002, flat + 0.01), _verdict(t, flat, 0.002, flat)
    c = validate_crossing(v_a, v_b)
    assert c.check.outcome == NOTHING_PREDICTED
