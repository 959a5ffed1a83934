"""Monte Carlo against theory (THEORY section 5): histogram statistics, distances
with their noise, decay-rate fits, crossings, and verdicts made of stated checks.
Every public name of the room is re-exported here; other rooms import from
`mpemba_jax.validation`, not from its modules.
"""

from .paired import paired_difference as paired_difference
from .statistics import tv_between as tv_between
from .statistics import tv_distance as tv_distance
from .verdict import Check as Check
from .verdict import CrossingVerdict as CrossingVerdict
from .verdict import Verdict as Verdict
from .verdict import expected_tv as expected_tv
from .verdict import find_crossing as find_crossing
from .verdict import fit_decay as fit_decay
from .verdict import merge_cells as merge_cells
from .verdict import pearson_chi2 as pearson_chi2
from .verdict import predict as predict
from .verdict import tv_statistics as tv_statistics
from .verdict import validate as validate
from .verdict import validate_crossing as validate_crossing
from .verdict import HEAVY_TAILED, INCONCLUSIVE, NOT_VERIFIED, VERIFIED

__all__ = [
    "paired_difference", "tv_between", "tv_distance", "Check", "CrossingVerdict", "Verdict",
    "expected_tv", "find_crossing", "fit_decay", "merge_cells", "pearson_chi2", "predict",
    "tv_statistics", "validate", "validate_crossing", "HEAVY_TAILED", "INCONCLUSIVE",
    "NOT_VERIFIED", "VERIFIED",
]
