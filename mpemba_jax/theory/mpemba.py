"""Mpemba amplitudes and strong Mpemba points (THEORY section 4).

A quench from equilibrium at the plateau LR `eta_h` (`T_h = g eta_h`) to the
bath relaxes as

    p(y, t) = pi_f(y) + sum_{k>=2} a_k(eta_h) exp(-lambda_k t) v_k(y),
    a_k(eta_h) = integral u_k P_{T_h} dy = sum_i U_k,i P_h,i,
    P_h,i ~ exp(-F_{T_h}(y_i) / T_h),   F_T = V + (d T / 2) ln a,

so late times are set by `a_2`: where `a_2(eta*) = 0` (a strong Mpemba point)
the slowest mode is absent. Its slope is a covariance,

    d a_k / d T_h = Cov_{P_{T_h}}(u_k, V) / T_h^2,

whose sign changes are necessary for `a_k` to be non-monotonic.

Two starts (`start=`): `"boltzmann"` (default), the Boltzmann state
`P_{T_h}` above, which `mj.equilibrium(eta_h)` samples; and `"chain"`, the
stationary state of the discrete chain at `eta_h` (`fp.stationary`, the state
a long WSD plateau reaches under the engine's integrator; THEORY section 8).
For the continuum operator the two are the same. The slope and covariance
formulas hold for the Boltzmann start.

Every function takes the `FokkerPlanck` operator `fp` first and is also a
method of it (`fp.amplitude(lr)` is `amplitude(fp, lr)`): the class assigns
these functions as attributes (see `operator`'s docstring for why), so each
has one body and one docstring and the operator's module stays about the
operator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.special
from jax.typing import ArrayLike

from .conventions import positive_lr

if TYPE_CHECKING:
    from .operator import FokkerPlanck

__all__ = [
    "STARTS", "MpembaSummary", "log_equilibrium_masses", "start_masses", "amplitude", "amplitudes", "amplitude_jax",
    "amplitude_slope", "covariance_criterion", "strong_mpemba_points", "mpemba_summary",
    "hotter_has_advantage",
]


STARTS = ("boltzmann", "chain")
# Chain stationary states kept per operator (plateau LR -> masses), for scans and roots.
_CACHE_SIZE = 4096


class MpembaSummary(NamedTuple):
    """What `FokkerPlanck.mpemba_summary` finds on a plateau-LR range.

    strong_points: ascending LRs with `a_2 = 0` (strong Mpemba points).
    a3_at_points: `a_3` there (the amplitude that then sets the decay).
    optimal_lr, optimal_a2: the plateau LR minimising `|a_2|` and `a_2` there.
    worst_lr, worst_a2: the plateau LR maximising `|a_2|` and `a_2` there.
    index: the Mpemba index, the number of sign changes of `a_2` on the range.
    """

    strong_points: np.ndarray
    a3_at_points: np.ndarray
    optimal_lr: float
    optimal_a2: float
    worst_lr: float
    worst_a2: float
    index: int


# -- amplitudes ------------------------------------------------------------------
def log_equilibrium_masses(fp: FokkerPlanck, lr_init: ArrayLike) -> np.ndarray:
    """`ln P_h,i` of the equilibrium at each `lr_init` on `fp`'s grid, shape `(n_lr, n_grid)`.

    `ln P_h,i = -F_{T_h}(y_i) / T_h - logsumexp(...)`, finite even where the
    masses underflow. Raises `ValueError` for `lr_init <= 0` and, on an
    unbounded river, beyond `fp.lr_max` (the grid would cut the density off).
    """
    lr = np.atleast_1d(np.asarray(lr_init, np.float64))
    if not np.all(np.isfinite(lr) & (lr > 0)):
        raise ValueError(f"lr_init must be finite and > 0; got {lr_init!r}")
    if fp.landscape.domain is None and np.any(lr > fp.lr_max * (1 + 1e-12)):
        raise ValueError(
            f"lr_init up to {lr.max():g} exceeds lr_max={fp.lr_max:g}, the hottest LR "
            "whose equilibrium this grid holds; build FokkerPlanck(..., lr_max=...)"
        )
    temps = fp.dynamics.temperature_scale * lr
    logw = -(fp.river_values[None, :] / temps[:, None]) - 0.5 * fp.log_det_curvature
    return logw - scipy.special.logsumexp(logw, axis=1, keepdims=True)


def start_masses(fp: FokkerPlanck, lr_init: ArrayLike, start: str = "boltzmann") -> np.ndarray:
    """Cell masses of the start at each plateau LR, `(n_lr, n_grid)`: the Boltzmann state
    (`start="boltzmann"`) or the chain's stationary state (`"chain"`, `fp.stationary`;
    the Boltzmann state again for the continuum operator). Same checks as
    `log_equilibrium_masses`."""
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}; got {start!r}")
    logp = log_equilibrium_masses(fp, lr_init)
    if start == "boltzmann" or fp.dt is None:
        return np.exp(logp)
    cache = fp.__dict__.setdefault("_stationary_cache", {})
    out = []
    for lr in np.atleast_1d(np.asarray(lr_init, np.float64)).tolist():
        if lr not in cache:
            if len(cache) >= _CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[lr] = fp.stationary(lr)
        out.append(cache[lr])
    return np.asarray(out)


def amplitude(fp: FokkerPlanck, lr_init: ArrayLike, k: int = 2,
              start: str = "boltzmann") -> np.ndarray | float:
    """`a_k(eta_h) = integral u_k P_h dy = sum_i U_k,i P_h,i`, shape of `lr_init`.

    The quench from the start at `lr_init` (`start`: `"boltzmann"`, what
    `mj.equilibrium` samples, or `"chain"`, the chain's own stationary state;
    see the module docstring) to the bath evolves as
    `p = pi_f + sum_k a_k exp(-lambda_k t) v_k`. `a_1 = 1`; `a_k(lr_bath) = 0`
    for the start that is the bath's own stationary state. Sign: that of `u_k`
    (positive on its downstream lobe).

    Example:
      >>> fp.amplitude([0.02, 0.05], k=2).shape
      (2,)
    """
    k = fp.check_k(k)
    shape = np.shape(lr_init)
    out = start_masses(fp, lr_init, start) @ fp.left_eigenfunctions[k - 1]
    return out.reshape(shape) if shape else float(out[0])


def amplitudes(fp: FokkerPlanck, lr_init: ArrayLike, start: str = "boltzmann") -> np.ndarray:
    """All `a_k`, shape `lr_init.shape + (n_modes,)`, column `k - 1` is `a_k`."""
    shape = np.shape(lr_init)
    out = start_masses(fp, lr_init, start) @ fp.left_eigenfunctions.T
    return out.reshape(shape + (fp.n_modes,))


def amplitude_jax(fp: FokkerPlanck, k: int = 2) -> Callable[[jax.Array], jax.Array]:
    """`lr -> a_k(lr)` from the Boltzmann start, written in `jnp` (use under
    `jax.enable_x64`), differentiable.

    Example:
      >>> with jax.enable_x64(True):
      ...     slope = jax.grad(fp.amplitude_jax(2))(0.05)
    """
    k = fp.check_k(k)
    river, log_det, u = fp.river_values, fp.log_det_curvature, fp.left_eigenfunctions[k - 1]
    g = fp.dynamics.temperature_scale

    def a_k(lr):
        logw = -jnp.asarray(river) / (g * lr) - 0.5 * jnp.asarray(log_det)
        return jnp.sum(jax.nn.softmax(logw) * jnp.asarray(u))

    return a_k


def amplitude_slope(fp: FokkerPlanck, lr_init: ArrayLike, k: int = 2,
                    start: str = "boltzmann") -> np.ndarray | float:
    """`d a_k / d eta_h`, shape of `lr_init`: for the Boltzmann start by forward-mode
    autodiff through the whole amplitude (x64); for `start="chain"` (whose start is a
    linear solve per LR) by a central difference with step `1e-3 eta_h`."""
    lr = np.asarray(lr_init, np.float64)
    if start == "chain":
        e = 1e-3 * lr
        out = (amplitude(fp, lr + e, k, start) - amplitude(fp, lr - e, k, start)) / (2 * e)
        return out if lr.shape else float(out)
    log_equilibrium_masses(fp, lr)  # validates
    with jax.enable_x64(True):
        f = amplitude_jax(fp, k)
        slope = jax.vmap(lambda x: jax.jvp(f, (x,), (jnp.ones_like(x),))[1])(
            jnp.atleast_1d(jnp.asarray(lr, jnp.float64))
        )
        out = np.asarray(slope).reshape(lr.shape)
    return out if lr.shape else float(out)


def covariance_criterion(fp: FokkerPlanck, lr_init: ArrayLike, k: int = 2) -> np.ndarray | float:
    """`Cov_{P_{T_h}}(u_k, V) / T_h^2`, which equals `d a_k / d T_h` (THEORY section 4).

    A sign change of it on a range is necessary for `a_k` to be non-monotonic
    there. Per LR: `d a_k / d eta_h = g * covariance_criterion`. Shape of `lr_init`.
    """
    k = fp.check_k(k)
    shape = np.shape(lr_init)
    p = np.exp(log_equilibrium_masses(fp, lr_init))
    temps = fp.dynamics.temperature_scale * np.atleast_1d(np.asarray(lr_init, float))
    u, v = fp.left_eigenfunctions[k - 1], fp.river_values
    cov = p @ (u * v) - (p @ u) * (p @ v)
    out = cov / temps**2
    return out.reshape(shape) if shape else float(out[0])


# -- strong Mpemba points -----------------------------------------------------------
def _check_range(fp: FokkerPlanck, lr_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in lr_range)
    except (TypeError, ValueError):
        raise ValueError(f"lr_range must be a pair (lo, hi); got {lr_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and fp.lr_bath < lo < hi):
        raise ValueError(
            f"lr_range must satisfy lr_bath={fp.lr_bath:g} < lo < hi (finite); "
            f"got ({lo:g}, {hi:g})"
        )
    return lo, hi


def _scan(fp: FokkerPlanck, lr_range, n_scan: int, start: str) -> tuple[np.ndarray, np.ndarray]:
    """`n_scan` log-spaced LRs on `lr_range` and `a_2` there, each `(n_scan,)`."""
    lo, hi = _check_range(fp, lr_range)
    if isinstance(n_scan, bool) or not isinstance(n_scan, (int, np.integer)) or n_scan < 2:
        raise ValueError(f"n_scan must be an integer >= 2; got {n_scan!r}")
    lrs = np.geomspace(lo, hi, int(n_scan))
    return lrs, amplitude(fp, lrs, 2, start)


def strong_mpemba_points(fp: FokkerPlanck, lr_range, n_scan: int = 400,
                         start: str = "boltzmann") -> np.ndarray:
    """Every `eta*` in `lr_range` with `a_2(eta*) = 0`, ascending, shape `(n_points,)`.

    Scans `n_scan` log-spaced LRs for sign changes, then refines each with
    Brent's method to `xtol = 1e-12 eta*`. Double roots (a touch without a
    sign change) closer than the scan spacing are not reported. `start` as in
    `amplitude` (`"chain"` solves for the chain's stationary state at every
    LR tried: use a smaller `n_scan`).

    Example:
      >>> fp = mj.FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=3000, lr_max=0.1)
      >>> fp.strong_mpemba_points((0.0105, 0.1))      # about [0.0182]
    """
    lrs, a2 = _scan(fp, lr_range, n_scan, start)
    roots = []
    f = lambda x: amplitude(fp, x, 2, start)  # noqa: E731
    for i in np.nonzero(np.sign(a2[:-1]) * np.sign(a2[1:]) <= 0)[0]:
        if a2[i] == 0.0:
            roots.append(lrs[i])
        elif a2[i + 1] != 0.0:
            roots.append(scipy.optimize.brentq(f, lrs[i], lrs[i + 1], xtol=1e-14, rtol=1e-12))
    if a2[-1] == 0.0:
        roots.append(lrs[-1])
    return np.unique(np.asarray(roots, float))


def mpemba_summary(fp: FokkerPlanck, lr_range, n_scan: int = 400,
                   start: str = "boltzmann") -> MpembaSummary:
    """Strong points, optimal and worst plateau LRs and the Mpemba index on `lr_range`.

    The optimal plateau is a strong Mpemba point when there is one (among
    several, the one with smallest `|a_3|`), else the bounded minimiser of
    `|a_2|`; the worst plateau maximises `|a_2|` (refined from the scan).
    """
    lrs, a2 = _scan(fp, lr_range, n_scan, start)
    points = strong_mpemba_points(fp, lr_range, n_scan, start)
    a3 = amplitude(fp, points, 3, start) if len(points) else np.zeros(0)
    if len(points):
        j = int(np.argmin(np.abs(a3)))
        opt_lr, opt_a2 = float(points[j]), float(amplitude(fp, points[j], 2, start))
    else:
        opt_lr, opt_a2 = _refine_extremum(fp, lrs, np.abs(a2), True, start)
    worst_lr, worst_a2 = _refine_extremum(fp, lrs, np.abs(a2), False, start)
    return MpembaSummary(
        strong_points=points,
        a3_at_points=np.asarray(a3, float),
        optimal_lr=opt_lr,
        optimal_a2=opt_a2,
        worst_lr=worst_lr,
        worst_a2=worst_a2,
        index=int(len(points)),
    )


def _refine_extremum(fp: FokkerPlanck, lrs, absa, minimise: bool,
                     start: str) -> tuple[float, float]:
    """The scan's extremum of `|a_2|` refined between its neighbours; `(lr, a_2(lr))`."""
    i = int(np.argmin(absa) if minimise else np.argmax(absa))
    lo, hi = lrs[max(i - 1, 0)], lrs[min(i + 1, len(lrs) - 1)]
    sign = 1.0 if minimise else -1.0
    res = scipy.optimize.minimize_scalar(
        lambda x: sign * abs(amplitude(fp, x, 2, start)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-10 * hi},
    )
    best = float(res.x) if sign * abs(amplitude(fp, res.x, 2, start)) <= sign * absa[i] else lrs[i]
    return best, float(amplitude(fp, best, 2, start))


def hotter_has_advantage(fp: FokkerPlanck, lr_a: float, lr_b: float,
                         start: str = "boltzmann") -> bool:
    """Whether the hotter of two plateau LRs (both > lr_bath) has the smaller `|a_2|`.

    That is the Mpemba effect for this pair: the hotter start ends up closer to
    equilibrium at late times and the distance curves cross.
    """
    a, b = positive_lr("lr_a", lr_a), positive_lr("lr_b", lr_b)
    if min(a, b) <= fp.lr_bath or a == b:
        raise ValueError(
            f"lr_a and lr_b must differ and both exceed lr_bath={fp.lr_bath:g}; "
            f"got {a:g}, {b:g}"
        )
    hot, cold = max(a, b), min(a, b)
    return bool(abs(amplitude(fp, hot, 2, start)) < abs(amplitude(fp, cold, 2, start)))
