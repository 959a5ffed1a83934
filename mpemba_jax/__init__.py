"""mpemba_jax: Langevin simulation of valley–river losses under learning-rate schedules.

Public API; everything a user needs is re-exported here:

    import mpemba_jax as mj
    land = mj.preset("double_well")
    res = mj.simulate(land, mj.constant(0.02), n_particles=100_000, n_steps=1000, dt=1.0)
"""

__version__ = "0.1.0"

from .dynamics import Dynamics as Dynamics
from .initial import equilibrium as equilibrium
from .initial import point as point
from .landscape import ValleyRiver as ValleyRiver
from .presets import list_presets as list_presets
from .presets import preset as preset
from .result import SimulationResult as SimulationResult
from .result import load_result as load_result
from .schedules import DECAY_SHAPES as DECAY_SHAPES
from .schedules import constant as constant
from .schedules import power_law_decay as power_law_decay
from .schedules import quench as quench
from .schedules import wsd as wsd
from .simulate import SimulationDiverged as SimulationDiverged
from .simulate import simulate as simulate
from .fokker_planck import FokkerPlanck as FokkerPlanck
from .fokker_planck import MpembaSummary as MpembaSummary
from .fokker_planck import distances as distances
from .fp_evolve import Evolution as Evolution
from .fp_evolve import evolve as evolve
from .plotting import plot_histograms as plot_histograms
from .timescales import DecayWindow as DecayWindow
from .timescales import decay_window as decay_window
from .timescales import tau_x as tau_x
from .timescales import tau_y as tau_y
from .validate import CrossingVerdict as CrossingVerdict
from .validate import Verdict as Verdict
from .validate import find_crossing as find_crossing
from .validate import validate as validate
from .validate import validate_crossing as validate_crossing
from .compare import BatchResult as BatchResult
from .compare import greedy_anneal as greedy_anneal
from .compare import lr_sum as lr_sum
from .compare import match_lr_sum as match_lr_sum
from .compare import paired_difference as paired_difference
from .compare import run_batch as run_batch
from .compare import schedule_theory as schedule_theory
from .compare import window_decay as window_decay
