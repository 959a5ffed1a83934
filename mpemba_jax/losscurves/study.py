"""The loss-curve study of one model size: fits, leave-one-out tests, predictions, uses.

`fit_size` fits every model jointly to the shared curves of one size, records
the in-sample errors, and for each curve fits the model again on the other two
and predicts it (leave-one-out; the refit starts from the full fit and from
its own screened starts, never from the full fit, which has seen the held-out
curve). `predictions` evaluates fitted models on schedules the
data do not contain. Everything returned is JSON-able (`results.jsonable`) and
small; `experiments/loss_curves.py` and `mpemba-jax fit-curves` write it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from .data import LossCurve, load_shared_curves, shared_lr_table
from .fit import fit_loss_curves
from .result import LossCurveFit
from .uses import wsd_table

__all__ = ["fit_curves", "fit_size", "prediction_schedules", "predictions", "loo_fit"]


def fit_curves(curves: list[LossCurve], models: Sequence[str], *, n_starts: int = 2,
               n_screen: int = 32, loo: bool = True, loo_starts: int = 1,
               max_iter: int = 3000, log: Callable[[str], None] = print) -> tuple[dict, dict]:
    """Fit each model to `curves`; with `loo`, also leave each curve out in turn
    (`loo_starts` polished starts of the refit's own Sobol screen).

    Returns `(summary, fits)`: the JSON-able summary (per model: the fit's
    dict, in-sample metrics per curve, leave-one-out metrics per held-out
    curve with the refit's parameters) and the `LossCurveFit`s by model name.
    """
    summary: dict = {"curves": [c.describe() for c in curves], "models": {}}
    fits = {}
    for name in models:
        t0 = time.perf_counter()
        fit = fit_loss_curves(curves, name, n_starts=n_starts, n_screen=n_screen,
                              max_iter=max_iter)
        fits[name] = fit
        entry = {"fit": fit.to_dict(), "in_sample": {c.name: fit.metrics(c) for c in curves},
                 "loo": {}}
        log(f"  {name}: objective {fit.info['objective']:.2f} "
            f"({time.perf_counter() - t0:.0f} s) {fit}")
        if loo and len(curves) > 1:
            for i, held in enumerate(curves):
                weights = [float(j != i) for j in range(len(curves))]
                refit = fit_loss_curves(curves, name, n_starts=loo_starts, n_screen=n_screen,
                                        weights=weights, max_iter=max_iter)
                m = refit.info["curves"][i]
                m = {key: m[key] for key in ("mae", "rmse", "max_abs", "bias", "r2", "n")}
                entry["loo"][held.name] = {**m, "params": refit.params,
                                           "stderr": refit.param_errors,
                                           "at_bound": refit.info["at_bound"],
                                           "objective": refit.info["objective"],
                                           "converged": [r["converged"]
                                                         for r in refit.info["starts"]]}
                log(f"    leave out {held.name}: MAE {m['mae']:.5f}, R^2 {m['r2']:.5f}")
        summary["models"][name] = entry
    return summary, fits


def loo_fit(entry: dict, held_out: str) -> LossCurveFit:
    """The leave-one-out refit that left `held_out` out, rebuilt from a model's
    summary entry (`fit_curves`'s `summary["models"][name]`); it predicts, its
    errors are the refit's."""
    from .fit import make_model

    fit = entry["fit"]
    model = make_model(fit["model"], **fit["options"])
    loo = entry["loo"][held_out]
    theta = [loo["params"][k] for k in model.param_names]
    stderr = [loo.get("stderr", {}).get(k, np.nan) for k in model.param_names]
    k = len(theta)
    return LossCurveFit(model, theta, stderr, np.full((k, k), np.nan),
                        {"lr_ref": fit["info"]["lr_ref"], "held_out": held_out})


def fit_size(size: str, models: Sequence[str], *, root=None, **kwargs) -> tuple[dict, dict]:
    """`fit_curves` on the shared curves of one model size."""
    curves = load_shared_curves(size, root)
    summary, fits = fit_curves(curves, models, **kwargs)
    summary["size"] = str(size)
    return summary, fits


def prediction_schedules() -> dict[str, np.ndarray]:
    """Schedules the shared data do not contain, to show what the fits predict: the
    drops of the WSD family to other heights, a cosine to zero, a WSD with a linear
    20 % decay to zero, and a three times longer constant run."""
    return {
        "wsdcon_3": shared_lr_table("wsdcon_3", 24000),
        "wsdcon_18": shared_lr_table("wsdcon_18", 24000),
        "cosine_to_0": wsd_table(24000, 3e-4, 1.0, "cosine", 0.0),
        "wsd_linear_20pct": wsd_table(24000, 3e-4, 0.2, "linear", 0.0),
        "constant_72000": shared_lr_table("constant_72000"),
    }


def predictions(fits: dict[str, LossCurveFit], schedules: dict[str, np.ndarray],
                every: int = 256) -> dict:
    """Each model's predicted loss every `every` steps (from the end of warm-up) of
    each schedule: `{schedule: {"steps": [...], model: [...]}}`; a schedule a
    model cannot run is left out for it."""
    out = {}
    for sname, lrs in schedules.items():
        steps = np.arange(2176, len(lrs) + 1, every)
        entry = {"steps": steps.tolist()}
        for mname, fit in fits.items():
            try:
                entry[mname] = fit.predict(lrs, steps).tolist()
            except ValueError:
                continue
        out[sname] = entry
    return out
