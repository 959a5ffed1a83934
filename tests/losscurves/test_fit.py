"""The joint fit: a left-out curve takes no part, bad options are refused, a fit's JSON
predicts as the fit."""

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.losscurves import LossCurveFit


@pytest.fixture(scope="module")
def curves_25():
    return mj.load_shared_curves("25")


def test_a_left_out_curve_takes_no_part_in_the_fit(curves_25):
    """weights=[1, 1, 0] (the leave-one-out refit) is the fit to the first two curves."""
    masked = mj.fit_loss_curves(curves_25, "annealing", n_starts=1, n_screen=8,
                                weights=[1, 1, 0])
    two = mj.fit_loss_curves(curves_25[:2], "annealing", n_starts=1, n_screen=8)
    np.testing.assert_allclose(masked.theta, two.theta, rtol=1e-6)
    assert masked.info["objective"] == pytest.approx(two.info["objective"], rel=1e-9)
    assert masked.info["n_points"] == two.info["n_points"] == sum(len(c.steps)
                                                                   for c in curves_25[:2])
    held = masked.info["curves"][2]
    assert held["fitted"] is False and held["name"] == "wsdcon_9"
    assert held["mae"] == pytest.approx(masked.metrics(curves_25[2])["mae"], rel=1e-9)
    # The JSON round trip predicts exactly as the fit.
    back = LossCurveFit.from_json(masked.to_json())
    np.testing.assert_array_equal(back.predict(curves_25[2].lrs, curves_25[2].steps),
                                  masked.predict(curves_25[2].lrs, curves_25[2].steps))


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=[1, 0]), "weights must be"),
    (dict(weights=[0, 0, 0]), "weights must be"),
    (dict(weights=[1, 0.5, 1]), "weights must be"),
    (dict(n_starts=0), "n_starts must be"),
    (dict(method="newton"), "method must be"),
    (dict(huber_delta=0.0), "huber_delta must be"),
    (dict(model="power"), "model must be"),
])
def test_bad_fit_options_are_refused(curves_25, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mj.fit_loss_curves(curves_25, **{"model": "annealing", **kwargs})
