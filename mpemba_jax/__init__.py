"""mpemba_jax: Langevin simulation of valley–river losses under learning-rate schedules.

Public API; everything a user needs is re-exported here:

    import mpemba_jax as mj
    land = mj.preset("double_well")
    res = mj.simulate(land, mj.constant(0.02), n_particles=100_000, n_steps=1000, dt=1.0)
"""

__version__ = "0.1.0"

from .dynamics import Dynamics as Dynamics
from .engine.initial import equilibrium as equilibrium
from .engine.initial import point as point
from .landscape import ValleyRiver as ValleyRiver
from .presets import list_presets as list_presets
from .presets import preset as preset
from .io.results import SimulationResult as SimulationResult
from .io.results import load_result as load_result
from .schedules import DECAY_SHAPES as DECAY_SHAPES
from .schedules import constant as constant
from .schedules import power_law_decay as power_law_decay
from .schedules import quench as quench
from .schedules import wsd as wsd
from .engine.driver import SimulationDiverged as SimulationDiverged
from .engine.driver import simulate as simulate
from .theory.operator import FokkerPlanck as FokkerPlanck
from .theory.operator import MpembaSummary as MpembaSummary
from .theory.distances import distances as distances
from .theory.evolve import Evolution as Evolution
from .theory.evolve import evolve as evolve
from .io.plotting import plot_histograms as plot_histograms
from .theory.timescales import DecayWindow as DecayWindow
from .theory.timescales import decay_window as decay_window
from .theory.timescales import tau_x as tau_x
from .theory.timescales import tau_y as tau_y
from .validation.verdict import CrossingVerdict as CrossingVerdict
from .validation.verdict import Verdict as Verdict
from .validation.verdict import find_crossing as find_crossing
from .validation.verdict import validate as validate
from .validation.verdict import validate_crossing as validate_crossing
from .compare import BatchResult as BatchResult
from .compare import run_batch as run_batch
from .schedules import greedy_anneal as greedy_anneal
from .schedules import lr_sum as lr_sum
from .schedules import match_lr_sum as match_lr_sum
from .schedules import window_decay as window_decay
from .theory.schedule import schedule_theory as schedule_theory
from .validation.paired import paired_difference as paired_difference
