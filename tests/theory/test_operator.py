"""Fokker–Planck operator, spectrum and eigenfunctions against closed forms, an
independent solver and its own identities.

Tolerances: the detailed-balance (square-root) discretisation is second order
in the cell width `h`; for the harmonic river its eigenvalues come out as
`lambda_n (1 - (h / sigma_f)^2 / 8)`, so each tolerance below is a small
multiple of the `h^2` error at the grid used, never a widened guess.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck

K, LR = 2.0, 0.1  # harmonic stiffness and bath LR (the `harmonic` fixture of conftest)


# -- harmonic river: closed forms -----------------------------------------------
def test_harmonic_spectrum_default_grid(harmonic):
    mu = LR
    expected = np.arange(harmonic.n_modes) * mu * K
    assert harmonic.eigenvalues[0] == 0.0
    np.testing.assert_allclose(harmonic.eigenvalues[1:], expected[1:], rtol=1e-5)
    # the error is the predicted h^2 one, not just "small"
    sigma = math.sqrt(LR / K)
    pred = (harmonic.h / sigma) ** 2 / 8
    np.testing.assert_allclose(1 - harmonic.eigenvalues[1:] / expected[1:], pred, rtol=0.05)


def test_harmonic_lr_area_and_temperature_scale():
    fp = FokkerPlanck(mj.preset("harmonic", stiffness=K), 0.05, time="lr_area",
                      temperature_scale=3.0)
    np.testing.assert_allclose(fp.eigenvalues[1:4], K * np.arange(1, 4), rtol=1e-5)


def test_harmonic_left_eigenfunctions(harmonic):
    sigma = math.sqrt(LR / K)
    y = harmonic.centres / sigma
    bulk = np.abs(y) <= 5
    # u_2 = y / sigma with the sign convention (positive downstream); u_3 = He_2 / sqrt 2
    np.testing.assert_allclose(harmonic.left_eigenfunctions[1][bulk], y[bulk], atol=1e-3)
    np.testing.assert_allclose(harmonic.left_eigenfunctions[2][bulk], (y[bulk] ** 2 - 1) / math.sqrt(2), atol=2e-3)
    # biorthonormality: integral u_j v_k = delta_jk
    gram = harmonic.left_eigenfunctions @ (harmonic.right_eigenfunctions.T * harmonic.h)
    np.testing.assert_allclose(gram, np.eye(harmonic.n_modes), atol=1e-10)


# -- double well: independent dense solve and convergence order ------------------
def _dense_schrodinger(land, lr, n):
    """Independent: central differences of the Schrödinger form, dense eigh (mu = lr)."""
    temp = lr
    lo, hi = land.support(temp)
    y = np.linspace(lo, hi, n + 2)[1:-1]
    h = y[1] - y[0]
    with jax.enable_x64(True):
        f = lambda x: land.free_energy(x, temp)  # noqa: E731
        yj = jnp.asarray(y)
        f1 = np.asarray(jax.vmap(jax.grad(f))(yj))
        f2 = np.asarray(jax.vmap(jax.grad(jax.grad(f)))(yj))
    pot = f1**2 / (4 * temp) - f2 / 2
    mat = np.diag(2 * temp / h**2 + pot) - np.diag(np.full(n - 1, temp / h**2), 1) - np.diag(np.full(n - 1, temp / h**2), -1)
    vals = scipy.linalg.eigh(mat, eigvals_only=True, subset_by_index=(0, 4))
    return lr * vals, lr * np.abs(mat).sum(1).max()


def test_double_well_against_dense_solver():
    land = mj.preset("double_well")
    lr = 0.05
    # Richardson-extrapolated O(h^2) reference (error ~1e-7 relative)
    (e1, _), (e2, norm) = _dense_schrodinger(land, lr, 700), _dense_schrodinger(land, lr, 1400)
    ref = (4 * e2 - e1) / 3
    fp = FokkerPlanck(land, lr, lr_max=lr)
    np.testing.assert_allclose(fp.eigenvalues[1:5], ref[1:5], rtol=2e-5)
    # the reference's zero mode (exactly 0 in the continuum) shows its own error,
    # which must sit well inside the tolerance above
    assert abs(ref[0]) < 0.2 * 2e-5 * ref[1]
    del norm


def test_eigenvalues_converge_at_second_order():
    land = mj.preset("double_well")
    lam = np.array([FokkerPlanck(land, 0.05, n_grid=n, lr_max=0.05).eigenvalues[1:4]
                    for n in (500, 1000, 2000)])
    ratio = (lam[0] - lam[1]) / (lam[1] - lam[2])
    np.testing.assert_allclose(ratio, 4.0, rtol=0.1)  # h^2: halving h quarters the error


# -- identities --------------------------------------------------------------------
def test_full_mode_sum_reproduces_initial_density():
    fp = FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=150, n_modes=150)
    lr_h = 0.03
    a = fp.amplitudes(lr_h)
    p0 = a @ fp.right_eigenfunctions
    np.testing.assert_allclose(p0 * fp.h, fp.equilibrium(lr_h), atol=1e-10)
    np.testing.assert_allclose(fp.density(lr_h, 0.0)[0], p0, atol=1e-12)


@pytest.mark.statistical
def test_left_eigenfunction_jax(box):
    u2 = box.left_eigenfunction(2)
    y32 = jnp.asarray(box.centres, jnp.float32)
    out = jax.jit(u2)(y32)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), box.left_eigenfunctions[1], rtol=1e-5, atol=1e-5)
    out_v = jax.vmap(u2)(y32[:10])
    np.testing.assert_allclose(np.asarray(out_v), np.asarray(out[:10]))
    far = np.asarray(u2(jnp.asarray([box.edges[0] - 1.0, box.edges[-1] + 1.0])))
    np.testing.assert_allclose(far, box.left_eigenfunctions[1][[0, -1]], rtol=1e-6)
    # the Monte Carlo estimator of a_2 at t = 0 from exact equilibrium samples
    rng = np.random.default_rng(0)
    p = box.equilibrium(0.05)
    y = rng.choice(box.centres, size=200_000, p=p) + rng.uniform(-0.5, 0.5, 200_000) * box.h
    u = np.asarray(u2(jnp.asarray(y)))
    assert abs(u.mean() - box.amplitude(0.05)) < 5 * u.std() / math.sqrt(len(u))


# -- stability: high barriers and very hot starts ----------------------------------------
@pytest.mark.parametrize("barrier_over_t", [20, 30, 40])
def test_high_barrier_hot_start_converges(barrier_over_t):
    land = mj.preset("double_well", barrier=0.2, tilt=0.02, growth=0.5, valley_dim=2)
    lrb = 0.2 / barrier_over_t
    lrs = np.array([1.5, 10.0, 100.0]) * lrb
    res = []
    for n in (4000, 8000):
        fp = FokkerPlanck(land, lrb, n_grid=n, lr_max=100 * lrb, time="lr_area")
        a2 = fp.amplitude(lrs)
        assert np.all(np.isfinite(a2)) and np.all(np.isfinite(fp.amplitude(lrs, 3)))
        assert fp.eigenvalues[1] > 0
        res.append((a2, fp.eigenvalues[1]))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-4)  # Arrhenius-small lambda_2 keeps its digits


# -- bad input ---------------------------------------------------------------------------
def test_bad_inputs():
    land = mj.preset("harmonic")
    with pytest.raises(ValueError, match="lr_bath"):
        FokkerPlanck(land, 0.0)
    with pytest.raises(ValueError, match="lr_bath"):
        FokkerPlanck(land, -1.0)
    with pytest.raises(ValueError, match="n_grid"):
        FokkerPlanck(land, 0.1, n_grid=20)  # too coarse for the harmonic at this T
    with pytest.raises(ValueError, match="n_grid"):
        FokkerPlanck(land, 0.1, n_grid=4)
    with pytest.raises(ValueError, match="confine"):
        FokkerPlanck(mj.ValleyRiver(lambda y: 0.0 * y, lambda y: 1.0 + 0.0 * y), 0.1)
