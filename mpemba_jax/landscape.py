"""Valley–river loss landscapes (THEORY section 1).

    L(x, y) = V(y) + 0.5 * sum_i a_i(y) x_i^2,     x in R^d, y in R, a_i(y) > 0

`ValleyRiver` holds the river profile `V` and the valley curvature as
JAX-traceable functions of `y`; every derivative comes from autodiff. The
curvature is either one function `a(y)` shared by all `d` valley directions
(`L = V + 0.5 a |x|^2`) or one per direction, `a(y) -> (..., d)` (a spectrum
of valley curvatures). It also knows the coarse-grained free energy of THEORY
section 3,

    F_T(y) = V(y) + (T / 2) * sum_i ln a_i(y)       (= V + (d T / 2) ln a),

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
    """A valley–river loss `L(x, y) = V(y) + 0.5 sum_i a_i(y) x_i^2`.

    Args:
      river: `V(y)`, a JAX-traceable scalar function (applied elementwise).
      curvature: the valley sharpness, JAX-traceable: `a(y) > 0` shared by
        every valley direction (a scalar per `y`), or one curvature per
        direction, `y (...) -> (..., d)` (e.g. `lambda y: a0 * jnp.stack([...], -1)`).
      valley_dim: `d >= 1`, the number of valley directions `x` (with one
        curvature per direction it must equal their number).
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
        self.valley_dim = int(valley_dim)
        self.per_direction = _per_direction(curvature, self.valley_dim)
        self.curvature = _elementwise(curvature, self.valley_dim if self.per_direction else None)
        self.domain = domain
        self.name = name
        self.params = dict(params or {})
        self._check()

    # -- derivatives ---------------------------------------------------------
    def river_slope(self, y: ArrayLike) -> jax.Array:
        """`V'(y)`, elementwise, shape of `y`."""
        return jnp.vectorize(jax.grad(self.river))(jnp.asarray(y, _float_dtype(y)))

    def curvature_slope(self, y: ArrayLike) -> jax.Array:
        """`a'(y)`, elementwise: shape of `y`, or `y.shape + (d,)` with one curvature
        per direction."""
        y = jnp.asarray(y, _float_dtype(y))
        if self.per_direction:
            return jnp.vectorize(jax.jacfwd(self.curvature), signature="()->(d)")(y)
        return jnp.vectorize(jax.grad(self.curvature))(y)

    def curvatures(self, y: ArrayLike) -> jax.Array:
        """`a_i(y)` of every valley direction, shape `y.shape + (d,)`."""
        a = self.curvature(y)
        return a if self.per_direction else jnp.repeat(a[..., None], self.valley_dim, -1)

    def log_det_curvature(self, y: ArrayLike) -> jax.Array:
        """`sum_i ln a_i(y)` (`d ln a` for a shared curvature), shape of `y`."""
        if self.per_direction:
            return _sum_last(jnp.log(self.curvature(y)))
        return self.valley_dim * jnp.log(self.curvature(y))

    # -- the loss ------------------------------------------------------------
    def loss(self, x: ArrayLike, y: ArrayLike) -> jax.Array:
        """`L(x, y) = V(y) + 0.5 sum_i a_i(y) x_i^2`; `x` is `(..., d)`, `y` is `(...)`."""
        return self.river(y) + self.valley_energy(x, y)

    def valley_energy(self, x: ArrayLike, y: ArrayLike) -> jax.Array:
        """`0.5 sum_i a_i(y) x_i^2`, shape `(...)`; equals `d T / 2` on average at equilibrium."""
        x = jnp.asarray(x)
        if self.per_direction:
            return 0.5 * _sum_last(self.curvature(y) * jnp.square(x))
        return 0.5 * self.curvature(y) * _sum_last(jnp.square(x))

    def gradient(self, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """`(dL/dx, dL/dy) = (a_i(y) x_i, V'(y) + 0.5 sum_i a_i'(y) x_i^2)`, shapes of `x`, `y`."""
        a = self.curvature(y)
        grad_x = (a if self.per_direction else a[..., None]) * x
        return grad_x, self.river_slope(y) + self.valley_force(x, y)

    def valley_force(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """`0.5 sum_i a_i'(y) x_i^2`: the valley's push on the river, shape of `y`."""
        slope = self.curvature_slope(y)
        if self.per_direction:
            return 0.5 * _sum_last(slope * jnp.square(x))
        return 0.5 * slope * _sum_last(jnp.square(x))

    # -- coarse-grained river (THEORY section 3) -----------------------------
    def free_energy(self, y: ArrayLike, temperature: ArrayLike) -> jax.Array:
        """`F_T(y) = V(y) + (T / 2) sum_i ln a_i(y)`, the river's effective potential."""
        return self.river(y) + 0.5 * temperature * self.log_det_curvature(y)

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
            "per_direction_curvature": self.per_direction,
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
            a = np.asarray(self.curvatures(yj)).min(axis=-1)
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


def _elementwise(f: Callable[[jax.Array], jax.Array],
                 per_direction: int | None = None) -> Callable[[jax.Array], jax.Array]:
    """Make `f(y)` return an array of `y`'s shape (or `y.shape + (d,)` with
    `per_direction=d`) even if `f` returns a constant."""

    def wrapped(y):
        y = jnp.asarray(y)
        shape = y.shape if per_direction is None else y.shape + (per_direction,)
        return jnp.broadcast_to(f(y), shape).astype(_float_dtype(y))

    wrapped.__wrapped__ = f
    return wrapped


def _per_direction(curvature: Callable, valley_dim: int) -> bool:
    """Whether `curvature(y)` gives one value per valley direction, `(..., d)`."""
    probe = jnp.linspace(-0.5, 0.5, 3)
    try:
        shape = jax.eval_shape(curvature, probe).shape
    except Exception as e:  # noqa: BLE001 - re-raised naming the argument
        raise ValueError(f"curvature must be a JAX-traceable a(y); calling it on an array of "
                         f"y failed: {type(e).__name__}: {e}") from None
    if shape in ((), (3,)):
        return False
    if len(shape) == 2 and shape[0] == 3:
        if shape[1] != valley_dim:
            raise ValueError(f"curvature returns {shape[1]} values per y (one per valley "
                             f"direction), so valley_dim must be {shape[1]}; got {valley_dim}")
        return True
    raise ValueError(f"curvature must return one value per y, or one per valley direction "
                     f"(shape y.shape + (valley_dim,)); for y of shape (3,) it returned {shape}")


def _sum_last(v: jax.Array) -> jax.Array:
    """Sum over the last axis as a chain of elementwise adds: a reduction over a
    short axis is vectorised by XLA in a way that depends on the leading shape,
    so its rounding would depend on the chunk size; adds do not."""
    total = v[..., 0]
    for i in range(1, v.shape[-1]):
        total = total + v[..., i]
    return total


def _float_dtype(y: ArrayLike) -> Any:
    dtype = jnp.result_type(y)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)
