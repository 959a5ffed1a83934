"""Theory for whole schedules given as LR tables: river masses, valley moments, loss.

`schedule_theory` evolves the river's cell masses with `evolve` (Fokker–Planck,
THEORY sections 3 and 6) and the valley's second moment with the
Euler–Maruyama recursion of each river cell,

    v <- (1 - mu a(y) h)^2 v + 2 mu T h       (per valley coordinate)

whose fixed point `T / (a (1 - mu a h / 2))` is equipartition `T / a` up to the
O(mu a h) step bias; the loss prediction is `sum_i p_i (V_i + d a_i v_i / 2)`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .evolve import evolve
from .operator import FokkerPlanck

__all__ = ["schedule_theory", "bath_equilibrium", "theory_observables", "extended_bin_masses"]


def extended_bin_masses(fp: FokkerPlanck, masses: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell masses `(..., n_grid)` as `[below, bins..., above]` masses `(..., n_bins + 2)`
    of the histogram `edges` (density constant within a grid cell)."""
    masses = np.asarray(masses, np.float64)
    cdf = np.concatenate([np.zeros(masses.shape[:-1] + (1,)), np.cumsum(masses, -1)], -1)
    flat = cdf.reshape(-1, cdf.shape[-1])
    at = np.stack([np.interp(edges, fp.edges, row) for row in flat])
    total = flat[:, -1:]
    out = np.concatenate([at[:, :1], np.diff(at, axis=-1), total - at[:, -1:]], axis=-1)
    return out.reshape(masses.shape[:-1] + (len(edges) + 1,))


def schedule_theory(fp: FokkerPlanck, lr_steps: np.ndarray, dt: float, initial_masses,
                    record_steps, *, valley_moment: float | np.ndarray = 0.0,
                    edges: np.ndarray | None = None, ks: Sequence[int] = (2, 3),
                    substeps: int = 1) -> dict[str, np.ndarray]:
    """Fokker–Planck prediction for one schedule given as its LR table.

    The river's cell masses come from `mj.evolve` (`fp` supplies grid and time
    convention; the LR of step `s` is `lr_steps[s]`, exactly the simulator's).
    The valley's second moment per coordinate follows, in every river cell,
    the Euler–Maruyama recursion `v <- (1 - mu a h)^2 v + 2 mu T h` from
    `valley_moment` (0 for particles started at `x = 0`). Shapes `(R,)` unless noted:

      river_loss  sum_i p_i V(y_i)
      valley_energy  sum_i p_i d a_i v_i / 2      (-> d T / 2 (1 - mu a h / 2)^-1)
      loss        their sum
      A_k         sum_i p_i u_k(y_i)  for k in `ks`
      masses      (R, n_grid) cell masses
      bin_masses  (R, n_bins + 2) `[below, bins..., above]` when `edges` is given

    Example:
      >>> th = schedule_theory(fp, batch.lr_steps[0], 1.0, fp.point_mass(-0.28), batch.steps)
    """
    lr_steps = np.asarray(lr_steps, np.float64)
    n_steps = len(lr_steps) - 1
    record_steps = np.asarray(record_steps, np.int64)
    table = lr_steps

    def schedule(t):
        return table[np.clip(np.rint(np.asarray(t, np.float64) / dt).astype(np.int64), 0, n_steps)]

    with warnings.catch_warnings():
        # Warm-ups from LR ~ 0 are below the grid's resolution for a few steps;
        # `evolve` warns about that, and it does not matter for what follows.
        warnings.simplefilter("ignore")
        ev = evolve(fp, initial_masses, schedule, dt, n_steps=n_steps, record_steps=record_steps,
                    substeps=substeps)
    land = fp.landscape
    with jax.enable_x64(True):
        c = jnp.asarray(fp.centres, jnp.float64)
        river = np.asarray(land.river(c))
        a = np.asarray(land.curvature(c))
    g = fp.dynamics.temperature_scale
    mu = lr_steps if fp.dynamics.time == "steps" else np.ones_like(lr_steps)
    v = np.broadcast_to(np.asarray(valley_moment, np.float64), a.shape).copy()
    v_rec = np.zeros((len(record_steps), len(a)))
    want = {int(s): k for k, s in enumerate(record_steps)}
    for s in range(n_steps + 1):
        if s in want:
            v_rec[want[s]] = v
        if s < n_steps:
            v = (1.0 - mu[s] * a * dt) ** 2 * v + 2.0 * mu[s] * g * lr_steps[s] * dt
    masses = ev.masses
    out = {
        "river_loss": masses @ river,
        "valley_energy": np.sum(masses * 0.5 * land.valley_dim * a * v_rec, axis=-1),
        "masses": masses,
    }
    out["loss"] = out["river_loss"] + out["valley_energy"]
    for k in ks:
        out[f"A_{k}"] = masses @ fp.left_eigenfunctions[k - 1]
    if edges is not None:
        out["bin_masses"] = extended_bin_masses(fp, masses, np.asarray(edges, np.float64))
    return out


def bath_equilibrium(fp: FokkerPlanck) -> dict[str, Any]:
    """The bath state of `fp`: loss `<V>_pi + d T_f / 2` (equipartition), `<V>_pi`, masses."""
    with jax.enable_x64(True):
        river = np.asarray(fp.landscape.river(jnp.asarray(fp.centres, jnp.float64)))
    pi = fp.stationary_masses
    river_loss = float(pi @ river)
    valley = 0.5 * fp.landscape.valley_dim * fp.temperature
    return {"loss": river_loss + valley, "river_loss": river_loss, "valley_energy": valley,
            "masses": pi}


def theory_observables(fp: FokkerPlanck, ks: Sequence[int] = (2, 3)) -> dict[str, Callable]:
    """Per-particle observables for `run_batch`: `A_k = u_k(y)` and `river_loss = V(y)`."""
    out = {}
    for k in ks:
        u = fp.left_eigenfunction(k)
        out[f"A_{k}"] = (lambda u_k: lambda x, y: u_k(y))(u)
    river = fp.landscape.river
    out["river_loss"] = lambda x, y: river(y)
    return out
