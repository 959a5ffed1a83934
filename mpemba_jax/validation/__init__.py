"""Monte Carlo against theory (THEORY section 5): histogram statistics, distances
with their noise, decay-rate fits, crossings, and verdicts made of stated checks.

- `statistics`: total variation of histograms with noise floor and error
  (exact: `expected_tv`, `tv_statistics`; bootstrap: `tv_distance`,
  `tv_between`), Pearson chi-square with merged cells;
- `aggregate`: the chi-square summed over all records, its null calibrated
  by the run's replicate groups;
- `fits`: the exact covariance of an eigenmode projection over the records,
  its joint chi-square, amplitude and decay-rate fits;
- `equivalence`: "this is zero" as an equivalence test with a stated margin;
- `relaxation`: the decay-rate difference of two runs' distances (jackknife
  over replicate groups);
- `predict`: what the theory predicts for a run's own start and LR table;
- `checks`: `Check` and the outcome words; `verdict`: `validate`;
- `crossing`: where two runs' distance curves cross; `paired`: paired
  differences of schedules run on common random numbers.

Every public name of the room is re-exported here; other rooms import from
`mpemba_jax.validation`, not from its modules.
"""

from .aggregate import aggregate_chi2 as aggregate_chi2
from .checks import HEAVY_TAILED as HEAVY_TAILED
from .checks import INCONCLUSIVE as INCONCLUSIVE
from .checks import NOTHING_PREDICTED as NOTHING_PREDICTED
from .checks import STRADDLES_MARGIN as STRADDLES_MARGIN
from .checks import WINDOW_TOO_SHORT as WINDOW_TOO_SHORT
from .checks import combine_outcomes as combine_outcomes
from .checks import em_bias_resolved as em_bias_resolved
from .checks import outcome_kind as outcome_kind
from .checks import NOT_VERIFIED as NOT_VERIFIED
from .checks import VERIFIED as VERIFIED
from .checks import Check as Check
from .checks import JsonRecord as JsonRecord
from .crossing import CrossingVerdict as CrossingVerdict
from .crossing import find_crossing as find_crossing
from .crossing import validate_crossing as validate_crossing
from .equivalence import equivalence_check as equivalence_check
from .fits import exp_covariance as exp_covariance
from .fits import fit_amplitude as fit_amplitude
from .fits import fit_decay as fit_decay
from .fits import fit_log_rate as fit_log_rate
from .fits import gls_chi2 as gls_chi2
from .paired import paired_difference as paired_difference
from .predict import cell_probabilities as cell_probabilities
from .predict import predict as predict
from .predict import start_of as start_of
from .relaxation import jackknife_tv_rate as jackknife_tv_rate
from .relaxation import rate_difference as rate_difference
from .relaxation import relaxation_check as relaxation_check
from .statistics import binomial_interval as binomial_interval
from .statistics import expected_tv as expected_tv
from .statistics import merge_cells as merge_cells
from .statistics import pearson_chi2 as pearson_chi2
from .statistics import tv_between as tv_between
from .statistics import tv_distance as tv_distance
from .statistics import tv_null_se as tv_null_se
from .statistics import tv_statistics as tv_statistics
from .verdict import Verdict as Verdict
from .verdict import validate as validate

__all__ = [
    "paired_difference", "tv_between", "tv_distance", "Check", "CrossingVerdict", "Verdict",
    "expected_tv", "find_crossing", "fit_decay", "merge_cells", "pearson_chi2", "predict", "start_of",
    "tv_statistics", "validate", "validate_crossing", "HEAVY_TAILED", "INCONCLUSIVE",
    "NOT_VERIFIED", "VERIFIED",
    # published when verdict.py was split (shared between the room's modules)
    "JsonRecord", "exp_covariance", "fit_log_rate", "gls_chi2", "cell_probabilities",
    # calibrated verdicts (issue 12)
    "aggregate_chi2", "binomial_interval", "combine_outcomes", "em_bias_resolved",
    "equivalence_check", "fit_amplitude", "jackknife_tv_rate", "outcome_kind",
    "rate_difference", "relaxation_check", "tv_null_se", "NOTHING_PREDICTED", "STRADDLES_MARGIN",
    "WINDOW_TOO_SHORT",
]
