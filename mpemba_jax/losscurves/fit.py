"""Fit one parameter set jointly to several loss curves: `fit_loss_curves`.

The objective is the Huber loss of the log residuals,

    J(theta) = sum_curves sum_points H_delta(ln L_model - ln L_data) / delta^2,

(`H_delta(r) = r^2 / 2` for `|r| <= delta`, `delta (|r| - delta / 2)` beyond;
`delta = 1e-3` as in the multi-power-law paper), minimised by L-BFGS-B on the
gradient JAX differentiates through the model (float64), in unconstrained
coordinates (`models.to_natural`) within the parameters' hard bounds. Starts:
`n_screen` scrambled Sobol points of the start box are screened by their
objective and the best `n_starts` are polished; every polished start is kept in
the result, so a second minimum shows.

Uncertainties (Gauss–Newton): with `J` the Jacobian of the log residuals
with respect to the natural parameters and `s^2 = sum r^2 / (n - k)`,

    cov = s^2 (J^T J)^+ (1 + rho_1) / (1 - rho_1),

where `rho_1` is the lag-1 autocorrelation of the residuals pooled over the
curves: neighbouring points of a loss curve are not independent, and the
AR(1) factor widens the errors accordingly. They are local (curvature of the
objective at its minimum) and say nothing about a model's bias.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from scipy.stats import qmc

from .anchors import AnnealingLaw, MultiPowerLaw
from .data import LossCurve
from .models import CurveModel, to_natural, to_unconstrained
from .result import LossCurveFit, curve_metrics
from .valley_river import ValleyRiverModel

__all__ = ["fit_loss_curves", "make_model", "MODELS"]

METHODS = ("trf", "lbfgs")
MODELS = {"valley_river": ValleyRiverModel, "multi_power": MultiPowerLaw,
          "annealing": AnnealingLaw}


def make_model(model: str | CurveModel = "valley_river", **options) -> CurveModel:
    """A model by name (`"valley_river"`, `"multi_power"`, `"annealing"`) with its
    options (e.g. `valley_dim=32`, `decay=0.999`), or a `CurveModel` as it is."""
    if isinstance(model, CurveModel):
        if options:
            raise ValueError("give options only with a model name, not with a model instance")
        return model
    if model not in MODELS:
        raise ValueError(f"model must be one of {tuple(MODELS)} or a CurveModel; got {model!r}")
    return MODELS[model](**options)


def _huber(r, delta):
    a = jnp.abs(r)
    return jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _as_curves(curves) -> list[LossCurve]:
    if isinstance(curves, LossCurve):
        return [curves]
    out = list(curves)
    if not out or not all(isinstance(c, LossCurve) for c in out):
        raise ValueError("curves must be a LossCurve or a non-empty sequence of LossCurves")
    return out


def fit_loss_curves(curves: LossCurve | Sequence[LossCurve], model: str | CurveModel = "valley_river",
                    *, lr_ref: float | None = None, n_starts: int = 4, n_screen: int = 64,
                    starts: Sequence[Sequence[float]] = (), huber_delta: float = 1e-3,
                    seed: int = 0, max_iter: int = 3000, method: str = "trf",
                    weights: Sequence[float] | None = None, **model_options) -> LossCurveFit:
    """Fit one parameter set of `model` to all `curves` (one model size).

    Args:
      curves: `LossCurve`s (their LR tables and logged losses).
      model: `"valley_river"` (default), `"multi_power"`, `"annealing"` or a `CurveModel`.
      lr_ref: the LR that normalises the tables, `eta = lr / lr_ref` (default:
        the largest LR of the curves).
      n_starts: screened starts polished by the minimiser.
      n_screen: Sobol points of the start box screened by their objective.
      starts: extra natural parameter vectors to polish (e.g. a previous fit).
      huber_delta: `delta` of the Huber loss on log residuals.
      seed: the Sobol scrambling seed.
      max_iter: iterations (`"lbfgs"`) or Jacobian evaluations (`"trf"`) per start.
      method: `"trf"` (default: SciPy's trust-region reflective least squares with
        the Huber loss and the JAX Jacobian, Gauss–Newton steps) or `"lbfgs"`
        (L-BFGS-B on the Huber objective with its JAX gradient `J^T psi(r)`).
      weights: per curve, 1 (fitted) or 0 (left out: the leave-one-out test
        fits the same arrays, so it reuses the compiled program); default all 1.
        A left-out curve takes no part in the objective, the start box or the
        bounds; `info["curves"]` reports its prediction errors beside the others.
      **model_options: options of a named model (`valley_dim`, `decay`).

    Returns: `LossCurveFit`.

    Example:
      >>> curves = mj.load_shared_curves("25")
      >>> fit = mj.fit_loss_curves(curves, model="multi_power")
      >>> fit.predict(curves[1].lrs, curves[1].steps).shape
      (171,)
    """
    curves = _as_curves(curves)
    model = make_model(model, **model_options)
    for name, v, lo in (("n_starts", n_starts, 1), ("n_screen", n_screen, 0),
                        ("max_iter", max_iter, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not (np.isfinite(huber_delta) and huber_delta > 0):
        raise ValueError(f"huber_delta must be finite and > 0; got {huber_delta}")
    weights = np.ones(len(curves)) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (len(curves),) or not np.all((weights == 0) | (weights == 1)) \
            or weights.sum() < 1:
        raise ValueError(f"weights must be one 0 or 1 per curve ({len(curves)}), at least one "
                         f"1; got {weights.tolist()}")
    fitted = [c for c, w in zip(curves, weights) if w]
    lr_ref = float(max(c.lrs.max() for c in curves)) if lr_ref is None else float(lr_ref)
    if not (np.isfinite(lr_ref) and lr_ref > 0):
        raise ValueError(f"lr_ref must be finite and > 0; got {lr_ref}")
    min_loss = float(min(c.loss.min() for c in fitted))
    k = len(model.parameters)
    t_start = time.perf_counter()

    with jax.enable_x64(True):
        # Records padded to a multiple of _PAD (last record repeated, weight 0): curves
        # of every size and every leave-one-out subset then share one compiled program.
        padded = [_pad_records(c, w) for c, w in zip(curves, weights)]
        data = [jax.tree_util.tree_map(jnp.asarray, model.prepare(c.lrs / lr_ref, steps))
                for c, (steps, _, _) in zip(curves, padded)]
        targets = jnp.concatenate([jnp.log(jnp.asarray(loss)) for _, loss, _ in padded])
        mask = np.concatenate([m for _, _, m in padded])
        mask_j = jnp.asarray(mask)
        residuals_and_jacobian, value_fn = _programs(model, huber_delta)

        bounds = model.bounds(min_loss)
        box = model.start_box(min_loss)
        u_lo = to_unconstrained(model, [lo for lo, _ in bounds])
        u_hi = to_unconstrained(model, [hi for _, hi in bounds])
        b_lo = np.maximum(to_unconstrained(model, [lo for lo, _ in box]), u_lo)
        b_hi = np.minimum(to_unconstrained(model, [hi for _, hi in box]), u_hi)
        candidates = [to_unconstrained(model, s) for s in starts]
        if n_screen:
            unit = qmc.Sobol(k, scramble=True, seed=seed).random(n_screen)
            points = b_lo + unit * (b_hi - b_lo)
            values = np.array([float(value_fn(jnp.asarray(u), data, targets, mask_j))
                               for u in points])
            order = np.argsort(np.where(np.isfinite(values), values, np.inf))
            candidates += [points[i] for i in order[:n_starts] if np.isfinite(values[i])]
        if not candidates:
            raise ValueError("no start gave a finite objective; give starts=[...] inside the "
                             "model's domain")

        def residuals_jacobian_np(u, cache={}):
            key = np.asarray(u, np.float64).tobytes()
            if key not in cache:
                cache.clear()
                r, jac = residuals_and_jacobian(jnp.asarray(u), data, targets, mask_j)
                cache[key] = (np.asarray(r, np.float64), np.asarray(jac, np.float64))
            return cache[key]

        runs = [_polish(method, residuals_jacobian_np, np.clip(u0, u_lo, u_hi), u_lo, u_hi,
                        huber_delta, max_iter) for u0 in candidates]
        best = min(runs, key=lambda r: r["objective"])
        theta = np.asarray(to_natural(model, jnp.asarray(best["u"])), np.float64)
        at_bound = [model.param_names[i] for i in range(k)
                    if min(best["u"][i] - u_lo[i], u_hi[i] - best["u"][i]) < 1e-6]
        r_all, jac_u = residuals_jacobian_np(best["u"])
        raw, _ = residuals_and_jacobian(jnp.asarray(best["u"]), data, targets,
                                        jnp.ones_like(mask_j))
        preds_flat = np.exp(np.asarray(raw, np.float64) + np.asarray(targets))

    # Natural-parameter Jacobian: d r / d theta = (d r / d u) / (d theta / d u).
    jac = jac_u[mask > 0] / _dtheta_du(model, theta)[None, :]
    r = r_all[mask > 0]
    n = len(r)
    s2 = float(np.sum(r**2) / max(n - k, 1))
    rho = _pooled_lag1([len(c.steps) for c in fitted], r)
    inflation = (1.0 + rho) / (1.0 - rho) if rho > 0 else 1.0
    cov = s2 * inflation * np.linalg.pinv(jac.T @ jac)
    stderr = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    offsets = np.cumsum([0] + [len(st) for st, _, _ in padded])
    preds = [preds_flat[offsets[i]:offsets[i] + len(c.steps)] for i, c in enumerate(curves)]
    info = {
        "lr_ref": lr_ref, "huber_delta": huber_delta, "objective": best["objective"],
        "n_points": n, "n_params": k, "residual_rms_log": float(np.sqrt(np.mean(r**2))),
        "lag1_autocorrelation": rho, "error_inflation": inflation, "at_bound": at_bound,
        "starts": [{"objective": run["objective"], "iterations": run["iterations"],
                    "converged": run["converged"], "message": run["message"],
                    "params": np.asarray(to_natural(model, jnp.asarray(run["u"]))).tolist()}
                   for run in runs],
        "n_screen": n_screen, "seed": seed, "method": method,
        "fit_seconds": time.perf_counter() - t_start,
        "curves": [dict(c.describe(), fitted=bool(w), **curve_metrics(c.loss, p))
                   for c, w, p in zip(curves, weights, preds)],
    }
    return LossCurveFit(model, theta, stderr, cov, info)


_PAD = 64
# Compiled residual programs by (model, options, Huber delta): jax.jit caches by the
# arrays' shapes, and keeping the jitted functions alive keeps that cache across fits.
_PROGRAM_CACHE: dict = {}


def _pad_records(curve: LossCurve, weight: float):
    """`(steps, loss, mask)` of a curve padded to a multiple of `_PAD` records."""
    m = len(curve.steps)
    extra = -m % _PAD
    steps = np.r_[curve.steps, np.full(extra, curve.steps[-1])]
    loss = np.r_[curve.loss, np.full(extra, curve.loss[-1])]
    mask = np.r_[np.full(m, float(weight)), np.zeros(extra)]
    return steps, loss, mask


def _programs(model: CurveModel, delta: float):
    """Jitted `(u, data, targets, mask) -> (masked log residuals, their Jacobian in u)`
    and `-> Huber objective`, cached for models of the same kind and options."""
    key = (type(model).__name__, tuple(sorted(model.options().items())), float(delta))
    if key in _PROGRAM_CACHE:
        return _PROGRAM_CACHE[key]

    def residuals_u(u, data, targets, mask):
        preds = jnp.concatenate(model.losses_many(to_natural(model, u), data))
        return mask * (jnp.log(preds) - targets)

    @jax.jit
    def residuals_and_jacobian(u, data, targets, mask):
        # Forward mode: k tangents through the model's scans cost a few primal
        # passes, where reverse mode through a 24 000-step scan costs far more.
        k = u.shape[0]
        return jax.vmap(lambda t: jax.jvp(lambda v: residuals_u(v, data, targets, mask),
                                          (u,), (t,)), out_axes=(None, 1))(jnp.eye(k))

    @jax.jit
    def objective(u, data, targets, mask):
        value = jnp.sum(_huber(residuals_u(u, data, targets, mask), delta)) / delta**2
        return jnp.where(jnp.isfinite(value), value, jnp.inf)

    _PROGRAM_CACHE[key] = (residuals_and_jacobian, objective)
    return _PROGRAM_CACHE[key]


def _dtheta_du(model: CurveModel, theta: np.ndarray) -> np.ndarray:
    """`d theta / d u` of each parameter's transform at `theta`, `(k,)`."""
    out = []
    for p, v in zip(model.parameters, theta):
        out.append(v if p.transform == "log" else v * (1 - v) if p.transform == "logit" else 1.0)
    return np.asarray(out, np.float64)


def _pooled_lag1(lengths: list[int], r: np.ndarray) -> float:
    """Lag-1 autocorrelation of the residuals, pooled over the curves' own sequences."""
    num = den = 0.0
    start = 0
    for m in lengths:
        x = r[start:start + m] - r[start:start + m].mean()
        num += float(np.sum(x[1:] * x[:-1]))
        den += float(np.sum(x * x))
        start += m
    return float(np.clip(num / den, -0.99, 0.99)) if den > 0 else 0.0


def _polish(method, residuals_jacobian, u0, u_lo, u_hi, delta, max_iter) -> dict:
    """Minimise `sum H_delta(r(u)) / delta^2` from `u0` within `[u_lo, u_hi]`."""
    if method == "lbfgs":
        def fun(u):
            r, jac = residuals_jacobian(u)
            value = float(np.sum(np.where(np.abs(r) <= delta, 0.5 * r * r,
                                          delta * (np.abs(r) - 0.5 * delta)))) / delta**2
            grad = jac.T @ np.clip(r, -delta, delta) / delta**2
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                return 1e30, np.zeros_like(grad)
            return value, grad

        res = scipy.optimize.minimize(fun, u0, jac=True, method="L-BFGS-B",
                                      bounds=list(zip(u_lo, u_hi)),
                                      options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-9})
        objective, iterations = float(res.fun), int(res.nit)
    else:
        # least_squares needs a strictly feasible start.
        margin = 1e-9 * np.maximum(1.0, u_hi - u_lo)
        u0 = np.clip(u0, u_lo + margin, u_hi - margin)
        res = scipy.optimize.least_squares(
            lambda u: residuals_jacobian(u)[0], u0, jac=lambda u: residuals_jacobian(u)[1],
            bounds=(u_lo, u_hi), method="trf", loss="huber", f_scale=delta, x_scale="jac",
            max_nfev=max_iter, ftol=1e-12, xtol=1e-12, gtol=1e-12)
        # SciPy's cost is 0.5 sum delta^2 rho((r / delta)^2) = sum H_delta(r).
        objective, iterations = float(res.cost) / delta**2, int(res.nfev)
    return {"objective": objective, "iterations": iterations, "converged": bool(res.success),
            "message": str(res.message), "u": np.asarray(res.x)}
