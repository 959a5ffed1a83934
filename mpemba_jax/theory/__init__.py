"""The coarse-grained river theory (THEORY sections 3, 4 and 6).

`FokkerPlanck` (operator, spectrum, eigenfunctions, Mpemba amplitudes and
quench predictions), `evolve` (the river under a whole schedule), timescales
and the decay window, the theory of whole schedules (`schedule_theory`), and
distances between distributions. Every public name of the room is re-exported
here; other rooms import from `mpemba_jax.theory`, not from its modules.
"""

from .distances import DISTANCES as DISTANCES
from .distances import distance_from_ratio as distance_from_ratio
from .distances import distances as distances
from .distances import masses_to_bins as masses_to_bins
from .distances import total_variation as total_variation
from .em_bias import em_bias as em_bias
from .evolve import Evolution as Evolution
from .evolve import evolve as evolve
from .operator import FokkerPlanck as FokkerPlanck
from .operator import MpembaSummary as MpembaSummary
from .operator import mobility_of as mobility_of
from .operator import positive_lr as positive_lr
from .operator import temperature_of as temperature_of
from .plateaus import choose_plateaus as choose_plateaus
from .schedule import bath_equilibrium as bath_equilibrium
from .schedule import extended_bin_masses as extended_bin_masses
from .schedule import schedule_theory as schedule_theory
from .schedule import theory_observables as theory_observables
from .timescales import DecayWindow as DecayWindow
from .timescales import decay_window as decay_window
from .timescales import tau_x as tau_x
from .timescales import tau_y as tau_y

__all__ = [
    "DISTANCES", "distance_from_ratio", "distances", "masses_to_bins", "total_variation",
    "em_bias", "Evolution", "evolve", "FokkerPlanck", "MpembaSummary", "mobility_of",
    "positive_lr", "temperature_of", "choose_plateaus", "bath_equilibrium",
    "extended_bin_masses", "schedule_theory", "theory_observables", "DecayWindow",
    "decay_window", "tau_x", "tau_y",
]
