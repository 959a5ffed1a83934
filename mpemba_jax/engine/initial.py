"""Initial particle states: equilibrium at an LR, a discrete chain's stationary
state, a fixed point, or user arrays.

`equilibrium(lr)` samples the valley–river Boltzmann state exactly:

    y ~ P_T(y) ~ prod_i a_i(y)^(-1/2) exp(-V(y) / T)   (inverse CDF on a fine grid)
    x_i | y ~ N(0, T / a_i(y))

with `T = temperature_scale * lr`. The CDF is the trapezoid integral of the
density on `2^14` cells over `landscape.support(T)`, and `y` is its linear
inverse (the density is taken piecewise constant within a cell).

`chain_state(theory, lr)` samples the stationary state of the discrete chain
that `theory` (a `FokkerPlanck` with `dt=h`, THEORY section 8) describes at
`lr`, the state a long plateau reaches:

    y ~ theory.stationary(lr)   (cell masses, uniform within a cell)
    x_i | y ~ N(0, v_i(y)),  v = T / (a (1 - c a)),  c = mu h / 2 (Euler–Maruyama)
                                                    c = 0 (valley_exact, Leimkuhler–Matthews)

the valley at its finite-step stationary variance (`theory.valley.valley_variance`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..dynamics import Dynamics
from ..landscape import ValleyRiver

__all__ = ["Equilibrium", "ChainState", "Point", "Arrays", "equilibrium", "chain_state",
           "chain_identity", "point", "boltzmann_cdf"]

_CDF_CELLS = 1 << 14


@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """Boltzmann state at learning rate `lr`."""

    lr: float

    def describe(self) -> dict:
        return {"kind": "equilibrium", "lr": self.lr}


@dataclasses.dataclass(frozen=True, eq=False)
class ChainState:
    """Stationary state of a discrete chain at learning rate `lr`: river cell masses
    `masses (n_grid,)` on `edges (n_grid + 1,)`, valley variance `T / (a (1 - c a))`
    with `c = stiffening`; `description` names the chain (its `dt`, integrator, grid)."""

    lr: float
    edges: np.ndarray
    masses: np.ndarray
    stiffening: float
    description: dict

    def describe(self) -> dict:
        return dict(self.description)


@dataclasses.dataclass(frozen=True)
class Point:
    """Every particle at `(x, y)`; `x` is a scalar broadcast over the valley."""

    y: float
    x: float = 0.0

    def describe(self) -> dict:
        return {"kind": "point", "y": self.y, "x": self.x}


@dataclasses.dataclass(frozen=True, eq=False)
class Arrays:
    """User-given particles: `x` of shape `(N, d)` and `y` of shape `(N,)`."""

    x: np.ndarray
    y: np.ndarray

    def describe(self) -> dict:
        return {"kind": "arrays", "n": int(self.y.shape[0])}


def equilibrium(lr: float) -> Equilibrium:
    """Initial state: equilibrium at learning rate `lr > 0`.

    Example:
      >>> import mpemba_jax as mj
      >>> init = mj.equilibrium(0.05)
    """
    return Equilibrium(_start_lr("equilibrium", lr, " (LR 0 has no Boltzmann state)"))


def _start_lr(who: str, lr, why: str = "") -> float:
    """`lr` as a float, or `ValueError` naming `who` if it is not finite and > 0."""
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"{who} lr must be a number > 0; got {lr!r}") from None
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{who} lr must be finite and > 0{why}; got {lr}")
    return lr


def chain_state(theory, lr: float) -> ChainState:
    """Initial state: the stationary state at `lr` of the discrete chain that
    `theory` describes (`mj.FokkerPlanck(..., dt=h, integrator=...)`): what a long
    plateau at `lr` reaches when the engine runs that integrator at step `h`.

    Example:
      >>> fp = mj.FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=400, dt=1.0)
      >>> init = mj.chain_state(fp, 0.02)          # doctest: +SKIP
    """
    if getattr(theory, "dt", None) is None or not hasattr(theory, "stationary"):
        raise ValueError("chain_state needs the theory of a discrete chain, "
                         f"mj.FokkerPlanck(..., dt=h); got {type(theory).__name__} with "
                         f"dt={getattr(theory, 'dt', None)!r}")
    lr = _start_lr("chain_state", lr)
    masses = np.asarray(theory.stationary(lr), np.float64)
    mu = float(theory.dynamics.mobility(lr))
    stiffening = 0.5 * mu * theory.dt if theory.integrator == "euler_maruyama" else 0.0
    edges = np.asarray(theory.edges, np.float64)
    return ChainState(lr, edges, masses, stiffening,
                      {"kind": "chain", "lr": lr, **chain_identity(theory),
                       "landscape": theory.landscape.name})


def chain_identity(theory) -> dict:
    """What names the chain a `chain_state` start came from (its step, integrator and
    grid): a run's `metadata["init"]` holds it, and `validate` accepts only a theory
    with the same identity."""
    return {"dt": float(theory.dt), "integrator": theory.integrator,
            "n_grid": int(theory.n_grid),
            "grid": [float(theory.edges[0]), float(theory.edges[-1])]}


def point(y: float, x: float = 0.0) -> Point:
    """Initial state: every particle at river position `y`, valley position `x`."""
    try:
        y, x = float(y), float(x)
    except (TypeError, ValueError):
        raise ValueError(f"point needs numbers y and x; got y={y!r}, x={x!r}") from None
    if not (math.isfinite(y) and math.isfinite(x)):
        raise ValueError(f"point needs finite y and x; got y={y}, x={x}")
    return Point(y, x)


def as_init(init, n_particles: int, valley_dim: int):
    """Normalise the `init=` argument of `simulate`: a state object or `(x, y)` arrays."""
    if isinstance(init, (Equilibrium, ChainState, Point)):
        return init
    if isinstance(init, Arrays):
        x, y = init.x, init.y
    elif isinstance(init, (tuple, list)) and len(init) == 2:
        x, y = init
    else:
        raise ValueError(
            "init must be mj.equilibrium(lr), mj.chain_state(theory, lr), mj.point(y, x) or a "
            "pair of arrays "
            f"(x of shape (n_particles, valley_dim), y of shape (n_particles,)); got {init!r}"
        )
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n_particles,) or x.shape != (n_particles, valley_dim):
        raise ValueError(
            f"init arrays must have shapes x: ({n_particles}, {valley_dim}) and "
            f"y: ({n_particles},); got x: {x.shape}, y: {y.shape}"
        )
    for name, v in (("y", y), ("x", x)):
        if not np.all(np.isfinite(v)):
            i = np.unravel_index(np.argmax(~np.isfinite(v)), v.shape)
            raise ValueError(f"init arrays must be finite; got {name}[{', '.join(map(str, i))}] = {v[i]}")
    return Arrays(x, y)


def boltzmann_cdf(landscape: ValleyRiver, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """`(y_grid, cdf)` of the river marginal `P_T(y) ~ exp(-F_T(y) / T)`, float64.

    Shapes `(2^14 + 1,)`; `cdf[0] = 0`, `cdf[-1] = 1`.
    """
    lo, hi = landscape.support(temperature)
    y = np.linspace(lo, hi, _CDF_CELLS + 1)
    f = landscape.free_energy_np(y, temperature)
    p = np.exp(-(f - f.min()) / temperature)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(y))])
    return y, cdf / cdf[-1]


def in_support(init, landscape: ValleyRiver) -> None:
    """Reject explicit initial positions outside the walls."""
    if landscape.domain is None:
        return
    lo, hi = landscape.domain
    ys = (np.array([init.y]) if isinstance(init, Point)
          else init.y if isinstance(init, Arrays) else np.array([]))
    if ys.size and (ys.min() < lo or ys.max() > hi):
        raise ValueError(
            f"init y must lie inside the domain [{lo:g}, {hi:g}]; got values in "
            f"[{ys.min():g}, {ys.max():g}]"
        )


def sampler_params(init, landscape: ValleyRiver, dynamics: Dynamics) -> dict:
    """Host-side numbers `sample_blocks` needs, as arrays (traced, so no recompiles)."""
    if isinstance(init, Point):
        return {"y": init.y, "x": init.x}
    temperature = float(dynamics.temperature(init.lr))
    if isinstance(init, ChainState):
        cdf = np.concatenate([[0.0], np.cumsum(init.masses)])
        return {"temperature": temperature, "y_grid": init.edges, "cdf": cdf / cdf[-1],
                "stiffening": init.stiffening}
    y_grid, cdf = boltzmann_cdf(landscape, temperature)
    return {"temperature": temperature, "y_grid": y_grid, "cdf": cdf}


def sample_blocks(kind: str, landscape: ValleyRiver, keys: jax.Array, block_size: int,
                  dtype, params: dict) -> tuple[jax.Array, jax.Array]:
    """Initial `(x, y)` of shapes `(n_blocks, B, d)`, `(n_blocks, B)`.

    `kind` is "point", "equilibrium" or "chain"; `keys` is `(n_blocks,)`; `params` comes
    from `sampler_params`. Traceable (used inside `jit`).
    """
    d = landscape.valley_dim
    n_blocks = keys.shape[0]
    if kind == "point":
        y = jnp.full((n_blocks, block_size), params["y"], dtype)
        return jnp.full((n_blocks, block_size, d), params["x"], dtype), y

    def one_block(key):
        k_y, k_x = jax.random.split(key)
        # The table is built in float64 and used in the run's dtype: in float32
        # the quantiles resolve tail probabilities down to ~1e-7.
        u = jax.random.uniform(k_y, (block_size,), dtype)
        y = jnp.interp(u, params["cdf"], params["y_grid"])
        a = landscape.curvatures(y)  # (B, d)
        if kind == "chain":  # the valley's finite-step variance T / (a (1 - c a))
            a = a * (1.0 - params["stiffening"] * a)
        scale = jnp.sqrt(params["temperature"] / a)
        return scale * jax.random.normal(k_x, (block_size, d), dtype), y

    return jax.vmap(one_block)(keys)
