"""Which LR schedule does a valley–river landscape reward? (`mpemba-jax compare-schedules`)

Runs whole warm-up / stable / decay schedules on particles that start upstream
on the river, in batches of schedules sharing their noise (`mj.run_batch`),
puts the time-dependent Fokker–Planck prediction next to every Monte Carlo
number, and states from the numbers which claims of THEORY section 6 hold.
The modules follow the study's path:

- `config`: `DEFAULT`, `check_config`, `load_config` (errors name `section.key`);
- `sweeps`: `build_plan`, every schedule of every batch built and checked;
- `measure`: `execute`, the batches run and measured against the theory (`measure_runs`);
- `verdicts`: `claim_verdicts`, paired comparisons and the verdict on each claim;
- `report`, `figures`: `render_report` (`report.md`) and `draw_figures`;
- `study`: `run_schedule_comparison`, all of it, written atomically.

Example:
  >>> from mpemba_jax.studies import check_config, run_schedule_comparison
  >>> cfg = check_config({"run": {"n_particles": 4096}})
  >>> run_schedule_comparison(cfg, "runs/schedule_comparison")  # doctest: +SKIP
"""

from .config import DEFAULT as DEFAULT
from .config import SPECIAL_SHAPES as SPECIAL_SHAPES
from .config import SWEEPS as SWEEPS
from .config import check_config as check_config
from .config import load_config as load_config
from .figures import draw_figures as draw_figures
from .measure import execute as execute
from .measure import measure_runs as measure_runs
from .measure import measure_valley as measure_valley
from .report import render_report as render_report
from .study import run_schedule_comparison as run_schedule_comparison
from .study import summary as summary
from .study import write_outputs as write_outputs
from .sweeps import Sweep as Sweep
from .sweeps import build_plan as build_plan
from .sweeps import window_class as window_class
from .verdicts import METRICS as METRICS
from .verdicts import compare_runs as compare_runs
from .verdicts import claim_verdicts as claim_verdicts

__all__ = [
    "DEFAULT", "SPECIAL_SHAPES", "SWEEPS", "check_config", "load_config", "draw_figures",
    "execute", "measure_runs", "measure_valley", "render_report", "run_schedule_comparison",
    "summary", "write_outputs", "Sweep", "build_plan", "window_class", "METRICS",
    "compare_runs", "claim_verdicts",
]
