"""Where two runs' distance-to-equilibrium curves cross (THEORY section 5).

`find_crossing` finds the first significant sign change of the difference of
two noisy curves, with a confidence interval from test inversion: the set of
times where "the curves are equal" is not rejected. Its coverage does not
depend on the correlation between record times. `validate_crossing` applies
it to two verdicts and states the comparison with the predicted crossing as a
`Check`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

from ..theory import FokkerPlanck
from .predict import start_of
from .checks import (INCONCLUSIVE, NOT_VERIFIED, NOTHING_PREDICTED, VERIFIED, WINDOW_TOO_SHORT,
                     Check, JsonRecord)

if TYPE_CHECKING:  # annotations only: verdict.py re-exports this module's names
    from .verdict import Verdict

__all__ = ["CrossingVerdict", "find_crossing", "validate_crossing"]


@dataclasses.dataclass
class CrossingVerdict(JsonRecord):
    """Measured crossing of two distance curves against the prediction.

    time, ci: measured crossing time and its confidence interval (`nan` if
      no significant crossing); level: `1 - confidence`.
    predicted: crossing of the theory curves as measured (`E[tv]` of each run);
    predicted_binned: of the noise-free binned theory distances;
    predicted_continuum: `theory.crossing_time` on the fine grid (quenches).
    resolved: both curves resolved above their floors next to the predicted crossing.
    check: the stated test.
    """

    time: float
    ci: tuple
    level: float
    predicted: float
    predicted_binned: float
    predicted_continuum: float
    resolved: bool
    check: Check
    detail: dict


def find_crossing(t: ArrayLike, d_a: ArrayLike, se_a: ArrayLike, d_b: ArrayLike,
                  se_b: ArrayLike, *, level: float = 0.05) -> dict:
    """First significant crossing of two noisy curves, with a confidence interval.

    With `delta = d_a - d_b` and `s = sqrt(se_a^2 + se_b^2)` (independent runs),
    a crossing is detected when `delta` is significantly of one sign at some
    record and significantly of the other sign at a later one, significance
    being `|delta| > z_B s` with the Bonferroni `z_B = z_{1 - level / (2 R)}`
    over the `R` records (so curves that do not cross give a false crossing with
    probability at most `level`, whatever the correlation between records).
    Between the last significant record of the first sign (`t_1`) and the
    first of the other (`t_2`), the estimate is the root of the weighted
    least-squares line through `delta`, and the `1 - level` confidence interval
    is the hull of `{t in (t_1, t_2): |delta(t)| <= z s(t)}`, `z = z_{1 - level/2}`
    (linear interpolation between records): the times at which "the curves are
    equal" is not rejected. At the true crossing that test accepts with
    probability `1 - level`, so the interval covers it at least that often.

    Returns `{"found", "time", "ci", "t1", "t2", "sign_before"}` (`nan`s if none).
    """
    t, da, sa, db, sb = (np.asarray(v, float) for v in (t, d_a, se_a, d_b, se_b))
    delta = da - db
    s = np.sqrt(sa**2 + sb**2)
    z = scipy.stats.norm.isf(level / 2)
    z_b = scipy.stats.norm.isf(level / (2 * len(t)))
    sig = np.where(delta > z_b * s, 1, np.where(delta < -z_b * s, -1, 0))
    none = {"found": False, "time": math.nan, "ci": (math.nan, math.nan), "t1": math.nan,
            "t2": math.nan, "sign_before": 0}
    nz = np.nonzero(sig)[0]
    if len(nz) == 0:
        return none
    first_sign = sig[nz[0]]
    opposite = np.nonzero(sig == -first_sign)[0]
    if len(opposite) == 0:
        return none
    i2 = opposite[0]
    i1 = np.nonzero(sig[:i2] == first_sign)[0][-1]
    seg = slice(i1, i2 + 1)
    ts, ds, ss = t[seg], delta[seg], s[seg]
    w = 1.0 / ss**2
    x = np.stack([np.ones_like(ts), ts], 1)
    beta = np.linalg.solve(x.T @ (w[:, None] * x), x.T @ (w * ds))
    t_hat = -beta[0] / beta[1] if beta[1] != 0 else math.nan
    if not (ts[0] <= t_hat <= ts[-1]):
        # fall back to the first sign change of delta itself
        j = np.nonzero(np.sign(ds[:-1]) != np.sign(ds[1:]))[0][0]
        t_hat = ts[j] - ds[j] * (ts[j + 1] - ts[j]) / (ds[j + 1] - ds[j])
    # Band set on a fine interpolation of delta and s.
    tf = np.linspace(ts[0], ts[-1], 200 * (len(ts) - 1) + 1)
    inside = np.abs(np.interp(tf, ts, ds)) <= z * np.interp(tf, ts, ss)
    lo, hi = (tf[inside].min(), tf[inside].max()) if inside.any() else (t_hat, t_hat)
    return {"found": True, "time": float(t_hat), "ci": (float(lo), float(hi)),
            "t1": float(ts[0]), "t2": float(ts[-1]), "sign_before": int(first_sign)}


def _curve_crossing(t, d_a, d_b) -> float:
    """First sign change of `d_a - d_b` (noise-free curves), linearly interpolated."""
    d = np.asarray(d_a, float) - np.asarray(d_b, float)
    idx = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]
    if len(idx) == 0:
        return math.nan
    j = idx[0]
    return float(t[j] - d[j] * (t[j + 1] - t[j]) / (d[j + 1] - d[j]))


def validate_crossing(v_a: Verdict, v_b: Verdict, *, theory: FokkerPlanck | None = None,
                      level: float = 0.05) -> CrossingVerdict:
    """Measured crossing of two runs' TV distance curves against the prediction.

    The two verdicts must share their record times and binning. The measured
    crossing and its `1 - level` confidence interval come from `find_crossing`
    on `tv`, `tv_se`; the prediction is the crossing of the two `tv_expected`
    curves (the theory as this N and binning measure it). Also reported: the
    noise-free binned crossing and, with `theory` and two quenches from
    equilibrium, `theory.crossing_time` on the fine grid.

    No verdict without evidence. Let `t_x` be the predicted crossing (of
    `tv_expected`; where that lies beyond the records, `theory.crossing_time`,
    else the binned one), `s = (se_a^2 + se_b^2)^(1/2)` and `z_B` the detection
    threshold of `find_crossing`. Before anything is compared:

    * the records must cover `t_x` plus a margin: some record after `t_x` at
      which the predicted difference `|E tv_a - E tv_b|` reaches `z_B s` (where
      a crossing becomes detectable at all), and one before it likewise;
      otherwise "inconclusive (window too short)" if the predicted difference
      is still growing at the last record (a longer run would reach it), else
      "inconclusive (below noise floor)";
    * both curves must be resolved above their noise floors at the records
      bracketing `t_x`, else "inconclusive (below noise floor)".

    Then: "verified" if a crossing is found and its interval contains the
    prediction; "not verified" if no crossing is found. A crossing found with
    an interval that misses the prediction is "not verified" whatever the
    window (a false crossing is found with probability at most `level`). With no crossing predicted at all, a found crossing is "not
    verified" and none found is "inconclusive (no crossing predicted)": there
    was nothing to verify.
    """
    t = v_a.times
    if len(t) != len(v_b.times) or not np.allclose(t, v_b.times):
        raise ValueError("the two verdicts must have the same record times")
    found = find_crossing(t, v_a.tv, v_a.tv_se, v_b.tv, v_b.tv_se, level=level)
    pred = _curve_crossing(t, v_a.tv_expected, v_b.tv_expected)
    pred_binned = _curve_crossing(t, v_a.tv_binned, v_b.tv_binned)
    pred_cont = math.nan
    if theory is not None:
        ia, ib = v_a.run["init"], v_b.run["init"]
        if (ia.get("kind") == ib.get("kind") and ia.get("kind") in ("equilibrium", "chain")
                and v_a.prediction["method"].startswith("quench")
                and v_b.prediction["method"].startswith("quench")):
            start = start_of(ia)
            pred_cont = (theory.crossing_time(ia["lr"], ib["lr"]) if start == "boltzmann" else
                         theory.crossing_time(ia["lr"], ib["lr"], start=start))
    t_x = next((x for x in (pred, pred_cont, pred_binned) if math.isfinite(x)), math.nan)
    lo, hi = found["ci"]
    window = _evidence(t, v_a, v_b, t_x, level)
    if not math.isfinite(t_x):
        outcome = NOT_VERIFIED if found["found"] else NOTHING_PREDICTED
    elif found["found"] and not lo <= t_x <= hi:
        outcome = NOT_VERIFIED  # a significant crossing elsewhere refutes at any window
    elif window["outcome"] is not None:
        outcome = window["outcome"]
    else:
        outcome = VERIFIED if found["found"] else NOT_VERIFIED
    detail = (f"measured {found['time']:.4g} in [{lo:.4g}, {hi:.4g}]; predicted (as measured) "
              f"{pred:.4g}, binned {pred_binned:.4g}, continuum {pred_cont:.4g}; records to "
              f"t = {t[-1]:.4g}; {window['detail']}")
    check = Check(
        claim="the distance curves cross where the theory predicts",
        test=(f"{100 * (1 - level):g}% confidence interval by test inversion (|delta tv| <= "
              "z SE, two independent runs) contains the predicted crossing; only when the "
              "records cover it plus the margin where the predicted difference reaches the "
              "detection threshold, and both curves are resolved above the floor there"),
        level=level, statistic=found["time"], p_value=None, outcome=outcome, detail=detail)
    return CrossingVerdict(
        time=found["time"], ci=(lo, hi), level=level, predicted=pred,
        predicted_binned=pred_binned, predicted_continuum=pred_cont,
        resolved=window["resolved"], check=check, detail=found)


def _evidence(t: np.ndarray, v_a: Verdict, v_b: Verdict, t_x: float, level: float) -> dict:
    """Whether the records can show a crossing at `t_x` at all (see `validate_crossing`):
    `{"outcome": None or an inconclusive outcome, "resolved", "detail"}`."""
    if not math.isfinite(t_x):
        return {"outcome": None, "resolved": False, "detail": "no crossing predicted"}
    s = np.hypot(v_a.tv_se, v_b.tv_se)
    z_b = scipy.stats.norm.isf(level / (2 * len(t)))
    d_th = np.abs(np.asarray(v_a.tv_expected) - np.asarray(v_b.tv_expected))
    detectable = d_th >= z_b * s
    before, after = detectable & (t < t_x), detectable & (t > t_x)
    i_after = np.searchsorted(t, t_x, side="right")
    bracket = [i for i in (i_after - 1, i_after) if 0 <= i < len(t)]
    resolved = bool(all(v_a.tv_resolved[i] and v_b.tv_resolved[i] for i in bracket))
    if t_x > t[-1]:
        return {"outcome": WINDOW_TOO_SHORT, "resolved": resolved,
                "detail": f"the predicted crossing {t_x:.4g} lies beyond the last record"}
    if not after.any():
        growing = len(t) >= 2 and d_th[-1] > d_th[-2]
        t_need = "a longer window" if growing else "more particles"
        return {"outcome": WINDOW_TOO_SHORT if growing else INCONCLUSIVE, "resolved": resolved,
                "detail": (f"after {t_x:.4g} the predicted difference stays below the detection "
                           f"threshold z_B SE (largest {np.max((d_th / s)[t > t_x]):.2f} SE "
                           f"against z_B = {z_b:.2f}): needs {t_need}")}
    if not before.any() or not resolved:
        return {"outcome": INCONCLUSIVE, "resolved": resolved,
                "detail": ("a curve is not resolved above its noise floor next to the predicted "
                           "crossing" if not resolved else "before the predicted crossing the "
                           "difference stays below the detection threshold")}
    return {"outcome": None, "resolved": resolved,
            "detail": (f"predicted difference detectable from t = {t[after][0]:.4g} on; both "
                       "curves resolved above the floor next to the crossing")}
