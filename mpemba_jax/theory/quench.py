"""Predictions after a quench to the bath, from the spectral sum (THEORY section 4).

From equilibrium at `eta_h` the river's cell masses at time `t` after the
quench are

    p_i(t) = pi_i (1 + g_i(t)),   g_i(t) = sum_{k=2}^{K} a_k e^{-lambda_k t} r_k,i

over the `K = n_modes` computed modes, with `r_k = v_k / pi_f`
(`fp.mode_ratios`: `u_k` for the reversible continuum operator, not for the
discrete chain); the distances to `pi_f`, their crossing time and the
truncation error follow from it. For early times or very hot starts, where
the discarded modes still matter, use `evolve`. Every function takes the
start of `mpemba.amplitude` (`start="boltzmann"` or `"chain"`).

Like `mpemba`, every function takes the operator `fp` first and is also a
method of `FokkerPlanck` (`fp.distance(lr, t)` is `distance(fp, lr, t)`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.optimize
import scipy.special
from jax.typing import ArrayLike

from .distances import DISTANCES, distance_from_ratio, masses_to_bins
from .chain import propagate
from .mpemba import amplitudes, log_equilibrium_masses, start_masses

if TYPE_CHECKING:
    from .operator import FokkerPlanck

__all__ = ["masses", "density", "bin_probabilities", "distance", "spectral_error", "crossing_time"]


def _ratio(fp: FokkerPlanck, lr_init: float, t: ArrayLike, start: str) -> np.ndarray:
    """`g(y_i, t) = p / pi_f - 1 = sum_{k>=2} a_k e^{-lambda_k t} r_k`, shape `(n_t, n_grid)`."""
    t = _times(t)
    a = amplitudes(fp, float(lr_init), start)
    coef = a[None, 1:] * np.exp(-np.outer(t, fp.eigenvalues[1:]))
    return coef @ fp.mode_ratios[1:]


def _times(t: ArrayLike) -> np.ndarray:
    t = np.atleast_1d(np.asarray(t, np.float64))
    if np.any(~np.isfinite(t) | (t < 0)):
        raise ValueError(f"t must be finite and >= 0; got {t!r}")
    return t


def masses(fp: FokkerPlanck, lr_init: float, t: ArrayLike, start: str = "boltzmann") -> np.ndarray:
    """Predicted cell masses after a quench from equilibrium at `lr_init`, `(n_t, n_grid)`.

    Spectral sum over the `n_modes` computed modes: exact for the modes kept,
    so accurate once the discarded ones have decayed (see `spectral_error`).
    """
    return fp.stationary_masses * (1.0 + _ratio(fp, lr_init, t, start))


def density(fp: FokkerPlanck, lr_init: float, t: ArrayLike, start: str = "boltzmann") -> np.ndarray:
    """`p(y_i, t)` at the cell centres, shape `(n_t, n_grid)` (see `masses`)."""
    return masses(fp, lr_init, t, start) / fp.h


def bin_probabilities(fp: FokkerPlanck, lr_init: float, t: ArrayLike, edges: ArrayLike,
                      start: str = "boltzmann") -> np.ndarray:
    """`integral_bin p(y, t) dy` for bins `edges (n_bins + 1,)`, shape `(n_t, n_bins)`.

    The density is constant on each grid cell; mass outside the grid is zero.
    """
    return masses_to_bins(fp.edges, masses(fp, lr_init, t, start), edges)


def distance(fp: FokkerPlanck, lr_init: float, t: ArrayLike, kind: str = "tv",
             start: str = "boltzmann") -> np.ndarray:
    """Distance to equilibrium after a quench, shape `(n_t,)`.

    `"tv"`: `0.5 integral |p - pi_f| dy`; `"kl"`: `integral p ln(p / pi_f) dy`;
    `"l2"`: `(integral (p - pi_f)^2 / pi_f dy)^(1/2)`, `= (sum_k a_k^2 e^{-2 lambda_k t})^(1/2)`
    for the reversible continuum operator.
    Computed from `g = p / pi_f - 1`, so no cancellation where `p ~ pi_f`.

    Example:
      >>> fp.distance(0.05, [0.0, 100.0, 1000.0], "tv").shape
      (3,)
    """
    if kind == "l2" and fp.dt is None:
        t = _times(t)
        a = amplitudes(fp, float(lr_init), start)[1:]
        return np.sqrt(np.exp(-2 * np.outer(t, fp.eigenvalues[1:])) @ a**2)
    return distance_from_ratio(fp.stationary_masses, _ratio(fp, lr_init, t, start), kind)


def spectral_error(fp: FokkerPlanck, lr_init: float, t: ArrayLike,
                   start: str = "boltzmann") -> np.ndarray:
    """Total-variation error of the `n_modes` spectral sum (a bound), shape `(n_t,)`.

    Continuum: `0.5 ||p - p_K||_{1/pi} <= 0.5 (chi2(P_h, pi_f) - sum_k a_k^2)^(1/2)
    e^{-lambda_K t}` (Cauchy–Schwarz; `lambda_K` stands in for the first discarded
    rate, so the bound is conservative). Chain (not reversible, so no such
    bound): the discarded part `r_0 = p_0 - pi_f - sum_k a_k V_k` itself, carried
    by the chain's kernel to `floor(t / h)` steps, `0.5 |K^T^s r_0|_1` (to round-off);
    beyond `40 / (lambda_K h)` steps it is extended by `e^{-lambda_K t}`.
    """
    if fp.dt is not None:
        return _chain_residual(fp, lr_init, _times(t), start)
    t = _times(t)
    logp = log_equilibrium_masses(fp, lr_init)[0]
    logpi = np.log(np.maximum(fp.stationary_masses, np.finfo(float).tiny))
    log_chi = scipy.special.logsumexp(2 * logp - logpi)
    a = amplitudes(fp, float(lr_init))
    kept = np.sum(a**2)
    tail2 = max(math.exp(log_chi) - kept, 0.0) if log_chi < 700 else math.exp(700.0)
    tail2 = max(tail2, 1e-16 * kept)
    return 0.5 * math.sqrt(tail2) * np.exp(-fp.eigenvalues[-1] * t)


def _chain_residual(fp: FokkerPlanck, lr_init: float, t: np.ndarray, start: str) -> np.ndarray:
    p0 = start_masses(fp, float(lr_init), start)[0]
    a = fp.left_eigenfunctions @ p0
    resid = p0 - a @ (fp.right_eigenfunctions * fp.h)
    steps = np.floor(t / fp.dt + 1e-9).astype(np.int64)
    cap = int(np.ceil(40.0 / (fp.eigenvalues[-1] * fp.dt)))
    run = np.unique(np.minimum(steps, cap))
    slot = np.full(int(run.max()) + 1, len(run))
    slot[run] = np.arange(len(run))
    r = propagate(fp, resid[None], np.full(int(run.max()), fp.lr_bath), slot, len(run), clip=False)
    tv = 0.5 * np.abs(r[:, 0]).sum(-1)
    out = tv[np.searchsorted(run, np.minimum(steps, cap))]
    beyond = steps > cap
    out[beyond] *= np.exp(-fp.eigenvalues[-1] * fp.dt * (steps[beyond] - cap))
    return out


def crossing_time(fp: FokkerPlanck, lr_a: float, lr_b: float, kind: str = "tv",
                  n_times: int = 600, start: str = "boltzmann") -> float:
    """Earliest time after which the two quenches' distance curves cross, or `nan`.

    Searches `n_times` log-spaced times from where the spectral sum is
    trustworthy (`spectral_error < 1e-3 * distance` for both) to `60 /
    lambda_2`, then refines the first sign change of `D_a - D_b` by Brent.
    """
    if kind not in DISTANCES:
        raise ValueError(f"kind must be one of {DISTANCES}; got {kind!r}")
    if isinstance(n_times, bool) or not isinstance(n_times, (int, np.integer)) or n_times < 2:
        raise ValueError(f"n_times must be an integer >= 2; got {n_times!r}")
    lam2 = fp.eigenvalues[1]
    ts = np.geomspace(1e-4 / lam2, 60.0 / lam2, n_times)
    ok = np.ones_like(ts, bool)
    for lr in (lr_a, lr_b):
        ok &= spectral_error(fp, lr, ts, start) < 1e-3 * distance(fp, lr, ts, "tv", start)
    if not ok.any():
        return float("nan")
    ts = ts[np.argmax(ok):]
    diff = lambda t: float(  # noqa: E731
        distance(fp, lr_a, t, kind, start)[0] - distance(fp, lr_b, t, kind, start)[0]
    )
    d = distance(fp, lr_a, ts, kind, start) - distance(fp, lr_b, ts, kind, start)
    idx = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]
    if len(idx) == 0:
        return float("nan")
    i = idx[0]
    return float(scipy.optimize.brentq(diff, ts[i], ts[i + 1], xtol=1e-12 * ts[i + 1]))
