"""Theory for whole schedules given as LR tables: river masses, valley moments, loss.

`schedule_theory` evolves the river's cell masses `p_i` with `evolve`
(Fokker–Planck, THEORY sections 3 and 6) and, in every river cell, the valley's
second moment per coordinate `v_i` with the Euler–Maruyama recursion of
`valley` (`v <- (1 - mu a h)^2 v + 2 mu T h`, fixed point
`T / (a (1 - mu a h / 2))`); the loss prediction is

    L = sum_i p_i (V_i + d a_i v_i / 2).

The LR table (`n_steps + 1` values, as the driver stores it in every result)
is the currency: it goes to `evolve` and to the recursion as it is. With a
chain operator (`FokkerPlanck(..., dt=h)`) the river follows the chain's
kernel and the valley the recursion of `fp.integrator` (THEORY section 8).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .distances import masses_to_bins
from .evolve import evolve
from .operator import FokkerPlanck
from .valley import valley_moments, valley_variance

__all__ = ["schedule_theory", "bath_equilibrium", "theory_observables", "extended_bin_masses"]


def extended_bin_masses(fp: FokkerPlanck, masses: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell masses `(..., n_grid)` as `[below, bins..., above]` masses `(..., n_bins + 2)`
    of the histogram `edges (n_bins + 1,)` (density constant within a grid cell),
    to compare with a histogram that counts its underflow and overflow."""
    return masses_to_bins(fp.edges, masses, edges, tails=True)


def schedule_theory(fp: FokkerPlanck, lr_steps: np.ndarray, dt: float, initial_masses,
                    record_steps, *, valley_moment: float | np.ndarray = 0.0,
                    edges: np.ndarray | None = None, ks: Sequence[int] = (2, 3),
                    substeps: int = 1) -> dict[str, np.ndarray]:
    """Fokker–Planck prediction for one schedule given as its LR table.

    The river's cell masses come from `mj.evolve` (`fp` supplies grid and time
    convention; the LR of step `s` is `lr_steps[s]`, exactly the simulator's).
    The valley's second moment per coordinate follows, in every river cell,
    the recursion of `fp.integrator` (Euler–Maruyama: `v <- (1 - mu a h)^2 v +
    2 mu T h`; `valley.valley_moments`) from `valley_moment` (0 for particles
    started at `x = 0`, `T / a` for `mj.equilibrium`); for a chain operator
    (`fp.dt` set) the river's push follows that moment too (`evolve(...,
    valley_moment=)`), so the valley's lag after a decay moves the river. `lr_steps` is the `(n_steps + 1,)` table of a run (`lr_steps[s]`
    for step `s`; the last entry takes no step); `record_steps (R,)` are step
    indices in `[0, n_steps]`. Shapes `(R,)` unless noted:

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
    with warnings.catch_warnings():
        # Warm-ups from LR ~ 0 are below the grid's resolution for a few steps;
        # `evolve` warns about that, and it does not matter for what follows.
        warnings.simplefilter("ignore")
        # A chain's river feels the valley's moment as the recursion carries it (its
        # lag after a decay); the continuum river sees the valley at equilibrium.
        ev = evolve(fp, initial_masses, lr_steps, dt, n_steps=n_steps, record_steps=record_steps,
                    substeps=substeps,
                    valley_moment=None if fp.dt is None else np.broadcast_to(
                        np.asarray(valley_moment, np.float64), fp.curvature_values.shape))
    a = fp.curvature_values  # (n_grid, d)
    v_rec = valley_moments(lr_steps, a, dt, record_steps, time=fp.dynamics.time,
                           temperature_scale=fp.dynamics.temperature_scale, initial=valley_moment,
                           integrator=fp.integrator)
    masses = ev.masses
    out = {
        "river_loss": masses @ fp.river_values,
        "valley_energy": np.sum(masses * 0.5 * np.sum(a * v_rec, axis=-1), axis=-1),
        "masses": masses,
    }
    out["loss"] = out["river_loss"] + out["valley_energy"]
    for k in ks:
        out[f"A_{k}"] = masses @ fp.left_eigenfunctions[k - 1]
    if edges is not None:
        out["bin_masses"] = extended_bin_masses(fp, masses, np.asarray(edges, np.float64))
    return out


def bath_equilibrium(fp: FokkerPlanck) -> dict[str, Any]:
    """The bath state of `fp`: loss `<V>_pi + <valley energy>`, `<V>_pi`, masses.

    Continuum: `pi_f` Boltzmann, valley energy `d T_f / 2` (equipartition). Chain
    (`fp.dt` set): the chain's stationary masses and the valley at its stationary
    variance at step `h` (`valley_variance`; `d T_f / 2 (1 - mu a h / 2)^-1` per
    direction for Euler–Maruyama): the state SGD itself settles in."""
    pi = fp.stationary_masses
    river_loss = float(pi @ fp.river_values)
    if fp.dt is None:
        valley = 0.5 * fp.landscape.valley_dim * fp.temperature
    else:
        v = valley_variance(fp.integrator, fp.mobility, fp.temperature, fp.curvature_values, fp.dt)
        valley = float(pi @ (0.5 * (fp.curvature_values * v).sum(-1)))
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
