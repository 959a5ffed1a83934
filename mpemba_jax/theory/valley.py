"""The valley's second moment under discrete Euler–Maruyama steps (THEORY sections 2, 3).

With the river frozen at `y` (curvature `a = a(y)`), one Euler–Maruyama step of
a valley coordinate, `x <- (1 - mu a h) x + sqrt(2 mu T h) n`, maps its second
moment `v = <x^2>` to

    v <- (1 - mu a h)^2 v + 2 mu T h                                   (1)

whose fixed point (stable for `0 < mu a h < 2`) is

    v* = 2 mu T h / (1 - (1 - mu a h)^2) = T / (a (1 - mu a h / 2)),   (2)

equipartition `T / a` up to the `O(mu a h)` step bias. With `time="steps"`
and `h = 1` (SGD with Gaussian gradient noise, `T = g eta`, `mu = eta`) (1) is
`v <- (1 - a eta)^2 v + 2 g eta^2`, the recursion behind `greedy_anneal`.

For comparison, the `"valley_exact"` integrator takes the valley's
Ornstein–Uhlenbeck step exactly, `v <- e^{-2 mu a h} v + (T / a)(1 - e^{-2 mu
a h})`, whose fixed point is exactly `T / a` at any `h`; the
Leimkuhler–Matthews scheme also has the exact stationary variance `T / a` on a
harmonic valley. These functions describe Euler–Maruyama only.

This is the one home of (1) and (2) in the package: `schedule_theory` and
`em_bias` use it. A theory of the whole discrete SGD chain (river included)
would extend this module.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..dynamics import Dynamics

__all__ = ["valley_moment_step", "valley_moment_fixed_point", "valley_moments"]


def valley_moment_step(v: ArrayLike, mu: ArrayLike, temperature: ArrayLike, curvature: ArrayLike,
                       h: float) -> np.ndarray:
    """One Euler–Maruyama step of the valley's second moment per coordinate, eq. (1):
    `(1 - mu a h)^2 v + 2 mu T h`. Broadcasts over all arguments.

    Example:
      >>> float(valley_moment_step(0.0, 0.1, 0.1, 10.0, 1.0))   # 2 mu T h
      0.020000000000000004
    """
    return (1.0 - mu * curvature * h) ** 2 * v + 2.0 * mu * temperature * h


def valley_moment_fixed_point(mu: ArrayLike, temperature: ArrayLike, curvature: ArrayLike,
                              h: float) -> np.ndarray:
    """The fixed point of eq. (1), eq. (2): `T / (a (1 - mu a h / 2))`. Broadcasts.

    It is the stationary second moment only where the step is stable,
    `0 < mu a h < 2`; `h -> 0` gives equipartition `T / a`.

    Example:
      >>> float(valley_moment_fixed_point(0.1, 0.1, 10.0, 1.0))   # T / (a / 2)
      0.02
    """
    return temperature / (curvature * (1.0 - mu * curvature * h / 2.0))


def valley_moments(lr_steps: ArrayLike, curvature: ArrayLike, dt: float, record_steps: ArrayLike,
                   *, time: str = "steps", temperature_scale: float = 1.0,
                   initial: ArrayLike = 0.0) -> np.ndarray:
    """Iterate eq. (1) along an LR table and record `v` at chosen steps.

    Args:
      lr_steps: `(n_steps + 1,)` LR table as the driver builds it: step `s`
        (from `s dt` to `(s + 1) dt`) runs at `lr_steps[s]`; the last entry is
        the LR in force at the end and takes no step.
      curvature: valley curvature `a`, any shape (e.g. `(n_grid,)`, one per
        river cell, or a scalar).
      dt: the step `h`.
      record_steps: step indices `s` in `[0, n_steps]`, shape `(n_rec,)`; the
        record at `s` is `v` before step `s` (after `s` steps).
      time, temperature_scale: the convention, `mu = lr` or `1` and `T = g lr`.
      initial: `v` at step 0, broadcast to `curvature`'s shape (0 for particles
        started at `x = 0`).

    Returns: `(n_rec,) + curvature.shape`.

    Example:
      >>> valley_moments(np.full(101, 0.1), 10.0, 1.0, [0, 100])   # mu a h = 1: one step
      array([0.  , 0.02])
    """
    dyn = Dynamics(time=time, temperature_scale=temperature_scale)
    lr = np.asarray(lr_steps, np.float64)
    if lr.ndim != 1 or len(lr) == 0:
        raise ValueError(f"lr_steps must be a non-empty 1-D LR table; got shape {lr.shape}")
    n_steps = len(lr) - 1
    rec = np.asarray(record_steps, np.int64)
    if rec.ndim != 1 or (len(rec) and (rec.min() < 0 or rec.max() > n_steps)):
        raise ValueError(f"record_steps must be a 1-D set of ints in [0, {n_steps}]")
    a = np.asarray(curvature, np.float64)
    mu = lr if dyn.time == "steps" else np.ones_like(lr)
    temps = dyn.temperature_scale * lr
    v = np.broadcast_to(np.asarray(initial, np.float64), a.shape).copy()
    out = np.zeros((len(rec),) + a.shape)
    want: dict[int, list[int]] = {}
    for k, s in enumerate(rec.tolist()):
        want.setdefault(s, []).append(k)
    for s in range(n_steps + 1):
        for k in want.get(s, ()):
            out[k] = v
        if s < n_steps:
            v = valley_moment_step(v, mu[s], temps[s], a, dt)
    return out
