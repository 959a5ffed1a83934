"""Plateau choice for a Mpemba experiment (`theory.plateaus`)."""

from __future__ import annotations

import numpy as np
import pytest

from mpemba_jax.theory import choose_plateaus


def test_choose_plateaus(box):
    p = choose_plateaus(box)
    star, cold, hot = p["star"], p["cold"], p["hot"]
    assert box.lr_bath < cold < star < hot <= 10 * box.lr_bath
    assert abs(box.amplitude(star)) < 1e-12
    assert star == box.mpemba_summary((1.05 * box.lr_bath, 10 * box.lr_bath)).optimal_lr
    # cold maximises |a_2| below the strong point (to the optimiser's tolerance)
    scan = np.abs(box.amplitude(np.geomspace(1.05 * box.lr_bath, star, 200)[:-1]))
    assert abs(box.amplitude(cold)) >= scan.max() * (1 - 1e-6)
    # hot: a_2(hot) = -a_2(cold) / 2, so the hotter start has the advantage
    assert box.amplitude(hot) == pytest.approx(-0.5 * box.amplitude(cold), rel=1e-9)
    assert box.hotter_has_advantage(hot, cold)
    # given plateaus are used as they are
    assert choose_plateaus(box, 0.012, 0.03) == {"cold": 0.012, "hot": 0.03, "star": star}


def test_choose_plateaus_needs_a_strong_point(harmonic):
    with pytest.raises(ValueError, match="no strong Mpemba point"):
        choose_plateaus(harmonic)
