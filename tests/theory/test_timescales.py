"""Timescales and the decay window against the harmonic closed forms; the theory CLI."""

from __future__ import annotations

import os

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.schedules import power_law_decay as power_decay
from mpemba_jax.theory import FokkerPlanck, decay_window, tau_x, tau_y


def test_tau_x_and_tau_y_harmonic():
    land = mj.preset("harmonic", stiffness=2.0, valley_curvature=10.0)
    fp = FokkerPlanck(land, 0.1, n_grid=2000)
    np.testing.assert_allclose(tau_x(fp, [0.1, 0.2]), [1 / (0.1 * 10), 1 / (0.2 * 10)], rtol=1e-12)
    # lambda_2 = mu k with the O(h^2) grid error (h / sigma)^2 / 8 ~ 1e-4 at n_grid = 2000
    np.testing.assert_allclose(tau_y(land, [0.1, 0.2]), [1 / (0.1 * 2), 1 / (0.2 * 2)], rtol=2e-4)


@pytest.mark.parametrize("time, n", [("steps", 2.0), ("lr_area", 1.0)])
def test_decay_window_powers(time, n):
    # harmonic: 1/tau_x = mu a, 1/tau_y = mu k; mu = eta ("steps") gives eta^2 decays,
    # mu = 1 ("lr_area") exponential ones
    w = decay_window(mj.preset("harmonic", valley_curvature=10.0), 0.1, 0.01, time=time, n_lr=6)
    assert w.open
    assert w.fast[1] == pytest.approx(n, abs=1e-6) and w.slow[1] == pytest.approx(n, abs=1e-3)
    assert w.fast[0] == pytest.approx(10.0, rel=1e-9) and w.slow[0] == pytest.approx(1.0, rel=1e-3)
    fast, slow = w.bounds(np.array([0.0, 1.0, 10.0]))
    assert fast[0] == pytest.approx(0.1) and slow[0] == pytest.approx(0.1, rel=1e-6)
    assert np.all(fast[1:] < slow[1:])
    # a schedule in between is inside; the fast bound's own decay is at the edge
    mid = power_decay(0.1, 3.0, n)
    t = np.linspace(0.0, 5.0, 50)
    assert np.all(w.check(mid, t)[1:-1] == 0)


def test_power_decay_solves_its_ode():
    for n in (1.0, 1.5, 2.0):
        eta = power_decay(0.2, 0.7, n)
        t = np.linspace(0.0, 3.0, 301)
        d = np.gradient(eta(t), t)
        np.testing.assert_allclose(d[1:-1], -0.7 * eta(t)[1:-1] ** n, rtol=1e-3)


def test_theory_cli(tmp_path):
    from mpemba_jax.cli import main

    rc = main(["theory", "--preset", "box_wells", "--n-grid", "2000", "--out", str(tmp_path)])
    assert rc == 0
    assert os.path.getsize(tmp_path / "theory.png") > 1000
    assert main(["theory", "--lr-range", "0.001", "0.1", "--out", str(tmp_path)]) == 2
