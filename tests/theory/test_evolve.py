"""The time-dependent solver `evolve` against the spectral quench, under a
piecewise-constant schedule and given an LR table."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from mpemba_jax.schedules import evaluate_schedule
from mpemba_jax.theory import evolve


def test_evolve_matches_spectral_quench_and_conserves(box):
    lr_h = 0.05
    n = 400
    dt = 1.0 / box.eigenvalues[1] / 100
    rec = [100, 200, 400]
    errs = []
    for sub in (1, 4):
        ev = evolve(box, box.equilibrium(lr_h), box.lr_bath, dt, n_steps=n, record_steps=rec, substeps=sub)
        assert np.abs(ev.masses.sum(1) - 1).max() < 1e-10
        assert ev.masses.min() >= 0.0
        assert np.all(box.spectral_error(lr_h, ev.times) < 1e-9)
        errs.append(np.abs(ev.masses - box.masses(lr_h, ev.times)).sum(1).max())
    # first order in time: 4x the substeps, 1/4 the error
    assert errs[1] < 0.3 * errs[0]
    assert errs[1] < 2e-4


def test_evolve_schedule_piecewise_constant_and_point_start(box):
    sched = lambda t: jnp.where(t < 50.0, 0.05, 0.01)  # noqa: E731
    ev = evolve(box, box.point_mass(0.1), sched, 10.0, n_steps=10, record_steps=[0, 5, 10])
    np.testing.assert_allclose(ev.lrs, [0.05, 0.01, 0.01])
    np.testing.assert_allclose(ev.times, [0.0, 50.0, 100.0])
    assert ev.masses[0].max() == 1.0
    assert np.abs(ev.masses.sum(1) - 1).max() < 1e-10 and ev.masses.min() >= 0


def test_evolve_takes_an_lr_table_as_it_is(box):
    # The table is the currency: given the LRs of each step it evolves exactly as
    # under the schedule that produced them, and only the first n_steps are read.
    sched = lambda t: jnp.where(t < 50.0, 0.05, 0.01)  # noqa: E731
    table = evaluate_schedule(sched, np.arange(11) * 10.0)
    by_sched = evolve(box, box.point_mass(0.1), sched, 10.0, n_steps=10, record_steps=[0, 5, 10])
    by_table = evolve(box, box.point_mass(0.1), table, 10.0, n_steps=10, record_steps=[0, 5, 10])
    np.testing.assert_array_equal(by_table.masses, by_sched.masses)
    np.testing.assert_array_equal(by_table.lrs, by_sched.lrs)
    longer = evolve(box, box.point_mass(0.1), np.append(table, 0.07), 10.0, n_steps=10,
                    record_steps=[0, 5, 10])
    np.testing.assert_array_equal(longer.masses, by_sched.masses)
    with pytest.raises(ValueError, match="schedule"):
        evolve(box, box.point_mass(0.1), table[:5], 10.0, n_steps=10)


def test_bad_inputs(box):
    with pytest.raises(ValueError, match="dt"):
        evolve(box, box.stationary_masses, 0.01, 0.0, n_steps=3)
    with pytest.raises(ValueError, match="initial"):
        evolve(box, -box.stationary_masses, 0.01, 1.0, n_steps=3)
