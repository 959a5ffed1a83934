"""The anchors are their published formulas: checked against naive double loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mpemba_jax.losscurves import AnnealingLaw, MultiPowerLaw
from mpemba_jax.losscurves.anchors import warmup_end


def _table():
    rng = np.random.default_rng(3)
    warm = np.arange(30) / 29
    after = np.clip(1.0 - np.cumsum(rng.uniform(0, 0.01, 170)), 0.05, 1)
    after[60:70] = after[59]          # a plateau inside the decay
    after[100] = 0.0                  # an LR of 0 (eta_k^-gamma must not break)
    return np.r_[warm, after]


def _predict(model, theta, eta, steps):
    with jax.enable_x64(True):
        data = jax.tree_util.tree_map(jnp.asarray, model.prepare(eta, steps))
        return np.asarray(model.losses(jnp.asarray(theta), data))


def test_multi_power_law_is_eq_1_of_luo_et_al():
    eta = _table()
    w = warmup_end(eta)
    assert w == 29 and eta[w] == 1.0
    steps = np.arange(31, len(eta) + 1, 7)
    theta = [2.5, 0.8, 0.45, 0.6, 2.0, 0.7, 0.4]
    l0, a, alpha, b, c, beta, gamma = theta
    expected = []
    for s in steps:
        area = eta[:s].sum()                                   # S1 + S_W
        ld = 0.0
        for k in range(w + 1, s):
            s_k = eta[k:s].sum()
            x = max(eta[k], 1e-300) ** (-gamma) * s_k
            ld += (eta[k - 1] - eta[k]) * (1 - (c * x + 1) ** (-beta))
        expected.append(l0 + a * area ** (-alpha) - b * ld)
    np.testing.assert_allclose(_predict(MultiPowerLaw(), theta, eta, steps), expected, rtol=1e-12)


def test_annealing_law_is_tissue_et_al():
    eta = _table()
    w = warmup_end(eta)
    steps = np.arange(31, len(eta) + 1, 5)
    theta = [2.5, 0.8, 0.45, 0.3]
    decay = 0.95
    expected = []
    for s in steps:
        m, s2 = 0.0, 0.0
        for i in range(w + 1, s):
            m = decay * m + (eta[i - 1] - eta[i])
            s2 += m
        expected.append(theta[0] + theta[1] * eta[:s].sum() ** (-theta[2]) - theta[3] * s2)
    got = _predict(AnnealingLaw(decay=decay), theta, eta, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_constant_schedule_has_no_decay_term():
    eta = np.r_[np.arange(10) / 9, np.ones(90)]
    steps = np.arange(20, 101, 10)
    area = np.cumsum(np.r_[0, eta])[steps]
    for model, theta in ((MultiPowerLaw(), [2.5, 0.8, 0.45, 0.6, 2.0, 0.7, 0.4]),
                         (AnnealingLaw(), [2.5, 0.8, 0.45, 0.3])):
        np.testing.assert_allclose(_predict(model, theta, eta, steps),
                                   2.5 + 0.8 * area ** -0.45, rtol=1e-13)


def test_power_laws_refuse_a_record_with_no_area():
    with pytest.raises(ValueError, match="record_steps"):
        MultiPowerLaw().prepare(np.ones(10), np.array([0, 5]))
    with pytest.raises(ValueError, match="decay must be"):
        AnnealingLaw(decay=1.0)
