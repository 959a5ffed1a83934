"""One time step of the valley–river Langevin dynamics (THEORY section 2).

Euler–Maruyama with step `h`, mobility `mu`, temperature `T`:

    x <- x - mu a(y) x h                     + sqrt(2 mu T h) n_x
    y <- y - mu (V'(y) + 0.5 a'(y) |x|^2) h  + sqrt(2 mu T h) n_y

then `y` is reflected at the walls. With `time="steps"` and `h = 1` this *is*
SGD with Gaussian gradient noise. Stable for `mu a h < 2`, accurate for
`mu a h << 1`.

A step function has the signature `step(x, y, noise, lr, dt) -> (x, y)` with
`x: (..., d)`, `y: (...)`, `noise: (..., d + 1)` standard normals.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .dynamics import Dynamics
from .landscape import ValleyRiver

__all__ = ["INTEGRATORS", "make_step", "reflect"]

INTEGRATORS = ("euler_maruyama",)

Step = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


def reflect(y: jax.Array, domain: tuple[float, float] | None) -> jax.Array:
    """Fold `y` back into `[y_lo, y_hi]` by mirror reflection (any excursion length)."""
    if domain is None:
        return y
    lo, hi = domain
    length = hi - lo
    z = jnp.mod(y - lo, 2.0 * length)
    return lo + length - jnp.abs(length - z)


def make_step(landscape: ValleyRiver, dynamics: Dynamics,
              integrator: str = "euler_maruyama") -> Step:
    """The step function of `integrator` for this landscape and convention."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}; got {integrator!r}")
    d = landscape.valley_dim

    def euler_maruyama(x, y, noise, lr, dt):
        mu = dynamics.mobility(lr)
        amplitude = jnp.sqrt(2.0 * mu * dynamics.temperature(lr) * dt)
        grad_x, grad_y = landscape.gradient(x, y)
        x = x - (mu * dt) * grad_x + amplitude * noise[..., :d]
        y = y - (mu * dt) * grad_y + amplitude * noise[..., d]
        return x, reflect(y, landscape.domain)

    return euler_maruyama
