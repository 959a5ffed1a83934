"""Short synthetic training runs for the loss-curve tests (2000 steps, peak 3e-4),
given to the tests as the `synth` fixture."""

import types

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.losscurves import LossCurveFit, ValleyRiverModel

PEAK = 3e-4
# L0, A, alpha, S0, B, a_max, beta, kappa: a river like the fitted ones on a
# shorter horizon, a valley whose slowest direction relaxes within the run.
TRUE_THETA = np.array([3.0, 20.0, 0.5, 15.0, 0.12, 0.1, 0.6, 0.8])


def synthetic_tables() -> dict[str, np.ndarray]:
    warm = PEAK * np.arange(100) / 99
    s = np.arange(100, 2000)
    return {
        "constant": np.r_[warm, np.full(1900, PEAK)],
        "cosine": np.r_[warm, 0.1 * PEAK + 0.45 * PEAK * (1 + np.cos(np.pi * (s - 100) / 1900))],
        "drop": np.r_[warm, np.full(700, PEAK), np.full(700, 0.3 * PEAK)],
    }


def record_steps(lrs: np.ndarray) -> np.ndarray:
    return np.arange(120, len(lrs) + 1, 20)


def true_fit(valley_dim: int) -> LossCurveFit:
    """A `LossCurveFit` holding the true parameters (no fitting)."""
    k = len(TRUE_THETA)
    return LossCurveFit(ValleyRiverModel(valley_dim=valley_dim), TRUE_THETA, np.zeros(k),
                        np.zeros((k, k)), {"lr_ref": PEAK})


def model_curves(valley_dim: int, sigma: float, seed: int) -> list[mj.LossCurve]:
    """Curves from the model's own recursions, plus iid Gaussian noise `sigma`."""
    fit = true_fit(valley_dim)
    rng = np.random.default_rng(seed)
    out = []
    for name, lrs in synthetic_tables().items():
        steps = record_steps(lrs)
        loss = fit.predict(lrs, steps) + sigma * rng.normal(size=len(steps))
        out.append(mj.LossCurve(lrs, steps, loss, name=name))
    return out


@pytest.fixture(scope="session")
def synth():
    return types.SimpleNamespace(TRUE_THETA=TRUE_THETA, PEAK=PEAK, tables=synthetic_tables,
                                 record_steps=record_steps, true_fit=true_fit,
                                 model_curves=model_curves)


@pytest.fixture(scope="session")
def fitted_synthetic():
    """A fit (kappa free, d = 8) to the model's curves plus noise 0.002; shared by tests."""
    curves = model_curves(8, 0.002, seed=0)
    return curves, mj.fit_loss_curves(curves, "valley_river", valley_dim=8, n_starts=3,
                                      n_screen=64)
