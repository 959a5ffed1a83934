"""Valley and river timescales and the decay window of a schedule (THEORY section 6).

    tau_x(eta) = < 1 / (mu(eta) min_i a_i(y)) >_{P_T}  valley relaxation time (slowest direction)
    tau_y(eta) = 1 / lambda_2(eta)                        slowest river mode

A decay keeps the valley in equilibrium yet quenches the river when

    1 / tau_y(eta)  <~  |d ln eta / dt|  <~  1 / tau_x(eta).

Each rate is fitted as `r(eta) = c eta^m` over the LRs of the decay; a decay
`d eta / dt = -c eta^n` with `n = m + 1` follows it exactly, with the closed form

    eta(t) = (eta_0^(1 - n) + (n - 1) c t)^(1 / (1 - n))     (n != 1)
    eta(t) = eta_0 exp(-c t)                                  (n = 1)

The valley bound (`c_x, n_x`) is the fastest allowed decay (the LR may not fall
below it); the river bound (`c_y, n_y`) the slowest (the LR must fall at least
that fast). With `tau_x` independent of `eta` (`time="lr_area"`, constant `a`)
the fast bound is exponential; with `tau_y ~ 1 / eta` the slow one is the power
law `eta ~ 1 / t`. Which powers appear depends on the time convention, so they
are computed, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike

from ..landscape import ValleyRiver
from ..schedules import power_law_decay
from .conventions import mobility_of
from .operator import FokkerPlanck

__all__ = ["tau_x", "tau_y", "DecayWindow", "decay_window"]


def _positive_lrs(lr: ArrayLike) -> np.ndarray:
    lrs = np.asarray(lr, np.float64)
    if not np.all(np.isfinite(lrs) & (lrs > 0)):
        raise ValueError(f"lr must be finite and > 0; got {lr!r}")
    return lrs


def tau_x(fp: FokkerPlanck, lr: ArrayLike) -> np.ndarray | float:
    """`< 1 / (mu min_i a_i(y)) >` over the equilibrium river density at `lr`, on `fp`'s grid.

    The average of the local valley time over where the river actually is; a
    soft stretch of valley dominates it, as it should for "the valley has
    equilibrated". Shape of `lr`.

    Example:
      >>> fp = mj.FokkerPlanck(mj.preset("harmonic", valley_curvature=10.0), 0.1)
      >>> float(tau_x(fp, 0.1))     # 1 / (mu a) = 1 / (0.1 * 10)
      1.0
    """
    if not isinstance(fp, FokkerPlanck):
        raise ValueError(f"fp must be a mj.FokkerPlanck (tau_x averages over its grid); "
                         f"got {type(fp).__name__}")
    lrs = _positive_lrs(lr)
    inv_a = 1.0 / fp.curvature_values.min(axis=-1)  # the slowest valley direction
    out = np.array(
        [
            fp.equilibrium(x) @ inv_a / mobility_of(fp.dynamics, x)
            for x in np.atleast_1d(lrs)
        ]
    )
    return out.reshape(lrs.shape) if lrs.shape else float(out[0])


def tau_y(
    landscape: ValleyRiver,
    lr: ArrayLike,
    *,
    time: str = "steps",
    temperature_scale: float = 1.0,
    n_grid: int = 2000,
) -> np.ndarray | float:
    """`1 / lambda_2` of the river operator at each LR (one `FokkerPlanck` per LR).

    Example:
      >>> float(tau_y(mj.preset("harmonic", stiffness=2.0), 0.1))   # 1 / (mu k)
      5.0...
    """
    if not isinstance(landscape, ValleyRiver):
        raise ValueError(f"landscape must be a mj.ValleyRiver; got {type(landscape).__name__}")
    lrs = _positive_lrs(lr)
    out = np.array(
        [
            1.0
            / FokkerPlanck(
                landscape,
                x,
                time=time,
                temperature_scale=temperature_scale,
                n_grid=n_grid,
                n_modes=2,
                lr_max=x,
            ).eigenvalues[1]
            for x in np.atleast_1d(lrs)
        ]
    )
    return out.reshape(lrs.shape) if lrs.shape else float(out[0])


class DecayWindow(NamedTuple):
    """Allowed `|d ln eta / dt|` between the plateau and the bath LR.

    lrs: `(n,)` LRs, descending from the peak to the bath.
    rate_min: `1 / tau_y(lrs)`; decaying slower lets the river follow (no quench).
    rate_max: `1 / tau_x(lrs)`; decaying faster leaves the valley behind.
    fast: `(c_x, n_x)`, the fitted valley bound `d eta / dt = -c_x eta^n_x`.
    slow: `(c_y, n_y)`, the fitted river bound.
    open: whether `rate_min < rate_max` at every LR.
    """

    lrs: np.ndarray
    rate_min: np.ndarray
    rate_max: np.ndarray
    fast: tuple[float, float]
    slow: tuple[float, float]
    open: bool

    def bounds(self, t: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """`(eta_fast(t), eta_slow(t))` from the peak LR: a schedule in the window
        keeps `eta_fast <= eta(t) <= eta_slow` (closed forms, `schedules.power_law_decay`)."""
        eta0 = float(self.lrs[0])
        fast, slow = (power_law_decay(eta0, *p) for p in (self.fast, self.slow))
        t = np.asarray(t, np.float64)
        with jax.enable_x64(True):
            return np.asarray(fast(t)), np.asarray(slow(t))

    def check(self, schedule: Callable, t: ArrayLike) -> np.ndarray:
        """`-1` / `0` / `+1` per time: decaying too slowly / inside / too fast,
        from the schedule's own `|d ln eta / dt|` (finite differences on `t`)."""
        t = np.asarray(t, np.float64)
        eta = np.array([float(schedule(x)) for x in t])
        rate = np.abs(np.gradient(np.log(eta), t))
        lo = np.interp(eta, self.lrs[::-1], self.rate_min[::-1])
        hi = np.interp(eta, self.lrs[::-1], self.rate_max[::-1])
        return np.where(rate < lo, -1, np.where(rate > hi, 1, 0))


def decay_window(
    landscape: ValleyRiver,
    lr_peak: float,
    lr_bath: float,
    *,
    time: str = "steps",
    temperature_scale: float = 1.0,
    n_lr: int = 16,
    n_grid: int = 2000,
) -> DecayWindow:
    """Compute the decay window of THEORY section 6 from `tau_x(eta)` and `tau_y(eta)`.

    Example:
      >>> w = decay_window(mj.preset("harmonic"), 0.1, 0.01)
      >>> w.fast, w.slow        # (c, n) of each bound; in "steps" both have n = 2
    """
    if not (0 < lr_bath < lr_peak):
        raise ValueError(f"need 0 < lr_bath < lr_peak; got lr_bath={lr_bath}, lr_peak={lr_peak}")
    lrs = np.geomspace(lr_peak, lr_bath, int(n_lr))
    fp = FokkerPlanck(
        landscape,
        lr_bath,
        time=time,
        temperature_scale=temperature_scale,
        n_grid=n_grid,
        n_modes=2,
        lr_max=lr_peak,
    )
    rate_max = 1.0 / tau_x(fp, lrs)
    rate_min = 1.0 / tau_y(
        landscape, lrs, time=time, temperature_scale=temperature_scale, n_grid=n_grid
    )
    return DecayWindow(
        lrs=lrs,
        rate_min=rate_min,
        rate_max=rate_max,
        fast=_fit(lrs, rate_max),
        slow=_fit(lrs, rate_min),
        open=bool(np.all(rate_min < rate_max)),
    )


def _fit(lrs: np.ndarray, rate: np.ndarray) -> tuple[float, float]:
    """Least squares `ln r = ln c + m ln eta`; returns `(c, n = m + 1)`."""
    m, logc = np.polyfit(np.log(lrs), np.log(rate), 1)
    return float(np.exp(logc)), float(m + 1.0)
