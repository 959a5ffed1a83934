"""Learning rate as temperature: the two time conventions (THEORY section 2).

SGD with isotropic gradient noise has, for small `eta`, the stationary state
`exp(-L / T)` at `T = g * eta` (`g = temperature_scale = sigma^2 / 2`). Its
continuum limit is the overdamped Langevin SDE

    d theta = -mu(eta) grad L dt + sqrt(2 mu(eta) T) dW

| `time=`    | `t` counts           | `mu(eta)` |
|------------|----------------------|-----------|
| "steps"    | SGD steps            | `eta`     |
| "lr_area"  | the LR sum `sum eta` | `1`       |

`Dynamics` is a small frozen record of that choice; it is hashable so jitted
code can close over it.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["Dynamics", "TIME_CONVENTIONS"]

TIME_CONVENTIONS = ("steps", "lr_area")


@dataclasses.dataclass(frozen=True)
class Dynamics:
    """Time convention and temperature scale of the Langevin dynamics.

    Example:
      >>> d = Dynamics(time="steps", temperature_scale=1.0)
      >>> float(d.mobility(0.1)), float(d.temperature(0.1))
      (0.1, 0.1)
    """

    time: str = "steps"
    temperature_scale: float = 1.0

    def __post_init__(self):
        if self.time not in TIME_CONVENTIONS:
            raise ValueError(f"time must be one of {TIME_CONVENTIONS}; got {self.time!r}")
        g = self.temperature_scale
        number = isinstance(g, (int, float, np.integer, np.floating)) and not isinstance(
            g, (bool, np.bool_))
        if not (number and math.isfinite(g) and g > 0):
            raise ValueError(f"temperature_scale must be a finite number > 0; got {g!r}")
        object.__setattr__(self, "temperature_scale", float(g))

    def mobility(self, lr: ArrayLike):
        """`mu(eta)`: `eta` for `time="steps"`, `1` for `time="lr_area"`."""
        lr = jnp.asarray(lr)
        return lr if self.time == "steps" else jnp.ones_like(lr)

    def temperature(self, lr: ArrayLike):
        """`T = temperature_scale * eta`."""
        return self.temperature_scale * jnp.asarray(lr)

    def describe(self) -> dict:
        return {"time": self.time, "temperature_scale": self.temperature_scale}
