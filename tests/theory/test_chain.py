"""The discrete chain's theory (`FokkerPlanck(..., dt=h)`, `theory.chain`,
`theory.chain_spectrum`) against closed forms, its own identities and the
continuum limit.

Tolerances: the grid kernel reproduces the step's mean and variance up to
aliasing terms below ~6e-8 `dx` and `dx^2` (module docstring of `chain`), so on a
harmonic river, where the discrete OU chain is Gaussian, eigenvalues and the
stationary variance are exact to ~1e-9; identities (rows summing to 1, biorthonormality, the
FFT step against the matrix) hold to round-off. The continuum limit is first
order in `h` (THEORY section 8): the slope test measures the order.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck, chain, valley_variance


def sharpening(a0=8.0, growth=0.7, barrier=0.1, box=1.2, d=1):
    """A double-well river in a box whose valley sharpens downstream 4.5-fold."""
    return mj.ValleyRiver(river=lambda y: barrier * (y**2 - 1) ** 2,
                          curvature=lambda y: a0 * jnp.exp(growth * y), valley_dim=d,
                          domain=(-box, box), name="sharpening")


@pytest.fixture(scope="module")
def sharp():
    """The chain at eta = 0.05, g = 4, dt = 1 (SGD): eta a from 0.17 to 0.93."""
    return FokkerPlanck(sharpening(), 0.05, temperature_scale=4.0, n_grid=300, lr_max=0.07,
                        dt=1.0)


# -- closed forms ------------------------------------------------------------------
@pytest.mark.parametrize("integrator", ["euler_maruyama", "valley_exact"])
def test_harmonic_chain_is_the_discrete_ou_chain(integrator):
    # y <- (1 - c k) y + s n with c = mu h: multipliers (1 - c k)^(n - 1), stationary
    # variance T / (k (1 - c k / 2)), u_2 proportional to y; the constant valley does
    # not push the river, so both integrators give the same chain.
    k, lr, h = 2.0, 0.1, 1.5
    fp = FokkerPlanck(mj.preset("harmonic", stiffness=k, valley_curvature=10.0), lr,
                      n_grid=400, lr_max=0.2, dt=h, integrator=integrator)
    c = lr * k * h
    # Aliasing: a variance error ~6e-8 dx^2 per step against a step variance of
    # ~(5 dx)^2 here, so the relative tolerances are ~1e-9.
    assert math.sqrt(2 * lr * lr * h) / fp.h > 5
    np.testing.assert_allclose(fp.multipliers, (1 - c) ** np.arange(fp.n_modes), rtol=1e-9)
    np.testing.assert_allclose(fp.eigenvalues[1:], -np.arange(1, fp.n_modes) * math.log(1 - c) / h,
                               rtol=1e-8)
    var = lr / (k * (1 - c / 2))
    pi = fp.stationary_masses
    assert pi @ fp.centres == pytest.approx(0.0, abs=1e-12)
    assert pi @ fp.centres**2 == pytest.approx(var, rel=1e-9)
    bulk = pi > 1e-12 * pi.max()
    np.testing.assert_allclose(fp.left_eigenfunctions[1][bulk], fp.centres[bulk] / math.sqrt(var),
                               atol=1e-8)
    gram = fp.left_eigenfunctions @ fp.right_eigenfunctions.T * fp.h
    np.testing.assert_allclose(gram, np.eye(fp.n_modes), atol=1e-9)


def test_valley_variance_per_integrator():
    mu, temp, h, a = 0.05, 0.2, 1.0, np.array([4.0, 18.0, 36.0])
    np.testing.assert_allclose(valley_variance("euler_maruyama", mu, temp, a, h),
                               temp / (a * (1 - mu * a * h / 2)), rtol=1e-15)
    for integ in ("valley_exact", "leimkuhler_matthews"):
        np.testing.assert_allclose(valley_variance(integ, mu, temp, a, h), temp / a, rtol=1e-15)
    # the moment recursions of valley_moments settle there
    for integ in ("euler_maruyama", "valley_exact", "leimkuhler_matthews"):
        v = mj.theory.valley_moments(np.full(401, 0.05), a, h, [400], temperature_scale=4.0,
                                     integrator=integ)[0]
        np.testing.assert_allclose(v, valley_variance(integ, mu, temp, a, h), rtol=1e-12)
    with pytest.raises(ValueError, match="integrator"):
        valley_variance("rk4", mu, temp, a, h)


# -- the kernel's identities ----------------------------------------------------------
def test_kernel_rows_moments_and_the_fft_step(sharp):
    k = chain.kernel_matrix(sharp, sharp.lr_bath)
    np.testing.assert_allclose(np.asarray(k.sum(1)).ravel(), 1.0, atol=1e-14)
    assert k.min() >= 0.0
    # Away from the walls the lattice step has the chain's mean and variance (at a
    # colder LR, whose steps leave room between the walls).
    cold = chain.kernel_matrix(sharp, 0.02).toarray()
    mean, var = chain.step_moments(sharp, 0.02)
    sd = np.sqrt(var)
    inner = (mean - 9 * sd > sharp.edges[0]) & (mean + 9 * sd < sharp.edges[-1])
    assert inner.sum() > 100
    m1 = cold @ sharp.centres
    m2 = cold @ sharp.centres**2 - m1**2
    dx = sharp.h
    np.testing.assert_allclose(m1[inner], mean[inner], rtol=0, atol=1e-7 * dx)
    np.testing.assert_allclose(m2[inner], var[inner], rtol=0, atol=1e-7 * dx * dx)
    # EM's mean step is -mu h F_h' with F_h = V + (T / 2) ln(a / (1 - mu h a / 2)) (autodiff).
    kd = k.toarray()
    mean, _ = chain.step_moments(sharp, sharp.lr_bath)
    c, temp = sharp.mobility * sharp.dt, sharp.temperature
    land = sharp.landscape

    def f_h(y):
        a = land.curvature(y)
        return land.river(y) + 0.5 * temp * jnp.log(a / (1 - c * a / 2))

    with jax.enable_x64(True):
        y = jnp.asarray(sharp.centres)
        slope = np.asarray(jax.vmap(jax.grad(f_h))(y))
        np.testing.assert_allclose(chain.effective_free_energy(sharp, sharp.lr_bath),
                                   np.asarray(f_h(y)), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(-(mean - sharp.centres) / c, slope, rtol=1e-12, atol=1e-14)
    # propagate (deposition + FFT, jit) is the same linear map as the sparse matrix.
    rng = np.random.default_rng(0)
    p = rng.random((2, sharp.n_grid))
    slot = np.array([1, 0])  # record after one step only
    out = chain.propagate(sharp, p, np.array([sharp.lr_bath]), slot, 1, clip=False)[0]
    np.testing.assert_allclose(out, p @ kd, atol=1e-13)


def test_per_direction_valley_sums_over_directions():
    # Two valley directions, one sharpening and one softening downstream: the mean step
    # is -mu h F_h' with F_h = V + (T/2) sum_i ln(a_i / (1 - mu h a_i / 2)), and the
    # valley's energy adds (mu h)^2 / 2 sum_i a_i'^2 v_i^2 to the step's variance.
    land = mj.ValleyRiver(river=lambda y: 0.1 * (y**2 - 1) ** 2,
                          curvature=lambda y: jnp.stack([8.0 * jnp.exp(0.7 * y),
                                                         12.0 * jnp.exp(-0.5 * y)], -1),
                          valley_dim=2, domain=(-1.2, 1.2), name="two_valleys")
    fp = FokkerPlanck(land, 0.05, temperature_scale=4.0, n_grid=300, lr_max=0.06, dt=1.0)
    c, temp = fp.mobility * fp.dt, fp.temperature

    def f_h(y):
        a = land.curvature(y)
        return land.river(y) + 0.5 * temp * jnp.sum(jnp.log(a / (1 - c * a / 2)), -1)

    mean, var = chain.step_moments(fp, fp.lr_bath)
    with jax.enable_x64(True):
        y = jnp.asarray(fp.centres)
        slope = np.asarray(jax.vmap(jax.grad(f_h))(y))
        a = np.asarray(land.curvature(y))
        ap = np.asarray(jax.vmap(jax.jacfwd(land.curvature))(y))
        f_closed = np.asarray(jax.vmap(f_h)(y))
    np.testing.assert_allclose(-(mean - fp.centres) / c, slope, rtol=1e-12, atol=1e-14)
    v = temp / (a * (1 - c * a / 2))
    np.testing.assert_allclose(var, 2 * c * temp + 0.5 * c * c * np.sum(ap**2 * v**2, -1),
                               rtol=1e-13)
    np.testing.assert_allclose(chain.effective_free_energy(fp, fp.lr_bath), f_closed, rtol=1e-13)


def test_spectrum_identities(sharp):
    fp = sharp
    k = chain.kernel_matrix(fp, fp.lr_bath)
    pi = fp.stationary_masses
    np.testing.assert_allclose(k.T @ pi, pi, atol=1e-15)
    masses = fp.right_eigenfunctions * fp.h
    for j in range(1, fp.n_modes):
        mu = fp.multipliers[j]
        np.testing.assert_allclose(k @ fp.left_eigenfunctions[j], mu * fp.left_eigenfunctions[j],
                                   atol=1e-10)
        np.testing.assert_allclose(k.T @ masses[j], mu * masses[j], atol=1e-12)
    np.testing.assert_allclose(fp.left_eigenfunctions @ masses.T, np.eye(fp.n_modes), atol=1e-10)
    assert np.all(np.diff(fp.eigenvalues) > 0) and fp.eigenvalues[0] == 0.0
    np.testing.assert_allclose(pi @ fp.left_eigenfunctions[1] ** 2, 1.0, rtol=1e-12)
    # the chain's own stationary state, by the solver used at any LR
    np.testing.assert_array_equal(fp.stationary(fp.lr_bath), pi)
    assert fp.amplitude(fp.lr_bath, 2, start="chain") == pytest.approx(0.0, abs=1e-13)
    # ... but the Boltzmann state at the bath LR is not stationary for the chain
    assert abs(fp.amplitude(fp.lr_bath, 2)) > 0.03


def test_quench_predictions_are_the_chain_iterated(sharp):
    # masses (spectral sum) + the discarded part (spectral_error, carried by the kernel)
    # is exactly evolve, for both starts.
    fp, lr0 = sharp, 0.07
    steps = np.array([0, 1, 5, 20, 100])
    for start in ("boltzmann", "chain"):
        p0 = fp.equilibrium(lr0) if start == "boltzmann" else fp.stationary(lr0)
        ev = mj.evolve(fp, p0, fp.lr_bath, fp.dt, n_steps=int(steps.max()), record_steps=steps)
        spec = fp.masses(lr0, steps * fp.dt, start=start)
        tv = 0.5 * np.abs(ev.masses - spec).sum(-1)
        np.testing.assert_allclose(fp.spectral_error(lr0, steps * fp.dt, start=start), tv,
                                   rtol=1e-6, atol=1e-14)
        assert tv[0] > 1e-4 and tv[-1] < 1e-12  # the higher modes matter early only
        np.testing.assert_allclose(ev.masses @ fp.left_eigenfunctions[1],
                                   fp.amplitude(lr0, 2, start=start) * fp.multipliers[1] ** steps,
                                   atol=1e-12)


def test_lagging_valley_reduces_to_the_stationary_one(sharp):
    # evolve(valley_moment=v) carries the valley's moment cell by cell; started at the
    # stationary variance at a constant LR it is the stationary-valley chain itself,
    # started cold (x = 0) it differs early; the river keeps that kick in its slow
    # modes (rate lambda_2 = 0.014 per step) and forgets it by step 600.
    fp, steps = sharp, np.array([0, 1, 3, 600])
    p0 = fp.equilibrium(0.07)
    v_stat = valley_variance("euler_maruyama", fp.mobility, fp.temperature, fp.curvature_values,
                             fp.dt)
    plain = mj.evolve(fp, p0, fp.lr_bath, fp.dt, n_steps=600, record_steps=steps).masses
    same = mj.evolve(fp, p0, fp.lr_bath, fp.dt, n_steps=600, record_steps=steps,
                     valley_moment=v_stat).masses
    np.testing.assert_allclose(same, plain, rtol=0, atol=1e-14)
    cold = mj.evolve(fp, p0, fp.lr_bath, fp.dt, n_steps=600, record_steps=steps,
                     valley_moment=0.0).masses
    kick = 0.5 * np.abs(cold[1] - plain[1]).sum()
    assert kick > 1e-4
    assert 0.5 * np.abs(cold[-1] - plain[-1]).sum() < 1e-2 * kick
    with pytest.raises(ValueError, match="valley_moment needs a chain operator"):
        mj.evolve(FokkerPlanck(sharpening(), 0.05, temperature_scale=4.0, n_grid=300,
                               lr_max=0.07), p0, 0.05, 1.0, n_steps=2, valley_moment=0.0)


def test_strong_mpemba_points_of_the_chain():
    # box_wells (the schedule study's landscape) at dt = 1: the chain's own strong
    # point for a plateau's state, where a_2 = 0; the Boltzmann start has none there.
    fp = FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=400, n_modes=4, lr_max=0.1, dt=1.0)
    pts = fp.strong_mpemba_points((0.0105, 0.03), n_scan=12, start="chain")
    assert len(pts) == 1
    assert fp.amplitude(pts[0], 2, start="chain") == pytest.approx(0.0, abs=1e-12)
    assert abs(fp.amplitude(pts[0], 3, start="chain")) > 0.1
    cont = FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=1000, lr_max=0.1)
    lr_cont = cont.strong_mpemba_points((0.0105, 0.03))[0]
    assert pts[0] > 1.03 * lr_cont  # the step moves it, measurably
    boltz = fp.amplitude(np.geomspace(0.0105, 0.03, 40), 2)
    assert np.all(boltz > 0.0)


# -- the continuum limit -----------------------------------------------------------------
def test_continuum_limit_is_first_order():
    # lambda_k(h) = lambda_k + C_k h + O(h^2): successive differences halve with h
    # (observed order log2(D_1 / D_2) -> 1), and the Richardson extrapolation
    # 2 lambda(h / 2) - lambda(h) meets the continuum operator's lambda_k.
    land = sharpening()
    kw = dict(time="lr_area", temperature_scale=1.0, lr_max=0.3, n_modes=4)
    cont = FokkerPlanck(land, 0.2, n_grid=4000, **kw).eigenvalues[1:]
    lam = np.array([FokkerPlanck(land, 0.2, n_grid=300, dt=h, **kw).eigenvalues[1:]
                    for h in (0.004, 0.002, 0.001)])
    d = np.diff(lam, axis=0)
    order = np.log2(d[0] / d[1])
    assert np.all(np.abs(order - 1.0) < 0.1), order
    assert np.all(d < 0)  # EM relaxes faster than the continuum at finite h
    np.testing.assert_allclose(2 * lam[2] - lam[1], cont, rtol=3e-5)


# -- bad input -------------------------------------------------------------------------
def test_bad_input():
    land = sharpening()
    kw = dict(temperature_scale=4.0, n_grid=300, lr_max=0.07)
    with pytest.raises(ValueError, match="dt must be finite and > 0"):
        FokkerPlanck(land, 0.05, dt=-1.0, **kw)
    with pytest.raises(ValueError, match="integrator must be one of"):
        FokkerPlanck(land, 0.05, dt=1.0, integrator="heun", **kw)
    with pytest.raises(ValueError, match="stability limit"):
        FokkerPlanck(land, 0.05, dt=2.5, **kw)
    with pytest.raises(ValueError, match="do not resolve the chain's step"):
        FokkerPlanck(land, 0.05, dt=1e-4, **kw)
    with pytest.raises(ValueError, match="leimkuhler_matthews"):
        FokkerPlanck(mj.preset("harmonic"), 0.1, dt=1.0, integrator="leimkuhler_matthews",
                     n_grid=400)
    fp = FokkerPlanck(land, 0.05, dt=1.0, **kw)
    with pytest.raises(ValueError, match="dt must be the chain's step"):
        mj.evolve(fp, fp.stationary_masses, 0.05, 0.5, n_steps=3)
    with pytest.raises(ValueError, match="stability limit"):
        fp.stationary(0.2)
    with pytest.raises(ValueError, match="start must be one of"):
        fp.amplitude(0.06, start="plateau")
    with pytest.raises(ValueError, match="em_bias"):
        mj.theory.em_bias(fp, 1.0, [0, 1], {"hot": 0.06}, np.linspace(-1, 1, 5))


def test_chain_start_amplitude_slope(sharp):
    # The chain start's slope (central difference, step 1e-3 lr) against a secant over
    # +-2 % and against the Boltzmann start's autodiff slope, which differs from it.
    lr = np.array([0.06, 0.065])
    slope = sharp.amplitude_slope(lr, 2, "chain")
    secant = (sharp.amplitude(1.02 * lr, 2, "chain") - sharp.amplitude(0.98 * lr, 2, "chain")) \
        / (0.04 * lr)
    np.testing.assert_allclose(slope, secant, rtol=2e-3)
    assert np.all(np.abs(slope - sharp.amplitude_slope(lr, 2)) > 0.01 * np.abs(slope))
    assert isinstance(sharp.amplitude_slope(0.06, 2, "chain"), float)
