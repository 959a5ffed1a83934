"""Monte Carlo against Fokker–Planck theory (THEORY section 5).

`validate(result, theory)` predicts what a run's own initial state and
schedule produce and tests the run against it at every record time:

- Pearson chi-square of the river histogram (under/overflow included as
  cells) against the predicted bin probabilities `P_i(t)`, adjacent cells
  merged until every expected count is `>= min_expected`;
  `dof = n_cells - 1`, p-value `chi2.sf(X^2, dof)`; and summed over all
  records (`aggregate_chi2`), its null calibrated by the run's replicate
  groups, so that a small bias present at every record is seen;
- the total-variation distance to equilibrium from the histogram,
  `D = 0.5 sum_i |n_i / n - pi_i|` over bins and under/overflow, with
    * its noise floor, the exact expectation of `D` for a multinomial sample
      of the equilibrium itself (`pi_i` the bath-LR bin probabilities),
          floor = 0.5 / n sum_i E|X_i - n pi_i|,   X_i ~ Binomial(n, pi_i)
      (de Moivre's closed form through binomial CDFs; about
      `sum_i sqrt(pi_i (1 - pi_i) / (2 pi n))` for large `n pi_i`),
    * its standard error (delta method over the multinomial, evaluated at
      de-noised bin probabilities, see `tv_statistics`),
    * the theory "as measured", `E[D]` under the predicted `P_i(t)` (same
      formula), and the noise-free binned and fine-grid theory distances;
- the eigenmode projections `A_k(t) = mean_j u_k(y_j)` (observables named
  `u2`, `u3`, ... recorded during the run; from the histogram only when
  absent, with the binning error stated) against `a_k e^{-lambda_k t}`,
  tested jointly over the records with their exact covariance
  `Cov(A_k(s), A_k(t)) = e^{-lambda_k |t - s|} SE(min(s, t))^2` (the tower
  property, since `u_k` is a backward eigenfunction);
- decay rates: generalised least squares fits of `A_k(t) = A e^{-r t}` (same
  covariance, iterated at the fitted `r`) and a weighted log-linear fit of the
  resolved distance, against `lambda_2` and `lambda_3`.

Every claim in a verdict is a `Check`: the claim, the test, its level, the
statistic and the outcome ("verified", "not verified", "inconclusive
(below noise floor)", or for an `A_k` whose `u_k` is heavy-tailed under the
predicted density "inconclusive (heavy-tailed estimator)").

The pieces live beside this module: the prediction in `predict.py`, the
histogram statistics in `statistics.py`, the fits in `fits.py`, crossings
of two runs in `crossing.py`, `Check` and the outcome words in `checks.py`.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import scipy.stats

from ..io.results import jsonable
from ..record import SimulationResult
from ..theory import FokkerPlanck, tau_x, total_variation
from .checks import HEAVY_TAILED, INCONCLUSIVE, NOT_VERIFIED, VERIFIED, Check, JsonRecord
from .aggregate import aggregate_chi2
from .fits import fit_decay, fit_log_rate, gls_chi2
from .predict import cell_probabilities, predict, start_of
from .statistics import expected_tv, pearson_chi2, tv_null_se, tv_statistics

__all__ = ["Verdict", "validate", "Check", "VERIFIED", "NOT_VERIFIED", "INCONCLUSIVE",
           "HEAVY_TAILED"]

# A_k is called heavy-tailed when the predicted standard error of mean u_k(y)
# exceeds the sample one this many times: the sample then has not seen the
# rare far-tail particles that carry a_k, and its SE understates the error.
_HEAVY_TAIL_RATIO = 10.0


@dataclasses.dataclass
class Verdict(JsonRecord):
    """What `validate` found, per record time `(R,)` and overall.

    Attributes:
      times, steps, n: record times, steps and finite particles `(R,)`.
      prediction: how the theory was propagated ("quench (spectral sum)",
        "quench (evolve)" or "schedule (evolve)") and from what.
      chi2, chi2_dof, chi2_pvalues: Pearson statistic, dof, p-value `(R,)`.
      chi2_aggregate: the chi-square summed over the records (`aggregate_chi2`:
        statistic, dof, p-value, `excess` = the summed noncentrality estimate
        with its null SE `excess_se`, and how the null was calibrated).
      tv, tv_se, tv_floor: histogram TV distance to the bath equilibrium,
        its standard error and its noise floor `(R,)`.
      tv_expected: `E[tv]` under the predicted bin probabilities (what the
        histogram distance should read); tv_null_se: the standard deviation of
        `tv` under them (the test of `tv = E[tv]` divides by it); tv_binned: the noise-free binned
        theory distance; tv_theory: the theory on its fine grid `(R,)`.
      tv_resolved: `(tv - tv_floor) / tv_se > z` (one-sided at `level`) `(R,)`.
      modes: `{k: {"A", "se", "theory", "z", "source", "binning_error"}}`.
      rates: decay-rate fits (`"A2"`, `"A3"`, `"distance"`) with SEs.
      eigenvalues: `lambda_1 .. lambda_n` of the theory.
      separation: `tau_x / tau_y` at the bath LR (`tau_y = 1 / lambda_2`);
        the 1D theory is a coarse-graining valid for `tau_x << tau_y`
        (exact when the valley curvature is constant).
      checks: the stated tests (`Check`).
      warnings: metadata mismatches between run and theory.
    """

    times: np.ndarray
    steps: np.ndarray
    n: np.ndarray
    prediction: dict
    chi2: np.ndarray
    chi2_dof: np.ndarray
    chi2_pvalues: np.ndarray
    chi2_aggregate: dict
    tv: np.ndarray
    tv_se: np.ndarray
    tv_floor: np.ndarray
    tv_expected: np.ndarray
    tv_null_se: np.ndarray
    tv_binned: np.ndarray
    tv_theory: np.ndarray
    tv_resolved: np.ndarray
    modes: dict
    rates: dict
    eigenvalues: np.ndarray
    separation: dict
    level: float
    checks: list
    warnings: list
    run: dict

    def check(self, claim_prefix: str) -> Check:
        """The first check whose claim starts with `claim_prefix`."""
        for c in self.checks:
            if c.claim.startswith(claim_prefix):
                return c
        raise KeyError(claim_prefix)


def validate(
    result: SimulationResult,
    theory: FokkerPlanck,
    *,
    schedule=None,
    modes: tuple[int, ...] = (2, 3),
    level: float = 0.01,
    min_expected: float = 5.0,
    fit_tmax: float | None = None,
    prediction: tuple[np.ndarray, dict] | None = None,
) -> Verdict:
    """Test a simulation against the Fokker–Planck theory of its own start and schedule.

    Prediction: from the run's initial state (`metadata["init"]`, equilibrium
    or point), for a run at one constant LR a quench to `theory.lr_bath`
    (spectral sum `p = pi_f (1 + sum_k a_k e^{-lambda_k t} u_k)` where its error
    bound is below `0.05 / sqrt(N)`, else `mj.evolve`); for any other LR table
    `mj.evolve` under the run's own table `result.lr_steps` (see `predict`).
    The theory is trusted for the landscape, convention and bath LR it was
    built for; mismatches with the run's metadata are listed in `warnings` but
    do not stop the tests, which decide from the data.

    Tests (all at `level`; per-record results are arrays):
      chi-square per record (`chi2_pvalues`), and overall with Bonferroni over
      the records; `tv` against `tv_expected` per record (`|z| < z_{1-level/2}`);
      each mode's `A_k(t)` jointly against theory (GLS chi-square, exact
      covariance) and `A_k(0)` against `a_k` within 3 standard errors; decay
      rates of `A_k` against `lambda_k`. See the module docstring for formulas.

    Args:
      result: a `SimulationResult` (recorded observables `u2`, `u3`, ... are used
        for the modes when present).
      theory: a `FokkerPlanck` for the same landscape, bath LR and convention.
      schedule: the run's schedule `t -> lr`, only for a result that carries no
        LR table (`result.lr_steps` is None or NaN): it is evaluated at
        `s * dt`, `s = 0 .. n_steps`, as the simulator does, and used in its
        place. Raises `ValueError` if neither is there.
      modes: which `A_k` to test.
      level: significance level of every test.
      min_expected: chi-square cells are merged until expected counts reach this.
      fit_tmax: only records with `t <= fit_tmax` enter the rate fits.
      prediction: `predict(result, theory, schedule)`'s output when it is already
        at hand (many replicate runs of one start and schedule share it).

    Returns: a `Verdict`.

    Example:
      >>> fp = mj.FokkerPlanck(land, 0.01)
      >>> res = mj.simulate(land, mj.constant(0.01), init=mj.equilibrium(0.02), ...,
      ...                   observables={"u2": lambda x, y: fp.left_eigenfunction(2)(y)})
      >>> v = mj.validate(res, fp)
      >>> v.chi2_pvalues, v.check("A_2(0)").outcome
    """
    if not isinstance(result, SimulationResult):
        raise ValueError(f"result must be a SimulationResult; got {type(result).__name__}")
    if not isinstance(theory, FokkerPlanck):
        raise ValueError(f"theory must be a FokkerPlanck; got {type(theory).__name__}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    for k in modes:
        theory.check_k(k)
    meta = result.metadata
    warn = _mismatches(result, theory)

    masses, info = predict(result, theory, schedule) if prediction is None else prediction
    if masses.shape != (len(result.times), theory.n_grid):
        raise ValueError(f"prediction masses must have shape (R, n_grid) = ({len(result.times)}, "
                         f"{theory.n_grid}); got {masses.shape}")
    edges = np.asarray(result.bin_edges, float)
    probs = cell_probabilities(theory, masses, edges)  # (R, n_bins + 2)
    ref = cell_probabilities(theory, theory.stationary_masses[None], edges)[0]
    counts = np.concatenate(
        [np.asarray(result.underflow)[:, None], np.asarray(result.counts),
         np.asarray(result.overflow)[:, None]], axis=1).astype(np.int64)
    n = counts.sum(1)
    t = np.asarray(result.times, float)
    R = len(t)
    z2 = scipy.stats.norm.isf(level / 2)
    z1 = scipy.stats.norm.isf(level)

    chi = np.array([pearson_chi2(counts[r], probs[r], min_expected) for r in range(R)])
    chi2, dof, pv = chi[:, 0], chi[:, 1].astype(int), chi[:, 2]

    tvs = tv_statistics(counts, ref)
    tv_exp = np.array([expected_tv(probs[r], ref, int(n[r])) for r in range(R)])
    tv_se0 = np.array([tv_null_se(probs[r], ref, int(n[r])) for r in range(R)])
    tv_binned = total_variation(probs, ref)
    tv_theory = total_variation(masses, theory.stationary_masses)
    resolved = (tvs["tv"] - tvs["floor"]) > z1 * tvs["se"]

    lam = theory.eigenvalues
    mode_out, checks = {}, []
    rates = {}
    quench = (info["method"].startswith("quench")
              and meta["init"].get("kind") in ("equilibrium", "chain"))
    lr_init, start = meta["init"].get("lr"), start_of(meta["init"])
    for k in modes:
        u_grid = theory.left_eigenfunctions[k - 1]
        name = f"u{k}"
        if name in result.observables:
            a_hat = np.asarray(result.observables[name], float)
            se = np.asarray(result.standard_errors[name], float)
            source, bin_err = "observable", np.zeros(R)
        else:
            a_hat, se, bin_err = _modes_from_histogram(theory, u_grid, edges, counts)
            source = "histogram"
        if quench and info["method"] == "quench (spectral sum)":
            a_theory = theory.amplitude(lr_init, k, start) * np.exp(-lam[k - 1] * t)
        else:
            a_theory = masses @ u_grid
        se_tot = np.sqrt(se**2 + bin_err**2)
        z = (a_hat - a_theory) / np.where(se_tot > 0, se_tot, np.inf)
        # The standard error the prediction implies, sqrt(Var_p(u_k) / n).
        with np.errstate(over="ignore", invalid="ignore"):
            var_th = masses @ u_grid**2 - (masses @ u_grid) ** 2
        se_theory = np.sqrt(np.maximum(np.nan_to_num(var_th, nan=np.inf), 0.0) / n)
        heavy = bool(np.any(se_theory > _HEAVY_TAIL_RATIO * np.maximum(se_tot, 1e-300)))
        mode_out[k] = {"A": a_hat, "se": se, "theory": a_theory, "z": z, "source": source,
                       "binning_error": bin_err, "se_theory": se_theory, "heavy_tailed": heavy}
        if heavy:
            warn.append(f"A_{k}: u_{k} is heavy-tailed under the predicted density (predicted SE "
                        f"up to {np.max(se_theory / np.maximum(se_tot, 1e-300)):.3g} times the "
                        "sample SE); its checks are inconclusive")
        # A_k(0) = a_k (the initial state is sampled exactly).
        if t[0] == 0 and se_tot[0] > 0:
            ok = abs(z[0]) < 3.0
            checks.append(Check(
                claim=f"A_{k}(0) agrees with the predicted a_{k}",
                test="|A_k(0) - a_k| < 3 SE (normal z test)", level=2 * scipy.stats.norm.sf(3.0),
                statistic=float(z[0]), p_value=float(2 * scipy.stats.norm.sf(abs(z[0]))),
                outcome=HEAVY_TAILED if heavy else VERIFIED if ok else NOT_VERIFIED,
                detail=f"A_{k}(0) = {a_hat[0]:.5g} +- {se_tot[0]:.2g}, a_{k} = {a_theory[0]:.5g}"))
        # The whole trajectory, jointly.
        use = se_tot > 0
        if quench and source == "observable" and use.sum() >= 1:
            x2, d, p = gls_chi2(t[use], (a_hat - a_theory)[use], se_tot[use], lam[k - 1])
            test = ("GLS chi-square of A_k(t) - a_k e^{-lambda_k t} over the records, covariance "
                    "e^{-lambda_k |t - s|} SE(min(s, t))^2")
        else:
            p_each = 2 * scipy.stats.norm.sf(np.abs(z[use]))
            x2, d = float(np.max(np.abs(z[use]), initial=0.0)), int(use.sum())
            p = float(min(1.0, p_each.min(initial=1.0) * max(d, 1)))
            test = "max |z| over the records, Bonferroni"
        checks.append(Check(
            claim=f"A_{k}(t) follows the theory at every record",
            test=test, level=level, statistic=x2, p_value=p,
            outcome=HEAVY_TAILED if heavy else VERIFIED if p > level else NOT_VERIFIED,
            detail=f"{d} records"))
        # Decay rate of A_k.
        fit_use = use & (t <= (fit_tmax if fit_tmax is not None else np.inf))
        fit = fit_decay(t[fit_use], a_hat[fit_use], se_tot[fit_use], rate0=lam[k - 1],
                        correlated=quench and source == "observable")
        fit["significant_amplitude"] = bool(
            math.isfinite(fit["amplitude_se"]) and abs(fit["amplitude"]) > z2 * fit["amplitude_se"])
        _add_z_vs_eigenvalues(fit, lam)
        rates[f"A{k}"] = fit
        if quench and fit["significant_amplitude"]:
            zk = fit.get(f"z_vs_lambda_{k}", math.nan)
            checks.append(Check(
                claim=f"A_{k} decays at lambda_{k}",
                test="GLS fit A e^{-r t}; |r - lambda_k| < z_{1-level/2} SE",
                level=level, statistic=float(zk),
                p_value=float(2 * scipy.stats.norm.sf(abs(zk))) if math.isfinite(zk) else None,
                outcome=(HEAVY_TAILED if heavy else
                         VERIFIED if math.isfinite(zk) and abs(zk) < z2 else NOT_VERIFIED),
                detail=f"r = {fit['rate']:.4g} +- {fit['rate_se']:.2g}, lambda_{k} = {lam[k - 1]:.4g}"))

    # Distance decay rate over the resolved records.
    dist_use = resolved & (t > 0) & (t <= (fit_tmax if fit_tmax is not None else np.inf))
    rates["distance"] = fit_log_rate(t[dist_use], tvs["tv"][dist_use], tvs["se"][dist_use])
    rates["distance"]["theory_rate"] = fit_log_rate(
        t[dist_use], tv_exp[dist_use], tvs["se"][dist_use])["rate"]
    _add_z_vs_eigenvalues(rates["distance"], lam)
    rates["distance"]["records"] = int(dist_use.sum())

    # Histogram against theory.
    p_bonf = float(min(1.0, pv.min() * R))
    checks.insert(0, Check(
        claim="histograms match the predicted bin probabilities at every record",
        test=f"Pearson chi-square per record (cells merged to expected >= {min_expected:g}), "
             "smallest p-value times the number of records (Bonferroni)",
        level=level, statistic=float(pv.min()), p_value=p_bonf,
        outcome=VERIFIED if p_bonf > level else NOT_VERIFIED,
        detail=f"{int(np.sum(pv <= level))} of {R} records with p <= {level:g}"))
    groups = result.group_counts
    agg = aggregate_chi2(counts, probs, None if groups is None else
                         np.asarray(groups)[..., :-1], min_expected=min_expected)
    z_power = scipy.stats.norm.isf(0.2)  # the excess seen with 80% power (normal approximation)
    detectable = (z1 + z_power) * agg["excess_se"]
    checks.insert(1, Check(
        claim="histograms match the predicted bin probabilities jointly over all records",
        test=("Pearson chi-square summed over the records against its three-moment null "
              f"({agg['method']})"),
        level=level, statistic=float(agg["statistic"]), p_value=float(agg["p_value"]),
        outcome=VERIFIED if agg["p_value"] > level else NOT_VERIFIED,
        detail=(f"sum of X^2 - dof = {agg['excess']:.4g} +- {agg['excess_se']:.3g} over {R} "
                f"records ({agg['excess'] / R:.3g} per record); an excess of {detectable:.3g} "
                "would be seen with 80% power")))
    z_tv = (tvs["tv"] - tv_exp) / np.where(tv_se0 > 0, tv_se0, np.inf)
    p_tv = float(min(1.0, 2 * scipy.stats.norm.sf(np.max(np.abs(z_tv))) * R))
    checks.insert(2, Check(
        claim="TV distance to equilibrium matches the theory as measured (E[tv] at this N and binning)",
        test=("|tv - E[tv]| / SE per record, SE under the predicted probabilities, Bonferroni "
              "over the records"),
        level=level, statistic=float(np.max(np.abs(z_tv))), p_value=p_tv,
        outcome=VERIFIED if p_tv > level else NOT_VERIFIED,
        detail=f"{int(resolved.sum())} of {R} records resolved above the noise floor"))

    sep = _separation(theory)
    return Verdict(
        times=t, steps=np.asarray(result.steps), n=n, prediction=info,
        chi2=chi2, chi2_dof=dof, chi2_pvalues=pv, chi2_aggregate=agg,
        tv=tvs["tv"], tv_se=tvs["se"], tv_floor=tvs["floor"], tv_expected=tv_exp,
        tv_null_se=tv_se0,
        tv_binned=tv_binned, tv_theory=tv_theory, tv_resolved=resolved,
        modes=mode_out, rates=rates, eigenvalues=np.asarray(lam), separation=sep,
        level=level, checks=checks, warnings=warn,
        run={"landscape": meta.get("landscape"), "init": meta.get("init"),
             "schedule": meta.get("schedule"), "dynamics": meta.get("dynamics"),
             "dt": meta.get("dt"), "n_particles": result.n_particles, "seed": meta.get("seed"),
             "lr_bath": theory.lr_bath, "n_bins": len(edges) - 1,
             "bin_range": [float(edges[0]), float(edges[-1])]},
    )


def _add_z_vs_eigenvalues(fit: dict, lam: np.ndarray) -> None:
    """`fit["z_vs_lambda_j"] = (rate - lambda_j) / rate_se` for `j = 2, 3` (`nan` without an SE)."""
    for j in (2, 3):
        if j <= len(lam):
            fit[f"z_vs_lambda_{j}"] = (fit["rate"] - lam[j - 1]) / fit["rate_se"] \
                if fit["rate_se"] and math.isfinite(fit["rate_se"]) else math.nan


def _modes_from_histogram(theory, u_grid, edges, counts):
    """`A_k` from bins: `sum_i f_i ubar_i` with `ubar_i` the `pi_f`-weighted bin average
    of `u_k`; binning error bound `sum_i f_i (max_bin u - min_bin u) / 2`."""
    c = theory.centres
    idx = np.clip(np.searchsorted(edges, c, side="right") - 1, -1, len(edges) - 1) + 1
    n_cells = len(edges) + 1
    w = theory.stationary_masses
    num = np.bincount(idx, w * u_grid, n_cells)
    den = np.bincount(idx, w, n_cells)
    ubar = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    half = np.zeros(n_cells)
    for j in range(n_cells):
        sel = idx == j
        if sel.any():
            half[j] = 0.5 * (u_grid[sel].max() - u_grid[sel].min())
    f = counts / counts.sum(1, keepdims=True)
    a = f @ ubar
    var = f @ ubar**2 - a**2
    se = np.sqrt(np.maximum(var, 0.0) / counts.sum(1))
    return a, se, f @ half


def _separation(theory: FokkerPlanck) -> dict:
    """`tau_x / tau_y` at the bath LR: how far the 1D river theory can be trusted."""
    tx = float(tau_x(theory, theory.lr_bath))
    ty = 1.0 / float(theory.eigenvalues[1])
    const = bool(np.all(np.ptp(theory.curvature_values, axis=0) <= 1e-12 * np.abs(theory.curvature_values).max()))
    return {"tau_x": tx, "tau_y": ty, "ratio": tx / ty, "valley_curvature_constant": const,
            "note": ("constant valley curvature: the river decouples and the 1D theory is exact"
                     if const else "the 1D theory is a coarse-graining; errors ~ tau_x / tau_y")}


def _mismatches(result: SimulationResult, theory: FokkerPlanck) -> list[str]:
    """Landscape, dynamics and final LR of the run's metadata that differ from the theory's."""
    out = []
    meta = result.metadata
    land = meta.get("landscape", {})
    mine = theory.landscape.describe()
    if land and jsonable(land) != jsonable(mine):
        out.append(f"landscape differs: run {land}, theory {mine}")
    dyn = meta.get("dynamics", {})
    if dyn and dyn != theory.dynamics.describe():
        out.append(f"dynamics differ: run {dyn}, theory {theory.dynamics.describe()}")
    lr = np.asarray(result.lr, float)
    if len(lr) and not np.isclose(lr[-1], theory.lr_bath, rtol=1e-9, atol=0):
        out.append(f"run ends at lr={lr[-1]:g}, theory.lr_bath={theory.lr_bath:g}")
    for w in out:
        warnings.warn(f"validate: {w}", stacklevel=3)
    return out
