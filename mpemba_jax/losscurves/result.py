"""`LossCurveFit`: a fitted loss-curve model that predicts, reports and runs.

It holds the model, the natural parameter vector, its Gauss–Newton standard
errors and covariance, and the fit's record (objective, every polished start,
in-sample errors per curve). `predict(lrs, steps)` evaluates the model on any
LR table. For the valley–river model it also gives the fitted landscape, the
temperature scale and time convention and the initial state, so that the
engine and the Fokker–Planck theory run the fitted model directly:

    fit = mj.fit_loss_curves(curves)                    # valley_river
    res = mj.simulate(fit.landscape(), fit.engine_lr_table(curve.lrs), dt=1.0,
                      init=fit.initial(), time=fit.time,
                      temperature_scale=fit.temperature_scale, ...)
    fp = mj.FokkerPlanck(fit.landscape(), lr_bath=float(fit.engine_lr(3e-5)),
                         time=fit.time, temperature_scale=fit.temperature_scale)
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from ..dynamics import Dynamics
from ..landscape import ValleyRiver
from .data import check_records
from .models import CurveModel

__all__ = ["LossCurveFit", "curve_metrics"]

FORMAT = 1


def curve_metrics(observed: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """Errors of a predicted curve against the observed losses (both `(m,)`):
    mean absolute error, root mean square, largest absolute error, and
    `R^2 = 1 - sum (L - L_hat)^2 / sum (L - mean L)^2`."""
    obs = np.asarray(observed, np.float64)
    pred = np.asarray(predicted, np.float64)
    err = pred - obs
    ss_tot = float(np.sum((obs - obs.mean()) ** 2))
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))),
            "max_abs": float(np.max(np.abs(err))), "bias": float(np.mean(err)),
            "r2": float(1.0 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
            "n": int(len(obs))}


class LossCurveFit:
    """A fitted loss-curve model (returned by `fit_loss_curves`).

    Attributes:
      model: the `CurveModel`; `theta (k,)` natural parameters; `stderr (k,)`,
      `covariance (k, k)`; `info` (the fit's record, JSON-able); `lr_ref`.
    """

    def __init__(self, model: CurveModel, theta: ArrayLike, stderr: ArrayLike,
                 covariance: ArrayLike, info: dict[str, Any]):
        self.model = model
        self.theta = np.asarray(theta, np.float64)
        self.stderr = np.asarray(stderr, np.float64)
        self.covariance = np.asarray(covariance, np.float64)
        self.info = dict(info)
        self.lr_ref = float(info["lr_ref"])

    @property
    def params(self) -> dict[str, float]:
        """Natural parameters by name."""
        return dict(zip(self.model.param_names, self.theta.tolist()))

    @property
    def param_errors(self) -> dict[str, float]:
        """Standard errors by name (Gauss–Newton, widened for autocorrelated residuals)."""
        return dict(zip(self.model.param_names, self.stderr.tolist()))

    def predict(self, lrs: ArrayLike, steps: ArrayLike) -> np.ndarray:
        """Losses `(m,)` at record `steps` for the LR table `lrs (n_steps,)` (the LR of
        every step from step 0, in the data's units); the loss at `s` has seen `lrs[:s]`.

        Example:
          >>> fit.predict(mj.shared_lr_table("cosine_24000"), [12000, 23999])
        """
        lrs = np.asarray(lrs, np.float64)
        if lrs.ndim != 1 or lrs.size == 0 or not np.all(np.isfinite(lrs) & (lrs >= 0)):
            raise ValueError(f"lrs must be a non-empty 1-D table of finite LRs >= 0; "
                             f"got shape {lrs.shape}")
        steps, _ = check_records(steps, None, len(lrs))
        with jax.enable_x64(True):
            return np.asarray(self.model.predict(self.theta, lrs / self.lr_ref, steps),
                              np.float64)

    def metrics(self, curve) -> dict[str, float]:
        """`curve_metrics` of this fit's prediction of a `LossCurve`."""
        return curve_metrics(curve.loss, self.predict(curve.lrs, curve.steps))

    # -- the valley–river model as the engine and the theory run it ------------
    def _valley_river(self):
        if getattr(self.model, "name", None) != "valley_river":
            raise ValueError(f"only the valley_river model has a landscape; this fit is "
                             f"{self.model.name!r}")
        return self.model

    def landscape(self, area_max: float = 1e6) -> ValleyRiver:
        """The fitted `ValleyRiver` (walls where a run does not reach, see
        `ValleyRiverModel.landscape`)."""
        return self._valley_river().landscape(self.theta, area_max=area_max)

    @property
    def dynamics(self) -> Dynamics:
        """The fitted `Dynamics`: `time="steps"`, `temperature_scale = 2 B / d`."""
        return self._valley_river().dynamics(self.theta)

    @property
    def time(self) -> str:
        return self.dynamics.time

    @property
    def temperature_scale(self) -> float:
        return self.dynamics.temperature_scale

    def engine_lr(self, lr: ArrayLike) -> np.ndarray:
        """The engine's LR for training LRs (any shape): `(lr / lr_ref)^kappa`."""
        return self._valley_river().engine_lr(self.theta, np.asarray(lr, np.float64) / self.lr_ref)

    def engine_lr_table(self, lrs: ArrayLike) -> np.ndarray:
        """The engine's LR table `(n_steps + 1,)` for a training LR table `(n_steps,)`:
        `engine_lr(lrs)` with the last LR repeated as the (stepless) final entry; the
        engine takes one step of `dt = 1` per training step."""
        lrs = np.asarray(lrs, np.float64)
        return self.engine_lr(np.append(lrs, lrs[-1]))

    def initial(self):
        """The engine's initial state (`mj.point(y0, 0.0)`)."""
        return self._valley_river().initial(self.theta)

    def components(self, lrs: ArrayLike) -> dict[str, np.ndarray]:
        """River, noise-free river path and valley parts after every step, `(n_steps + 1,)`."""
        model = self._valley_river()
        with jax.enable_x64(True):
            parts = model.components(jnp.asarray(self.theta),
                                     jnp.asarray(np.asarray(lrs, np.float64) / self.lr_ref))
            return {k: np.asarray(v, np.float64) for k, v in parts.items()}

    # -- persistence ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "model": self.model.name, "options": self.model.options(),
            "params": self.params, "stderr": self.param_errors,
            "covariance": self.covariance.tolist(),
            "meaning": {p.name: p.meaning for p in self.model.parameters},
            "info": self.info,
        }

    def to_json(self, **kwargs) -> str:
        """The fit as JSON (parameters, errors, covariance, options, the fit's record)."""
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    @classmethod
    def from_json(cls, text: str | dict) -> "LossCurveFit":
        """Rebuild a fit from `to_json()` (or its dict); it predicts as the original."""
        from .fit import make_model

        d = json.loads(text) if isinstance(text, str) else text
        if d.get("format") != FORMAT:
            raise ValueError(f"text: unknown loss-curve fit format {d.get('format')!r}; "
                             f"expected {FORMAT}")
        model = make_model(d["model"], **d["options"])
        theta = [d["params"][name] for name in model.param_names]
        stderr = [d["stderr"][name] for name in model.param_names]
        return cls(model, theta, stderr, d["covariance"], d["info"])

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"LossCurveFit({self.model.name}: {ps})"
