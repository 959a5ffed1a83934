"""Theory of whole schedules: its own identities (the LR table passed through,
the bath state, the extended bins), then against particles: the loss curve of a
slow decay (Fokker–Planck river + the valley's moment recursion) and the greedy
valley anneal against every other shape and its closed form. Statistical
tolerances are standard errors from the runs (see `tests/conftest.py`).
"""

import numpy as np
import pytest

import mpemba_jax as mj
from conftest import assert_within_se, z_threshold
from mpemba_jax.schedules import evaluate_schedule
from mpemba_jax.theory import (bath_equilibrium, extended_bin_masses, masses_to_bins,
                               valley_moment_fixed_point, valley_moments)


def test_schedule_theory_reads_the_lr_table(box):
    # The river part is `evolve` on the table itself (bit for bit what the
    # schedule that built it gives); the valley part is the recursion of `valley`.
    sched = mj.wsd(0.05, 0.01, 10.0, 50.0, 100.0, "linear")
    table = evaluate_schedule(sched, np.arange(201) * 1.0)
    rec = np.array([0, 60, 130, 200])
    p0 = box.equilibrium(0.05)
    th = mj.schedule_theory(box, table, 1.0, p0, rec, ks=(2,))
    ev = mj.evolve(box, p0, sched, 1.0, n_steps=200, record_steps=rec)
    np.testing.assert_array_equal(th["masses"], ev.masses)
    np.testing.assert_array_equal(th["river_loss"], ev.masses @ box.river_values)
    np.testing.assert_array_equal(th["A_2"], ev.masses @ box.left_eigenfunctions[1])
    a = box.curvature_values  # (n_grid, d): box_wells' two directions share a(y)
    assert a.shape == (box.n_grid, box.landscape.valley_dim)
    v = valley_moments(table, a[:, 0], 1.0, rec)
    d = box.landscape.valley_dim
    np.testing.assert_allclose(th["valley_energy"], np.sum(ev.masses * 0.5 * d * a[:, 0] * v, -1),
                               rtol=1e-13)
    np.testing.assert_array_equal(th["loss"], th["river_loss"] + th["valley_energy"])
    assert th["valley_energy"][0] == 0.0  # particles start at x = 0


def test_bath_state_is_stationary_under_schedule_theory(box):
    # From pi_f with the valley at the EM fixed point, a constant bath LR changes
    # nothing; the valley energy exceeds equipartition d T / 2 by the EM factor.
    dt, n = 1.0, 50
    mu, temp, a = box.mobility, box.temperature, box.curvature_values[:, 0]
    v_star = valley_moment_fixed_point(mu, temp, a, dt)
    th = mj.schedule_theory(box, np.full(n + 1, box.lr_bath), dt, box.stationary_masses, [0, n],
                            valley_moment=v_star[:, None])
    bath = bath_equilibrium(box)
    np.testing.assert_allclose(th["masses"][-1], bath["masses"], atol=1e-12)
    np.testing.assert_allclose(th["river_loss"], bath["river_loss"], rtol=1e-10)
    d = box.landscape.valley_dim
    em_valley = np.sum(bath["masses"] * 0.5 * d * temp / (1 - mu * a * dt / 2))
    np.testing.assert_allclose(th["valley_energy"], em_valley, rtol=1e-12)
    assert bath["valley_energy"] == pytest.approx(0.5 * d * temp, rel=1e-15)
    assert em_valley > bath["valley_energy"]


def test_extended_bin_masses(box):
    m = box.masses(0.05, [0.0, 300.0])
    edges = np.linspace(-0.4, 0.3, 8)
    ext = extended_bin_masses(box, m, edges)
    assert ext.shape == (2, len(edges) + 1)
    np.testing.assert_array_equal(ext[:, 1:-1], masses_to_bins(box.edges, m, edges))
    np.testing.assert_allclose(ext.sum(-1), m.sum(-1), rtol=1e-14)
    wide = np.concatenate([[box.edges[0] - 1.0], edges, [box.edges[-1] + 1.0]])
    np.testing.assert_allclose(ext, masses_to_bins(box.edges, m, wide), atol=1e-16)


def _discrete_ou_river_loss(lr, k, y0, dt, g=1.0):
    """Exact <V> of the Euler–Maruyama river y <- (1 - lr k dt) y + sqrt(2 lr g lr dt) n."""
    m, v = y0, 0.0
    out = np.zeros(len(lr))
    for s in range(len(lr)):
        out[s] = 0.5 * k * (v + m * m)
        if s < len(lr) - 1:
            m = (1 - lr[s] * k * dt) * m
            v = (1 - lr[s] * k * dt) ** 2 * v + 2 * lr[s] * g * lr[s] * dt
    return out


@pytest.mark.statistical
def test_slow_decay_loss_curve_matches_time_dependent_theory():
    # Harmonic river k = 0.1, valley a = 10, SGD time: a slow linear decay 0.03 -> 0.01
    # over 1500 steps from particles started upstream at y = 1. The theory is
    # mj.evolve (river) + the valley's Euler–Maruyama moment recursion, which is exact
    # for constant a. The river's own step error (mu k dt <= 0.003) is checked below
    # to stay under half an SE, so the tolerance is the statistical one.
    k, a, y0, dt = 0.1, 10.0, 1.0, 1.0
    land = mj.preset("harmonic", stiffness=k, valley_curvature=a)
    sched = mj.wsd(0.03, 0.01, 50, 400, 1500, "linear")
    n_steps = 2000
    rec = np.arange(0, n_steps + 1, 200)
    batch = mj.run_batch(land, {"slow": sched}, n_particles=32768, n_steps=n_steps, dt=dt,
                              init=mj.point(y0), record_steps=rec, progress=False)
    fp = mj.FokkerPlanck(land, 0.01, n_grid=2000, lr_max=0.03)
    th = mj.schedule_theory(fp, batch.lr_steps[0], dt, fp.point_mass(y0), batch.steps)
    loss, se = batch.observables["loss"][0], batch.standard_errors["loss"][0]
    discrete = _discrete_ou_river_loss(batch.lr_steps[0], k, y0, dt)[rec]
    assert np.all(np.abs(discrete - th["river_loss"])[1:] < 0.5 * se[1:])
    # t = 0 is a point mass: the loss is exactly V(y0) with zero spread
    assert loss[0] == pytest.approx(0.5 * k * y0**2, rel=1e-6)
    assert_within_se(loss[1:], se[1:], th["loss"][1:], "MC loss curve vs theory")
    # the curve does move: the excess over the end value is many SE at the start
    assert loss[1] - loss[-1] > 20 * se[1]


@pytest.mark.slow
@pytest.mark.statistical
def test_greedy_anneal_beats_every_shape_and_matches_closed_form():
    # Discrete SGD (time="steps", dt=1) on a harmonic valley, per coordinate
    # v_{t+1} = (1 - a eta_t)^2 v_t + sigma^2 eta_t^2, sigma^2 = 2 g. v is the second
    # moment (= variance, the mean is 0) of one valley coordinate, from the valley
    # energy: v = 2 <E> / (a d). The stable phase (60 steps at a eta = 0.5, from x = 0)
    # leaves v at its stationary value v_0 = sigma^2 eta / (a (2 - a eta)) to 1e-36;
    # then K = 200 steps of eta_t = eta / (2 + a eta t), t = 0..K-1, and the record at
    # step 60 + K gives v_K = 1 / (1 / v_0 + a^2 K / sigma^2).
    a, d, eta, n0, K, g = 10.0, 4, 0.05, 60, 200, 1.0
    land = mj.preset("harmonic", valley_curvature=a, valley_dim=d)
    greedy = mj.greedy_anneal(eta, a, stable=float(n0))
    final = float(greedy(float(n0 + K - 1)))
    scheds = {"greedy": greedy, "quench": mj.quench(eta, final, at=float(n0))}
    for shape in mj.DECAY_SHAPES:
        scheds[shape] = mj.wsd(eta, final, 0.0, float(n0), float(K - 1), shape)
    batch = mj.run_batch(land, scheds, n_particles=32768, n_steps=n0 + K, dt=1.0,
                              init=mj.point(0.0), record_steps=[0, n0, n0 + K], progress=False)
    scale = 2.0 / (a * d)
    r0, r = batch.record_index(n0), batch.record_index(n0 + K)
    v = scale * batch.observables["valley_energy"][:, r]
    v_se = scale * batch.standard_errors["valley_energy"][:, r]
    sigma2 = 2 * g
    v0 = sigma2 * eta / (a * (2 - a * eta))
    closed = 1.0 / (1.0 / v0 + a * a * K / sigma2)
    gi = batch.index("greedy")
    assert_within_se(scale * batch.observables["valley_energy"][gi, r0],
                     scale * batch.standard_errors["valley_energy"][gi, r0], v0, "v_0")
    assert_within_se(v[gi], v_se[gi], closed, "greedy v_K vs 1/(1/v0 + a^2 K/sigma^2)")
    # the recursion checked by hand: iterating it on the recorded LRs gives the closed form
    lr = batch.lr_steps[gi]
    w = v0
    for t in range(n0, n0 + K):
        w = (1 - a * lr[t]) ** 2 * w + sigma2 * lr[t] ** 2
    assert w == pytest.approx(closed, rel=1e-12)
    # every other shape ends higher, significantly, by the paired difference (shared noise)
    others = [n for n in scheds if n != "greedy"]
    z = z_threshold(len(others))
    for n in others:
        diff, se = mj.paired_difference(batch, "valley_energy", batch.index(n), gi, r)
        lr_n = batch.lr_steps[batch.index(n)]
        w = v0
        for t in range(n0, n0 + K):
            w = (1 - a * lr_n[t]) ** 2 * w + sigma2 * lr_n[t] ** 2
        # the exact gap is far beyond the noise, so this cannot fail by bad luck ...
        assert (w - closed) / (scale * se) > 2 * z, n
        # ... and the measured gap is significant and matches the exact one
        assert scale * diff > z * scale * se, (n, scale * diff, scale * se)
        assert abs(scale * diff - (w - closed)) < z * scale * se, n
