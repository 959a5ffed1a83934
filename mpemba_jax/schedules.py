"""Learning-rate schedules: callables `schedule(t) -> lr`, as in optax.

Any callable of that shape is a schedule (optax schedules included, with no
wrapping); `t` is the time in the run's convention (`dynamics.Dynamics`). The
builders here check their Python arguments once and return a closure of `jnp`
operations, built on optax's schedule functions where they fit:

- `constant(lr)`,
- `quench(lr_from, lr_to, at)`: a step from one LR to another at time `at`,
- `wsd(peak, final, warmup, stable, decay, shape=...)`: warm-up (linear from
  `initial`), stable at `peak`, decay to `final` in `decay` time units, then
  `final` for ever. Decay shapes, with `s = (t - t_0) / decay` in `[0, 1]`:

    linear        peak + (final - peak) s
    cosine        final + (peak - final) (1 + cos(pi s)) / 2
    exponential   peak (final / peak)^s                       (d eta/dt = -c eta)
    inverse_time  peak / (1 + (peak / final - 1) s)            (d eta/dt = -c eta^2, eta ~ 1/t)
    inverse_sqrt  peak / sqrt(1 + ((peak / final)^2 - 1) s)    (d eta/dt = -c eta^3)
    callable f    final + (peak - final) f(s),  f(0) = 1, f(1) = 0

`power_law_decay(eta_0, c, n)` is the family `d eta / dt = -c eta^n` of THEORY
section 6. Each builder attaches a JSON-able `.description` that simulation
results record; plain callables are recorded by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

if TYPE_CHECKING:
    from .theory.timescales import DecayWindow

__all__ = [
    "constant",
    "quench",
    "wsd",
    "power_law_decay",
    "DECAY_SHAPES",
    "describe_schedule",
    "evaluate_schedule",
    "lr_table",
    "from_description",
    "BUILDERS",
    "greedy_anneal",
    "window_decay",
    "lr_sum",
    "match_lr_sum",
]

Schedule = Callable[[Any], Any]
DECAY_SHAPES = ("linear", "cosine", "exponential", "inverse_time", "inverse_sqrt")


def _lr(name: str, value: Any, *, positive: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value}")
    return value


def _duration(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {value}")
    return value


def _described(fn: Schedule, **description: Any) -> Schedule:
    fn.description = description
    return fn


def constant(lr: float) -> Schedule:
    """`eta(t) = lr`.

    Example:
      >>> float(constant(0.1)(5.0))
      0.1
    """
    lr = _lr("lr", lr)
    return _described(optax.constant_schedule(lr), kind="constant", lr=lr)


def quench(lr_from: float, lr_to: float, at: float = 0.0) -> Schedule:
    """`eta(t) = lr_from` for `t < at`, `lr_to` from `at` on.

    With `at = 0` the whole run is at `lr_to` (a quench at the start, from an
    initial state prepared at `lr_from`).

    Example:
      >>> s = quench(0.5, 0.1, at=10.0)
      >>> float(s(9.0)), float(s(10.0))
      (0.5, 0.1)
    """
    lr_from, lr_to = _lr("lr_from", lr_from), _lr("lr_to", lr_to)
    at = _duration("at", at)

    def schedule(t):
        return jnp.where(jnp.asarray(t) < at, lr_from, lr_to)

    return _described(schedule, kind="quench", lr_from=lr_from, lr_to=lr_to, at=at)


def _decay_fraction(shape: str | Callable, peak: float, final: float) -> Callable:
    """`f(s)` on `[0, 1]` with `f(0) = 1`, `f(1) = 0`: `eta = final + (peak - final) f(s)`."""
    if callable(shape):
        return shape
    if shape == "linear":
        return lambda s: 1.0 - s
    if shape == "cosine":
        return lambda s: 0.5 * (1.0 + jnp.cos(jnp.pi * s))
    if final <= 0 and shape in ("exponential", "inverse_time", "inverse_sqrt"):
        raise ValueError(f"decay shape {shape!r} needs final > 0; got final={final}")
    if peak == final:
        return lambda s: 1.0 - s
    # The power-law family written as a fraction of the drop peak -> final.
    if shape == "exponential":
        eta = lambda s: peak * (final / peak) ** s
    elif shape == "inverse_time":
        eta = lambda s: peak / (1.0 + (peak / final - 1.0) * s)
    elif shape == "inverse_sqrt":
        eta = lambda s: peak / jnp.sqrt(1.0 + ((peak / final) ** 2 - 1.0) * s)
    else:
        raise ValueError(
            f"shape must be one of {DECAY_SHAPES} or a callable f(s); got {shape!r}"
        )
    return lambda s: (eta(s) - final) / (peak - final)


def wsd(
    peak: float,
    final: float,
    warmup: float,
    stable: float,
    decay: float,
    shape: str | Callable = "linear",
    initial: float = 0.0,
) -> Schedule:
    """Warm-up / stable / decay schedule.

    Times (in the run's convention): `[0, warmup)` linear from `initial` to
    `peak`; `[warmup, warmup + stable)` at `peak`; then `decay` time units of
    `shape` from `peak` to `final`; then `final`.

    Example:
      >>> s = wsd(peak=0.1, final=0.01, warmup=10, stable=100, decay=50, shape="cosine")
      >>> float(s(50.0)), round(float(s(160.0)), 6)
      (0.1, 0.01)
    """
    peak, final = _lr("peak", peak, positive=True), _lr("final", final)
    initial = _lr("initial", initial)
    warmup, stable, decay = (_duration(n, v) for n, v in
                             (("warmup", warmup), ("stable", stable), ("decay", decay)))
    if final > peak:
        raise ValueError(f"final must be <= peak; got final={final}, peak={peak}")
    fraction = _decay_fraction(shape, peak, final)
    t_decay = warmup + stable

    def decay_part(t):
        s = jnp.clip(t / max(decay, 1e-30), 0.0, 1.0)
        return final + (peak - final) * fraction(s)

    # optax passes `t - t_decay` to the decay part.
    stable_then_decay = optax.join_schedules(
        [optax.constant_schedule(peak), decay_part], [t_decay]
    )

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        # Warm-up interpolated here rather than by optax.linear_schedule, which
        # counts whole steps: fractional times (dt != 1) stay exact.
        warm = initial + (peak - initial) * jnp.clip(t / max(warmup, 1e-30), 0.0, 1.0)
        return jnp.where(t < warmup, warm, stable_then_decay(t))

    return _described(
        schedule, kind="wsd", peak=peak, final=final, warmup=warmup, stable=stable,
        decay=decay, initial=initial,
        shape=shape if isinstance(shape, str) else getattr(shape, "__name__", repr(shape)),
    )


def power_law_decay(eta_0: float, c: float, n: float) -> Schedule:
    """`d eta / dt = -c eta^n` from `eta_0`: `eta(t) = (eta_0^(1-n) + (n-1) c t)^(1/(1-n))`.

    Exponential `eta_0 exp(-c t)` at `n = 1`; `1/t` at `n = 2`. For `n < 1` the LR
    reaches zero at the finite time `eta_0^(1-n) / ((1-n) c)` and stays there.

    Example:
      >>> round(float(power_law_decay(1.0, 0.5, 2.0)(2.0)), 6)
      0.5
    """
    eta_0 = _lr("eta_0", eta_0, positive=True)
    c = _duration("c", c)
    try:
        n = float(n)
    except (TypeError, ValueError):
        raise ValueError(f"n must be a finite number; got {n!r}") from None
    if not math.isfinite(n):
        raise ValueError(f"n must be finite; got {n}")

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        if n == 1.0:
            return eta_0 * jnp.exp(-c * t)
        # eta_0 * (1 + z)^(1/(1-n)), z = (n-1) c t eta_0^(n-1), via log1p: stable as n -> 1.
        z = (n - 1) * c * t * eta_0 ** (n - 1)
        # n < 1: 1 + z hits 0 at finite t; clamp so the LR stays 0 instead of NaN.
        alive = z > -1
        return jnp.where(alive, eta_0 * jnp.exp(jnp.log1p(jnp.where(alive, z, 0.0)) / (1 - n)), 0.0)

    return _described(schedule, kind="power_law_decay", eta_0=eta_0, c=c, n=n)


def describe_schedule(schedule: Schedule) -> dict[str, Any]:
    """JSON-able description: the builder's `.description`, else the callable's name."""
    description = getattr(schedule, "description", None)
    if isinstance(description, dict):
        return dict(description)
    return {"kind": "callable", "name": getattr(schedule, "__qualname__", repr(schedule))}


def evaluate_schedule(schedule: Schedule, times: np.ndarray, *, name: str = "schedule") -> np.ndarray:
    """`schedule` at every time in `times` (float64 NumPy), checked finite and `>= 0`.

    Raises `ValueError` naming the first offending time. LR 0 is allowed: a
    frozen, noiseless step.
    """
    import jax

    if not callable(schedule):
        raise ValueError(f"{name} must be a callable t -> lr (e.g. an optax schedule); got {schedule!r}")
    times = np.asarray(times, dtype=np.float64)
    with jax.enable_x64(True):
        try:
            lr = np.asarray(jax.vmap(schedule)(jnp.asarray(times)), dtype=np.float64)
        except Exception:  # noqa: BLE001 - not traceable: a plain Python t -> lr
            lr = None
        if lr is None or lr.shape != times.shape:
            lr = np.array([_scalar_lr(schedule, t, name) for t in times], dtype=np.float64)
    bad = ~np.isfinite(lr) | (lr < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name} must give a finite LR >= 0 at every step of the run; "
            f"{name}(t={times[i]:g}) = {lr[i]:g}"
        )
    return lr


def lr_table(schedule: Schedule | ArrayLike, n_steps: int, dt: float, *,
             name: str = "schedule") -> np.ndarray:
    """The LR of every step, `(n_steps + 1,)` float64: the currency of a run.

    Step `s` runs at `schedule(s * dt)` (evaluated once, on the host, in
    float64, by `evaluate_schedule`). A 1-D array is taken as the table itself
    and must hold `n_steps + 1` finite LRs `>= 0`. The engine, the theory
    (`evolve`) and validation read this table; none rebuilds a schedule.

    Example:
      >>> lr_table(constant(0.1), 3, 1.0)
      array([0.1, 0.1, 0.1, 0.1])
    """
    if callable(schedule):
        return evaluate_schedule(schedule, np.arange(n_steps + 1) * dt, name=name)
    if isinstance(schedule, (str, bytes, dict)) or np.ndim(schedule) != 1:
        raise ValueError(
            f"{name} must be a callable t -> lr (e.g. an optax schedule) or a 1-D table of the "
            f"n_steps + 1 = {n_steps + 1} LRs of the run's steps; got {schedule!r}")
    try:
        table = np.array(schedule, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: an LR table must hold numbers; got {schedule!r}") from None
    if table.shape != (n_steps + 1,):
        raise ValueError(f"{name}: an LR table must have n_steps + 1 = {n_steps + 1} values "
                         f"(the LR of steps 0 .. n_steps); got {table.shape[0]}")
    bad = ~np.isfinite(table) | (table < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must give a finite LR >= 0 at every step of the run; "
                         f"{name}[{i}] = {table[i]:g}")
    return table


def _scalar_lr(schedule: Schedule, t: float, name: str) -> float:
    """`schedule(t)` for one Python float `t`, which must be a single number."""
    try:
        value = schedule(float(t))
    except Exception as e:  # noqa: BLE001 - re-raised naming the schedule and the time
        raise ValueError(f"{name} failed at t={t:g}: {type(e).__name__}: {e}") from e
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"{name} must return one number (the LR) per time; {name}(t={t:g}) returned {value!r}")
    if array.size != 1:
        raise ValueError(
            f"{name} must return one number (the LR) per time; {name}(t={t:g}) returned an "
            f"array of shape {array.shape}")
    return float(array.reshape(()))


# ---------------------------------------------------------------------------
# Special schedules of THEORY section 6
# ---------------------------------------------------------------------------
def _warm_stable(t, peak, warmup, stable, initial):
    warm = initial + (peak - initial) * jnp.clip(t / max(warmup, 1e-30), 0.0, 1.0)
    return jnp.where(t < warmup, warm, peak), warmup + stable




def greedy_anneal(peak: float, curvature: float, *, warmup: float = 0.0, stable: float = 0.0,
                  final: float = 0.0, initial: float = 0.0) -> Callable:
    """Warm-up, stable at `peak`, then the greedy anneal of a harmonic valley.

    For discrete SGD on `0.5 a x^2` with gradient noise `sigma^2 = 2 g` per
    coordinate (`time="steps"`, step `dt`), the second moment obeys
    `v_{t+1} = (1 - a eta_t dt)^2 v_t + (2 g / dt) (eta_t dt)^2`; choosing each
    `eta_t` to minimise `v_{t+1}` gives `1 / v_{t+1} = 1 / v_t + a^2 dt / (2 g)`
    and, from the stationary `v_0` at `peak`, `eta(tau) = peak / (2 + a peak tau)`
    with `tau` the time since the anneal began: an immediate halving, then
    `1 / t`. The LR is floored at `final`. Each step minimises the next
    variance and the minimum is increasing in the current one, so no
    schedule of the same length ends with a smaller valley variance.

    Example:
      >>> s = greedy_anneal(0.05, 10.0, stable=100)
      >>> [round(float(s(t)), 6) for t in (99.0, 100.0, 102.0)]
      [0.05, 0.025, 0.016667]
    """
    peak = _lr("peak", peak, positive=True)
    a = _lr("curvature", curvature, positive=True)
    final, initial = _lr("final", final), _lr("initial", initial)
    if final > peak:
        raise ValueError(f"final must be <= peak; got final={final}, peak={peak}")
    warmup, stable = _duration("warmup", warmup), _duration("stable", stable)

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        before, t0 = _warm_stable(t, peak, warmup, stable, initial)
        anneal = jnp.maximum(peak / (2.0 + a * peak * (t - t0)), final)
        return jnp.where(t < t0, before, anneal)

    schedule.description = {"kind": "greedy_anneal", "peak": peak, "curvature": a,
                            "warmup": warmup, "stable": stable, "final": final,
                            "initial": initial}
    return schedule


def window_decay(window: "DecayWindow", *, warmup: float = 0.0, stable: float = 0.0,
                 position: float = 0.5, initial: float = 0.0, n_points: int = 512) -> Callable:
    """Warm-up, stable, then a decay inside the window of THEORY section 6.

    The decay runs at `|d ln eta / dt| = r_min(eta)^(1 - position) r_max(eta)^position`
    between the window's bounds (`position = 0.5`: their geometric middle at
    every LR), from the window's peak to its bath LR, which it reaches after
    `D = integral d ln eta / r(eta)`; `.description["decay"]` holds `D`.

    Example:
      >>> w = mj.decay_window(mj.preset("box_wells"), 0.05, 0.01)
      >>> s = window_decay(w, warmup=100, stable=1000)
      >>> s.description["decay"] > 0
      True
    """
    position = float(position)
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"position must lie in [0, 1]; got {position}")
    peak, bath = float(window.lrs[0]), float(window.lrs[-1])
    initial = _lr("initial", initial)
    warmup, stable = _duration("warmup", warmup), _duration("stable", stable)
    log_lr = np.log(window.lrs[::-1])  # ascending
    log_rate = ((1 - position) * np.log(window.rate_min) + position * np.log(window.rate_max))[::-1]
    grid = np.linspace(np.log(peak), np.log(bath), n_points)  # descending in ln eta
    inv_rate = np.exp(-np.interp(grid, log_lr, log_rate))
    # t(ln eta) = integral from ln peak down to ln eta of d ln eta' / r.
    t_grid = np.concatenate([[0.0], np.cumsum(0.5 * (inv_rate[1:] + inv_rate[:-1]) * -np.diff(grid))])
    duration = float(t_grid[-1])
    t_tab, log_tab = jnp.asarray(t_grid), jnp.asarray(grid)

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        before, t0 = _warm_stable(t, peak, warmup, stable, initial)
        decay = jnp.exp(jnp.interp(t - t0, t_tab.astype(t.dtype), log_tab.astype(t.dtype)))
        return jnp.where(t < t0, before, jnp.where(t - t0 >= duration, bath, decay))

    schedule.description = {"kind": "window_decay", "peak": peak, "final": bath,
                            "warmup": warmup, "stable": stable, "decay": duration,
                            "position": position, "initial": initial}
    return schedule


def lr_sum(schedule, n_steps: int, dt: float) -> float:
    """`dt * sum_{s < n_steps} schedule(s dt)`: the area under the piecewise-constant LR
    (the elapsed time of the `lr_area` convention; for `dt = 1`, the sum of step LRs)."""
    table = (np.asarray(schedule, np.float64) if not callable(schedule)
             else evaluate_schedule(schedule, np.arange(n_steps) * dt))
    return float(dt * np.sum(table[:n_steps]))


def match_lr_sum(build: Callable[[float], Callable], target: float, n_steps: int, dt: float,
                 bracket: tuple[float, float]) -> tuple[float, Callable]:
    """The parameter `p` in `bracket` with `lr_sum(build(p)) = target`, and `build(p)`.

    `build` maps a parameter (typically the plateau LR) to a schedule; its LR
    sum must be monotone in it on the bracket.
    """
    import scipy.optimize

    lo, hi = (float(v) for v in bracket)
    f = lambda p: lr_sum(build(p), n_steps, dt) - target  # noqa: E731
    f_lo, f_hi = f(lo), f(hi)
    if f_lo * f_hi > 0:
        raise ValueError(
            f"no parameter in [{lo:g}, {hi:g}] gives LR sum {target:g}: the sums there are "
            f"{f_lo + target:g} and {f_hi + target:g}")
    p = float(scipy.optimize.brentq(f, lo, hi, xtol=1e-12 * hi, rtol=1e-12))
    return p, build(p)


# Builders that a JSON description (`describe_schedule`) can be turned back into:
# configs name them by `kind`, and results written before LR tables were stored
# are rebuilt through them once, on loading.
BUILDERS: dict[str, Callable[..., Schedule]] = {
    "constant": constant, "quench": quench, "wsd": wsd, "power_law_decay": power_law_decay,
    "greedy_anneal": greedy_anneal,
}


def from_description(description: dict[str, Any]) -> Schedule:
    """The schedule a builder's `.description` describes (`BUILDERS[kind](**params)`).

    Raises `ValueError` saying why for descriptions no builder can rebuild:
    plain callables, tables, window decays, `wsd` with a callable decay shape.

    Example:
      >>> s = from_description(wsd(0.1, 0.01, 10, 20, 30).description)
      >>> round(float(s(15.0)), 6)
      0.1
    """
    if not isinstance(description, dict):
        raise ValueError(f"a schedule description must be a dict; got {description!r}")
    kind = description.get("kind")
    params = {k: v for k, v in description.items() if k != "kind"}
    if kind not in BUILDERS:
        raise ValueError(f"schedule kind {kind!r} cannot be rebuilt from its description "
                         f"{description!r}; rebuildable kinds: {sorted(BUILDERS)}")
    if kind == "wsd" and params.get("shape") not in DECAY_SHAPES:
        raise ValueError(f"a wsd schedule with the decay shape {params.get('shape')!r} (a "
                         "callable) cannot be rebuilt from its description")
    return BUILDERS[kind](**params)
