"""The discrete chain's theory against the particles of the engine, where the
continuum theory fails: a valley that sharpens 4.5-fold along the river, run
at `eta * a` up to 0.93 (SGD: `time="steps"`, `dt = 1`) and the same chain in
`time="lr_area"` at `dt = 0.04`.

Statistics: histograms by `mj.validate`'s Pearson chi-square per record,
Bonferroni over the records at level 1 %; `A_2(t) = mean u_2(y)` against
`a_2 e^{-lambda_2 t}` within the Bonferroni threshold of `tests/conftest.py`
(3 SE for one comparison). Power: the same data reject the continuum theory.
Seeds are fixed and were not chosen: each is the first tried.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
from conftest import assert_within_se
from mpemba_jax.theory import FokkerPlanck, valley_variance
from mpemba_jax.validation import NOT_VERIFIED, VERIFIED, pearson_chi2

HISTOGRAMS = "histograms match the predicted bin probabilities"
N = 100_000


def sharpening():
    """A double-well river in a box whose valley sharpens downstream, a from 3.5 to 18.5."""
    return mj.ValleyRiver(river=lambda y: 0.1 * (y**2 - 1) ** 2,
                          curvature=lambda y: 8.0 * jnp.exp(0.7 * y), valley_dim=1,
                          domain=(-1.2, 1.2), name="sharpening")


def _quench(time, lr_bath, lr_hot, dt, g, n_steps, seed):
    land = sharpening()
    kw = dict(time=time, temperature_scale=g, lr_max=lr_hot)
    chain = FokkerPlanck(land, lr_bath, n_grid=300, dt=dt, **kw)
    cont = FokkerPlanck(land, lr_bath, n_grid=2000, **kw)
    mu_a = (lr_bath if time == "steps" else 1.0) * dt * chain.curvature_values.max()
    obs = {"u2": lambda x, y: chain.left_eigenfunction(2)(y),
           "u2_continuum": lambda x, y: cont.left_eigenfunction(2)(y)}
    res = mj.simulate(land, mj.constant(lr_bath), n_particles=N, n_steps=n_steps, dt=dt,
                      init=mj.equilibrium(lr_hot), record_every=n_steps // 15, bins=40, time=time,
                      temperature_scale=g, observables=obs, seed=seed, progress=False)
    return chain, cont, res, mu_a


def _assert_chain_passes_continuum_fails(chain, cont, res):
    t = res.times
    v = mj.validate(res, chain, modes=(2,))
    assert v.check(HISTOGRAMS).outcome == VERIFIED, v.check(HISTOGRAMS).detail
    assert_within_se(res.observables["u2"], res.standard_errors["u2"],
                     chain.amplitude(res.metadata["init"]["lr"], 2) * np.exp(-chain.eigenvalues[1] * t),
                     "A_2(t), chain")
    # Power: the continuum theory is rejected on the same records.
    v0 = mj.validate(res, cont, modes=())
    assert v0.check(HISTOGRAMS).outcome == NOT_VERIFIED
    assert v0.check(HISTOGRAMS).p_value < 1e-10
    z0 = (res.observables["u2_continuum"]
          - cont.amplitude(res.metadata["init"]["lr"], 2) * np.exp(-cont.eigenvalues[1] * t)) \
        / res.standard_errors["u2_continuum"]
    assert np.max(np.abs(z0)) > 10


@pytest.mark.statistical
def test_sgd_chain_at_large_step_steps_convention():
    # SGD: time="steps", dt = 1, eta = 0.05, T = 4 eta: eta a reaches 0.93.
    chain, cont, res, mu_a = _quench("steps", 0.05, 0.07, 1.0, 4.0, 300, seed=1)
    assert mu_a >= 0.8
    _assert_chain_passes_continuum_fails(chain, cont, res)


@pytest.mark.statistical
def test_chain_at_large_step_lr_area_convention():
    # The same landscape in time="lr_area" (mu = 1) at dt = 0.04: mu a dt up to 0.74.
    chain, cont, res, mu_a = _quench("lr_area", 0.2, 0.28, 0.04, 1.0, 300, seed=2)
    assert mu_a >= 0.7
    _assert_chain_passes_continuum_fails(chain, cont, res)


@pytest.mark.statistical
def test_chain_start_amplitude_and_a_schedule_against_particles():
    # Particles drawn from the chain's own stationary state at the plateau LR (the
    # state a long plateau reaches; the valley at its EM variance), then a cosine
    # decay to the bath: A_2 at the start is a_2(start="chain"), far from the
    # Boltzmann start's a_2, and evolve carries the chain through the decay.
    land = sharpening()
    lr_bath, lr_hot, g = 0.05, 0.07, 4.0
    fp = FokkerPlanck(land, lr_bath, temperature_scale=g, n_grid=300, lr_max=lr_hot, dt=1.0)
    p0 = fp.stationary(lr_hot)
    rng = np.random.default_rng(3)
    cell = rng.choice(fp.n_grid, size=N, p=p0)
    y = fp.edges[cell] + fp.h * rng.random(N)
    v = valley_variance("euler_maruyama", lr_hot, g * lr_hot, fp.curvature_values[cell, 0], 1.0)
    x = (np.sqrt(v) * rng.standard_normal(N))[:, None]
    n_steps = 240
    sched = mj.wsd(lr_hot, lr_bath, 0.0, 40.0, 100.0, "cosine")
    res = mj.simulate(land, sched, n_particles=N, n_steps=n_steps, dt=1.0, init=(x, y),
                      record_every=20, bins=40, temperature_scale=g, seed=4, progress=False,
                      observables={"u2": lambda x, y: fp.left_eigenfunction(2)(y)})
    a2_chain, a2_boltz = fp.amplitude(lr_hot, 2, start="chain"), fp.amplitude(lr_hot, 2)
    se0 = res.standard_errors["u2"][0]
    assert abs(a2_chain - a2_boltz) > 20 * se0
    th = mj.schedule_theory(fp, res.lr_steps, 1.0, p0, res.steps, ks=(2,), edges=res.bin_edges,
                            valley_moment=v_grid(fp, lr_hot, g))
    assert th["A_2"][0] == pytest.approx(a2_chain, abs=1e-12)
    assert_within_se(res.observables["u2"], res.standard_errors["u2"], th["A_2"], "A_2(t)")
    assert_within_se(res.observables["valley_energy"], res.standard_errors["valley_energy"],
                     th["valley_energy"], "valley energy")
    # histograms at every record, chi-square against the chain's evolve (Bonferroni, 1 %)
    counts = np.concatenate([res.underflow[:, None], res.counts, res.overflow[:, None]], 1)
    probs = th["bin_masses"]
    pv = np.array([pearson_chi2(c, p, 5.0)[2] for c, p in zip(counts, probs)])
    assert pv.min() * len(pv) > 0.01, pv


def v_grid(fp, lr, g):
    """The valley's EM stationary variance per river cell and direction at `lr`, `(n_grid, d)`."""
    return valley_variance("euler_maruyama", lr, g * lr, fp.curvature_values, fp.dt)


@pytest.mark.statistical
def test_engine_starts_from_the_chain_state_and_validate_uses_it():
    # mj.chain_state(fp, lr): river cells drawn from the chain's stationary masses, the
    # valley at its EM variance. Held at lr it stays put (histograms and A_2 = 0 at every
    # record); quenched to the bath, validate predicts from fp.stationary(lr) and
    # a_2(start="chain"), far from the Boltzmann start's a_2.
    land, g = sharpening(), 4.0
    lr_bath, lr_hot = 0.05, 0.07
    kw = dict(temperature_scale=g, n_grid=300, lr_max=lr_hot, dt=1.0)
    hot, fp = FokkerPlanck(land, lr_hot, **kw), FokkerPlanck(land, lr_bath, **kw)
    common = dict(n_particles=N, n_steps=200, dt=1.0, record_every=20, bins=40,
                  temperature_scale=g, progress=False)
    held = mj.simulate(land, mj.constant(lr_hot), init=mj.chain_state(hot, lr_hot), seed=5,
                       observables={"u2": lambda x, y: hot.left_eigenfunction(2)(y)}, **common)
    assert held.metadata["init"]["kind"] == "chain"
    v = mj.validate(held, hot, modes=(2,))
    assert v.check(HISTOGRAMS).outcome == VERIFIED, v.check(HISTOGRAMS).detail
    assert_within_se(held.observables["u2"], held.standard_errors["u2"], 0.0, "A_2, held")
    vv = valley_variance("euler_maruyama", lr_hot, g * lr_hot, hot.curvature_values, 1.0)
    energy = hot.stationary_masses @ (0.5 * hot.curvature_values * vv).sum(-1)
    assert_within_se(held.observables["valley_energy"][0], held.standard_errors["valley_energy"][0],
                     energy, "valley energy of the chain state")
    quench = mj.simulate(land, mj.constant(lr_bath), init=mj.chain_state(fp, lr_hot), seed=6,
                         observables={"u2": lambda x, y: fp.left_eigenfunction(2)(y)}, **common)
    v = mj.validate(quench, fp, modes=(2,))
    assert v.check(HISTOGRAMS).outcome == VERIFIED, v.check(HISTOGRAMS).detail
    a2 = fp.amplitude(lr_hot, 2, start="chain")
    assert abs(a2 - fp.amplitude(lr_hot, 2)) > 20 * quench.standard_errors["u2"][0]
    assert_within_se(quench.observables["u2"], quench.standard_errors["u2"],
                     a2 * np.exp(-fp.eigenvalues[1] * quench.times), "A_2(t) from the chain state")
    with pytest.raises(ValueError, match="validate it with that chain's theory"):
        mj.validate(quench, FokkerPlanck(land, lr_bath, temperature_scale=g, n_grid=300,
                                         lr_max=lr_hot))
    with pytest.raises(ValueError, match="chain_state needs the theory of a discrete chain"):
        mj.chain_state(FokkerPlanck(land, lr_bath, temperature_scale=g, n_grid=300,
                                    lr_max=lr_hot), lr_hot)
