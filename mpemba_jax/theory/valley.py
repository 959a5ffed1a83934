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

This is the one home of (1) and (2) in the package: `schedule_theory`, the
discrete chain (`chain`) and `em_bias` use it. `valley_variance` gives the
stationary variance per direction for each integrator of the engine:

    euler_maruyama        T / (a (1 - mu a h / 2))      (eq. (2))
    valley_exact          T / a                         (exact OU step)
    leimkuhler_matthews   T / a                         (see below)

Leimkuhler–Matthews drives `x <- (1 - mu a h) x + s (n_s + n_{s+1}) / 2`, an
ARMA(1, 1) process: `x_s = (s / 2) [n_s + (1 + c) sum_{k>=1} c^(k-1) n_{s-k}]`
with `c = 1 - mu a h`, of variance `(s^2 / 4) (1 + (1 + c) / (1 - c)) =
s^2 / (2 mu a h) = T / a` at any stable `h`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..dynamics import Dynamics

__all__ = ["VALLEY_INTEGRATORS", "valley_moment_step", "valley_moment_fixed_point",
           "valley_moments", "valley_variance", "valley_moment_update"]

# The engine's integrators (engine.integrators.INTEGRATORS), as the theory knows them.
VALLEY_INTEGRATORS = ("euler_maruyama", "valley_exact", "leimkuhler_matthews")


def valley_variance(integrator: str, mu: ArrayLike, temperature: ArrayLike, curvature: ArrayLike,
                    h: float) -> np.ndarray:
    """Stationary variance of one valley coordinate with the river frozen, per integrator
    (see the module docstring): EM `T / (a (1 - mu a h / 2))`, `valley_exact` and
    Leimkuhler–Matthews `T / a`. Broadcasts; stable only for `mu a h < 2` under the
    two explicit schemes (the caller checks). Plain arithmetic: works on NumPy and
    JAX arrays alike (the chain's kernel calls it inside `jit`).

    Example:
      >>> float(valley_variance("valley_exact", 0.1, 0.1, 10.0, 1.0))
      0.01
    """
    if integrator not in VALLEY_INTEGRATORS:
        raise ValueError(f"integrator must be one of {VALLEY_INTEGRATORS}; got {integrator!r}")
    if integrator == "euler_maruyama":
        return valley_moment_fixed_point(mu, temperature, curvature, h)
    return temperature / curvature


def valley_moment_update(integrator: str, v, w, mu, temperature, curvature, h, xp=np):
    """One step of the valley's second moment per coordinate for `integrator`, `(v, w)`.

    Euler–Maruyama eq. (1); `valley_exact` `v <- e^{-2 c} v + (T / a)(1 - e^{-2 c})`;
    Leimkuhler–Matthews `v <- (1 - c)^2 v + A^2 / 2 + (1 - c) A w`, `w <- A / 2`, with
    `c = mu a h`, `A^2 = 2 mu T h` and `w = E[x_s n_s]` (the share of this step's
    noise already in `x_s`; 0 at the start, unused by the other two). Plain
    arithmetic in the namespace `xp` (NumPy, or `jax.numpy` inside the chain's jit).
    """
    if integrator == "euler_maruyama":
        return valley_moment_step(v, mu, temperature, curvature, h), w
    if integrator == "valley_exact":
        decay = xp.exp(-2.0 * mu * curvature * h)
        return decay * v + temperature / curvature * (1.0 - decay), w
    amp = xp.sqrt(2.0 * mu * temperature * h)
    c = 1.0 - mu * curvature * h
    return c * c * v + amp * amp / 2.0 + c * amp * w, amp / 2.0 + 0.0 * w


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
                   initial: ArrayLike = 0.0, integrator: str = "euler_maruyama") -> np.ndarray:
    """Iterate the valley's second moment along an LR table and record `v` at chosen steps
    (`valley_moment_update` of the integrator at each step).

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
    if integrator not in VALLEY_INTEGRATORS:
        raise ValueError(f"integrator must be one of {VALLEY_INTEGRATORS}; got {integrator!r}")
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
    w = np.zeros(a.shape)  # Leimkuhler–Matthews: E[x_s n_s]
    out = np.zeros((len(rec),) + a.shape)
    want: dict[int, list[int]] = {}
    for k, s in enumerate(rec.tolist()):
        want.setdefault(s, []).append(k)
    for s in range(n_steps + 1):
        for k in want.get(s, ()):
            out[k] = v
        if s < n_steps:
            v, w = valley_moment_update(integrator, v, w, mu[s], temps[s], a, dt)
    return out
