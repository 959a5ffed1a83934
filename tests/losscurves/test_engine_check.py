"""The engine is the model's ground truth: particles run by `mj.simulate` from a
valley–river parameter set reproduce the model's predicted loss curve within Monte
Carlo error, and the same check rejects a model 25 % off in its valley heat."""

import numpy as np
import pytest
from conftest import z_threshold

from mpemba_jax.losscurves import LossCurveFit
from mpemba_jax.losscurves.engine_check import simulate_fit


@pytest.mark.slow
@pytest.mark.statistical
def test_particles_reproduce_the_models_curve(synth):
    truth = synth.true_fit(8)
    lrs = synth.tables()["drop"]                 # warm-up, plateau, drop to 0.3 x peak
    steps = np.arange(100, len(lrs) + 1, 100)
    out = simulate_fit(truth, lrs, steps, n_particles=8192, seed=5)
    limit = z_threshold(len(steps))
    assert np.all(out["se"] > 0)
    assert np.abs(out["z"]).max() < limit, np.round(out["z"], 2)
    # Power: the same particles against the model with its valley heat B 25 % high
    # (the valley energy after the drop, ~0.05, moves by ~0.01, ~8 SE).
    off = truth.theta.copy()
    off[4] *= 1.25
    k = len(off)
    wrong = LossCurveFit(truth.model, off, np.zeros(k), np.zeros((k, k)), {"lr_ref": synth.PEAK})
    z_wrong = (out["particles"] - wrong.predict(lrs, steps)) / out["se"]
    assert np.abs(z_wrong).max() > limit, np.round(z_wrong, 2)
