"""The LR as temperature and mobility, in float64 (THEORY section 2).

    T(eta) = g eta                          (g = temperature_scale)
    mu(eta) = eta   (time="steps"),   1   (time="lr_area")

`Dynamics.temperature` / `.mobility` give the same in JAX's default dtype (for
the simulator); the theory works in float64 NumPy, so it uses these. Kept in a
module of their own because every theory module needs them and the operator
imports the Mpemba and quench modules, which must not import it back.
"""

from __future__ import annotations

import math

from ..dynamics import Dynamics

__all__ = ["temperature_of", "mobility_of", "positive_lr"]


def temperature_of(dynamics: Dynamics, lr: float) -> float:
    """`T = g * lr` in float64 (`Dynamics.temperature` follows JAX's default dtype)."""
    return dynamics.temperature_scale * float(lr)


def mobility_of(dynamics: Dynamics, lr: float) -> float:
    """`mu(lr)` in float64: `lr` for `time="steps"`, `1` for `"lr_area"`."""
    return float(lr) if dynamics.time == "steps" else 1.0


def positive_lr(name: str, value) -> float:
    """`value` as a float, or `ValueError` naming `name` unless it is finite and > 0.

    Example:
      >>> positive_lr("lr_bath", 0.01)
      0.01
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0; got {v}")
    return v
