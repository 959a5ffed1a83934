"""The river density under a whole LR schedule (THEORY sections 3 and 6).

    dp/dt = mu(eta(t)) d/dy [ F_T(t)'(y) p + T(t) dp/dy ],   T(t) = g eta(t)

on the grid of a `FokkerPlanck` object, with the same detailed-balance rates
(`W_{i->i+1} = mu T / h^2 exp(-(F_{i+1} - F_i) / 2T)`) evaluated at each step's
LR. The LR is held piecewise constant exactly as the simulator holds it: on
`[s dt, (s + 1) dt)` it is `schedule(s dt)`, or `table[s]` for an LR table
(a run's `lr_steps` goes in as it is, no schedule is rebuilt). Each step takes `substeps`
implicit-Euler substeps `(I - dt' M) P_new = P_old`: `I - dt' M` is a column
diagonally dominant M-matrix with unit column sums, so every step conserves
probability to round-off and maps non-negative masses to non-negative masses
(Gaussian elimination needs no pivoting and adds only non-negative terms). The
price is first order in time: rates `lambda` come out as
`ln(1 + lambda dt') / dt'`, a relative error `~ lambda dt' / 2`.

Runs in float64 JAX (`lax.scan`, `lax.linalg.tridiagonal_solve`).

For the discrete chain (`FokkerPlanck(..., dt=h)`, THEORY section 8) the same
call applies the chain's own kernel at each step's LR, `p <- K(eta_s)^T p`
(`chain.propagate`): exact for the chain, no time-stepping error, so
`substeps` is ignored, and `dt` must be the chain's `h`. With
`valley_moment` the valley's second moment is carried along cell by cell and
pushes the river at its current value rather than its stationary one.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ..schedules import evaluate_schedule
from .chain import propagate, step_moments
from .conventions import positive_lr
from .operator import FokkerPlanck

__all__ = ["Evolution", "evolve", "schedule_values"]

# exp() arguments are clipped here; a rate of e^300 per unit time is instantaneous.
_CLIP = 300.0


class Evolution(NamedTuple):
    """Cell masses recorded at chosen times.

    times: `(n_rec,)`, `s * dt` for each recorded step index `s`.
    lrs: `(n_rec,)`, the LR in force on `[s dt, (s + 1) dt)` (the last one for `s = n_steps`).
    masses: `(n_rec, n_grid)` cell probabilities at those times.
    """

    times: np.ndarray
    lrs: np.ndarray
    masses: np.ndarray


def schedule_values(schedule: Callable | float | np.ndarray, dt: float, n_steps: int) -> np.ndarray:
    """`schedule(s * dt)` for `s = 0 .. n_steps - 1` as float64, shape `(n_steps,)`.

    Evaluated exactly as the simulator does (`schedules.evaluate_schedule`, in
    float64), so that theory and particles see the same LRs. A number means a
    constant LR; a 1-D array is an LR table (a run's `lr_steps`), whose first
    `n_steps` entries are used as they are.
    """
    if callable(schedule):
        return evaluate_schedule(schedule, np.arange(n_steps) * dt)
    if np.ndim(schedule) == 1:
        table = np.asarray(schedule, np.float64)
        if len(table) < n_steps:
            raise ValueError(f"schedule: an LR table needs at least n_steps={n_steps} values; "
                             f"got {len(table)}")
        return table[:n_steps].copy()
    return np.full(n_steps, positive_lr("schedule", schedule))


def evolve(
    fp: FokkerPlanck,
    initial: ArrayLike,
    schedule: Callable | float,
    dt: float,
    *,
    n_steps: int,
    record_steps: ArrayLike | None = None,
    substeps: int = 1,
    valley_moment: ArrayLike | None = None,
) -> Evolution:
    """Evolve cell masses under a schedule on `fp`'s grid.

    Args:
      fp: supplies the landscape, grid and time convention (its bath LR is unused).
      initial: cell masses `(n_grid,)`, e.g. `fp.equilibrium(lr)` or
        `fp.point_mass(y0)`; non-negative, renormalised to sum 1.
      schedule: an LR table `(>= n_steps,)` (the LR of each step, e.g. a
        result's `lr_steps`, used as it is), `t -> lr` (optax schedules
        included) in the convention's time unit, or a constant LR.
      dt: step of the piecewise-constant LR (the simulator's step).
      n_steps: number of steps.
      record_steps: step indices `s` in `[0, n_steps]` to record (default every step).
      substeps: implicit-Euler substeps per step (error `~ 1 / substeps`); the chain
        (`fp.dt` set) steps exactly and ignores it.
      valley_moment: chain only: the valley's second moment per coordinate at step 0,
        a scalar or `(n_grid, d)` (0 for particles started at `x = 0`, `T / a` for
        `mj.equilibrium`). The river's push then follows the valley's moment
        recursion cell by cell (its lag behind the LR) instead of the stationary
        variance (`None`, the default; THEORY section 8).

    Returns: `Evolution(times (n_rec,), lrs (n_rec,), masses (n_rec, n_grid))`.

    Example:
      >>> fp = mj.FokkerPlanck(land, 0.01)
      >>> sched = optax.linear_schedule(0.1, 0.01, 2000)
      >>> ev = mj.evolve(fp, fp.equilibrium(0.1), sched, 1.0, n_steps=4000,
      ...                record_steps=range(0, 4001, 100))
    """
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0; got {dt}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; got {n_steps!r}")
    if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
        raise ValueError(f"substeps must be an integer >= 1; got {substeps!r}")
    p0 = np.asarray(initial, np.float64)
    if p0.shape != (fp.n_grid,) or not np.all(np.isfinite(p0)) or np.any(p0 < 0) or p0.sum() <= 0:
        raise ValueError(
            f"initial must be non-negative finite cell masses of shape ({fp.n_grid},) "
            f"with positive sum; got shape {p0.shape}"
        )
    p0 = p0 / p0.sum()
    rec = np.arange(n_steps + 1) if record_steps is None else np.asarray(record_steps, int)
    if rec.ndim != 1 or len(rec) == 0 or rec.min() < 0 or rec.max() > n_steps:
        raise ValueError(f"record_steps must be a non-empty 1-D set of ints in [0, {n_steps}]")
    rec = np.unique(rec)

    lrs = schedule_values(schedule, dt, max(n_steps, 1))
    if not np.all(np.isfinite(lrs) & (lrs >= 0)):
        raise ValueError("schedule must give finite LRs >= 0 at every step time")
    if fp.dynamics.time == "lr_area" and np.any(lrs == 0):
        raise ValueError('schedule gives lr = 0, which is T = 0 at mobility 1 (time="lr_area")')
    _check_grid(fp, lrs[lrs > 0])

    lr_rec = lrs[np.minimum(rec, len(lrs) - 1)]
    if fp.dt is not None:
        if not math.isclose(dt, fp.dt, rel_tol=1e-12):
            raise ValueError(f"dt must be the chain's step fp.dt={fp.dt:g}; got {dt:g}")
        for x in np.unique(lrs[lrs > 0]):
            fp.check_chain_lr(float(x))
        slot = np.full(n_steps + 1, len(rec))
        slot[rec] = np.arange(len(rec))
        if valley_moment is not None:
            valley_moment = np.broadcast_to(np.asarray(valley_moment, np.float64),
                                            fp.curvature_values.shape)
            if not np.all(np.isfinite(valley_moment) & (valley_moment >= 0)):
                raise ValueError("valley_moment must be finite and >= 0")
        masses = propagate(fp, p0[None], lrs[:n_steps], slot, len(rec), clip=True,
                           valley_moment=valley_moment)[:, 0]
        masses = masses / masses.sum(-1, keepdims=True)
        return Evolution(times=rec * dt, lrs=lr_rec, masses=masses)
    if valley_moment is not None:
        raise ValueError("valley_moment needs a chain operator (FokkerPlanck(..., dt=h)); the "
                         "continuum river sees the valley at equilibrium")
    g = fp.dynamics.temperature_scale
    temps = g * lrs
    mus = lrs if fp.dynamics.time == "steps" else np.ones_like(lrs)
    slot = np.full(n_steps + 1, len(rec))  # dummy slot for unrecorded steps
    slot[rec] = np.arange(len(rec))
    with jax.enable_x64(True):
        masses = _run(
            jnp.asarray(p0),
            jnp.asarray(temps[:n_steps]),
            jnp.asarray(mus[:n_steps]),
            jnp.asarray(slot),
            jnp.asarray(np.diff(fp.river_values)),
            jnp.asarray(0.5 * np.diff(fp.log_det_curvature)),
            fp.h,
            dt / substeps,
            int(substeps),
            len(rec),
        )
        masses = np.asarray(masses)
    return Evolution(times=rec * dt, lrs=lr_rec, masses=masses)


def _check_grid(fp: FokkerPlanck, lrs: np.ndarray) -> None:
    if len(lrs) == 0:
        return
    lo, hi = float(lrs.min()), float(lrs.max())
    try:
        fp.check_resolution(lo)
    except ValueError as err:
        # Warm-ups from near zero are common; the grid then only blurs the
        # coldest stretch, so say so rather than refuse.
        warnings.warn(f"evolve: {err}", stacklevel=3)
    if fp.dt is not None:
        sd = float(np.sqrt(step_moments(fp, lo)[1].min()))
        if sd < fp.h:
            warnings.warn(f"evolve: at lr={lo:g} the chain's step (sd {sd:.3g}) is narrower than "
                          f"a cell ({fp.h:.3g}): those steps are lumped to cells", stacklevel=3)
    if fp.landscape.domain is None and hi > fp.lr_max * (1 + 1e-12):
        raise ValueError(
            f"schedule reaches lr={hi:g} > lr_max={fp.lr_max:g}, the hottest LR whose "
            "equilibrium the grid holds; build FokkerPlanck(..., lr_max=...)"
        )


@functools.partial(jax.jit, static_argnums=(6, 7, 8, 9))
def _run(p0, temps, mus, slot, dv, dloga, h, dt_sub, substeps, n_rec):
    n = p0.shape[0]

    def step(carry, inputs):
        p, buf = carry
        temp, mu, s = inputs
        buf = buf.at[s].set(p)
        db = dv / temp + dloga  # (F_{i+1} - F_i) / T, shape (n - 1,)
        log_r = jnp.log(mu * temp / h**2 * dt_sub)
        up = jnp.exp(jnp.clip(log_r - 0.5 * db, -_CLIP, _CLIP))  # i -> i+1, times dt'
        dn = jnp.exp(jnp.clip(log_r + 0.5 * db, -_CLIP, _CLIP))  # i+1 -> i, times dt'
        up = jnp.where(mu > 0, up, 0.0)
        dn = jnp.where(mu > 0, dn, 0.0)
        zero = jnp.zeros(1, p.dtype)
        diag = 1.0 + jnp.concatenate([up, zero]) + jnp.concatenate([zero, dn])
        lower = jnp.concatenate([zero, -up])  # A[i, i-1] = -up_{i-1}
        upper = jnp.concatenate([-dn, zero])  # A[i, i+1] = -dn_i

        def sub(_, q):
            return jax.lax.linalg.tridiagonal_solve(lower, diag, upper, q[:, None])[:, 0]

        p = jax.lax.fori_loop(0, substeps, sub, p)
        return (p, buf), None

    buf = jnp.zeros((n_rec + 1, n), p0.dtype)
    (p, buf), _ = jax.lax.scan(step, (p0, buf), (temps, mus, slot[:-1]))
    buf = buf.at[slot[-1]].set(p)
    return buf[:n_rec]
