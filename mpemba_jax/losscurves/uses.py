"""What a fitted model says: Mpemba amplitudes of the fitted river, the best WSD schedule.

`mpemba_scan` builds the Fokker–Planck operator of a fitted valley–river
landscape at a bath LR and evaluates the slowest amplitude `a_2` (and `a_3`)
after a quench from the equilibrium at each plateau LR (THEORY section 4),
with the strong Mpemba points (`a_2 = 0`) in the range and the relaxation
time `1 / lambda_2` in training steps, to set beside the length of a run.

`wsd_grid` predicts the final loss of warm-up / stable / decay schedules with
the data's warm-up, a fixed budget of steps, over plateau LRs, decay
fractions and shapes, for any fitted model; `best_wsd` picks the lowest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..schedules import lr_table, wsd
from ..theory import FokkerPlanck
from .data import WARMUP_STEPS
from .result import LossCurveFit

__all__ = ["mpemba_scan", "wsd_table", "wsd_grid", "best_wsd"]


def mpemba_scan(fit: LossCurveFit, lr_bath: float, lr_plateaus: Sequence[float], *,
                area_max: float = 1e6, n_grid: int = 2000) -> dict:
    """`a_2`, `a_3` of the fitted river after a quench from each plateau LR to `lr_bath`.

    LRs are in the data's units (converted by `fit.engine_lr`). The river's
    equilibrium is set by the walls of `fit.landscape(area_max)` (the fitted
    river falls for ever), so the amplitudes describe the approach to a state
    far beyond training; `lambda_2_steps` (the rate per training step) says
    how far. Returns `lr_plateaus (P,)`, `a2 (P,)`, `a3 (P,)`, `strong_points`,
    `lambda_2_steps`, `lambda_3_steps`, `relaxation_steps = 1 / lambda_2_steps`.
    """
    lrs = np.asarray(lr_plateaus, np.float64)
    if lrs.ndim != 1 or lrs.size < 2 or np.any(lrs <= lr_bath):
        raise ValueError(f"lr_plateaus must be >= 2 LRs above lr_bath={lr_bath:g}; got {lrs}")
    eff = fit.engine_lr(lrs)
    fp = FokkerPlanck(fit.landscape(area_max), float(fit.engine_lr(lr_bath)), time=fit.time,
                      temperature_scale=fit.temperature_scale, n_grid=n_grid, n_modes=4,
                      lr_max=float(eff.max()))
    amps = fp.amplitudes(eff)
    summary = fp.mpemba_summary((float(eff.min()), float(eff.max())))
    # Strong points back in training LRs: invert (lr / lr_ref)^kappa on the scan's grid.
    strong = np.interp(np.asarray(summary.strong_points, np.float64), eff, lrs)
    return {"lr_bath": float(lr_bath), "lr_plateaus": lrs, "a2": amps[:, 1], "a3": amps[:, 2],
            "strong_points": strong,
            "lambda_2_steps": float(fp.eigenvalues[1]), "lambda_3_steps": float(fp.eigenvalues[2]),
            "relaxation_steps": float(1.0 / fp.eigenvalues[1]), "area_max": float(area_max)}


def wsd_table(n_steps: int, peak: float, decay_fraction: float, shape: str = "linear",
              final: float = 0.0, warmup: int = WARMUP_STEPS) -> np.ndarray:
    """The LR of every step `(n_steps,)` of a WSD schedule with the data's warm-up
    (`lr[i] = peak i / (warmup - 1)` for `i < warmup`), a plateau at `peak`, and
    the last `decay_fraction` of the steps after warm-up decaying to `final` with
    `shape` (`mj.wsd`'s shapes)."""
    if not 0.0 <= decay_fraction <= 1.0:
        raise ValueError(f"decay_fraction must be in [0, 1]; got {decay_fraction}")
    if not warmup < n_steps:
        raise ValueError(f"n_steps must exceed warmup={warmup}; got {n_steps}")
    decay = round(decay_fraction * (n_steps - warmup))
    stable = n_steps - warmup - decay
    schedule = wsd(peak, final, warmup - 1, stable + 1, decay, shape=shape)
    return lr_table(schedule, n_steps - 1, 1.0)


def wsd_grid(fit: LossCurveFit, n_steps: int, peaks: Sequence[float],
             decay_fractions: Sequence[float], shapes: Sequence[str] = ("linear", "cosine"),
             final: float = 0.0) -> dict:
    """Predicted final loss (after `n_steps` steps) of every WSD schedule of the grid:
    `final_loss (len(shapes), len(peaks), len(decay_fractions))`; a schedule the
    model cannot run (`ValueError`, e.g. an unstable valley) is NaN."""
    out = np.full((len(shapes), len(peaks), len(decay_fractions)), np.nan)
    for i, shape in enumerate(shapes):
        for j, peak in enumerate(peaks):
            for k, frac in enumerate(decay_fractions):
                try:
                    out[i, j, k] = fit.predict(wsd_table(n_steps, peak, frac, shape, final),
                                               [n_steps])[0]
                except ValueError:
                    pass
    return {"n_steps": int(n_steps), "peaks": list(map(float, peaks)),
            "decay_fractions": list(map(float, decay_fractions)), "shapes": list(shapes),
            "final": float(final), "final_loss": out}


def best_wsd(grid: dict) -> dict:
    """The schedule of `wsd_grid` with the lowest predicted final loss."""
    loss = grid["final_loss"]
    i, j, k = np.unravel_index(np.nanargmin(loss), loss.shape)
    return {"shape": grid["shapes"][i], "peak": grid["peaks"][j],
            "decay_fraction": grid["decay_fractions"][k], "final_loss": float(loss[i, j, k])}
