"""The blocked affine recursion is the step-by-step recursion; the model's valley is
the theory room's valley recursion; kappa is the effective LR."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mpemba_jax.losscurves import ValleyRiverModel, affine_recursion
from mpemba_jax.theory import valley_moments


@pytest.mark.parametrize("n, block", [(1, 4), (7, 4), (8, 4), (1000, 128), (333, 1)])
def test_blocked_recursion_equals_the_loop(n, block):
    rng = np.random.default_rng(n)
    rho = rng.uniform(0.0, 1.0, (n, 3))
    q = rng.normal(size=(n, 3))
    x = np.zeros((n + 1, 3))
    x[0] = [0.5, -1.0, 2.0]
    for s in range(n):
        x[s + 1] = rho[s] * x[s] + q[s]
    with jax.enable_x64(True):
        got = np.asarray(affine_recursion(jnp.asarray(rho), jnp.asarray(q),
                                          jnp.asarray(x[0]), block=block))
    np.testing.assert_allclose(got, x, rtol=1e-12, atol=1e-12)


def test_valley_energy_is_the_theory_rooms_recursion():
    """`components` gives sum_j a_j v_j / 2 with v_j from `theory.valley_moments`."""
    model = ValleyRiverModel(valley_dim=5, kappa=1.0)
    theta = np.array([3.0, 30.0, 0.5, 10.0, 0.2, 0.3, 0.7])
    eta = np.r_[np.linspace(0.0, 1.0, 300), np.full(500, 1.0), np.full(400, 0.3)]
    with jax.enable_x64(True):
        parts = model.components(jnp.asarray(theta), jnp.asarray(eta))
        a = np.asarray(model_curvatures(theta, 5))
    g = 2 * theta[4] / 5
    rec = np.arange(0, len(eta) + 1, 50)
    v = valley_moments(np.append(eta, eta[-1]), a, 1.0, rec, temperature_scale=g)
    np.testing.assert_allclose(np.asarray(parts["valley"])[rec], 0.5 * (v * a).sum(-1),
                               rtol=1e-12, atol=1e-15)


def model_curvatures(theta, d):
    from mpemba_jax.losscurves.valley_river import valley_curvatures
    return valley_curvatures(theta[5], theta[6], d)


def test_kappa_is_the_effective_lr():
    """A fitted kappa runs the kappa = 1 model on the table (lr / lr_ref)^kappa."""
    theta = np.array([3.0, 30.0, 0.5, 10.0, 0.2, 0.3, 0.7])
    eta = np.r_[np.linspace(0.0, 1.0, 300), np.full(500, 1.0), np.full(400, 0.3)]
    free, fixed = ValleyRiverModel(valley_dim=4), ValleyRiverModel(valley_dim=4, kappa=1.0)
    with jax.enable_x64(True):
        a = free.components(jnp.asarray(np.append(theta, 0.7)), jnp.asarray(eta))
        b = fixed.components(jnp.asarray(theta), jnp.asarray(eta ** 0.7))
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key]), np.asarray(b[key]), rtol=1e-12)
