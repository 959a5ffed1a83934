"""What the Fokker–Planck theory predicts for a run: its own start, its own LR table.

The prediction starts from the run's initial state (`metadata["init"]`:
`fp.equilibrium(lr_init)`, the chain's `fp.stationary(lr_init)` or
`fp.point_mass(y0)`) and follows the LRs the
particles saw, step by step: the run's LR table `result.lr_steps`
(`(n_steps + 1,)` float64, the LR of step `s` is `lr_steps[s]`). The schedule's
description in the metadata is for people; it is never turned back into a
schedule here.

- A run at one constant LR (every entry of the table equal) is a **quench to
  `theory.lr_bath`**: the spectral sum
  `p(t) = pi_f (1 + sum_k a_k e^{-lambda_k t} u_k)` where its error bound
  (`fp.spectral_error`) is below `0.05 / sqrt(N)` at every record, else
  `evolve` at the bath LR. The theory's bath LR is trusted: a run at another
  constant LR is predicted at `theory.lr_bath` (and `validate` warns), so a
  theory at the wrong bath LR is rejected by the data.
- Any other table goes through `theory.evolve` as it is, with implicit-Euler
  substeps so that `lambda_3 dt' <= 1e-3` (rate error < 0.05%).

`cell_probabilities` turns grid masses into the probabilities of a
histogram's cells, `[underflow, bins..., overflow]`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..engine import chain_identity
from ..record import SimulationResult
from ..schedules import constant, describe_schedule, evaluate_schedule
from ..theory import FokkerPlanck, evolve, masses_to_bins

__all__ = ["predict", "cell_probabilities", "start_of"]


def start_of(init: dict) -> str:
    """The theory's name (`start=` of `amplitude`, `masses`, ...) for a run's initial
    state `metadata["init"]`: `"chain"` for `mj.chain_state`, else `"boltzmann"`."""
    return "chain" if init.get("kind") == "chain" else "boltzmann"


def _initial_masses(theory: FokkerPlanck, init: dict) -> tuple[np.ndarray, float | None]:
    kind = init.get("kind")
    if kind == "equilibrium":
        return theory.equilibrium(init["lr"]), float(init["lr"])
    if kind == "chain":
        mine = chain_identity(theory) if theory.dt is not None else {"dt": None}
        theirs = {k: init.get(k) for k in mine}
        if theirs != mine:
            raise ValueError(
                f"the run started from the stationary state of the chain {theirs}; validate it "
                f"with that chain's theory (this one is {mine}): FokkerPlanck(..., dt=, "
                "integrator=) built as for mj.chain_state")
        return theory.stationary(init["lr"]), float(init["lr"])
    if kind == "point":
        return theory.point_mass(init["y"]), None
    raise ValueError(
        "validate needs a run started from mj.equilibrium(lr), mj.chain_state(theory, lr) or "
        f"mj.point(y); got init {init!r}"
    )


def _lr_table(result: SimulationResult, schedule) -> tuple[np.ndarray, str]:
    """The LR of every step of the run, `(n_steps + 1,)` float64, and where it came from."""
    meta = result.metadata
    steps = np.asarray(result.steps, int)
    if schedule is not None:
        if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
            schedule = constant(float(schedule))
        n_steps = int(meta.get("n_steps", steps.max()))
        times = np.arange(n_steps + 1) * float(meta["dt"])
        return evaluate_schedule(schedule, times), "schedule="
    table = result.lr_steps
    if not np.all(np.isfinite(np.asarray(table, np.float64))):
        raise ValueError(
            "result.lr_steps holds NaN: this result does not carry the LR of every step (an "
            "old result whose table could not be rebuilt from its schedule description "
            f"{meta.get('schedule')!r}: {meta.get('lr_table', '')}); pass schedule= (the run's "
            "schedule t -> lr) to validate")
    table = np.asarray(table, np.float64)
    if table.ndim != 1 or len(table) < steps.max() + 1:
        raise ValueError(
            f"result.lr_steps must be 1-D with at least {steps.max() + 1} values (the records "
            f"reach step {steps.max()}); got shape {table.shape}"
        )
    return table, "result.lr_steps"


def predict(result: SimulationResult, theory: FokkerPlanck,
            schedule=None) -> tuple[np.ndarray, dict]:
    """Predicted cell masses `(R, n_grid)` at the run's record times, and how they were made.

    Args:
      result: a `SimulationResult`; its `metadata["init"]`, `metadata["dt"]`,
        `steps (R,)` and LR table `lr_steps (n_steps + 1,)` are used.
      theory: the `FokkerPlanck` whose grid, landscape and convention predict.
      schedule: only for a result without an LR table: the run's schedule
        `t -> lr` (or a constant LR), evaluated as the simulator does
        (`evaluate_schedule` at `s * dt`, `s = 0 .. n_steps`) in place of
        `result.lr_steps`.

    Returns: `(masses (R, n_grid), info)`; `info["method"]` is
    `"quench (spectral sum)"`, `"quench (evolve)"` or `"schedule (evolve)"`,
    `info["lr_table"]` says where the LRs came from.

    Raises `ValueError` if `result.lr_steps` is missing or holds NaN and no
    `schedule` is given, or if the run did not start from an equilibrium or a point.

    Example:
      >>> masses, info = predict(res, fp)
      >>> probs = cell_probabilities(fp, masses, res.bin_edges)  # (R, n_bins + 2)
    """
    meta = result.metadata
    p0, lr_init = _initial_masses(theory, meta["init"])
    start = start_of(meta["init"])
    table, source = _lr_table(result, schedule)
    dt = float(meta["dt"])
    steps = np.asarray(result.steps, int)
    t = np.asarray(result.times, float)
    lam = theory.eigenvalues
    constant_lr = bool(np.all(table == table[0]))
    at_bath = constant_lr and math.isclose(table[0], theory.lr_bath, rel_tol=1e-12)
    # The run's own constant table is a quench to the theory's bath LR, trusted even where
    # the two differ (validate warns); a schedule= at another LR is evolved as given.
    if at_bath or (constant_lr and schedule is None):
        info = {"method": "quench", "to_lr": theory.lr_bath, "from": meta["init"],
                "lr_table": source}
        if lr_init is not None:
            # Closed form where the spectral sum is accurate to well below the
            # sampling noise of a histogram distance (~ 1 / sqrt(n)).
            tol = 0.05 / math.sqrt(max(result.n_particles, 1))
            pos = t > 0
            err = theory.spectral_error(lr_init, t[pos], start) if pos.any() else np.zeros(0)
            if np.all(err <= tol):
                masses = np.empty((len(t), theory.n_grid))
                masses[~pos] = p0
                if pos.any():
                    masses[pos] = np.clip(theory.masses(lr_init, t[pos], start), 0.0, None)
                info["method"] = "quench (spectral sum)"
                info["spectral_error_max"] = float(err.max(initial=0.0))
                return masses, info
            info["spectral_error_max"] = float(err.max())
        lrs = theory.lr_bath
        info["method"] = "quench (evolve)"
    else:
        lrs = table
        described = (meta.get("schedule") if schedule is None else
                     describe_schedule(schedule) if callable(schedule) else schedule)
        info = {"method": "schedule (evolve)", "schedule": described, "from": meta["init"],
                "lr_table": source}
    # Implicit Euler rates come out as ln(1 + lambda dt') / dt'; keep lambda_3 dt' <= 1e-3.
    k3 = min(3, theory.n_modes) - 1
    substeps = max(1, int(math.ceil(lam[k3] * dt / 1e-3)))
    info["substeps"] = substeps
    n_steps = int(max(steps.max(), 1))
    ev = evolve(theory, p0, lrs, dt, n_steps=n_steps, record_steps=steps, substeps=substeps)
    order = np.searchsorted(np.unique(steps), steps)
    return ev.masses[order], info


def cell_probabilities(theory: FokkerPlanck, masses: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Probabilities `(..., n_bins + 2)` of a histogram's cells `[underflow, bins..., overflow]`
    for grid masses `(..., n_grid)` (density constant within a grid cell) and bin
    `edges (n_bins + 1,)`; each row sums to 1.
    """
    inner = masses_to_bins(theory.edges, masses, edges)
    total = masses.sum(-1, keepdims=True)
    lo = masses_to_bins(theory.edges, masses, [min(theory.edges[0], edges[0]) - 1.0, edges[0]]) \
        if edges[0] > theory.edges[0] else np.zeros(masses.shape[:-1] + (1,))
    hi = total - lo - inner.sum(-1, keepdims=True)
    cells = np.concatenate([lo, inner, np.clip(hi, 0.0, None)], axis=-1)
    return cells / cells.sum(-1, keepdims=True)
