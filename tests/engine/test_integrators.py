"""The integrators (`integrator=`) and the hot path, against exact discrete results.

- Harmonic river and valley: each scheme's stationary variance is known in
  closed form at any step (Euler–Maruyama `T / k / (1 - mu k h / 2)`; the exact
  valley step `T / a`; Leimkuhler–Matthews `T / k` exactly), for every noise
  kind (the variance recursion sees only second moments).
- A double well against the Fokker–Planck stationary density: the weak error
  of `var(y)` at two steps gives the measured order, with its standard error.
- Leimkuhler–Matthews in a strongly anharmonic regime against the exact
  stationary law of its own discrete chain (computed here by a transfer
  operator): the implementation, not just the order.
- Walls, call splitting and chunking, and recompilation.

Tolerances are standard errors from the runs (family-wise 0.27 %, `conftest`).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import mpemba_jax as mj
from conftest import assert_within_se, z_threshold

from mpemba_jax.engine import kernels

INTEGRATORS = ("euler_maruyama", "valley_exact", "leimkuhler_matthews")
NOISES = ("gaussian", "rademacher", "three_point")


# -- harmonic: exact discrete stationary variances ------------------------------
@pytest.mark.statistical
@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_harmonic_stationary_variance_of_each_scheme(integrator, noise):
    # time="steps": mu = lr. mu k dt = 0.5 (river), mu a dt = 0.8 (valley).
    lr, k, a, d, dt = 0.05, 1.0, 1.6, 2, 10.0
    land = mj.preset("harmonic", stiffness=k, valley_curvature=a, valley_dim=d)
    res = mj.simulate(land, mj.constant(lr), n_particles=100_000, n_steps=40, dt=dt,
                      init=mj.equilibrium(lr), record_steps=[40], seed=7, progress=False,
                      integrator=integrator, noise=noise)
    T = lr
    em_river = T / k / (1 - lr * k * dt / 2)           # 4/3 T: EM's bias, 33 %
    em_valley_energy = d * 0.5 * a * T / a / (1 - lr * a * dt / 2)   # 5/3 of d T / 2
    expected = {
        "euler_maruyama": (em_river, em_valley_energy),
        "valley_exact": (em_river, d * T / 2),
        "leimkuhler_matthews": (T / k, d * T / 2),
    }[integrator]
    est = [res.observables["y_var"][-1], res.observables["valley_energy"][-1]]
    se = [res.standard_errors["y_var"][-1], res.standard_errors["valley_energy"][-1]]
    assert_within_se(est, se, expected, f"{integrator}/{noise}: var(y), valley energy")
    assert res.metadata["integrator"] == integrator and res.metadata["noise"] == noise


@pytest.mark.statistical
def test_valley_exact_is_stable_at_any_valley_stiffness():
    # mu a dt = 5: beyond the explicit valley step's limit of 2.
    lr, k, a, dt = 0.05, 1.0, 50.0, 2.0
    land = mj.preset("harmonic", stiffness=k, valley_curvature=a)
    kw = dict(n_particles=100_000, n_steps=40, dt=dt, init=mj.equilibrium(lr),
              record_steps=[40], seed=8, progress=False)
    for explicit in ("euler_maruyama", "leimkuhler_matthews"):
        with pytest.raises(ValueError, match="is unstable: mu \\* a \\* dt = 5 >= 2"):
            mj.simulate(land, mj.constant(lr), integrator=explicit, **kw)
    res = mj.simulate(land, mj.constant(lr), integrator="valley_exact", **kw)
    T = lr
    assert_within_se([res.observables["valley_energy"][-1], res.observables["y_var"][-1]],
                     [res.standard_errors["valley_energy"][-1], res.standard_errors["y_var"][-1]],
                     [T / 2, T / k / (1 - lr * k * dt / 2)], "valley energy, var(y)")


# -- a double well against the Fokker–Planck stationary density -----------------
# Quartic wells, V'' = 3.2 at the wells, valley sharpening a = exp(y / 2)
# (mu a h <= 0.2 where particles go); T = barrier; time = lr_area (mu = 1).
# Runs start in equilibrium and last 12 time units = 3.6 / lambda_2.
DW = dict(barrier=0.4, width=1.0, a0=1.0, growth=0.5)
DW_LR, DW_TIME = 0.4, 12.0


@functools.lru_cache(maxsize=1)
def _double_well_exact():
    land = mj.preset("double_well", **DW)
    fp = mj.FokkerPlanck(land, DW_LR, time="lr_area")
    c, m = fp.centres, fp.stationary_masses
    mean = np.sum(m * c)
    return land, np.sum(m * (c - mean) ** 2)


@functools.lru_cache(maxsize=None)
def _double_well_var_error(integrator, h, noise, n=1_000_000):
    land, var = _double_well_exact()
    steps = int(round(DW_TIME / h))
    res = mj.simulate(land, mj.constant(DW_LR), n_particles=n, n_steps=steps, dt=h,
                      time="lr_area", init=mj.equilibrium(DW_LR), record_steps=[steps], seed=21,
                      progress=False, integrator=integrator, noise=noise)
    return res.observables["y_var"][-1] - var, res.standard_errors["y_var"][-1]


@pytest.mark.slow
@pytest.mark.statistical
@pytest.mark.parametrize("integrator, noise", [("euler_maruyama", "gaussian"),
                                                ("valley_exact", "three_point")])
def test_double_well_weak_order_one(integrator, noise):
    (e1, s1), (e2, s2) = (_double_well_var_error(integrator, h, noise) for h in (0.08, 0.04))
    z = z_threshold(1)
    # both errors stand well clear of the noise, so the order is measured
    assert abs(e1) > 10 * s1 and abs(e2) > 10 * s2, (e1, s1, e2, s2)
    order = np.log2(e1 / e2)
    order_se = np.hypot(s1 / e1, s2 / e2) / np.log(2)
    # first order; 0.15 allows the O(h) correction to a two-point slope at h = 0.08
    assert abs(order - 1.0) < 0.15 + z * order_se, (order, order_se)
    assert order_se < 0.15


@pytest.mark.slow
@pytest.mark.statistical
def test_double_well_leimkuhler_matthews_error_is_below_first_order():
    # Where Euler–Maruyama's error is ~18 SE, LM's is within the noise; at four
    # times that step LM is still more accurate than Euler–Maruyama.
    z = z_threshold(2)
    e_lm, s_lm = _double_well_var_error("leimkuhler_matthews", 0.04, "gaussian")
    assert abs(e_lm) < z * s_lm, (e_lm, s_lm)
    e_em, s_em = _double_well_var_error("euler_maruyama", 0.04, "gaussian")
    assert abs(e_em) > 10 * s_em, (e_em, s_em)
    e_big, s_big = _double_well_var_error("leimkuhler_matthews", 0.16, "gaussian")
    assert abs(e_big) + z * s_big < abs(e_em) - z * s_em, (e_big, s_big, e_em, s_em)


# -- Leimkuhler–Matthews against its own discrete stationary law -----------------
def _lm_chain_stationary(force, T, h, lo, hi, n=700, n_xi=301):
    """Stationary y-law (cell masses) of the 1D Leimkuhler–Matthews chain.

    With `z_n = y_n - s xi_n / 2` (`s = sqrt(2 T h)`) the chain is Markov in z:
    `z' = z + h F(z + s xi / 2) + s xi`, and `y = z + s xi / 2` with xi
    independent of z. Transition probabilities by Gauss quadrature over xi,
    destinations spread linearly onto the grid (second order in the cell).
    """
    edges = np.linspace(lo, hi, n + 1)
    c, dx = 0.5 * (edges[1:] + edges[:-1]), edges[1] - edges[0]
    s = np.sqrt(2 * T * h)
    xi, w = np.polynomial.hermite_e.hermegauss(n_xi)
    w = w / w.sum()
    dest = c[:, None] + h * force(c[:, None] + s * xi / 2) + s * xi
    pos = np.clip((dest - c[0]) / dx, 0, n - 1 - 1e-9)
    i0 = np.floor(pos).astype(int)
    f = pos - i0
    K = np.zeros((n, n))
    rows = np.repeat(np.arange(n), n_xi)
    np.add.at(K, (rows, i0.ravel()), (w * (1 - f)).ravel())
    np.add.at(K, (rows, i0.ravel() + 1), (w * f).ravel())
    p = np.full(n, 1.0 / n)
    for _ in range(2000):  # power iteration; the chain forgets in ~20 steps here
        p_next = p @ K
        if np.abs(p_next - p).sum() < 1e-13:
            break
        p = p_next
    p = p_next / p_next.sum()
    spread = stats.norm.pdf((c[None, :] - c[:, None]) / (s / 2))
    return c, p @ (spread / spread.sum(1, keepdims=True))


@pytest.mark.statistical
def test_leimkuhler_matthews_matches_its_discrete_stationary_law():
    # A soft double well (bounded V'', so h = 0.6 is stable) with a constant
    # valley: the river is a 1D LM chain whose stationary law is computed
    # exactly; at h = 0.6 it differs from the Boltzmann law by many SE.
    b, tilt, T, h = 0.4, 0.05, 1.0, 0.6
    land = mj.ValleyRiver(river=lambda y: b * (y**2 - 1) ** 2 / (1 + y**2) - tilt * y,
                          curvature=lambda y: 1.0 + 0.0 * y, name="soft_double_well")
    def force(y):  # -V'(y), written out
        return -(2 * b * y * (y**2 - 1) * (y**2 + 3) / (1 + y**2) ** 2 - tilt)

    probe = np.linspace(-3, 3, 13)
    with jax.enable_x64(True):
        np.testing.assert_allclose(force(probe), -np.asarray(land.river_slope(probe)), atol=1e-12)
    c, p_chain = _lm_chain_stationary(force, T, h, -7.0, 7.0)
    fp = mj.FokkerPlanck(land, T, time="lr_area")
    def moments(c, p):
        m = np.sum(p * c)
        return np.array([m, np.sum(p * (c - m) ** 2)])
    chain, exact = moments(c, p_chain), moments(fp.centres, fp.stationary_masses)
    steps = 25  # 15 time units = 6.8 / lambda_2
    res = mj.simulate(land, mj.constant(T), n_particles=4_000_000, n_steps=steps, dt=h,
                      time="lr_area", init=mj.equilibrium(T), record_steps=[steps], seed=3,
                      progress=False, integrator="leimkuhler_matthews")
    est = np.array([res.observables["y_mean"][-1], res.observables["y_var"][-1]])
    se = np.array([res.standard_errors["y_mean"][-1], res.standard_errors["y_var"][-1]])
    assert_within_se(est, se, chain, "LM mean, var(y) vs its discrete chain")
    assert abs(chain[1] - exact[1]) > 8 * se[1], (chain, exact, se)


def _lm_valley_variance(sigma, c, lag=True, start_with_noise=False):
    """Exact variance of `x_{s+1} = c_s x_s + (sigma_s n_s + sigma' n_{s+1}) / 2` from
    `x_0 ~ N(0, T_0 / a)`, with `sigma' = sigma_s` (the engine: the carried draw `n_{s+1}`
    enters step `s` at step `s`'s amplitude, `lag=True`) or `sigma_{s+1}` (every draw at
    its own step's amplitude). `q_s = E[x_s n_s]`: 0 for a start drawn without its
    noise, the stationary `sigma_0 / 2` otherwise."""
    v = [sigma[0] ** 2 / (2 * (1 - c[0]))]     # T_0 / a = sigma_0^2 / (2 mu a h)
    q = sigma[0] / 2 if start_with_noise else 0.0
    for s in range(len(c)):
        carried = sigma[s] if lag else sigma[s + 1]
        v.append(c[s] ** 2 * v[-1] + sigma[s] ** 2 / 4 + carried ** 2 / 4 + c[s] * sigma[s] * q)
        q = carried / 2
    return np.array(v)


@pytest.mark.statistical
def test_leimkuhler_matthews_start_transient_and_half_step_lag():
    # Documented in engine/integrators.py: a start drawn without its carried noise
    # has an O(mu a h) transient, and after an LR change the carried draw enters at
    # the previous step's amplitude (a half-step lag in T). Harmonic valley, SGD
    # (time="steps", dt = 1), eta a = 0.5, then a drop to eta = 0.02 at step 20: the
    # particles follow the exact recursion of that scheme, and each effect is many SE.
    a, d, n = 10.0, 4, 40
    lrs = np.where(np.arange(n + 1) < 20, 0.05, 0.02)
    land = mj.preset("harmonic", valley_curvature=a, valley_dim=d)
    res = mj.simulate(land, lrs, n_particles=100_000, n_steps=n, dt=1.0,
                      init=mj.equilibrium(0.05), record_every=1, seed=11, progress=False,
                      integrator="leimkuhler_matthews")
    sigma, c = np.sqrt(2.0) * res.lr_steps, 1.0 - a * res.lr_steps[:-1]  # sqrt(2 mu T h), T = eta
    energy = lambda v: 0.5 * a * d * v  # noqa: E731
    est, se = res.observables["valley_energy"], res.standard_errors["valley_energy"]
    assert_within_se(est, se, energy(_lm_valley_variance(sigma, c)), "LM valley energy")
    no_transient = energy(_lm_valley_variance(sigma, c, start_with_noise=True))
    no_lag = energy(_lm_valley_variance(sigma, c, lag=False))
    assert (no_transient[1] - est[1]) / se[1] > 20        # 25 % low after the first step
    assert (no_transient[19] - est[19]) / se[19] < 3      # gone by the drop (decays as c^2s)
    assert (est[20] - no_lag[20]) / se[20] > 20           # the hot draw carried across the drop


# -- walls, splitting, chunking ---------------------------------------------------
@pytest.mark.statistical
@pytest.mark.parametrize("integrator", INTEGRATORS)
def test_free_diffusion_between_walls_stays_uniform(integrator):
    # Mirror reflection is exact for free diffusion; a Leimkuhler–Matthews river
    # averaging noise across a reflection would pile up ~40 % extra mass in the
    # edge bins.
    land = mj.preset("flat", length=1.0, valley_curvature=1.0)
    n, bins = 200_000, 20
    res = mj.simulate(land, mj.constant(0.05), n_particles=n, n_steps=50, dt=0.2,
                      time="lr_area", init=mj.equilibrium(0.05), record_steps=[50], bins=bins,
                      bin_range=(-0.5, 0.5), seed=2, progress=False, integrator=integrator)
    p = res.counts[-1] / n
    assert_within_se(p, np.sqrt((1 / bins) * (1 - 1 / bins) / n), 1 / bins, "uniform bins")
    assert res.underflow[-1] == res.overflow[-1] == 0


@pytest.mark.parametrize("integrator", ["leimkuhler_matthews", "valley_exact"])
def test_call_splitting_and_chunking_leave_results_identical(integrator):
    land = mj.preset("double_well")
    kw = dict(n_particles=5000, n_steps=120, dt=1.0, seed=9, init=mj.point(-1.0),
              bins=30, progress=False, integrator=integrator, noise="three_point")
    whole = mj.simulate(land, mj.constant(0.02), record_steps=[120], **kw)
    split = mj.simulate(land, mj.constant(0.02), record_every=7, chunk_size=2048, **kw)
    assert np.array_equal(whole.counts[-1], split.counts[-1])
    assert np.array_equal(whole.sums[-1], split.sums[-1])


# -- the hot path compiles once ------------------------------------------------------
def test_new_seed_or_schedule_numbers_do_not_recompile():
    # The engine's compiled kernels; evaluating a new kind of schedule on the
    # host may compile a few tiny eager ops once, which is not the hot path.
    kernels_names = {"jit(advance)", "jit(first_nonfinite_step)", "jit(record)",
                     "jit(init_state)"}
    compiles = []

    def listener(name, duration, fun_name="", **kwargs):
        if name == "/jax/core/compile/backend_compile_duration" and fun_name in kernels_names:
            compiles.append(fun_name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    land = mj.preset("double_well", tilt=0.07)  # a landscape no other test compiles
    kw = dict(n_particles=3000, n_steps=60, dt=1.0, record_every=20, progress=False,
              integrator="leimkuhler_matthews", noise="rademacher", bins=25,
              bin_range=(-2.0, 2.0), init=mj.equilibrium(0.02))
    mj.simulate(land, mj.constant(0.02), seed=1, **kw)
    assert {"jit(advance)", "jit(record)", "jit(init_state)"} <= set(compiles), compiles
    n_cached = kernels.step_kernels.cache_info().currsize
    advance = kernels.step_kernels(land, mj.Dynamics(), "leimkuhler_matthews", 1024,
                                   jnp.float32, "rademacher")[0]
    compiles.clear()
    mj.simulate(land, mj.wsd(0.03, 0.005, 10, 30, 20), seed=2, **kw)
    mj.simulate(land, mj.constant(0.01), seed=3, **dict(kw, init=mj.equilibrium(0.05)))
    assert compiles == [], f"recompiled {compiles} for a new seed/schedule"
    assert kernels.step_kernels.cache_info().currsize == n_cached
    assert advance._cache_size() == 1
