"""What a loss-curve model is to the fitter: named parameters, their ranges, a forward map.

A model maps a parameter vector `theta (k,)` (natural units), a normalised LR
table `eta (n,)` (`eta = lr / lr_ref`) and record steps `(m,)` to the predicted
losses `(m,)`, in float64 JAX so that the fitter can differentiate it; what
depends on the table alone is computed once (`prepare`). Each
parameter has a transform to an unconstrained coordinate (`"identity"`,
`"log"` for positive parameters, `"logit"` for one in `(0, 1)`), hard bounds
(where the forward map is defined) and a box the fitter draws its starts from.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Parameter", "CurveModel", "to_unconstrained", "to_natural"]

TRANSFORMS = ("identity", "log", "logit")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One fitted parameter: its transform, hard bounds and the start box.

    `start` may be None (then the model's `start_box` supplies it from the data).
    `meaning` is one line for the JSON and the README.
    """

    name: str
    transform: str
    bounds: tuple[float, float]
    start: tuple[float, float] | None
    meaning: str

    def __post_init__(self):
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}; got {self.transform!r}")
        lo, hi = self.bounds
        if not lo < hi:
            raise ValueError(f"{self.name}: bounds need lo < hi; got {self.bounds}")
        if self.transform == "log" and lo <= 0:
            raise ValueError(f"{self.name}: a log parameter needs bounds > 0; got {self.bounds}")
        if self.transform == "logit" and not (0 <= lo and hi <= 1):
            raise ValueError(f"{self.name}: a logit parameter lives in [0, 1]; got {self.bounds}")


class CurveModel:
    """Base of the loss-curve models (`ValleyRiverModel`, `MultiPowerLaw`, `AnnealingLaw`).

    Subclasses set `name` and `parameters`, and define `prepare(eta,
    record_steps) -> dict` (NumPy, once per LR table), `losses(theta, data) ->
    (m,)` (JAX, float64) and `options()`.
    """

    name: str = "model"
    parameters: tuple[Parameter, ...] = ()

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def prepare(self, eta, record_steps) -> dict:  # pragma: no cover - abstract
        """Per-curve arrays (NumPy) the forward map needs, computed once per LR table."""
        raise NotImplementedError

    def losses(self, theta, data):  # pragma: no cover - abstract
        """Predicted losses `(m,)` at the record steps of one prepared curve (JAX)."""
        raise NotImplementedError

    def losses_many(self, theta, datas) -> list:
        """`losses` of several prepared curves; a model may batch them."""
        return [self.losses(theta, d) for d in datas]

    def predict(self, theta, eta, record_steps):
        """Losses `(m,)` for one table (what `LossCurveFit.predict` calls; JAX)."""
        data = jax.tree_util.tree_map(jnp.asarray, self.prepare(eta, record_steps))
        return self.losses(jnp.asarray(theta), data)

    def options(self) -> dict:
        """The model's fixed settings (JSON-able); `from_options` rebuilds it."""
        return {}

    def start_box(self, min_loss: float) -> list[tuple[float, float]]:
        """Natural start ranges; a parameter without its own (the loss floor) is
        placed below the smallest loss of the data."""
        return [p.start if p.start is not None else (min_loss - 1.5, min_loss - 0.05)
                for p in self.parameters]

    def bounds(self, min_loss: float) -> list[tuple[float, float]]:
        """Hard natural bounds; the floor `L0` stays below the data's smallest loss."""
        out = []
        for p in self.parameters:
            lo, hi = p.bounds
            if p.name == "L0":
                hi = min(hi, min_loss - 1e-3)
            out.append((lo, hi))
        return out

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


def to_unconstrained(model: CurveModel, theta: Sequence[float]) -> np.ndarray:
    """Natural parameters `(k,)` -> the fitter's unconstrained coordinates `(k,)`."""
    out = []
    for p, v in zip(model.parameters, theta):
        v = float(v)
        if p.transform == "log":
            out.append(math.log(v))
        elif p.transform == "logit":
            out.append(math.log(v) - math.log1p(-v))
        else:
            out.append(v)
    return np.asarray(out, np.float64)


def to_natural(model: CurveModel, u):
    """Unconstrained coordinates `(k,)` -> natural parameters `(k,)` (JAX, traceable)."""
    u = jnp.asarray(u)
    parts = []
    for i, p in enumerate(model.parameters):
        if p.transform == "log":
            parts.append(jnp.exp(u[i]))
        elif p.transform == "logit":
            parts.append(1.0 / (1.0 + jnp.exp(-u[i])))
        else:
            parts.append(u[i])
    return jnp.stack(parts)
