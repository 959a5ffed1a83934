"""`predict` follows the LR table the particles saw (`result.lr_steps`), never a
schedule rebuilt from its description: any callable works, a plain lambda
included, and a result without a table asks for `schedule=`.

Everything here is deterministic: two routes to one prediction must agree
bit for bit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.validation import cell_probabilities, predict

LR, LR_HOT, DT = 0.05, 0.1, 0.05


def _land():
    return mj.preset("harmonic", stiffness=1.0, valley_curvature=4.0)


def _run(schedule, seed=0):
    return mj.simulate(_land(), schedule, n_particles=4096, n_steps=40, dt=DT, seed=seed,
                       init=mj.equilibrium(LR_HOT), record_steps=[0, 20, 40], bins=20,
                       bin_range=(-1.6, 1.6), progress=False)


@pytest.fixture(scope="module")
def fp():
    return mj.FokkerPlanck(_land(), LR, n_grid=400, n_modes=4, lr_max=LR_HOT)


def test_validate_works_on_a_run_whose_schedule_was_a_lambda(fp):
    res = _run(lambda t: 0.05 + 0 * t)
    assert res.lr_steps.shape == (41,) and res.lr_steps.dtype == np.float64
    v = mj.validate(res, fp)
    # The table is constant at the bath LR: a quench, decided from the table.
    assert v.prediction["method"].startswith("quench"), v.prediction
    assert v.prediction["lr_table"] == "result.lr_steps"
    # ... and the same verdict numbers as the described schedule mj.constant(0.05).
    described = _run(mj.constant(LR))
    np.testing.assert_array_equal(res.lr_steps, described.lr_steps)
    ref = mj.validate(described, fp)
    for name in ("chi2", "chi2_pvalues", "tv", "tv_se", "tv_expected", "tv_binned"):
        np.testing.assert_array_equal(getattr(v, name), getattr(ref, name), err_msg=name)
    assert [c.outcome for c in v.checks] == [c.outcome for c in ref.checks]


DATA = Path(__file__).resolve().parents[1] / "data"


def _with_table(result, table):
    """`result` with another LR table (as an old result's, rebuilt or not)."""
    return mj.SimulationResult(dataclasses.replace(result.batch, lr_steps=table[None]))


def test_a_decaying_lambda_is_evolved_under_the_runs_own_table(fp):
    def sched(t):
        return LR_HOT - (LR_HOT - LR) * jnp.minimum(t / 1.0, 1.0)

    res = _run(sched, seed=1)
    masses, info = predict(res, fp)
    assert info["method"] == "schedule (evolve)" and info["lr_table"] == "result.lr_steps"
    assert masses.shape == (3, fp.n_grid)
    np.testing.assert_allclose(masses.sum(-1), 1.0, rtol=1e-12)
    # schedule= stands in for a missing table: evaluated as the simulator does, it
    # gives the same table and so the same prediction, bit for bit.
    old = _with_table(res, np.full_like(res.lr_steps, np.nan))
    again, info2 = predict(old, fp, sched)
    assert info2["lr_table"] == "schedule="
    np.testing.assert_array_equal(again, masses)
    probs = cell_probabilities(fp, masses, res.bin_edges)
    assert probs.shape == (3, len(res.bin_edges) + 1)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)


def test_a_result_without_its_table_asks_for_schedule(fp):
    res = _run(mj.constant(LR))
    table = np.full(41, np.nan)
    table[res.steps] = res.lr  # what loading an old result of a plain callable gives
    old = _with_table(res, table)
    with pytest.raises(ValueError, match="result.lr_steps holds NaN.*pass schedule="):
        mj.validate(old, fp)
    v = mj.validate(old, fp, schedule=mj.constant(LR))
    assert v.prediction["lr_table"] == "schedule="
    assert v.prediction["method"].startswith("quench")
    # A result written by mpemba_jax 0.1 under a plain lambda (tests/data/README.md).
    with pytest.raises(ValueError, match="result.lr_steps holds NaN.*missing.*pass schedule="):
        predict(mj.load_result(DATA / "format1_lambda"), fp)


def test_an_explicit_schedule_at_another_lr_is_evolved_as_given(fp):
    """The run's own constant table is a quench to the theory's bath LR (trusted); a
    `schedule=` at another LR is what the caller says the particles saw."""
    res = _run(mj.constant(LR))
    masses, info = predict(res, fp, mj.constant(0.08))
    assert info["method"] == "schedule (evolve)"
    ev = mj.evolve(fp, fp.equilibrium(LR_HOT), 0.08, DT, n_steps=40, record_steps=[0, 20, 40],
                   substeps=info["substeps"])
    np.testing.assert_array_equal(masses, ev.masses)
