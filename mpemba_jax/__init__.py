"""mpemba_jax: Langevin simulation of valley–river losses under learning-rate schedules.

Public API; everything a user needs is re-exported here:

    import mpemba_jax as mj
    land = mj.preset("double_well")
    res = mj.simulate(land, mj.constant(0.02), n_particles=100_000, n_steps=1000, dt=1.0)

The data's path: a schedule -> its LR table -> the engine's driver -> a record
(`BatchResult`, or its one-schedule view `SimulationResult`) -> the theory
(`FokkerPlanck`, `evolve`) and its validation (`validate`) -> the studies.
Measured loss curves (`LossCurve`) are fitted by `fit_loss_curves`.
"""

__version__ = "0.2.0"

from .dynamics import Dynamics as Dynamics
from .landscape import ValleyRiver as ValleyRiver
from .presets import list_presets as list_presets
from .presets import preset as preset
from .schedules import DECAY_SHAPES as DECAY_SHAPES
from .schedules import constant as constant
from .schedules import greedy_anneal as greedy_anneal
from .schedules import lr_sum as lr_sum
from .schedules import lr_table as lr_table
from .schedules import match_lr_sum as match_lr_sum
from .schedules import power_law_decay as power_law_decay
from .schedules import quench as quench
from .schedules import window_decay as window_decay
from .schedules import wsd as wsd
from .engine import SimulationDiverged as SimulationDiverged
from .engine import chain_state as chain_state
from .engine import equilibrium as equilibrium
from .engine import point as point
from .engine import run_batch as run_batch
from .engine import simulate as simulate
from .record import BatchResult as BatchResult
from .record import SimulationResult as SimulationResult
from .io.results import load_result as load_result
from .io.plotting import plot_histograms as plot_histograms
from .theory import DecayWindow as DecayWindow
from .theory import Evolution as Evolution
from .theory import FokkerPlanck as FokkerPlanck
from .theory import MpembaSummary as MpembaSummary
from .theory import decay_window as decay_window
from .theory import distances as distances
from .theory import evolve as evolve
from .theory import schedule_theory as schedule_theory
from .theory import tau_x as tau_x
from .theory import tau_y as tau_y
from .validation import CrossingVerdict as CrossingVerdict
from .validation import Verdict as Verdict
from .validation import find_crossing as find_crossing
from .validation import paired_difference as paired_difference
from .validation import validate as validate
from .validation import validate_crossing as validate_crossing
from .losscurves import LossCurve as LossCurve
from .losscurves import LossCurveFit as LossCurveFit
from .losscurves import fit_loss_curves as fit_loss_curves
from .losscurves import load_loss_curve as load_loss_curve
from .losscurves import load_shared_curves as load_shared_curves
from .losscurves import shared_lr_table as shared_lr_table

__all__ = [
    "Dynamics", "ValleyRiver", "list_presets", "preset",
    "DECAY_SHAPES", "constant", "greedy_anneal", "lr_sum", "lr_table", "match_lr_sum",
    "power_law_decay", "quench", "window_decay", "wsd",
    "equilibrium", "chain_state", "point", "SimulationDiverged", "run_batch", "simulate",
    "BatchResult", "SimulationResult", "load_result", "plot_histograms",
    "DecayWindow", "Evolution", "FokkerPlanck", "MpembaSummary", "decay_window", "distances",
    "evolve", "schedule_theory", "tau_x", "tau_y",
    "CrossingVerdict", "Verdict", "find_crossing", "paired_difference", "validate",
    "validate_crossing",
    "LossCurve", "LossCurveFit", "fit_loss_curves", "load_loss_curve", "load_shared_curves",
    "shared_lr_table",
]
