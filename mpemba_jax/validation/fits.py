"""Decay-rate fits and the joint test of an eigenmode projection over the records.

- `exp_covariance`: the exact covariance of `A_k(t)` between record times,
  `e^{-lambda_k |t - s|} SE(min(s, t))^2`;
- `gls_chi2`: `A_k(t) - a_k e^{-lambda_k t}` tested jointly with it;
- `fit_amplitude`: the GLS estimate of `a_k` in `a_k e^{-lambda_k t}` at a known rate;
- `fit_decay`: generalised least squares of `A e^{-r t}` (same covariance,
  iterated at the fitted `r`), Gauss–Newton on `(A, r)`;
- `fit_log_rate`: weighted least squares of `ln d = c - r t` for a distance.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

__all__ = ["exp_covariance", "gls_chi2", "fit_amplitude", "fit_decay", "fit_log_rate"]


def exp_covariance(t: ArrayLike, se: ArrayLike, rate: float) -> np.ndarray:
    """`Cov(A(s), A(t)) = e^{-rate |t - s|} se(min(s, t))^2`, `(R, R)` for records
    `t (R,)` sorted in time with standard errors `se (R,)`.

    For `A_k(t) = mean_j u_k(y_j(t))` of one set of particles: `u_k` is a
    backward eigenfunction, so `E[u_k(y(t)) | y(s)] = e^{-lambda_k (t - s)} u_k(y(s))`
    and, by the tower property, the covariance is that of the earlier record
    damped by `e^{-lambda_k |t - s|}`.
    """
    t, se = np.asarray(t, float), np.asarray(se, float)
    i = np.arange(len(t))
    first = np.minimum.outer(i, i)
    return np.exp(-max(rate, 0.0) * np.abs(np.subtract.outer(t, t))) * se[first] ** 2


def fit_decay(t: ArrayLike, a: ArrayLike, se: ArrayLike, *, rate0: float,
              correlated: bool = True, n_iter: int = 4) -> dict:
    """Generalised least squares fit of `a(t) = A exp(-r t)`.

    `correlated=True` uses the covariance of an eigenmode projection,
    `e^{-r |t - s|} se(min)^2`, rebuilt at each iterate's `r` (start `rate0`);
    otherwise independent errors. Returns `{"amplitude", "rate", "rate_se",
    "amplitude_se", "chi2", "dof"}`; `rate` is `nan` if the fit fails.
    """
    with np.errstate(all="ignore"):
        return _fit_decay(t, a, se, rate0, correlated, n_iter)


def _fit_decay(t, a, se, rate0, correlated, n_iter) -> dict:
    t, a, se = (np.asarray(v, float) for v in (t, a, se))
    order = np.argsort(t)
    t, a, se = t[order], a[order], se[order]
    r = float(rate0)
    amp = float(a[0]) if a[0] != 0 else 1e-12
    out = {"amplitude": math.nan, "rate": math.nan, "rate_se": math.nan,
           "amplitude_se": math.nan, "chi2": math.nan, "dof": len(t) - 2}
    for _ in range(n_iter):
        cov = exp_covariance(t, se, r) if correlated else np.diag(se**2)
        try:
            w = np.linalg.inv(cov)
        except np.linalg.LinAlgError:
            return out
        # Gauss–Newton on (A, r) for the fixed covariance.
        for _ in range(50):
            f = amp * np.exp(-r * t)
            jac = np.stack([np.exp(-r * t), -t * f], axis=1)
            h = jac.T @ w @ jac
            g = jac.T @ w @ (a - f)
            try:
                step = np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                return out
            amp, r = amp + step[0], r + step[1]
            if abs(step[1]) < 1e-10 * max(abs(r), 1e-12) and abs(step[0]) < 1e-12 * max(abs(amp), 1e-12):
                break
        if not (math.isfinite(r) and math.isfinite(amp)):
            return out
    cov = exp_covariance(t, se, r) if correlated else np.diag(se**2)
    w = np.linalg.inv(cov)
    f = amp * np.exp(-r * t)
    jac = np.stack([np.exp(-r * t), -t * f], axis=1)
    try:
        pcov = np.linalg.inv(jac.T @ w @ jac)
    except np.linalg.LinAlgError:
        return out
    res = a - f
    if not (np.all(np.isfinite(pcov)) and pcov[0, 0] >= 0 and pcov[1, 1] >= 0):
        return out
    out.update(amplitude=float(amp), rate=float(r), amplitude_se=float(math.sqrt(pcov[0, 0])),
               rate_se=float(math.sqrt(pcov[1, 1])), chi2=float(res @ w @ res))
    return out


def gls_chi2(t: ArrayLike, resid: ArrayLike, se: ArrayLike, rate: float) -> tuple[float, int, float]:
    """Joint chi-square of an eigenmode projection's residuals over the records.

    `X^2 = r^T C^{-1} r` with `C = exp_covariance(t, se, rate)` (records sorted
    in time first); `r = A_k(t) - a_k e^{-lambda_k t}`, `(R,)`. Returns
    `(X^2, R, chi2.sf(X^2, R))`: `R` degrees of freedom, nothing is fitted.
    """
    t, resid, se = (np.asarray(v, float) for v in (t, resid, se))
    order = np.argsort(t)
    t, resid, se = t[order], resid[order], se[order]
    cov = exp_covariance(t, se, rate)
    x2 = float(resid @ np.linalg.solve(cov, resid))
    return x2, len(t), float(scipy.stats.chi2.sf(x2, len(t)))


def fit_amplitude(t: ArrayLike, a: ArrayLike, se: ArrayLike, rate: float) -> tuple[float, float]:
    """GLS estimate of `A` in `a(t) = A e^{-rate t}` at a known rate, and its standard error.

    With `m = e^{-rate t}` and `C = exp_covariance(t, se, rate)`,
    `A = m^T C^{-1} a / m^T C^{-1} m` and `SE(A) = (m^T C^{-1} m)^{-1/2}`.
    For an eigenmode projection the records after the first add innovations
    only, so `A` is close to `a(0)` and `SE(A)` to `se(0)`; the fit uses them
    all the same. `t`, `a`, `se`: `(R,)`.
    """
    t, a, se = (np.asarray(v, float) for v in (t, a, se))
    order = np.argsort(t)
    t, a, se = t[order], a[order], se[order]
    m = np.exp(-rate * t)
    cov = exp_covariance(t, se, rate)
    w_m = np.linalg.solve(cov, m)
    info = float(m @ w_m)
    return float(w_m @ a / info), float(1.0 / math.sqrt(info))


def fit_log_rate(t: ArrayLike, d: ArrayLike, se: ArrayLike) -> dict:
    """Weighted least squares of `ln d = c - r t` with weights `(d / se)^2`
    (records treated as independent).

    `d`, `se`: `(R,)` positive distances and their standard errors at times
    `t (R,)`; records with `d <= 0` or `se <= 0` are left out. Returns
    `{"rate", "rate_se", "t_range"}` (`nan`s with fewer than 3 records).
    """
    t, d, se = (np.asarray(v, float) for v in (t, d, se))
    out = {"rate": math.nan, "rate_se": math.nan, "t_range": [math.nan, math.nan]}
    ok = (d > 0) & (se > 0)
    if ok.sum() < 3:
        return out
    t, y, w = t[ok], np.log(d[ok]), (d[ok] / se[ok]) ** 2
    x = np.stack([np.ones_like(t), -t], 1)
    cov = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = cov @ x.T @ (w * y)
    out.update(rate=float(beta[1]), rate_se=float(math.sqrt(cov[1, 1])),
               t_range=[float(t.min()), float(t.max())])
    return out
