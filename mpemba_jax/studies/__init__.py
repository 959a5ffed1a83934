"""Studies: questions answered by running the engine and the theory side by side.

- `bench`: particle-steps/s of the engine against NumPy, diffrax and the
  random-number bound (`mpemba-jax bench`);
- `mpemba_crossing`: particles against theory through a strong Mpemba point,
  the cold/hot crossing and relaxation at `lambda_3` (`mpemba-jax validate`),
  its claims in `crossing_claims`;
- `calibration`: every check's false-rejection rate on null runs and its
  power against stated alternatives (`mpemba-jax calibrate`; cases in
  `calibration_cases`, figure in `calibration_figure`);
- `schedule_comparison`: which LR schedule a valley–river landscape rewards,
  claims of THEORY section 6 judged from paired batches
  (`mpemba-jax compare-schedules`).

Every public name of the room is re-exported here (the schedule study's own
names, its config among them, from its package `studies.schedule_comparison`);
other rooms and the commands import from these packages, not from the modules.
"""

from .bench import DEFAULT_CONFIGS as DEFAULT_CONFIGS
from .bench import double_well_numbers as double_well_numbers
from .bench import numpy_double_well_step as numpy_double_well_step
from .bench import run_benchmark as run_benchmark
from .calibration import run_calibration as run_calibration
from .calibration import size_failures as size_failures
from .calibration import split_replicates as split_replicates
from .calibration_cases import ALTERNATIVES as ALTERNATIVES
from .calibration_cases import NULL_CASES as NULL_CASES
from .calibration_figure import draw_power_figure as draw_power_figure
from .crossing_claims import crossing_checks as crossing_checks
from .crossing_figure import draw_crossing_figure as draw_crossing_figure
from .mpemba_crossing import DEFAULT_PARAMS as DEFAULT_PARAMS
from .mpemba_crossing import CrossingStudy as CrossingStudy
from .mpemba_crossing import crossing_summary as crossing_summary
from .mpemba_crossing import make_theory as make_theory
from .mpemba_crossing import print_crossing_summary as print_crossing_summary
from .mpemba_crossing import run_mpemba_crossing as run_mpemba_crossing
from .mpemba_crossing import write_crossing_outputs as write_crossing_outputs
from . import schedule_comparison as schedule_comparison
from .schedule_comparison import run_schedule_comparison as run_schedule_comparison

__all__ = [
    "DEFAULT_CONFIGS", "double_well_numbers", "numpy_double_well_step", "run_benchmark",
    "draw_crossing_figure", "DEFAULT_PARAMS", "CrossingStudy", "crossing_checks",
    "print_crossing_summary", "run_mpemba_crossing", "write_crossing_outputs",
    "schedule_comparison", "run_schedule_comparison",
    # calibrated verdicts (issue 12)
    "run_calibration", "size_failures", "split_replicates", "ALTERNATIVES", "NULL_CASES",
    "draw_power_figure", "crossing_summary", "make_theory",
]
