"""The decay-rate difference of two runs (`rate_difference`, `relaxation_check`): its
outcomes, and its refusal without replicate groups. Its size on pairs of independent
null runs is measured by the calibration (`tests/studies/test_calibration.py`)."""

from __future__ import annotations

import pytest

import mpemba_jax as mj
from mpemba_jax.validation import (INCONCLUSIVE, NOT_VERIFIED, VERIFIED, WINDOW_TOO_SHORT,
                                   rate_difference, relaxation_check)


def _diff(delta, se, predicted, reason=None):
    d = {"t_min": 60.0, "records": 10, "delta": delta, "se": se, "predicted": predicted,
         "rate_x": 0.02, "rate_x_se": se, "rate_ref": 0.02 - delta, "rate_ref_se": se,
         "t_range": [60.0, 250.0]}
    if reason:
        d.update(delta=float("nan"), reason=reason, records=1)
    return d


@pytest.mark.parametrize("diff, outcome", [
    (_diff(0.010, 0.002, 0.011), VERIFIED),        # faster, as predicted
    (_diff(0.003, 0.002, 0.004), INCONCLUSIVE),    # as predicted, but not resolved
    (_diff(0.001, 0.002, 0.011), NOT_VERIFIED),    # far slower than predicted
    (_diff(-0.006, 0.002, -0.002), NOT_VERIFIED),  # significantly slower
    (_diff(0.010, 0.001, 0.020), NOT_VERIFIED),    # faster, but not as predicted
    (_diff(0.0, 0.0, 0.0, "window too short"), WINDOW_TOO_SHORT),
    (_diff(0.0, 0.0, 0.0, "below noise floor"), INCONCLUSIVE),
])
def test_relaxation_outcomes(diff, outcome):
    assert relaxation_check(diff, 0.01, claim="x relaxes faster").outcome == outcome


def test_needs_replicate_groups():
    land = mj.preset("harmonic", stiffness=1.0, valley_curvature=4.0)
    fp = mj.FokkerPlanck(land, 0.1, n_grid=400, n_modes=4, lr_max=0.3)
    res = mj.simulate(land, mj.constant(0.1), n_particles=4096, n_steps=40, dt=0.05,
                      init=mj.equilibrium(0.3), record_steps=[0, 10, 20, 30, 40], bins=20,
                      bin_range=(-1.6, 1.6), progress=False)
    v = mj.validate(res, fp)
    v.tv_resolved[:] = True
    with pytest.raises(ValueError, match="group_histograms=True"):
        rate_difference(res, v, res, v, fp, t_min=0.0)
    late = rate_difference(res, v, res, v, fp, t_min=100.0)
    assert late["reason"] == "window too short" and late["records"] == 0
