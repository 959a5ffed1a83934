"""One time step of the valley–river Langevin dynamics (THEORY section 2).

With step `h`, mobility `mu`, temperature `T`, amplitude `s = sqrt(2 mu T h)`
and unit-variance noise `n = (n_x, n_y)`:

`"euler_maruyama"` (the reference; with `time="steps"` and `h = 1` it *is*
SGD with Gaussian gradient noise)::

    x_i <- x_i - mu a_i(y) x_i h                     + s n_x,i
    y   <- y - mu (V'(y) + 0.5 sum_i a_i'(y) x_i^2) h  + s n_y

Stable for `mu a h < 2`, accurate for `mu a h << 1`; weak order one.

`"valley_exact"` (splitting): the valley's Ornstein–Uhlenbeck step with `y`
frozen, taken exactly, then the river's Euler–Maruyama step with the new `x`::

    x_i <- x_i exp(-mu a_i(y) h) + sqrt(T / a_i(y) (1 - exp(-2 mu a_i(y) h))) n_x,i
    y   <- y - mu (V'(y) + 0.5 sum_i a_i'(y) x_i^2) h  + s n_y

The valley keeps its exact conditional variance `T / a(y)` at any `h`, so it
is stable for any valley stiffness and `h` is set by the river alone.

`"leimkuhler_matthews"`: the Euler–Maruyama update driven by the average of
consecutive steps' noise, `n = (n_s + n_{s+1}) / 2`: the same cost per step
(each step's noise is drawn once and carried to the next), weak order two
for the stationary distribution (exact stationary variance on a harmonic
well). Stable for `mu a h < 2`. On a river with reflecting walls the river
coordinate takes its own step's noise `n_s` instead (`lm_noise`): a mirror
reflection reverses the direction in which the carried half `n_{s+1} / 2`
acts, so the two halves cancel and particles stick to the wall (a 40 %
excess in the edge bins of free diffusion, decaying only like `sqrt(h)`);
undoing that needs one bit of state per particle that the driver does not
keep. There the valley stays second order and the river is first order.

Two properties of Leimkuhler–Matthews a user of schedules should know (both
measured in `tests/engine/test_integrators.py`, against the scheme's exact
variance recursion on a harmonic valley):
- *Half-step lag in T.* Step `s` multiplies `(n_s + n_{s+1}) / 2` by its own
  amplitude `s(lr_s)`, so the draw `n_{s+1}` enters at `s(lr_s) / 2` and then
  `s(lr_{s+1}) / 2`: under a changing LR the injected temperature follows the
  schedule half a step late. After a drop the valley stays hotter, for about
  one valley relaxation time, than under the scheme that injects every draw at
  its own step's amplitude (27 % to 35 % in the first steps after a drop from
  `eta a = 0.5` to `0.2`); on a smooth decay the effect is `O(dT/ds)`, a shift
  of the schedule by half a step.
- *Start transient.* The stationary law of the scheme correlates `x_s` with the
  carried draw, `E[x_s n_s] = s / 2`; a start drawn from `mj.equilibrium` (or
  any start) has no such correlation, so the first step's valley variance is
  low by the relative amount `c mu a h` (`c = 1 - mu a h`; 25 % at `mu a h = 0.5`),
  decaying like `c^(2s)`. Discard the first few valley relaxation times
  (`1 / (mu a h)` steps), or start from a state the scheme itself produced.

After each step `y` is reflected at the walls (mirror reflection, which is
exact for Euler–Maruyama on free diffusion).

A step function has the signature `step(x, y, noise, lr, dt) -> (x, y)` with
`x: (..., d)`, `y: (...)`, `noise: (..., d + 1)` of unit variance. For the
Leimkuhler–Matthews scheme the driver passes the averaged noise
(`averages_noise(integrator)`).

Example:
  >>> import jax.numpy as jnp, mpemba_jax as mj
  >>> from mpemba_jax.engine.integrators import make_step
  >>> step = make_step(mj.preset("harmonic"), mj.Dynamics(), "valley_exact")
  >>> x, y = step(jnp.ones((4, 1)), jnp.zeros(4), jnp.zeros((4, 2)), 0.1, 1.0)
  >>> x.shape, y.shape
  ((4, 1), (4,))
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from ..dynamics import Dynamics
from ..landscape import ValleyRiver

__all__ = ["INTEGRATORS", "EXPLICIT_VALLEY", "make_step", "averages_noise", "lm_noise",
           "reflect"]

INTEGRATORS = ("euler_maruyama", "valley_exact", "leimkuhler_matthews")
# Integrators whose valley step is explicit (stable only for mu a h < 2).
EXPLICIT_VALLEY = ("euler_maruyama", "leimkuhler_matthews")

Step = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def reflect(y: jax.Array, domain: tuple[float, float] | None) -> jax.Array:
    """Fold `y` back into `[y_lo, y_hi]` by mirror reflection (any excursion length)."""
    if domain is None:
        return y
    lo, hi = domain
    length = hi - lo
    z = jnp.mod(y - lo, 2.0 * length)
    return lo + length - jnp.abs(length - z)


def averages_noise(integrator: str) -> bool:
    """Whether step `s` of `integrator` takes `(n_s + n_{s+1}) / 2` as its noise."""
    _check(integrator)
    return integrator == "leimkuhler_matthews"


def lm_noise(current: jax.Array, following: jax.Array, landscape: ValleyRiver) -> jax.Array:
    """Leimkuhler–Matthews noise of step `s` from the draws of steps `s` and `s + 1`
    (`(..., d + 1)` each): their average, except on the river of a landscape
    with walls, which takes `current` alone (see the module docstring)."""
    averaged = 0.5 * (current + following)
    if landscape.domain is None:
        return averaged
    d = landscape.valley_dim
    return jnp.concatenate([averaged[..., :d], current[..., d:]], axis=-1)


def make_step(landscape: ValleyRiver, dynamics: Dynamics,
              integrator: str = "euler_maruyama") -> Step:
    """The step function of `integrator` for this landscape and convention."""
    _check(integrator)
    d = landscape.valley_dim

    def euler_maruyama(x, y, noise, lr, dt):
        mu = dynamics.mobility(lr)
        amplitude = jnp.sqrt(2.0 * mu * dynamics.temperature(lr) * dt)
        grad_x, grad_y = landscape.gradient(x, y)
        x = x - (mu * dt) * grad_x + amplitude * noise[..., :d]
        y = y - (mu * dt) * grad_y + amplitude * noise[..., d]
        return x, reflect(y, landscape.domain)

    def valley_exact(x, y, noise, lr, dt):
        mu, temperature = dynamics.mobility(lr), dynamics.temperature(lr)
        a = landscape.curvature(y)
        if not landscape.per_direction:
            a = a[..., None]  # (..., 1): broadcast over the valley directions
        rate = (mu * dt) * a
        # expm1 keeps the variance accurate when mu a h is tiny (float32).
        spread = jnp.sqrt(temperature / a * -jnp.expm1(-2.0 * rate))
        x = x * jnp.exp(-rate) + spread * noise[..., :d]
        grad_y = landscape.river_slope(y) + landscape.valley_force(x, y)
        amplitude = jnp.sqrt(2.0 * mu * temperature * dt)
        y = y - (mu * dt) * grad_y + amplitude * noise[..., d]
        return x, reflect(y, landscape.domain)

    if integrator == "valley_exact":
        return valley_exact
    return euler_maruyama  # Leimkuhler–Matthews: the same update, averaged noise


def _check(integrator: str) -> None:
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}; got {integrator!r}")
