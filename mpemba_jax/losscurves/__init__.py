"""Real loss curves: fit the valley–river model to measured LLM training.

`LossCurve` and its loaders (`data`), the models a fit can use (the
valley–river model, `valley_river`; the multi-power and LR-annealing laws,
`anchors`), the joint fit `fit_loss_curves` (`fit`) and its result
`LossCurveFit` (`result`).
"""

from .anchors import AnnealingLaw as AnnealingLaw
from .anchors import MultiPowerLaw as MultiPowerLaw
from .data import DATA_ROOT as DATA_ROOT
from .data import SHARED_FILES as SHARED_FILES
from .data import SHARED_SIZES as SHARED_SIZES
from .data import LossCurve as LossCurve
from .data import load_loss_curve as load_loss_curve
from .data import load_shared_curves as load_shared_curves
from .data import shared_lr_table as shared_lr_table
from .fit import MODELS as MODELS
from .fit import fit_loss_curves as fit_loss_curves
from .fit import make_model as make_model
from .models import CurveModel as CurveModel
from .models import Parameter as Parameter
from .recursion import affine_recursion as affine_recursion
from .result import LossCurveFit as LossCurveFit
from .result import curve_metrics as curve_metrics
from .valley_river import ValleyRiverModel as ValleyRiverModel

__all__ = [
    "AnnealingLaw", "MultiPowerLaw", "DATA_ROOT", "SHARED_FILES", "SHARED_SIZES", "LossCurve",
    "load_loss_curve", "load_shared_curves", "shared_lr_table", "MODELS", "fit_loss_curves",
    "make_model", "CurveModel", "Parameter", "affine_recursion", "LossCurveFit", "curve_metrics",
    "ValleyRiverModel",
]
