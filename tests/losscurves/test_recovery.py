"""Parameter recovery: curves made from known parameters, by the model's own
recursions (fitted back within the fit's stated errors) and by the engine (within the
engine's Monte Carlo noise propagated through the fit)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from conftest import z_threshold

import mpemba_jax as mj


def _within_errors(fit, truth, what):
    z = (fit.theta - truth) / fit.stderr
    limit = z_threshold(len(z))
    assert np.all(np.isfinite(fit.stderr)) and np.all(fit.stderr > 0), fit.param_errors
    assert np.all(np.abs(z) < limit), (
        f"{what}: |fitted - true| / SE = {dict(zip(fit.model.param_names, np.round(z, 2)))} "
        f"exceeds {limit:.2f}\nfitted {fit.params}\nSE {fit.param_errors}")


@pytest.mark.slow
@pytest.mark.statistical
def test_model_curves_with_noise_are_fitted_back(fitted_synthetic, synth):
    """Noise sigma = 0.002 (the data's run-to-run scatter) on the model's own curves:
    every parameter within z_8 = 3.4 standard errors of the truth (family level 0.27 %),
    and the errors are small enough to mean something."""
    curves, fit = fitted_synthetic
    _within_errors(fit, synth.TRUE_THETA, "model curves")
    rel = fit.stderr / np.abs(synth.TRUE_THETA)
    assert rel[[0, 2, 4, 7]].max() < 0.1, fit.param_errors      # L0, alpha, B, kappa


@pytest.mark.slow
def test_the_fit_predicts_a_schedule_it_did_not_see(fitted_synthetic, synth):
    """A linear decay to zero from a plateau, never fitted: predicted within 0.004
    (twice the noise) at every record."""
    _, fit = fitted_synthetic
    lrs = np.r_[3e-4 * np.arange(100) / 99, np.full(1400, 3e-4), np.linspace(3e-4, 0, 500)]
    steps = synth.record_steps(lrs)
    truth = synth.true_fit(8).predict(lrs, steps)
    assert np.abs(fit.predict(lrs, steps) - truth).max() < 0.004


@pytest.mark.slow
@pytest.mark.statistical
def test_engine_curves_are_fitted_back(synth):
    """Curves of 8192 particles run by the engine from the true parameters (d = 8),
    fitted by the model: every parameter within z_8 standard errors of the truth.

    The errors are the engine's Monte Carlo noise propagated through the fit, not the
    fit's own (AR(1)-widened) errors: a particle ensemble's deviation persists along the
    whole curve (the river never relaxes), which lag-1 widening does not capture. With
    `r` the log-curve noise (covariance `Sigma` from 32 independent replicate groups of
    each run, divided by 32) and `J` the Jacobian of the log curves at the fit, the fit
    moves by `(J^T J)^-1 J^T r`: `cov = A Sigma A^T`, `A = (J^T J)^-1 J^T`."""
    truth = synth.true_fit(8)
    curves, blocks = [], []
    n_groups = 32
    for i, (name, lrs) in enumerate(synth.tables().items()):
        steps = synth.record_steps(lrs)
        res = mj.simulate(truth.landscape(), truth.engine_lr_table(lrs), n_particles=8192,
                          dt=1.0, seed=11 + i, init=truth.initial(), record_steps=steps,
                          bins=8, time=truth.time, temperature_scale=truth.temperature_scale,
                          n_groups=n_groups, group_histograms=True, progress=False)
        curves.append(mj.LossCurve(lrs, steps, res.observables["loss"], name=name))
        reps = np.log(np.stack([r.observables["loss"] for r in res.replicates()]))
        blocks.append(np.cov(reps, rowvar=False) / n_groups)
    # The truth is one of the starts: this test asks whether the model's best fit to the
    # engine's curves lies within Monte Carlo error of the truth (is the model's curve the
    # engine's?); the start search is what test_model_curves_with_noise_are_fitted_back tests.
    fit = mj.fit_loss_curves(curves, "valley_river", valley_dim=8, n_starts=1, n_screen=8,
                             starts=[synth.TRUE_THETA])
    with jax.enable_x64(True):
        datas = [jax.tree_util.tree_map(jnp.asarray, fit.model.prepare(c.lrs / fit.lr_ref,
                                                                        c.steps)) for c in curves]
        jac = np.asarray(jax.jacfwd(lambda t: jnp.log(jnp.concatenate(
            fit.model.losses_many(t, datas))))(jnp.asarray(fit.theta)))
    a = np.linalg.pinv(jac.T @ jac) @ jac.T
    cov = a @ scipy.linalg.block_diag(*blocks) @ a.T
    se = np.sqrt(np.diag(cov))
    z = (fit.theta - synth.TRUE_THETA) / se
    limit = z_threshold(len(z))
    assert np.abs(z).max() < limit, (
        f"|fitted - true| / SE_MC = {dict(zip(fit.model.param_names, np.round(z, 2)))} exceeds "
        f"{limit:.2f}\nfitted {fit.params}\nSE_MC {dict(zip(fit.model.param_names, se))}")
