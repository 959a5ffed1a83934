"""The Euler–Maruyama bias of the river (`theory.em_bias`) against the harmonic
river's discrete and continuous variance, in closed form."""

from __future__ import annotations

import math

import numpy as np

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck, em_bias, valley_moment_fixed_point


def test_em_bias_harmonic_closed_form():
    # On a harmonic river (a' = 0: the valley does not enter) the EM chain is
    # y <- (1 - mu k h) y + sqrt(2 mu T h) n: from variance v_0 its variance is
    # v* + (1 - mu k h)^(2n) (v_0 - v*), v* = T / (k (1 - mu k h / 2)), against
    # T / k + e^(-2 mu k t) (v_0 - T / k) for the Fokker–Planck river, and
    # A_3 = (v / sigma_f^2 - 1) / sqrt 2. By symmetry A_2 = 0 for both.
    # Error budget (relative to the bias): assigning each step's landing point to
    # its cell adds ~h^2 / 12 of variance per step (2e-3 here), evolve's time
    # error is < 1e-3; hence 1e-2.
    k, lr, lr0, dt = 2.0, 0.1, 0.3, 0.5
    fp = FokkerPlanck(mj.preset("harmonic", stiffness=k, valley_curvature=10.0), lr,
                      n_grid=2000, lr_max=lr0)
    steps = np.array([0, 5, 10, 20, 40])
    bias = em_bias(fp, dt, steps, {"hot": lr0}, np.linspace(-1, 1, 21), n_particles=10**5)["hot"]
    mu, temp = lr, lr
    sigma2, v0 = temp / k, lr0 / k
    v_star = valley_moment_fixed_point(mu, temp, k, dt)
    v_em = v_star + (1 - mu * k * dt) ** (2 * steps) * (v0 - v_star)
    v_fp = sigma2 + np.exp(-2 * mu * k * steps * dt) * (v0 - sigma2)
    expected = np.max(np.abs(v_em - v_fp)) / (sigma2 * math.sqrt(2))
    assert abs(bias["A3"] / expected - 1) < 1e-2
    assert bias["A2"] < 1e-10
    # the bias shows in the histogram too, and N = 1e5 particles would see it
    assert bias["tv"] > 0.1 * expected
    assert bias["chi2_noncentrality_max"] >= bias["chi2_noncentrality_mean"] > 10
