"""The valley's Euler–Maruyama moment recursion (`theory.valley`) against its
closed forms: the fixed point, the geometric approach to it at a constant LR,
and the greedy anneal's `1 / v_K = 1 / v_0 + a^2 K / sigma^2`."""

from __future__ import annotations

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.schedules import evaluate_schedule
from mpemba_jax.theory import valley_moment_fixed_point, valley_moment_step, valley_moments


def test_fixed_point_is_the_fixed_point_of_the_step():
    mu, temp, h = 0.05, 0.1, 1.0
    a = np.array([0.5, 5.0, 20.0, 39.0])  # mu a h from 0.025 to 1.95 (< 2: stable)
    v_star = valley_moment_fixed_point(mu, temp, a, h)
    np.testing.assert_allclose(valley_moment_step(v_star, mu, temp, a, h), v_star, rtol=1e-14)
    # 2 mu T h / (1 - (1 - mu a h)^2), and equipartition T / a as h -> 0
    np.testing.assert_allclose(v_star, 2 * mu * temp * h / (1 - (1 - mu * a * h) ** 2), rtol=1e-13)
    np.testing.assert_allclose(valley_moment_fixed_point(mu, temp, a, 1e-9), temp / a, rtol=1e-9)


@pytest.mark.parametrize("time, g", [("steps", 1.0), ("lr_area", 3.0)])
def test_constant_lr_approaches_the_fixed_point_geometrically(time, g):
    lr, h, n = 0.02, 0.5, 40
    a = np.array([[1.0, 10.0], [50.0, 150.0]])  # any shape; one recursion per entry
    mu = lr if time == "steps" else 1.0
    if time == "lr_area":
        a = a / 50.0  # keep mu a h < 2
    rec = [0, 1, 7, n]
    v = valley_moments(np.full(n + 1, lr), a, h, rec, time=time, temperature_scale=g, initial=0.3)
    assert v.shape == (len(rec),) + a.shape
    v_star = valley_moment_fixed_point(mu, g * lr, a, h)
    for k, s in enumerate(rec):
        expected = v_star + (1 - mu * a * h) ** (2 * s) * (0.3 - v_star)
        np.testing.assert_allclose(v[k], expected, rtol=1e-12)


def test_greedy_anneal_closed_form():
    # From the stationary v_0 at the peak, the greedy anneal's LR table gives
    # 1 / v_K = 1 / v_0 + a^2 K / sigma^2 (sigma^2 = 2 g; time="steps", h = 1).
    a, eta, n0, K, g = 10.0, 0.05, 30, 200, 1.0
    table = evaluate_schedule(mj.greedy_anneal(eta, a, stable=float(n0)), np.arange(n0 + K + 1.0))
    v0 = valley_moment_fixed_point(eta, g * eta, a, 1.0)
    v = valley_moments(table, a, 1.0, [n0, n0 + K], initial=v0)
    assert v[0] == pytest.approx(v0, rel=1e-14)
    assert v[1] == pytest.approx(1.0 / (1.0 / v0 + a * a * K / (2 * g)), rel=1e-12)


def test_records_and_bad_input():
    table = np.full(6, 0.1)
    v = valley_moments(table, 10.0, 1.0, [5, 0, 5])
    assert v[1] == 0.0 and v[0] == v[2]  # every record, duplicates included
    assert v[0] == pytest.approx(0.02, rel=1e-14)  # mu a h = 1: one step to v* = 2 mu T h
    with pytest.raises(ValueError, match="record_steps"):
        valley_moments(table, 10.0, 1.0, [6])
    with pytest.raises(ValueError, match="lr_steps"):
        valley_moments(np.zeros((2, 3)), 10.0, 1.0, [0])
    with pytest.raises(ValueError, match="time"):
        valley_moments(table, 10.0, 1.0, [0], time="epochs")
