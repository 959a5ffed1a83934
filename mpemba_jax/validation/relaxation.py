"""How fast one run relaxes against another: the difference of distance decay rates.

The rate of `A_3` is `lambda_3` for any start (biorthogonality), so it cannot
tell a strong Mpemba start from any other. What differs is the distance to
equilibrium: a start with `a_2 = 0` keeps relaxing at `lambda_3` while a
generic one slows to `lambda_2`. `rate_difference` measures that as a
difference between two independent runs over the same late records, so that
what both share (noise floor, binning, a step bias) largely cancels:

    r = -slope of ln tv(t) (weighted least squares, weights (tv / se)^2 fixed),
    Delta = r_x - r_ref,     SE(Delta)^2 = SE(r_x)^2 + SE(r_ref)^2,

over the records with `t >= t_min` where both curves are resolved above
their noise floors. The records of one run share their particles, so
least-squares errors that treat them as independent are wrong; `SE(r)` is
the delete-a-group jackknife over the run's `G` replicate groups
(`group_histograms=True`): `r_(-g)` from the histogram without group `g`,
`SE^2 = (G - 1) / G sum_g (r_(-g) - mean)^2`. The prediction applies the same
fit, with the same weights, to the theory as measured (`tv_expected`).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

from ..record import SimulationResult
from ..theory import total_variation
from .checks import INCONCLUSIVE, NOT_VERIFIED, VERIFIED, WINDOW_TOO_SHORT, Check
from .predict import cell_probabilities

__all__ = ["rate_difference", "relaxation_check", "jackknife_tv_rate"]


def _cells(result: SimulationResult) -> tuple[np.ndarray, np.ndarray]:
    """Counts `(R, K)` and per-group counts `(R, G, K)` over `[under, bins..., over]`."""
    counts = np.concatenate([np.asarray(result.underflow)[:, None], np.asarray(result.counts),
                             np.asarray(result.overflow)[:, None]], axis=1).astype(float)
    if result.group_counts is None:
        raise ValueError("result must carry per-group histograms (simulate(..., n_groups=G, "
                         "group_histograms=True)) for a jackknife over its replicate groups")
    return counts, np.asarray(result.group_counts, float)[..., :-1]  # drop the non-finite cell


def _wls_rate(t: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`-slope` of `ln d` against `t` with weights `w`; `d (..., R)` batched."""
    tc = t - np.sum(w * t) / np.sum(w)
    return -np.sum(w * tc * np.log(d), axis=-1) / np.sum(w * tc**2)


def jackknife_tv_rate(result: SimulationResult, reference: np.ndarray, use: np.ndarray,
                      weights: np.ndarray) -> tuple[float, float]:
    """Decay rate of the run's TV distance to `reference` cell probabilities `(K,)` over
    the records `use (R,)` (bool), with fixed `weights`, and its delete-a-group
    jackknife standard error."""
    counts, groups = _cells(result)
    t = np.asarray(result.times, float)[use]
    full = counts[use]
    tv = total_variation(full / full.sum(1, keepdims=True), reference)
    rate = float(_wls_rate(t, tv, weights))
    loo = full[None] - np.moveaxis(groups[use], 1, 0)            # (G, R_use, K)
    tv_loo = total_variation(loo / loo.sum(-1, keepdims=True), reference)
    r_loo = _wls_rate(t, np.maximum(tv_loo, 1e-300), weights)
    G = len(r_loo)
    se = math.sqrt((G - 1) / G * float(np.sum((r_loo - r_loo.mean()) ** 2)))
    return rate, se


def rate_difference(res_x: SimulationResult, v_x, res_ref: SimulationResult, v_ref, theory, *,
                    t_min: float) -> dict:
    """`Delta = r_x - r_ref` of two runs' TV decay rates over their common late records
    (see the module docstring), with its jackknife SE and the theory's `Delta`.

    Args:
      res_x, v_x: the candidate run and its `Verdict`; res_ref, v_ref: the reference.
      theory: the `FokkerPlanck` both were validated against (its `pi_f`).
      t_min: only records with `t >= t_min` enter (fixed in advance, e.g. `1 / lambda_3`).

    Returns `{"delta", "se", "predicted", "rate_x", "rate_x_se", "rate_ref",
    "rate_ref_se", "records", "t_range", "t_min"}`; with fewer than 3 usable records
    `delta` is `nan` and `reason` says why ("window too short" or "below noise floor").
    """
    t = np.asarray(v_x.times, float)
    if len(t) != len(v_ref.times) or not np.allclose(t, v_ref.times):
        raise ValueError("the two runs must share their record times")
    late = t >= t_min
    use = late & np.asarray(v_x.tv_resolved) & np.asarray(v_ref.tv_resolved)
    out = {"t_min": float(t_min), "records": int(use.sum()), "delta": math.nan, "se": math.nan,
           "predicted": math.nan, "rate_x": math.nan, "rate_x_se": math.nan,
           "rate_ref": math.nan, "rate_ref_se": math.nan, "t_range": [math.nan, math.nan]}
    if use.sum() < 3:
        out["reason"] = "window too short" if late.sum() < 3 else "below noise floor"
        return out
    edges = np.asarray(res_x.bin_edges, float)
    ref = cell_probabilities(theory, theory.stationary_masses[None], edges)[0]
    rates = {}
    for name, res, v in (("x", res_x, v_x), ("ref", res_ref, v_ref)):
        w = (np.asarray(v.tv)[use] / np.asarray(v.tv_se)[use]) ** 2
        rates[name] = jackknife_tv_rate(res, ref, use, w)
        rates[name + "_theory"] = float(_wls_rate(t[use], np.asarray(v.tv_expected)[use], w))
    out.update(rate_x=rates["x"][0], rate_x_se=rates["x"][1], rate_ref=rates["ref"][0],
               rate_ref_se=rates["ref"][1], delta=rates["x"][0] - rates["ref"][0],
               se=math.hypot(rates["x"][1], rates["ref"][1]),
               predicted=rates["x_theory"] - rates["ref_theory"],
               t_range=[float(t[use].min()), float(t[use].max())])
    return out


def relaxation_check(diff: dict, level: float, *, claim: str) -> Check:
    """`Check` that the candidate relaxes faster than the reference, as predicted.

    "not verified" when the data contradict the prediction
    (`|Delta - Delta_theory| > z_{1-level/2} SE`, or `Delta < -z_{1-level} SE`:
    significantly slower); "verified" when `Delta > z_{1-level} SE` and it agrees
    with the prediction; otherwise the difference is not resolved: "inconclusive
    (below noise floor)"; and without 3 usable records "inconclusive (window too
    short)" or "(below noise floor)".
    """
    z1, z2 = scipy.stats.norm.isf(level), scipy.stats.norm.isf(level / 2)
    test = ("TV decay-rate difference against the reference run over the common resolved "
            f"records with t >= {diff['t_min']:.3g} (jackknife SE over replicate groups): "
            "Delta > z_{1-level} SE and within z_{1-level/2} SE of the theory's Delta")
    if not math.isfinite(diff["delta"]):
        outcome = WINDOW_TOO_SHORT if diff.get("reason") == "window too short" else INCONCLUSIVE
        return Check(claim=claim, test=test, level=level, statistic=None, p_value=None,
                     outcome=outcome, detail=f"{diff['records']} usable records")
    z = diff["delta"] / diff["se"]
    z_th = (diff["delta"] - diff["predicted"]) / diff["se"]
    if abs(z_th) > z2 or z < -z1:
        outcome = NOT_VERIFIED
    else:
        outcome = VERIFIED if z > z1 else INCONCLUSIVE
    return Check(claim=claim, test=test, level=level, statistic=float(z),
                 p_value=float(scipy.stats.norm.sf(z)), outcome=outcome,
                 detail=(f"Delta = {diff['delta']:.4g} +- {diff['se']:.2g} (z = {z:.2f}); theory "
                         f"{diff['predicted']:.4g} (z = {z_th:.2f}); rates {diff['rate_x']:.4g} "
                         f"+- {diff['rate_x_se']:.2g} vs {diff['rate_ref']:.4g} +- "
                         f"{diff['rate_ref_se']:.2g} over {diff['records']} records, t in "
                         f"[{diff['t_range'][0]:.4g}, {diff['t_range'][1]:.4g}]"))
