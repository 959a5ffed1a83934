"""Valley–river loss landscapes (THEORY section 1).

    L(x, y) = V(y) + 0.5 * a(y) * |x|^2,        x in R^d, y in R, a(y) > 0

`ValleyRiver` holds the river profile `V` and the valley curvature `a` as
JAX-traceable scalar functions of `y`; every derivative comes from autodiff.
It also knows the coarse-grained free energy of THEORY section 3,

    F_T(y) = V(y) + (d T / 2) * ln a(y),

and the stretch of river `support(T)` where `exp(-F_T / T)` carries all but a
negligible mass, which the equilibrium sampler and the Fokker–Planck grid
share. A landscape is a static, hashable Python object: jitted functions close
over it and retrace only when a different landscape is passed (two presets of
the same name and parameters are the same landscape).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["ValleyRiver"]

# Grid used by the Python-level checks of a landscape; fine enough to find a
# non-positive curvature or a non-finite river anywhere a particle can go.
_CHECK_POINTS = 4097
# Free-energy height above the minimum, in units of T, beyond which the
# Boltzmann weight exp(-40) ~ 4e-18 is negligible against float64 round-off.
_DEFAULT_TAIL = 40.0


class ValleyRiver:
    """A valley–river loss `L(x, y) = V(y) + 0.5 a(y) |x|^2`.

    Args:
      river: `V(y)`, a JAX-traceable scalar function (applied elementwise).
      curvature: `a(y) > 0`, the valley sharpness, JAX-traceable.
      valley_dim: `d >= 1`, the number of valley directions `x`.
      domain: `None` for an unbounded river (then `V` must confine), or
        `(y_lo, y_hi)` with reflecting walls.
      name: label used in metadata and figures.
      params: the parameters the landscape was built from (metadata only).

    Shapes: `x` is `(..., d)` and `y` is `(...)`; every method broadcasts.

    Example:
      >>> import jax.numpy as jnp, mpemba_jax as mj
      >>> land = mj.ValleyRiver(river=lambda y: 0.5 * y**2,
      ...                       curvature=lambda y: 10.0 + 0.0 * y)
      >>> float(land.loss(jnp.ones(1), 2.0))
      7.0
    """

    def __init__(
        self,
        river: Callable[[jax.Array], jax.Array],
        curvature: Callable[[jax.Array], jax.Array],
        valley_dim: int = 1,
        domain: tuple[float, float] | None = None,
        *,
        name: str = "custom",
        params: dict[str, Any] | None = None,
    ):
        if not callable(river):
            raise ValueError(f"river must be a callable V(y); got {river!r}")
        if not callable(curvature):
            raise ValueError(f"curvature must be a callable a(y); got {curvature!r}")
        if isinstance(valley_dim, bool) or not isinstance(valley_dim, (int, np.integer)):
            raise ValueError(f"valley_dim must be an integer >= 1; got {valley_dim!r}")
        if valley_dim < 1:
            raise ValueError(f"valley_dim must be an integer >= 1; got {valley_dim}")
        if domain is not None:
            try:
                y_lo, y_hi = (float(v) for v in domain)
            except (TypeError, ValueError):
                raise ValueError(
                    f"domain must be None or a pair (y_lo, y_hi); got {domain!r}"
                ) from None
            if not (math.isfinite(y_lo) and math.isfinite(y_hi)):
                raise ValueError(f"domain must be finite; got ({y_lo}, {y_hi})")
            if y_lo >= y_hi:
                raise ValueError(
                    f"domain needs y_lo < y_hi; got y_lo={y_lo}, y_hi={y_hi}"
                )
            domain = (y_lo, y_hi)
        self.river = _elementwise(river)
        self.curvature = _elementwise(curvature)
        self.valley_dim = int(valley_dim)
        self.domain = domain
        self.name = name
        self.params = dict(params or {})
        self._check()

    # -- derivatives ---------------------------------------------------------
    def river_slope(self, y: ArrayLike) -> jax.Array:
        """`V'(y)`, elementwise, shape of `y`."""
        return jnp.vectorize(jax.grad(self.river))(jnp.asarray(y, _float_dtype(y)))

    def curvature_slope(self, y: ArrayLike) -> jax.Array:
        """`a'(y)`, elementwise, shape of `y`."""
        return jnp.vectorize(jax.grad(self.curvature))(jnp.asarray(y, _float_dtype(y)))

    # -- the loss ------------------------------------------------------------
    def loss(self, x: ArrayLike, y: ArrayLike) -> jax.Array:
        """`L(x, y) = V(y) + 0.5 a(y) |x|^2`; `x` is `(..., d)`, `y` is `(...)`."""
        return self.river(y) + self.valley_energy(x, y)

    def valley_energy(self, x: ArrayLike, y: ArrayLike) -> jax.Array:
        """`0.5 a(y) |x|^2`, shape `(...)`; equals `d T / 2` on average at equilibrium."""
        return 0.5 * self.curvature(y) * jnp.sum(jnp.square(x), axis=-1)

    def gradient(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """`(dL/dx, dL/dy) = (a(y) x, V'(y) + 0.5 a'(y) |x|^2)`, shapes of `x`, `y`."""
        a = self.curvature(y)
        grad_x = a[..., None] * x
        grad_y = self.river_slope(y) + 0.5 * self.curvature_slope(y) * jnp.sum(
            jnp.square(x), axis=-1
        )
        return grad_x, grad_y

    # -- coarse-grained river (THEORY section 3) -----------------------------
    def free_energy(self, y: ArrayLike, temperature: ArrayLike) -> jax.Array:
        """`F_T(y) = V(y) + (d T / 2) ln a(y)`, the river's effective potential."""
        return self.river(y) + 0.5 * self.valley_dim * temperature * jnp.log(
            self.curvature(y)
        )

    def support(self, temperature: float, tail: float = _DEFAULT_TAIL) -> tuple[float, float]:
        """Interval holding all but `~exp(-tail)` of `P_T(y) ~ exp(-F_T(y) / T)`.

        The domain itself when it is bounded. On an unbounded river the window
        grows until `F_T - min F_T > tail * T` at both ends; a river that does not
        confine within `|y| < 1e6` raises `ValueError`.
        """
        temperature = float(temperature)
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be finite and > 0; got {temperature}")
        tail = float(tail)
        if not (math.isfinite(tail) and tail > 0):
            raise ValueError(f"tail must be finite and > 0; got {tail}")
        if self.domain is not None:
            return self.domain
        half = 1.0
        while half <= 1e6:
            y = np.linspace(-half, half, _CHECK_POINTS)
            f = self.free_energy_np(y, temperature)
            if not np.all(np.isfinite(f)):
                # Outside the region where V or a is finite nothing can confine;
                # say which of V and a fails, and where.
                self.check_region(-half, half)
                raise ValueError(
                    f"landscape {self.name!r}: free energy is not finite on "
                    f"[{-half:g}, {half:g}] at T={temperature:g}"
                )
            excess = (f - f.min()) / temperature
            if excess[0] > tail and excess[-1] > tail:
                inside = np.nonzero(excess <= tail)[0]
                step = y[1] - y[0]
                return (float(y[inside[0]] - step), float(y[inside[-1]] + step))
            half *= 2.0
        raise ValueError(
            f"landscape {self.name!r} with domain=None does not confine the river at "
            f"T={temperature:g}: exp(-F_T/T) does not fall by exp(-{tail:g}) within "
            "|y| < 1e6. Give a confining river V or a bounded domain=(y_lo, y_hi)."
        )

    def free_energy_np(self, y: np.ndarray, temperature: float) -> np.ndarray:
        """`F_T(y)` evaluated in float64 NumPy (for theory and samplers)."""
        with jax.enable_x64(True):
            return np.asarray(self.free_energy(jnp.asarray(y, jnp.float64), temperature))

    def describe(self) -> dict[str, Any]:
        """JSON-able description for result metadata."""
        return {
            "name": self.name,
            "params": self.params,
            "valley_dim": self.valley_dim,
            "domain": None if self.domain is None else list(self.domain),
        }

    # Custom landscapes are equal only to themselves (their functions are opaque);
    # `preset(name, **params)` sets `_identity` so equal presets compare equal.
    _identity: tuple | None = None

    def __eq__(self, other: object) -> bool:
        if self._identity is not None and isinstance(other, ValleyRiver):
            return self._identity == other._identity
        return self is other

    def __hash__(self) -> int:
        return object.__hash__(self) if self._identity is None else hash(self._identity)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"ValleyRiver({self.name}({params}), valley_dim={self.valley_dim}, "
            f"domain={self.domain})"
        )

    # -- validation ----------------------------------------------------------
    def check_region(self, y_lo: float, y_hi: float) -> None:
        """Raise `ValueError` unless `a > 0` and `V`, `a` are finite on `[y_lo, y_hi]`."""
        y = np.linspace(y_lo, y_hi, _CHECK_POINTS)
        with jax.enable_x64(True):
            yj = jnp.asarray(y, jnp.float64)
            v = np.asarray(self.river(yj))
            a = np.asarray(self.curvature(yj))
        if not np.all(np.isfinite(v)):
            bad = y[~np.isfinite(v)][0]
            raise ValueError(
                f"landscape {self.name!r}: river V(y) must be finite on "
                f"[{y_lo:g}, {y_hi:g}]; V({bad:g}) = {v[~np.isfinite(v)][0]}"
            )
        if not np.all(np.isfinite(a) & (a > 0)):
            i = np.nonzero(~(np.isfinite(a) & (a > 0)))[0][0]
            raise ValueError(
                f"landscape {self.name!r}: curvature a(y) must be finite and > 0 on "
                f"[{y_lo:g}, {y_hi:g}]; a({y[i]:g}) = {a[i] + 0.0:g}"
            )

    def _check(self) -> None:
        if self.domain is not None:
            self.check_region(*self.domain)
        else:
            # The unbounded case is checked again over the support of each run.
            self.check_region(-1.0, 1.0)


def _elementwise(f: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], jax.Array]:
    """Make `f(y)` return an array of `y`'s shape even if `f` returns a constant."""

    def wrapped(y):
        y = jnp.asarray(y)
        return jnp.broadcast_to(f(y), y.shape).astype(_float_dtype(y))

    wrapped.__wrapped__ = f
    return wrapped


def _float_dtype(y: ArrayLike) -> Any:
    dtype = jnp.result_type(y)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)
