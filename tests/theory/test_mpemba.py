"""Mpemba amplitudes and strong Mpemba points (`theory.mpemba`): closed forms for
the harmonic river, identities, and the presets' strong points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck

LR = 0.1  # bath LR of the `harmonic` fixture (conftest)


def test_harmonic_amplitudes_closed_form(harmonic):
    r = np.array([1.5, 3.0, 10.0])  # T_h / T_f
    a = harmonic.amplitudes(r * LR)
    np.testing.assert_allclose(a[:, 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(a[:, 1], 0.0, atol=1e-10)  # symmetric: no shift
    np.testing.assert_allclose(a[:, 3], 0.0, atol=1e-9)
    # a_3 = (r - 1) / sqrt 2, a_5 = 3 (r - 1)^2 / sqrt 24; O(r h^2 / sigma^2) error ~ 6e-5 at r = 10
    np.testing.assert_allclose(a[:, 2], (r - 1) / math.sqrt(2), rtol=2e-4)
    np.testing.assert_allclose(a[:, 4], 3 * (r - 1) ** 2 / math.sqrt(24), rtol=5e-4)


def test_amplitudes_vanish_at_bath(box):
    a = box.amplitudes(box.lr_bath)
    assert a[0] == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(a[1:], 0.0, atol=1e-12)


def test_covariance_criterion_is_the_derivative(box):
    lrs = np.array([0.012, 0.02, 0.05, 0.09])
    cov = box.covariance_criterion(lrs)  # d a_2 / d T_h
    g = box.dynamics.temperature_scale
    np.testing.assert_allclose(g * cov, box.amplitude_slope(lrs), rtol=1e-9)
    eps = 1e-6 * lrs
    fd = (box.amplitude(lrs + eps) - box.amplitude(lrs - eps)) / (2 * eps)
    np.testing.assert_allclose(g * cov, fd, rtol=1e-6)


# -- Mpemba points -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["kinked_double_well", "box_wells"])
def test_presets_have_strong_mpemba_point(name):
    fp = FokkerPlanck(mj.preset(name), 0.01, n_grid=3000, lr_max=0.1)
    rng = (0.0105, 0.1)
    pts = fp.strong_mpemba_points(rng)
    assert len(pts) >= 1 and np.all(np.diff(pts) > 0)
    assert np.all(np.abs(fp.amplitude(pts)) < 1e-12)
    for x in pts:  # a genuine sign change around each point
        assert fp.amplitude(0.99 * x) * fp.amplitude(1.01 * x) < 0
    assert fp.eigenvalues[2] / fp.eigenvalues[1] >= 3
    assert 5 / fp.eigenvalues[1] <= 1e4
    s = fp.mpemba_summary(rng)
    assert s.index == len(pts)
    assert s.optimal_lr in pts
    scan = np.abs(fp.amplitude(np.geomspace(*rng, 400)))
    assert abs(s.worst_a2) >= scan.max() * (1 - 1e-9)
    # the strong point beats any colder plateau: the hotter has the advantage
    assert fp.hotter_has_advantage(pts[0], 0.5 * (pts[0] + 0.0105))


def test_no_strong_point_gives_optimal_plateau(harmonic):
    s = harmonic.mpemba_summary((0.15, 0.5))
    assert s.index == 0 and len(s.strong_points) == 0
    assert abs(s.optimal_a2) < 1e-10  # harmonic: a_2 = 0 everywhere


# -- bad input ---------------------------------------------------------------------------
def test_bad_inputs(box):
    land = mj.preset("harmonic")
    with pytest.raises(ValueError, match="lr_range"):
        box.strong_mpemba_points((0.005, 0.1))
    with pytest.raises(ValueError, match="lr_range"):
        box.strong_mpemba_points((0.05, 0.02))
    with pytest.raises(ValueError, match="lr_init"):
        box.amplitude(-0.1)
    with pytest.raises(ValueError, match="lr_max"):
        FokkerPlanck(land, 0.1).amplitude(5.0)
    with pytest.raises(ValueError, match="k must be"):
        box.amplitude(0.05, k=99)
    with pytest.raises(ValueError, match="lr_a"):
        box.hotter_has_advantage(0.005, 0.05)
