"""Valley curvature per direction: `a(y) -> (..., d)` through the landscape, the
engine and the theory (`F_T = V + (T / 2) sum_i ln a_i`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
from conftest import assert_within_se

A = np.array([2.0, 5.0, 20.0])


def _spectrum_landscape(k=1.0):
    """A harmonic river with three valley directions of curvatures `A`."""
    return mj.ValleyRiver(lambda y: 0.5 * k * y**2,
                          lambda y: jnp.stack([A[i] + 0.0 * y for i in range(3)], -1),
                          valley_dim=3, name="spectrum")


def test_per_direction_loss_gradient_and_free_energy():
    land = _spectrum_landscape()
    assert land.per_direction and land.valley_dim == 3
    x, y = jnp.array([[1.0, 2.0, 3.0]]), jnp.array([0.5])
    np.testing.assert_allclose(land.valley_energy(x, y), [0.5 * (2 + 5 * 4 + 20 * 9)])
    gx, gy = land.gradient(x, y)
    np.testing.assert_allclose(gx, [[2.0, 10.0, 60.0]])
    np.testing.assert_allclose(gy, [0.5])
    with jax.enable_x64(True):
        f = land.free_energy(jnp.array([0.0, 1.0]), 0.1)
    np.testing.assert_allclose(f, [0.05 * np.log(A).sum(), 0.5 + 0.05 * np.log(A).sum()],
                               rtol=1e-12)


def test_direction_dependent_curvature_slopes_push_the_river():
    # a_i(y) = c_i exp(y): the valley pushes with 0.5 sum_i c_i exp(y) x_i^2.
    c = jnp.array([1.0, 3.0])
    land = mj.ValleyRiver(lambda y: 0.0 * y, lambda y: c * jnp.exp(y)[..., None], valley_dim=2,
                          domain=(-1.0, 1.0))
    x, y = jnp.array([[1.0, 2.0]]), jnp.array([0.3])
    np.testing.assert_allclose(land.curvature_slope(y), [[np.exp(0.3), 3 * np.exp(0.3)]],
                               rtol=1e-6)
    np.testing.assert_allclose(land.gradient(x, y)[1], [0.5 * np.exp(0.3) * (1 + 12)], rtol=1e-6)


def test_shared_and_per_direction_curvature_give_the_same_theory():
    # a_i(y) = c_i a(y) only adds the constant (T/2) sum ln c_i to F_T: the same spectrum,
    # amplitudes and equilibria as d directions sharing a(y).
    a = lambda y: 4.0 * jnp.exp(0.5 * y)  # noqa: E731
    river = lambda y: 0.2 * (y**2 - 1.0) ** 2 + 0.05 * y  # noqa: E731
    shared = mj.ValleyRiver(river, a, valley_dim=2)
    spread = mj.ValleyRiver(river, lambda y: a(y)[..., None] * jnp.array([0.5, 2.0]),
                            valley_dim=2)
    fp_s = mj.FokkerPlanck(shared, 0.05, n_grid=800, lr_max=0.2)
    fp_p = mj.FokkerPlanck(spread, 0.05, n_grid=800, lr_max=0.2)
    np.testing.assert_allclose(fp_p.eigenvalues, fp_s.eigenvalues, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fp_p.amplitude([0.1, 0.2]), fp_s.amplitude([0.1, 0.2]),
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fp_p.equilibrium(0.1), fp_s.equilibrium(0.1), atol=1e-14)


@pytest.mark.statistical
def test_each_direction_holds_its_own_equipartition():
    # Sampled from equilibrium exactly, then 200 Euler–Maruyama steps: per direction
    # <x_i^2> = T / a_i at the start and T / (a_i (1 - mu a_i dt / 2)) at the EM
    # stationary state (mu a_i dt up to 0.4), which the valley reaches in < 20 steps.
    land = _spectrum_landscape()
    lr = 0.02
    obs = {f"x{i}sq": (lambda j: lambda x, y: x[..., j] ** 2)(i) for i in range(3)}
    res = mj.simulate(land, mj.constant(lr), n_particles=200_000, n_steps=200, dt=1.0,
                      init=mj.equilibrium(lr), record_steps=[0, 200], observables=obs,
                      progress=False)
    mean = np.array([res.observables[f"x{i}sq"] for i in range(3)])   # (3, 2)
    se = np.array([res.standard_errors[f"x{i}sq"] for i in range(3)])
    em = lr / (A * (1 - lr * A / 2))
    assert_within_se(mean[:, 0], se[:, 0], lr / A, "x_i^2 at equilibrium sampling")
    assert_within_se(mean[:, 1], se[:, 1], em, "x_i^2 at the EM stationary state")


def test_curvature_shape_must_match_valley_dim():
    with pytest.raises(ValueError, match="valley_dim must be 3; got 1"):
        mj.ValleyRiver(lambda y: y**2, lambda y: jnp.ones(y.shape + (3,)))
    with pytest.raises(ValueError, match="one per valley direction"):
        mj.ValleyRiver(lambda y: y**2, lambda y: jnp.ones(y.shape + (2, 2)), valley_dim=2)
    with pytest.raises(ValueError, match=r"curvature a\(y\) must be finite and > 0"):
        mj.ValleyRiver(lambda y: y**2, lambda y: jnp.stack([1.0 + 0 * y, -1.0 + 0 * y], -1),
                       valley_dim=2, domain=(-1.0, 1.0))
