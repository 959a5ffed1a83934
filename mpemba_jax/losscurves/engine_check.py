"""The engine as ground truth: particles run from a fitted valley–river model.

`simulate_fit` runs `mj.simulate` on the fitted landscape, dynamics, initial
state and the engine's LR table of a training schedule, recording the mean
loss `<L(x, y)>` at chosen steps, and sets it beside the model's own
prediction (`LossCurveFit.predict`): `z = (particles - model) / SE`. The
model's prediction is exact for the valley and first order in `T` for the
river, so agreement within Monte Carlo error at a stated level is a test of
the recursions, the river's noise expansion and the fitted parameters'
translation into a landscape, all at once; `river_noise_z` says how far the
noise-free river (the prediction without the expansion) would be, i.e. what
resolving power the run had.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from ..engine import simulate
from .data import check_records
from .result import LossCurveFit

__all__ = ["simulate_fit"]


def simulate_fit(fit: LossCurveFit, lrs: ArrayLike, steps: ArrayLike, *, n_particles: int = 4096,
                 seed: int = 0, dtype: str = "float32", integrator: str = "euler_maruyama",
                 progress: bool = False) -> dict:
    """Run the fitted model's particles under the training LR table `lrs (n_steps,)`.

    Returns a dict of arrays `(m,)` at the record `steps`: `particles` (mean
    loss), `se` (its standard error), `model` (`fit.predict`), `z`
    (`(particles - model) / se`), `river_noise_z` (the same for the model
    without the river's noise correction), plus `n_particles`, `seconds`.

    Example:
      >>> out = simulate_fit(fit, curve.lrs, curve.steps[::8], n_particles=2048)
      >>> np.abs(out["z"]).max()
    """
    lrs = np.asarray(lrs, np.float64)
    steps, _ = check_records(steps, None, len(lrs))
    t0 = time.perf_counter()
    res = simulate(fit.landscape(), fit.engine_lr_table(lrs), n_particles=n_particles,
                   dt=1.0, seed=seed, init=fit.initial(), record_steps=steps, bins=16,
                   time=fit.time, temperature_scale=fit.temperature_scale, dtype=dtype,
                   integrator=integrator, progress=progress)
    seconds = time.perf_counter() - t0
    mean = np.asarray(res.observables["loss"], np.float64)
    se = np.asarray(res.standard_errors["loss"], np.float64)
    model = fit.predict(lrs, steps)
    parts = fit.components(lrs)
    no_noise = (parts["river_mean_path"] + parts["valley"])[steps]
    return {"steps": steps, "particles": mean, "se": se, "model": model,
            "z": (mean - model) / se, "river_noise_z": (mean - no_noise) / se,
            "river_noise": (parts["river"] - parts["river_mean_path"])[steps],
            "n_particles": int(res.n_particles), "seconds": seconds}
