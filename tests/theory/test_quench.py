"""Predictions after a quench (`theory.quench`): crossing time, distances, bins."""

from __future__ import annotations

import numpy as np
import pytest

from mpemba_jax.theory import distances


def test_crossing_time(box):
    pts = box.strong_mpemba_points((0.0105, 0.1))
    hot, cold = pts[0], 0.5 * (pts[0] + 0.01)
    assert box.hotter_has_advantage(hot, cold)
    tx = box.crossing_time(hot, cold, "tv")
    assert np.isfinite(tx) and tx > 0
    d = [box.distance(lr, [0.5 * tx, tx, 2 * tx], "tv") for lr in (hot, cold)]
    assert d[0][1] == pytest.approx(d[1][1], rel=1e-8)
    assert d[0][2] < d[1][2]  # after the crossing the hotter start is closer


def test_distances_and_bins(box):
    t = np.array([0.0, 500.0, 5000.0])
    lr_h = 0.05
    m = box.masses(lr_h, t[1:])
    for kind in ("tv", "kl", "l2"):
        np.testing.assert_allclose(box.distance(lr_h, t[1:], kind), distances(m, box.stationary_masses, kind), rtol=1e-8)
    probs = box.bin_probabilities(lr_h, t[1:], box.edges)
    np.testing.assert_allclose(probs, m, atol=1e-15)
    coarse = box.bin_probabilities(lr_h, t[1:], np.linspace(box.edges[0], box.edges[-1], 21))
    np.testing.assert_allclose(coarse.sum(1), 1.0, atol=1e-12)
