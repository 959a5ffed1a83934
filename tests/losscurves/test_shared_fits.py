"""The committed fits (docs/loss_curves/fits_<size>.json) predict the shared curves:
rebuilt from their JSON they give the recorded in-sample and leave-one-out errors, and
every model fits every curve it was fitted to within MAE 0.01 and R^2 0.99."""

import json
from pathlib import Path

import pytest

import mpemba_jax as mj
from mpemba_jax.losscurves import SHARED_SIZES, LossCurveFit
from mpemba_jax.losscurves.study import loo_fit

OUT = Path(__file__).resolve().parents[2] / "docs" / "loss_curves"


@pytest.mark.parametrize("size", SHARED_SIZES)
def test_committed_fits_predict_the_shared_curves(size):
    path = OUT / f"fits_{size}.json"
    if not path.exists():
        pytest.skip(f"{path} not generated (python experiments/loss_curves.py --stage fit)")
    summary = json.loads(path.read_text())
    curves = mj.load_shared_curves(size)
    for name, entry in summary["models"].items():
        fit = LossCurveFit.from_json(entry["fit"])
        for c in curves:
            m = fit.metrics(c)
            assert m["mae"] == pytest.approx(entry["in_sample"][c.name]["mae"], rel=1e-6)
            assert m["mae"] < 0.01 and m["r2"] > 0.99, (name, c.name, m)
            if c.name in entry["loo"]:
                loo = loo_fit(entry, c.name).metrics(c)
                assert loo["mae"] == pytest.approx(entry["loo"][c.name]["mae"], rel=1e-6)
