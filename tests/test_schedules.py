"""Schedule builders against their closed forms; optax and plain callables in `simulate`.

Closed forms are written out here independently of `mpemba_jax.schedules`
and compared in float64 at many times, fractional ones included (dt != 1).
"""

from __future__ import annotations

import decimal

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mpemba_jax as mj
from conftest import assert_within_se

PEAK, FINAL, WARMUP, STABLE, DECAY, INITIAL = 0.08, 0.005, 7.5, 20.0, 40.0, 0.001
T = np.concatenate([np.linspace(0.0, 100.0, 1601), [WARMUP, WARMUP + STABLE,
                                                   WARMUP + STABLE + DECAY, 1e4]])


def values(schedule, t):
    """`schedule` at times `t` in float64, vectorised and one Python float at a time."""
    with jax.enable_x64(True):
        vec = np.asarray(schedule(jnp.asarray(t, jnp.float64)), np.float64)
        vec = np.broadcast_to(vec, np.shape(t))  # optax's constant ignores the shape of t
        one = np.array([float(schedule(float(ti))) for ti in t[::300]])
    np.testing.assert_allclose(one, vec[::300], rtol=1e-14, atol=0)
    return vec


def wsd_closed_form(t, decay_of_s):
    """Warm-up from INITIAL, stable at PEAK, then `decay_of_s(s)` for s in [0, 1], then FINAL."""
    t = np.asarray(t, np.float64)
    s = np.clip((t - WARMUP - STABLE) / DECAY, 0.0, 1.0)
    return np.where(t < WARMUP, INITIAL + (PEAK - INITIAL) * t / WARMUP,
                    np.where(t < WARMUP + STABLE, PEAK, decay_of_s(s)))


DECAYS = {
    "linear": lambda s: PEAK + (FINAL - PEAK) * s,
    "cosine": lambda s: FINAL + (PEAK - FINAL) * 0.5 * (1 + np.cos(np.pi * s)),
    "exponential": lambda s: PEAK * (FINAL / PEAK) ** s,
    "inverse_time": lambda s: PEAK / (1 + (PEAK / FINAL - 1) * s),
    "inverse_sqrt": lambda s: PEAK / np.sqrt(1 + ((PEAK / FINAL) ** 2 - 1) * s),
}


def test_constant():
    np.testing.assert_array_equal(values(mj.constant(0.03), T), 0.03)
    np.testing.assert_array_equal(values(mj.constant(0.0), T), 0.0)  # frozen run is allowed


@pytest.mark.parametrize("at", [0.0, 12.5, 50.0])
def test_quench(at):
    got = values(mj.quench(0.2, 0.01, at=at), T)
    np.testing.assert_array_equal(got, np.where(T < at, 0.2, 0.01))


def test_decay_shapes_are_listed():
    assert set(mj.DECAY_SHAPES) == set(DECAYS)


@pytest.mark.parametrize("shape", sorted(DECAYS))
def test_wsd_closed_form(shape):
    s = mj.wsd(PEAK, FINAL, WARMUP, STABLE, DECAY, shape=shape, initial=INITIAL)
    got = values(s, T)
    np.testing.assert_allclose(got, wsd_closed_form(T, DECAYS[shape]), rtol=1e-12, atol=1e-16)
    # Continuous at the phase boundaries and at the two decay ends.
    assert got[T == WARMUP + STABLE][0] == pytest.approx(PEAK, rel=1e-12)
    assert got[T == 1e4][0] == pytest.approx(FINAL, rel=1e-12)
    assert s.description == dict(kind="wsd", peak=PEAK, final=FINAL, warmup=WARMUP,
                                 stable=STABLE, decay=DECAY, initial=INITIAL, shape=shape)


def test_wsd_decays_solve_their_odes():
    # d eta/dt = -c eta^n during the decay: n = 1 (exponential) makes ln eta linear
    # in t, n = 2 (inverse_time) 1/eta, n = 3 (inverse_sqrt) 1/eta^2.
    t = np.linspace(WARMUP + STABLE, WARMUP + STABLE + DECAY, 200)
    for shape, transform in (("exponential", np.log), ("inverse_time", lambda e: 1 / e),
                             ("inverse_sqrt", lambda e: e**-2.0)):
        eta = values(mj.wsd(PEAK, FINAL, WARMUP, STABLE, DECAY, shape=shape), t)
        second = np.diff(transform(eta), 2)
        scale = np.abs(np.diff(transform(eta))).max()
        assert np.abs(second).max() < 1e-9 * scale, shape


def test_wsd_callable_decay_shape():
    def quadratic(s):
        return (1 - s) ** 2

    s = mj.wsd(PEAK, FINAL, WARMUP, STABLE, DECAY, shape=quadratic, initial=INITIAL)
    expected = wsd_closed_form(T, lambda s: FINAL + (PEAK - FINAL) * (1 - s) ** 2)
    np.testing.assert_allclose(values(s, T), expected, rtol=1e-12, atol=1e-16)
    assert s.description["shape"] == "quadratic"


def test_wsd_without_warmup_or_stable_phase():
    s = mj.wsd(PEAK, FINAL, warmup=0.0, stable=0.0, decay=DECAY, shape="linear")
    expected = PEAK + (FINAL - PEAK) * np.clip(T / DECAY, 0, 1)
    np.testing.assert_allclose(values(s, T), expected, rtol=1e-12)


@pytest.mark.parametrize("n", [0.5, 1.0, 1.0 + 1e-9, 1.5, 2.0, 3.0])
def test_power_law_decay_closed_form(n):
    eta_0, c = 0.1, 0.3
    got = values(mj.power_law_decay(eta_0, c, n), T)
    # eta = (eta_0^(1-n) + (n-1) c t)^(1/(1-n)) in 60-digit decimals: in float64 it
    # cancels catastrophically as n -> 1 (and near the extinction time of n < 1).
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        D = decimal.Decimal
        if n == 1.0:
            expected = [float(D(eta_0) * (-D(c) * D(t)).exp()) for t in T]
        else:
            expected = []
            for t in T:
                base = D(eta_0) ** (1 - D(n)) + (D(n) - 1) * D(c) * D(t)
                expected.append(float(base ** (1 / (1 - D(n)))) if base > 0 else 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
    if n == 0.5:  # eta = 0 exactly from t = eta_0^(1-n) / ((1-n) c) on
        t_end = eta_0**0.5 / (0.5 * c)
        assert np.all(got[T > t_end * (1 + 1e-9)] == 0.0) and np.all(got[T < t_end] > 0)


def test_power_law_decay_n2_is_one_over_t():
    eta = values(mj.power_law_decay(1.0, 0.5, 2.0), T)
    np.testing.assert_allclose(eta, 1.0 / (1.0 + 0.5 * T), rtol=1e-13)


# ---------------------------------------------------------------------------
# Schedules in simulate: recorded LR is the schedule at the record times, and
# the dynamics use step s's LR = schedule(s * dt).
# ---------------------------------------------------------------------------
LAND = mj.preset("harmonic", stiffness=1.0, valley_curvature=10.0)
RUN = dict(n_particles=4096, n_steps=120, seed=3, block_size=512, bins=60,
           bin_range=(-1.5, 1.5), progress=False)


def _simulate(schedule, dt=1.0, **kw):
    return mj.simulate(LAND, schedule, dt=dt, **{**RUN, **kw})


@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_optax_schedule_accepted_and_recorded(dt):
    sched = optax.warmup_cosine_decay_schedule(
        init_value=0.001, peak_value=0.05, warmup_steps=20, decay_steps=100, end_value=0.005)
    res = _simulate(sched, dt=dt, record_every=7, init=mj.point(0.3))
    assert res.steps[-1] == 120 and np.all(np.diff(res.steps) > 0)
    np.testing.assert_array_equal(res.times, res.steps * dt)
    with jax.enable_x64(True):
        expected = np.array([float(sched(jnp.float64(t))) for t in res.times])
    np.testing.assert_allclose(res.lr, expected, rtol=1e-12, atol=0)
    assert res.metadata["schedule"]["kind"] == "callable"
    counted = res.counts.sum(1) + res.underflow + res.overflow + res.nonfinite
    np.testing.assert_array_equal(counted, RUN["n_particles"])


def test_plain_python_schedule_accepted():
    def step_down(t):  # not traceable: Python control flow on t
        return 0.02 if t < 40 else 0.01

    res = _simulate(step_down, record_every=10, init=mj.point(0.3))
    np.testing.assert_array_equal(res.lr, np.where(res.times < 40, 0.02, 0.01))
    assert res.metadata["schedule"] == {"kind": "callable", "name": "test_plain_python_schedule_accepted.<locals>.step_down"}


def test_step_s_uses_schedule_at_s_dt():
    # LR 0 for steps 0..49 freezes every particle exactly (no drift, no noise);
    # step 50 runs at 0.01, so the record after 50 steps is still a point mass
    # and the one after 51 steps has the one-step spread var = 2 mu T dt (+ O(mu k dt)).
    sched = optax.join_schedules([optax.constant_schedule(0.0), optax.constant_schedule(0.01)], [50])
    res = _simulate(sched, record_steps=[0, 49, 50, 51], init=mj.point(0.32))
    np.testing.assert_array_equal(res.lr, [0.0, 0.0, 0.01, 0.01])
    frozen_bin = np.searchsorted(res.bin_edges, 0.32, side="right") - 1
    for r in range(3):
        assert res.counts[r, frozen_bin] == RUN["n_particles"]
    assert res.counts[3].max() < RUN["n_particles"]
    # One step from a point: y_1 = y_0 (1 - mu k dt) + sqrt(2 mu T dt) n.
    obs, se = res.observables, res.standard_errors
    assert_within_se([obs["y_mean"][3], obs["y_var"][3]], [se["y_mean"][3], se["y_var"][3]],
                     [0.32 * (1 - 0.01 * 1.0), 2 * 0.01 * 0.01 * 1.0], "one step at LR 0.01")


def test_window_decay_stays_inside_and_lr_sum_matching():
    land = mj.preset("box_wells")
    w = mj.decay_window(land, 0.05, 0.01, n_grid=800)
    s = mj.window_decay(w, warmup=10, stable=20)
    D = s.description["decay"]
    t = 30 + np.linspace(0.0, D, 200)[1:-1]
    assert np.all(w.check(s, t) == 0)
    assert float(s(30.0 + D + 1)) == pytest.approx(0.01)
    assert float(s(29.0)) == pytest.approx(0.05)
    build = lambda p: mj.wsd(p, 0.01, 10, 100, 200, "cosine")  # noqa: E731
    target = mj.lr_sum(build(0.03), 500, 1.0)
    p, sched = mj.match_lr_sum(build, target, 500, 1.0, (0.011, 0.2))
    assert p == pytest.approx(0.03, rel=1e-9)
    with pytest.raises(ValueError, match="no parameter"):
        mj.match_lr_sum(build, 1e3, 500, 1.0, (0.011, 0.2))
