"""The null cases and the alternatives of the calibration study (`calibration.py`).

A null case is a run whose Fokker–Planck theory is exact up to errors far
below what the largest calibrated ensemble resolves:

- `double_well_quench`: the tilted double well with a **constant** valley
  curvature (`growth = 0`: the river decouples from the valley, so the 1D
  theory is exact), quenched from equilibrium at LR 0.3 to the bath LR 0.1,
  `dt = 0.05` (`mu V'' dt <= 0.008` in the wells, a stationary variance off by
  0.4%, a chi-square noncentrality below 0.15 per record at 16384 particles;
  the `em_bias` estimate of it is stored with the results);
- `entropic_equilibrium`: a harmonic river under a sharpening valley
  `a = 4 exp(y / 4)` in `d = 2` directions, started in equilibrium at the bath
  LR: the 2D Boltzmann state's river marginal is the 1D theory's `pi_f` at
  every time, so the coarse-graining is exact there; `dt = 0.1` (the river's
  stationary variance off by 0.5%, the valley's push by 1% of `g d T / 8`).

Alternatives (the particles as above, the theory or its input wrong):
bath LR 5% and 10% too high, the start predicted from a plateau 10% hotter
than the particles', particles at a 5x coarser step `dt` (the theory is that
of `dt -> 0`), and a theory with one valley direction instead of two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from ..landscape import ValleyRiver
from ..presets import preset
from ..theory import FokkerPlanck

__all__ = ["NullCase", "Alternative", "NULL_CASES", "ALTERNATIVES", "entropic_valley"]


def entropic_valley(valley_dim: int = 2) -> ValleyRiver:
    """Harmonic river `y^2 / 2` under `a(y) = 4 exp(y / 4)` in `valley_dim` directions:
    `F_T = y^2 / 2 + d T y / 8 + const`, so the valley dimension shifts the river."""
    return ValleyRiver(river=lambda y: 0.5 * y**2, curvature=lambda y: 4.0 * jnp.exp(0.25 * y),
                       valley_dim=valley_dim, name="entropic",
                       params={"a0": 4.0, "growth": 0.25, "valley_dim": valley_dim})


@dataclasses.dataclass(frozen=True)
class NullCase:
    """A run whose theory is exact: landscape, bath and start LR, step, records, bins."""

    name: str
    description: str
    landscape: Callable[[], ValleyRiver]
    lr_bath: float
    lr_init: float
    dt: float
    t_end: float
    n_records: int
    bins: int
    bin_range: tuple[float, float]
    n_grid: int = 1500

    @property
    def n_steps(self) -> int:
        return int(round(self.t_end / self.dt))

    def record_steps(self, dt: float | None = None) -> np.ndarray:
        """`(n_records,)` steps at equally spaced times in `[0, t_end]` for step `dt`."""
        dt = self.dt if dt is None else dt
        return np.round(np.linspace(0.0, self.t_end, self.n_records) / dt).astype(int)

    def theory(self, landscape: ValleyRiver | None = None, lr_bath: float | None = None
               ) -> FokkerPlanck:
        land = self.landscape() if landscape is None else landscape
        lr = self.lr_bath if lr_bath is None else lr_bath
        return FokkerPlanck(land, lr, n_grid=self.n_grid, n_modes=6,
                            lr_max=max(2 * self.lr_init, 2 * lr))


@dataclasses.dataclass(frozen=True)
class Alternative:
    """A stated departure from the null: which case, and what is wrong.

    kind: `"theory_lr"` (the theory's bath LR times `factor`), `"init_lr"` (the
    start predicted from `factor` times the particles' plateau LR), `"dt"`
    (particles at `factor` times the case's `dt`), `"valley_dim"` (a theory
    with `factor` valley directions).
    """

    name: str
    case: str
    kind: str
    factor: float


NULL_CASES = {
    "double_well_quench": NullCase(
        name="double_well_quench",
        description=("tilted double well, constant valley curvature (the 1D theory is exact), "
                     "quench 0.3 -> 0.1, dt 0.05"),
        landscape=lambda: preset("double_well", growth=0.0),
        lr_bath=0.1, lr_init=0.3, dt=0.05, t_end=40.0, n_records=11, bins=30,
        bin_range=(-1.9, 1.9)),
    "entropic_equilibrium": NullCase(
        name="entropic_equilibrium",
        description=("harmonic river, valley a = 4 exp(y / 4) in d = 2 directions, in "
                     "equilibrium at the bath LR 0.1 (exact river marginal), dt 0.1"),
        landscape=lambda: entropic_valley(2),
        lr_bath=0.1, lr_init=0.1, dt=0.1, t_end=20.0, n_records=11, bins=30,
        bin_range=(-1.2, 1.1)),
}

ALTERNATIVES = (
    Alternative("bath LR +5%", "double_well_quench", "theory_lr", 1.05),
    Alternative("bath LR +10%", "double_well_quench", "theory_lr", 1.10),
    Alternative("start from the wrong plateau (+10%)", "double_well_quench", "init_lr", 1.10),
    Alternative("dt 5x coarser than the theory's", "double_well_quench", "dt", 5.0),
    Alternative("valley dimension 1 instead of 2", "entropic_equilibrium", "valley_dim", 1),
)
