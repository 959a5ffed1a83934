"""Input and output: TOML run configs, result directories on disk (the one atomic
writer), figures and the progress line. Other rooms import from `mpemba_jax.io`."""

from .config import DEMO as DEMO
from .config import build_run as build_run
from .config import check_config as check_config
from .config import load_config as load_config
from .plotting import plot_histograms as plot_histograms
from .plotting import pyplot as pyplot
from .plotting import save_figure as save_figure
from .progress import Progress as Progress
from .results import atomic_directory as atomic_directory
from .results import jsonable as jsonable
from .results import load_result as load_result
from .results import save_record as save_record

__all__ = ["DEMO", "build_run", "check_config", "load_config", "plot_histograms", "pyplot",
           "save_figure", "Progress", "atomic_directory", "jsonable", "load_result",
           "save_record"]
