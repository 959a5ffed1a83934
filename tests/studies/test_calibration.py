"""The calibration study: replicate runs carved out of one run, and the fast calibration
that fails when a check of `validate` is mis-calibrated.

The fast calibration runs 300 independent null runs of 1024 particles for each
null case (theory exact: a constant valley curvature, or the entropic valley in
equilibrium), validates every one, and requires each check's false-rejection
count at levels 1% and 5% to lie within the binomial band of its nominal level
at the family level of `tests/conftest.py` (Bonferroni over the counts
compared). The band's upper side applies to every check; its lower side to the
exact ones that were made in every run (the Bonferroni checks over correlated
records are allowed to be conservative). At 5% the upper edge is 26 of 300:
a check rejecting the true theory in 9% of runs or more fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FAMILY_ALPHA

import mpemba_jax as mj
from mpemba_jax.studies import run_calibration, size_failures, split_replicates
from mpemba_jax.studies.calibration import CHECKS, STUDY_CHECKS, with_observables


def test_replicates_carved_from_one_run_are_its_groups():
    land = mj.preset("harmonic", stiffness=1.0, valley_curvature=4.0)
    res = mj.simulate(land, mj.constant(0.1), n_particles=8 * 256, n_steps=10, dt=0.05,
                      init=mj.equilibrium(0.3), record_steps=[0, 10], bins=10,
                      bin_range=(-1.5, 1.5), block_size=64, n_groups=32,
                      group_histograms=True, progress=False,
                      observables={"a": lambda x, y: y, "b": lambda x, y: 2 * y})
    reps = split_replicates(res, 8)
    assert len(reps) == 8 and all(r.n_particles == 256 for r in reps)
    assert all(r.group_counts.shape == (2, 4, 13) for r in reps)
    total = sum(r.counts for r in reps)
    np.testing.assert_array_equal(total, res.counts)
    np.testing.assert_allclose(sum(r.sums for r in reps), res.sums, rtol=1e-12)
    swapped = with_observables(reps[0], {"b": "a"})
    np.testing.assert_allclose(swapped.observables["a"], reps[0].observables["b"])
    np.testing.assert_allclose(swapped.observables["a_null"], reps[0].observables["a"])
    moved = with_observables(reps[0], {}, init={"kind": "equilibrium", "lr": 0.33})
    assert moved.metadata["init"]["lr"] == 0.33 and reps[0].metadata["init"]["lr"] == 0.3
    with pytest.raises(ValueError, match="n_replicates must divide"):
        split_replicates(res, 5)


@pytest.mark.slow
@pytest.mark.statistical
def test_every_check_is_calibrated_on_null_runs():
    out = run_calibration(n_particles=(1024,), n_replicates=300, groups=16, seed=2024,
                          alternatives=[], log=lambda s: None)
    tables = [per_n["1024"] for per_n in out["size"].values()]
    n_counts = sum(len(t) * len(out["settings"]["levels"]) for t in tables)
    tail = FAMILY_ALPHA / (2 * n_counts)
    for case, table in zip(out["size"], tables):
        assert set(table) == set(CHECKS) | set(STUDY_CHECKS)
        assert size_failures(table, tail=tail) == [], case
    dw = out["size"]["double_well_quench"]["1024"]
    # every check of validate is made in (nearly) every run of the quench
    for name in CHECKS:
        assert dw[name]["made"] >= 0.95 * dw[name]["runs"], name
    assert dw["a_2 equivalence at the margin"]["made"] == 300
