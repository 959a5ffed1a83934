"""Monte Carlo against Fokker–Planck theory (THEORY section 5).

`validate(result, theory)` predicts what a run's own initial state and
schedule produce and tests the run against it at every record time:

- Pearson chi-square of the river histogram (under/overflow included as
  cells) against the predicted bin probabilities `P_i(t)`, adjacent cells
  merged until every expected count is `>= min_expected`;
  `dof = n_cells - 1`, p-value `chi2.sf(X^2, dof)`;
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

`validate_crossing(v_a, v_b)` measures where two runs' distance curves cross,
with a confidence interval from test inversion: the set of times where the
difference of the two curves is not significantly different from zero. Its
coverage does not depend on the correlation between record times.

Every claim in a verdict is a `Check`: the claim, the test, its level, the
statistic and the outcome ("verified", "not verified", "inconclusive
(below noise floor)", or for an `A_k` whose `u_k` is heavy-tailed under the
predicted density "inconclusive (heavy-tailed estimator)").
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

from .. import schedules as _schedules
from ..theory import FokkerPlanck, masses_to_bins
from ..theory.evolve import evolve
from ..io.results import jsonable
from ..record import SimulationResult
from ..theory.timescales import tau_x

__all__ = [
    "predict",
    "Check",
    "Verdict",
    "CrossingVerdict",
    "validate",
    "validate_crossing",
    "find_crossing",
    "tv_statistics",
    "expected_tv",
    "merge_cells",
    "pearson_chi2",
    "fit_decay",
]

VERIFIED, NOT_VERIFIED, INCONCLUSIVE = (
    "verified", "not verified", "inconclusive (below noise floor)")
HEAVY_TAILED = "inconclusive (heavy-tailed estimator)"
# A_k is called heavy-tailed when the predicted standard error of mean u_k(y)
# exceeds the sample one this many times: the sample then has not seen the
# rare far-tail particles that carry a_k, and its SE understates the error.
_HEAVY_TAIL_RATIO = 10.0


# ---------------------------------------------------------------------------
# Verdict objects
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class Check:
    """One stated test: `claim` is what "verified" means, `test` how it was decided."""

    claim: str
    test: str
    level: float
    statistic: float | None
    p_value: float | None
    outcome: str
    detail: str = ""


class _JsonRecord:
    """`to_dict` / `to_json` for the verdict dataclasses (non-finite numbers -> null)."""

    def to_dict(self) -> dict:
        return jsonable(dataclasses.asdict(self))

    def to_json(self, path=None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text


@dataclasses.dataclass
class Verdict(_JsonRecord):
    """What `validate` found, per record time `(R,)` and overall.

    Attributes:
      times, steps, n: record times, steps and finite particles `(R,)`.
      prediction: how the theory was propagated ("quench (spectral sum)",
        "quench (evolve)" or "schedule (evolve)") and from what.
      chi2, chi2_dof, chi2_pvalues: Pearson statistic, dof, p-value `(R,)`.
      tv, tv_se, tv_floor: histogram TV distance to the bath equilibrium,
        its standard error and its noise floor `(R,)`.
      tv_expected: `E[tv]` under the predicted bin probabilities (what the
        histogram distance should read); tv_binned: the noise-free binned
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
    tv: np.ndarray
    tv_se: np.ndarray
    tv_floor: np.ndarray
    tv_expected: np.ndarray
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


@dataclasses.dataclass
class CrossingVerdict(_JsonRecord):
    """Measured crossing of two distance curves against the prediction.

    time, ci: measured crossing time and its confidence interval (`nan` if
      no significant crossing); level: `1 - confidence`.
    predicted: crossing of the theory curves as measured (`E[tv]` of each run);
    predicted_binned: of the noise-free binned theory distances;
    predicted_continuum: `theory.crossing_time` on the fine grid (quenches).
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




# ---------------------------------------------------------------------------
# Statistics on histograms (pure NumPy; exported for tests and reuse)
# ---------------------------------------------------------------------------
def merge_cells(expected: np.ndarray, min_expected: float = 5.0) -> np.ndarray:
    """Group labels `(n_cells,)` merging adjacent cells until each group's expected
    count is `>= min_expected` (a short last group joins its left neighbour)."""
    expected = np.asarray(expected, float)
    labels = np.zeros(len(expected), int)
    g, acc = 0, 0.0
    for i, e in enumerate(expected):
        labels[i] = g
        acc += e
        if acc >= min_expected:
            g, acc = g + 1, 0.0
    if g > 0 and np.any(labels == g):  # a leftover group below the threshold
        labels[labels == g] = g - 1
    return labels


def pearson_chi2(observed: ArrayLike, probs: ArrayLike,
                 min_expected: float = 5.0) -> tuple[float, int, float]:
    """Pearson `X^2 = sum (O - E)^2 / E` of counts against probabilities after
    merging cells (`merge_cells`); returns `(X^2, dof, p-value)`, `dof = cells - 1`.

    Probabilities are renormalised to sum 1; a count in a cell with `E = 0`
    (before merging) gives `X^2 = inf`, p-value 0.
    """
    obs = np.asarray(observed, float)
    p = np.clip(np.asarray(probs, float), 0.0, None)
    n = obs.sum()
    p = p / p.sum()
    exp = n * p
    if np.any((exp <= 0) & (obs > 0)):  # impossible under the prediction, merged or not
        return math.inf, max(int(np.sum(exp > 0)) - 1, 1), 0.0
    labels = merge_cells(exp, min_expected)
    o = np.bincount(labels, obs)
    e = np.bincount(labels, exp)
    if np.any((e <= 0) & (o > 0)):
        return math.inf, max(len(e) - 1, 1), 0.0
    keep = e > 0
    x2 = float(np.sum((o[keep] - e[keep]) ** 2 / e[keep]))
    dof = int(keep.sum() - 1)
    if dof < 1:
        return x2, 0, 1.0
    return x2, dof, float(scipy.stats.chi2.sf(x2, dof))


def _mean_abs_dev(n: int, p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """`E|X - c|` for `X ~ Binomial(n, p)` exactly, elementwise.

    `E|X - c| = (n p - c) + 2 [c F(k; n, p) - n p F(k - 1; n - 1, p)]`, `k = floor(c)`,
    using `sum_{x <= k} x pmf(x; n, p) = n p F(k - 1; n - 1, p)`.
    """
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    c = np.asarray(c, float)
    k = np.floor(c)
    f_k = scipy.stats.binom.cdf(k, n, p)
    f_km1 = np.where(k >= 1, scipy.stats.binom.cdf(k - 1, n - 1, p), 0.0)
    out = (n * p - c) + 2.0 * (c * f_k - n * p * f_km1)
    return np.maximum(out, np.abs(n * p - c))  # Jensen bound guards round-off


def expected_tv(probs: ArrayLike, reference: ArrayLike, n: int) -> np.ndarray:
    """`E[0.5 sum_i |X_i / n - r_i|]` for `X ~ Multinomial(n, probs)`, exactly.

    By linearity only the binomial marginals enter. `probs`, `reference`:
    `(..., n_cells)` (each summing to 1); returns `(...)`. With
    `probs = reference` this is the noise floor of the histogram distance.
    """
    p = np.asarray(probs, float)
    r = np.broadcast_to(np.asarray(reference, float), p.shape)
    return 0.5 * _mean_abs_dev(int(n), p, n * r).sum(-1) / n


def tv_statistics(counts: ArrayLike, reference: ArrayLike) -> dict:
    """Histogram TV distance to `reference` with its noise floor and standard error.

    Args:
      counts: `(..., n_cells)` integer counts (include under/overflow cells).
      reference: `(n_cells,)` reference probabilities (summing to 1).

    Returns dict of `(...)` arrays: `tv`, `floor` (`E[tv]` were the counts a
    sample of `reference`), `se` (standard error of `tv`).

    The variance is the delta method over the multinomial,

        Var(sum_i |X_i - c_i|) ~ sum_i Var|X_i - c_i| - n [(sum_i s_i p_i)^2 - sum_i s_i^2 p_i^2],
        s_i = E sign(X_i - c_i),  Var|X - c| = n p (1 - p) + (n p - c)^2 - (E|X - c|)^2,

    evaluated at de-noised probabilities `p_i = r_i + sign(d_i) sqrt(max(d_i^2 - 2 v_i, 0))`
    with `d_i = X_i / n - r_i`, `v_i = (X_i / n)(1 - X_i / n) / n`. Plugging in
    the raw frequencies would overstate the error by up to
    `(1 - 2 / pi)^(-1/2) = 1.66` near the floor (`E d^2 = (p - r)^2 + v`); the
    factor 2 was chosen so that 95% intervals `tv +- 1.96 se` cover `E[tv]`
    95 +- 1.5% of the time from the floor to far above it (multinomial
    sampling, 30 cells, 2000 draws each; `tests/test_validate.py` checks it).
    """
    x = np.asarray(counts, float)
    n_arr = x.sum(-1)
    r = np.asarray(reference, float)
    out = {"tv": [], "floor": [], "se": []}
    flat = x.reshape(-1, x.shape[-1])
    for row, n in zip(flat, n_arr.reshape(-1)):
        n = int(round(n))
        f = row / n
        d = f - r
        v = f * (1 - f) / n
        p = np.clip(r + np.sign(d) * np.sqrt(np.maximum(d * d - 2.0 * v, 0.0)), 0.0, 1.0)
        c = n * r
        mad = _mean_abs_dev(n, p, c)
        var_i = n * p * (1 - p) + (n * p - c) ** 2 - mad**2
        # s_i = P(X > c) - P(X < c)
        k = np.floor(c)
        below = np.where(c > k, scipy.stats.binom.cdf(k, n, p),
                         np.where(k >= 1, scipy.stats.binom.cdf(k - 1, n, p), 0.0))
        above = scipy.stats.binom.sf(k, n, p)
        s = above - below
        var = np.sum(np.maximum(var_i, 0.0)) - n * ((s @ p) ** 2 - np.sum(s**2 * p**2))
        out["tv"].append(0.5 * np.abs(d).sum())
        out["floor"].append(expected_tv(r, r, n))
        out["se"].append(0.5 * math.sqrt(max(var, 0.0)) / n)
    shape = n_arr.shape
    return {k: np.asarray(v, float).reshape(shape) for k, v in out.items()}


# ---------------------------------------------------------------------------
# Rate fits
# ---------------------------------------------------------------------------
def _exp_cov(t: np.ndarray, se: np.ndarray, rate: float) -> np.ndarray:
    """`Cov(A(s), A(t)) = e^{-rate |t - s|} se(min(s, t))^2` (records sorted in time)."""
    i = np.arange(len(t))
    first = np.minimum.outer(i, i)
    return np.exp(-max(rate, 0.0) * np.abs(np.subtract.outer(t, t))) * se[first] ** 2


def fit_decay(t: ArrayLike, a: ArrayLike, se: ArrayLike, *, rate0: float,
              correlated: bool = True, n_iter: int = 4) -> dict:
    """Generalised least squares fit of `a(t) = A exp(-r t)`.

    `correlated=True` uses the covariance of an eigenmode projection,
    `e^{-r |t - s|} se(min)^2`, rebuilt at each iterate's `r` (start `rate0`);
    otherwise independent errors. Returns `{"amplitude", "rate", "rate_se",
    "amplitude_se", "chi2", "dof"}`; `rate` is `nan` if the fit fails.
    """
    with np.errstate(all="ignore"):
        return _fit_decay(t, a, se, rate0, correlated, n_iter)


def _fit_decay(t, a, se, rate0, correlated, n_iter) -> dict:
    t, a, se = (np.asarray(v, float) for v in (t, a, se))
    order = np.argsort(t)
    t, a, se = t[order], a[order], se[order]
    r = float(rate0)
    amp = float(a[0]) if a[0] != 0 else 1e-12
    out = {"amplitude": math.nan, "rate": math.nan, "rate_se": math.nan,
           "amplitude_se": math.nan, "chi2": math.nan, "dof": len(t) - 2}
    for _ in range(n_iter):
        cov = _exp_cov(t, se, r) if correlated else np.diag(se**2)
        try:
            w = np.linalg.inv(cov)
        except np.linalg.LinAlgError:
            return out
        # Gauss–Newton on (A, r) for the fixed covariance.
        for _ in range(50):
            f = amp * np.exp(-r * t)
            jac = np.stack([np.exp(-r * t), -t * f], axis=1)
            h = jac.T @ w @ jac
            g = jac.T @ w @ (a - f)
            try:
                step = np.linalg.solve(h, g)
            except np.linalg.LinAlgError:
                return out
            amp, r = amp + step[0], r + step[1]
            if abs(step[1]) < 1e-10 * max(abs(r), 1e-12) and abs(step[0]) < 1e-12 * max(abs(amp), 1e-12):
                break
        if not (math.isfinite(r) and math.isfinite(amp)):
            return out
    cov = _exp_cov(t, se, r) if correlated else np.diag(se**2)
    w = np.linalg.inv(cov)
    f = amp * np.exp(-r * t)
    jac = np.stack([np.exp(-r * t), -t * f], axis=1)
    try:
        pcov = np.linalg.inv(jac.T @ w @ jac)
    except np.linalg.LinAlgError:
        return out
    res = a - f
    if not (np.all(np.isfinite(pcov)) and pcov[0, 0] >= 0 and pcov[1, 1] >= 0):
        return out
    out.update(amplitude=float(amp), rate=float(r), amplitude_se=float(math.sqrt(pcov[0, 0])),
               rate_se=float(math.sqrt(pcov[1, 1])), chi2=float(res @ w @ res))
    return out


def _gls_chi2(t, resid, se, rate) -> tuple[float, int, float]:
    order = np.argsort(t)
    t, resid, se = t[order], resid[order], se[order]
    cov = _exp_cov(t, se, rate)
    x2 = float(resid @ np.linalg.solve(cov, resid))
    return x2, len(t), float(scipy.stats.chi2.sf(x2, len(t)))


# ---------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------
def _schedule_from(description: dict):
    kind = description.get("kind")
    args = {k: v for k, v in description.items() if k != "kind"}
    if kind == "constant":
        return _schedules.constant(**args)
    if kind == "quench":
        return _schedules.quench(**args)
    if kind == "power_law_decay":
        return _schedules.power_law_decay(**args)
    if kind == "wsd" and args.get("shape") in _schedules.DECAY_SHAPES:
        return _schedules.wsd(**args)
    raise ValueError(
        f"cannot rebuild the run's schedule from its description {description!r}; "
        "pass schedule= to validate"
    )


def _initial_masses(theory: FokkerPlanck, init: dict) -> tuple[np.ndarray, float | None]:
    kind = init.get("kind")
    if kind == "equilibrium":
        return theory.equilibrium(init["lr"]), float(init["lr"])
    if kind == "point":
        return theory.point_mass(init["y"]), None
    raise ValueError(
        f"validate needs a run started from mj.equilibrium(lr) or mj.point(y); got init {init!r}"
    )


def predict(result: SimulationResult, theory: FokkerPlanck, schedule) -> tuple[np.ndarray, dict]:
    """Predicted cell masses `(R, n_grid)` at the record times and how they were made."""
    meta = result.metadata
    p0, lr_init = _initial_masses(theory, meta["init"])
    dt = float(meta["dt"])
    steps = np.asarray(result.steps, int)
    desc = meta.get("schedule", {})
    constant_run = schedule is None and (
        desc.get("kind") == "constant" or (desc.get("kind") == "quench" and desc.get("at", 1) <= 0)
    )
    t = np.asarray(result.times, float)
    lam = theory.eigenvalues
    if constant_run:
        info = {"method": "quench", "to_lr": theory.lr_bath, "from": meta["init"]}
        if lr_init is not None:
            # Closed form where the spectral sum is accurate to well below the
            # sampling noise of a histogram distance (~ 1 / sqrt(n)).
            tol = 0.05 / math.sqrt(max(result.n_particles, 1))
            pos = t > 0
            err = theory.spectral_error(lr_init, t[pos]) if pos.any() else np.zeros(0)
            if np.all(err <= tol):
                masses = np.empty((len(t), theory.n_grid))
                masses[~pos] = p0
                if pos.any():
                    masses[pos] = np.clip(theory.masses(lr_init, t[pos]), 0.0, None)
                info["method"] = "quench (spectral sum)"
                info["spectral_error_max"] = float(err.max(initial=0.0))
                return masses, info
            info["spectral_error_max"] = float(err.max())
        sched = theory.lr_bath
        info["method"] = "quench (evolve)"
    else:
        sched = schedule if schedule is not None else _schedule_from(desc)
        info = {"method": "schedule (evolve)", "schedule": _schedules.describe_schedule(sched)
                if callable(sched) else sched, "from": meta["init"]}
    # Implicit Euler rates come out as ln(1 + lambda dt') / dt'; keep lambda_3 dt' <= 1e-3.
    k3 = min(3, theory.n_modes) - 1
    substeps = max(1, int(math.ceil(lam[k3] * dt / 1e-3)))
    info["substeps"] = substeps
    n_steps = int(max(steps.max(), 1))
    if callable(sched):
        # The simulator's own float64 LR table (`evaluate_schedule`), looked up by step,
        # so that the prediction sees exactly the LRs the particles saw.
        table = _schedules.evaluate_schedule(sched, np.arange(n_steps + 1) * dt)
        sched = lambda tt: table[np.clip(np.rint(np.asarray(tt, float) / dt).astype(int),  # noqa: E731
                                         0, n_steps)]
    ev = evolve(theory, p0, sched, dt, n_steps=n_steps, record_steps=steps, substeps=substeps)
    order = np.searchsorted(np.unique(steps), steps)
    return ev.masses[order], info


def _cell_probs(theory: FokkerPlanck, masses: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`(..., n_bins + 2)`: [underflow, bins..., overflow] probabilities of grid masses."""
    inner = masses_to_bins(theory.edges, masses, edges)
    total = masses.sum(-1, keepdims=True)
    lo = masses_to_bins(theory.edges, masses, [min(theory.edges[0], edges[0]) - 1.0, edges[0]]) \
        if edges[0] > theory.edges[0] else np.zeros(masses.shape[:-1] + (1,))
    hi = total - lo - inner.sum(-1, keepdims=True)
    cells = np.concatenate([lo, inner, np.clip(hi, 0.0, None)], axis=-1)
    return cells / cells.sum(-1, keepdims=True)


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------
def validate(
    result: SimulationResult,
    theory: FokkerPlanck,
    *,
    schedule=None,
    modes: tuple[int, ...] = (2, 3),
    level: float = 0.01,
    min_expected: float = 5.0,
    fit_tmax: float | None = None,
) -> Verdict:
    """Test a simulation against the Fokker–Planck theory of its own start and schedule.

    Prediction: from the run's initial state (`metadata["init"]`, equilibrium
    or point), for a run at one constant LR a quench to `theory.lr_bath`
    (spectral sum `p = pi_f (1 + sum_k a_k e^{-lambda_k t} u_k)` where its error
    bound is below `0.05 / sqrt(N)`, else `mj.evolve`); for any other schedule
    `mj.evolve` under the schedule rebuilt from the run's description (or
    `schedule=`). The theory is trusted for the landscape, convention and
    bath LR it was built for; mismatches with the run's metadata are listed in
    `warnings` but do not stop the tests, which decide from the data.

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
      schedule: the run's schedule, when its description cannot be rebuilt.
      modes: which `A_k` to test.
      level: significance level of every test.
      min_expected: chi-square cells are merged until expected counts reach this.
      fit_tmax: only records with `t <= fit_tmax` enter the rate fits.

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

    masses, info = predict(result, theory, schedule)
    edges = np.asarray(result.bin_edges, float)
    probs = _cell_probs(theory, masses, edges)  # (R, n_bins + 2)
    ref = _cell_probs(theory, theory.stationary_masses[None], edges)[0]
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
    tv_binned = 0.5 * np.abs(probs - ref).sum(-1)
    tv_theory = 0.5 * np.abs(masses - theory.stationary_masses).sum(-1)
    resolved = (tvs["tv"] - tvs["floor"]) > z1 * tvs["se"]

    lam = theory.eigenvalues
    mode_out, checks = {}, []
    rates = {}
    quench = info["method"].startswith("quench") and meta["init"].get("kind") == "equilibrium"
    lr_init = meta["init"].get("lr")
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
            a_theory = theory.amplitude(lr_init, k) * np.exp(-lam[k - 1] * t)
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
            x2, d, p = _gls_chi2(t[use], (a_hat - a_theory)[use], se_tot[use], lam[k - 1])
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
        for j in (2, 3):
            if j <= len(lam):
                fit[f"z_vs_lambda_{j}"] = (fit["rate"] - lam[j - 1]) / fit["rate_se"] \
                    if fit["rate_se"] and math.isfinite(fit["rate_se"]) else math.nan
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
    rates["distance"] = _fit_log_rate(t[dist_use], tvs["tv"][dist_use], tvs["se"][dist_use])
    rates["distance"]["theory_rate"] = _fit_log_rate(
        t[dist_use], tv_exp[dist_use], tvs["se"][dist_use])["rate"]
    for j in (2, 3):
        if j <= len(lam):
            d = rates["distance"]
            d[f"z_vs_lambda_{j}"] = (d["rate"] - lam[j - 1]) / d["rate_se"] \
                if d["rate_se"] and math.isfinite(d["rate_se"]) else math.nan
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
    z_tv = (tvs["tv"] - tv_exp) / np.where(tvs["se"] > 0, tvs["se"], np.inf)
    p_tv = float(min(1.0, 2 * scipy.stats.norm.sf(np.max(np.abs(z_tv))) * R))
    checks.insert(1, Check(
        claim="TV distance to equilibrium matches the theory as measured (E[tv] at this N and binning)",
        test="|tv - E[tv]| / SE per record, Bonferroni over the records",
        level=level, statistic=float(np.max(np.abs(z_tv))), p_value=p_tv,
        outcome=VERIFIED if p_tv > level else NOT_VERIFIED,
        detail=f"{int(resolved.sum())} of {R} records resolved above the noise floor"))

    sep = _separation(theory)
    return Verdict(
        times=t, steps=np.asarray(result.steps), n=n, prediction=info,
        chi2=chi2, chi2_dof=dof, chi2_pvalues=pv,
        tv=tvs["tv"], tv_se=tvs["se"], tv_floor=tvs["floor"], tv_expected=tv_exp,
        tv_binned=tv_binned, tv_theory=tv_theory, tv_resolved=resolved,
        modes=mode_out, rates=rates, eigenvalues=np.asarray(lam), separation=sep,
        level=level, checks=checks, warnings=warn,
        run={"landscape": meta.get("landscape"), "init": meta.get("init"),
             "schedule": meta.get("schedule"), "dynamics": meta.get("dynamics"),
             "dt": meta.get("dt"), "n_particles": result.n_particles, "seed": meta.get("seed"),
             "lr_bath": theory.lr_bath, "n_bins": len(edges) - 1,
             "bin_range": [float(edges[0]), float(edges[-1])]},
    )


def _fit_log_rate(t, d, se) -> dict:
    """Weighted least squares of `ln d = c - r t` with weights `(d / se)^2`
    (records treated as independent)."""
    out = {"rate": math.nan, "rate_se": math.nan, "t_range": [math.nan, math.nan]}
    ok = (d > 0) & (se > 0)
    if ok.sum() < 3:
        return out
    t, y, w = t[ok], np.log(d[ok]), (d[ok] / se[ok]) ** 2
    x = np.stack([np.ones_like(t), -t], 1)
    cov = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = cov @ x.T @ (w * y)
    out.update(rate=float(beta[1]), rate_se=float(math.sqrt(cov[1, 1])),
               t_range=[float(t.min()), float(t.max())])
    return out


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
    tx = float(tau_x(theory, theory.lr_bath))
    ty = 1.0 / float(theory.eigenvalues[1])
    const = bool(np.ptp(theory.log_curvature) < 1e-12)
    return {"tau_x": tx, "tau_y": ty, "ratio": tx / ty, "valley_curvature_constant": const,
            "note": ("constant valley curvature: the river decouples and the 1D theory is exact"
                     if const else "the 1D theory is a coarse-graining; errors ~ tau_x / tau_y")}


def _mismatches(result: SimulationResult, theory: FokkerPlanck) -> list[str]:
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


# ---------------------------------------------------------------------------
# Crossings
# ---------------------------------------------------------------------------
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

    Check: "verified" if a crossing is found, the prediction lies in the
    interval and both curves are resolved above their noise floors between the
    bracketing records (or if none is predicted within the records and none is
    found); "inconclusive (below noise floor)" if a curve is not resolved there
    (near the predicted crossing when none is found); otherwise "not verified".
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
        if (ia.get("kind") == ib.get("kind") == "equilibrium" and v_a.prediction["method"].startswith(
                "quench") and v_b.prediction["method"].startswith("quench")):
            pred_cont = theory.crossing_time(ia["lr"], ib["lr"])
    lo, hi = found["ci"]
    if found["found"]:
        near = (t >= found["t1"]) & (t <= found["t2"])
        resolved = bool(np.all(v_a.tv_resolved[near]) and np.all(v_b.tv_resolved[near]))
    else:
        near = np.ones_like(t, bool) if not math.isfinite(pred) else (
            np.abs(t - pred) <= np.diff(t).max(initial=0.0))
        resolved = bool(np.all(v_a.tv_resolved[near]) and np.all(v_b.tv_resolved[near]))
    if found["found"] and math.isfinite(pred):
        outcome = (VERIFIED if lo <= pred <= hi else NOT_VERIFIED) if resolved else INCONCLUSIVE
    elif found["found"]:  # a crossing where the theory predicts none in the window
        outcome = NOT_VERIFIED
    elif math.isfinite(pred):
        outcome = NOT_VERIFIED if resolved else INCONCLUSIVE
    else:  # none predicted within the records, none found
        outcome = VERIFIED
    detail = (f"measured {found['time']:.4g} in [{lo:.4g}, {hi:.4g}]; predicted (as measured) "
              f"{pred:.4g}, binned {pred_binned:.4g}, continuum {pred_cont:.4g}")
    check = Check(
        claim="the distance curves cross where the theory predicts",
        test=(f"{100 * (1 - level):g}% confidence interval by test inversion (|delta tv| <= "
              "z SE, two independent runs) contains the predicted crossing of E[tv]; both curves "
              "resolved above the noise floor between the bracketing records"),
        level=level, statistic=found["time"], p_value=None, outcome=outcome, detail=detail)
    return CrossingVerdict(
        time=found["time"], ci=(lo, hi), level=level, predicted=pred,
        predicted_binned=pred_binned, predicted_continuum=pred_cont, resolved=resolved,
        check=check, detail=found)
