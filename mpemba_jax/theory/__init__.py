"""The coarse-grained river theory (THEORY sections 3, 4 and 6).

`FokkerPlanck` (operator, spectrum, eigenfunctions; `operator`; with `dt=h`
the discrete chain the engine runs, its kernel in `chain` and its spectrum in
`chain_spectrum`), the Mpemba
amplitudes and strong points (`mpemba`), predictions after a quench
(`quench`), `evolve` (the river under a whole schedule), timescales and the
decay window (`timescales`), the theory of whole schedules (`schedule`), the
valley's Euler–Maruyama moment recursion (`valley`), the Euler–Maruyama bias
of the river (`em_bias`), plateau choice (`plateaus`), the LR conventions
(`conventions`) and distances between distributions (`distances`). Every
public name of the room is re-exported here; other rooms import from
`mpemba_jax.theory`, not from its modules.
"""

from .chain import CHAIN_INTEGRATORS as CHAIN_INTEGRATORS
from .chain import effective_free_energy as effective_free_energy
from .chain import kernel_matrix as kernel_matrix
from .chain import stability_limit as stability_limit
from .chain import step_moments as step_moments
from .chain_spectrum import chain_stationary as chain_stationary
from .conventions import mobility_of as mobility_of
from .conventions import positive_lr as positive_lr
from .conventions import temperature_of as temperature_of
from .distances import DISTANCES as DISTANCES
from .distances import distance_from_ratio as distance_from_ratio
from .distances import distances as distances
from .distances import masses_to_bins as masses_to_bins
from .distances import total_variation as total_variation
from .em_bias import em_bias as em_bias
from .evolve import Evolution as Evolution
from .evolve import evolve as evolve
from .evolve import schedule_values as schedule_values
from .mpemba import STARTS as STARTS
from .mpemba import MpembaSummary as MpembaSummary
from .mpemba import log_equilibrium_masses as log_equilibrium_masses
from .mpemba import start_masses as start_masses
from .operator import FokkerPlanck as FokkerPlanck
from .plateaus import choose_plateaus as choose_plateaus
from .schedule import bath_equilibrium as bath_equilibrium
from .schedule import extended_bin_masses as extended_bin_masses
from .schedule import schedule_theory as schedule_theory
from .schedule import theory_observables as theory_observables
from .timescales import DecayWindow as DecayWindow
from .timescales import decay_window as decay_window
from .timescales import tau_x as tau_x
from .timescales import tau_y as tau_y
from .valley import valley_moment_fixed_point as valley_moment_fixed_point
from .valley import valley_moment_step as valley_moment_step
from .valley import valley_moment_update as valley_moment_update
from .valley import valley_moments as valley_moments
from .valley import valley_variance as valley_variance

__all__ = [
    "DISTANCES", "distance_from_ratio", "distances", "masses_to_bins", "total_variation",
    "em_bias", "Evolution", "evolve", "FokkerPlanck", "MpembaSummary", "mobility_of",
    "positive_lr", "temperature_of", "choose_plateaus", "bath_equilibrium",
    "extended_bin_masses", "schedule_theory", "theory_observables", "DecayWindow",
    "decay_window", "tau_x", "tau_y",
    # added with the split of the operator and the valley recursion
    "schedule_values", "log_equilibrium_masses", "valley_moment_step",
    "valley_moment_fixed_point", "valley_moments",
    # the discrete chain (THEORY section 8)
    "CHAIN_INTEGRATORS", "effective_free_energy", "kernel_matrix", "stability_limit",
    "step_moments", "chain_stationary", "STARTS", "start_masses", "valley_variance",
    "valley_moment_update",
]
