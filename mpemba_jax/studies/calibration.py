"""Calibration of every check: false-rejection rates on null runs, power against alternatives.

A verdict is only as good as its checks. This study measures, on many
independent runs whose theory is exact (`calibration_cases.NULL_CASES`), how
often each check of `validate` rejects the true theory (its size, against
the nominal level, with a Clopper–Pearson interval), and how often it rejects
the stated alternatives (`calibration_cases.ALTERNATIVES`: its power), at
several particle numbers.

Many null runs are cheap: one `simulate` of `M * N` particles with
`n_groups = M * G` and `group_histograms=True` holds `M` independent runs of
`N` particles (whole noise blocks each), every one with `G` replicate groups
of its own for the checks that need them (`split_replicates`). Predictions
are made once per start and theory and shared by the replicates. Each
alternative theory's eigenfunctions are recorded as observables of the same
run, so its `A_k` are what a user of that theory would measure.

Checks measured (their p-values, so any level can be read off):
`validate`'s histogram chi-square per record (Bonferroni) and summed over
records, TV against `E[tv]` (Bonferroni), `A_k(0) = a_k`, `A_k(t)` jointly
(GLS), the `A_k` decay rates; the study-level equivalence test of `a_2` with
the margin at the true `|a_2|` (its false "verified" rate), and the TV
decay-rate difference of two independent runs of one start (jackknife SE).

`run_calibration` returns a JSON-able dict (`docs/validation/calibration.json`
holds the committed one, `experiments/make_tables.py` turns it into tables).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.stats

from ..engine import equilibrium, simulate
from ..record import SimulationResult
from ..schedules import constant
from ..theory import em_bias
from ..validation import (binomial_interval, cell_probabilities, equivalence_check,
                          fit_amplitude, predict, rate_difference, validate)
from .calibration_cases import ALTERNATIVES, NULL_CASES, NullCase, entropic_valley

__all__ = ["CHECKS", "LEVELS", "run_calibration", "split_replicates", "with_observables",
           "check_pvalues", "size_failures"]

# name -> (claim prefix in a Verdict, kind). "exact": the size should equal the level;
# "conservative": Bonferroni over correlated records, the size may fall below it.
CHECKS = {
    "histogram per record": ("histograms match the predicted bin probabilities at every", "conservative"),
    "histogram, all records": ("histograms match the predicted bin probabilities jointly", "exact"),
    "TV vs E[tv]": ("TV distance to equilibrium", "conservative"),
    "A_2(0)": ("A_2(0)", "exact"),
    "A_3(0)": ("A_3(0)", "exact"),
    "A_2(t) (GLS)": ("A_2(t)", "exact"),
    "A_3(t) (GLS)": ("A_3(t)", "exact"),
    "A_2 rate": ("A_2 decays", "exact"),
    "A_3 rate": ("A_3 decays", "exact"),
}
STUDY_CHECKS = {"a_2 equivalence at the margin": "exact",
                "TV rate difference (jackknife)": "exact"}
LEVELS = (0.01, 0.05)


def split_replicates(result: SimulationResult, n_replicates: int) -> list[SimulationResult]:
    """`n_replicates` independent runs from one run with `group_histograms=True`: consecutive
    blocks of `n_groups / n_replicates` groups each, every one keeping its groups as its
    own replicate groups (`group_counts`, `group_sums`)."""
    b = result.batch
    if b.group_counts is None:
        raise ValueError("result must be run with group_histograms=True")
    G = b.group_counts.shape[2]
    if n_replicates < 1 or G % n_replicates:
        raise ValueError(f"n_replicates must divide the run's {G} groups; got {n_replicates}")
    per = G // n_replicates
    out = []
    for i in range(n_replicates):
        sl = slice(i * per, (i + 1) * per)
        gc, gs = b.group_counts[:, :, sl], b.group_sums[:, :, sl]
        tot = gc.sum(2)
        meta = dict(b.metadata, replicate=i, n_particles=int(tot[0, 0].sum()), n_groups=per)
        out.append(SimulationResult(dataclasses.replace(
            b, counts=tot[..., 1:-2], underflow=tot[..., 0], overflow=tot[..., -2],
            nonfinite=tot[..., -1], sums=gs.sum(2), group_sums=gs, group_counts=gc,
            metadata=meta)))
    return out


def with_observables(result: SimulationResult, rename: dict[str, str],
                     init: dict | None = None) -> SimulationResult:
    """The same run with recorded observables renamed (`{"u2_alt": "u2", ...}`; the ones
    displaced get a `_null` suffix) and, optionally, another stated start `init`."""
    b = result.batch
    clash = {new for new in rename.values()}
    names = []
    for name in b.sum_names:
        base, sq = (name[:-2], "^2") if name.endswith("^2") else (name, "")
        if base in rename:
            base = rename[base]
        elif base in clash:
            base = base + "_null"
        names.append(base + sq)
    obs = [rename.get(o, o + "_null" if o in clash else o) for o in b.metadata["observables"]]
    meta = dict(b.metadata, observables=obs)
    if init is not None:
        meta["init"] = init
    return SimulationResult(dataclasses.replace(b, sum_names=tuple(names), metadata=meta))


def check_pvalues(verdict) -> dict[str, float]:
    """`{check name: p-value}` of `validate`'s checks (`nan` where a check was not made)."""
    out = {}
    for name, (prefix, _) in CHECKS.items():
        hit = [c for c in verdict.checks if c.claim.startswith(prefix)]
        out[name] = float(hit[0].p_value) if hit and hit[0].p_value is not None else math.nan
    return out


def _obs_name(k: int, tag: str) -> str:
    """The observable holding `u_k` of theory `tag` (an identifier)."""
    return f"u{k}" if tag == "null" else f"u{k}_" + re.sub(r"\W", "_", tag)


def _observables(theories: dict[str, object]) -> dict[str, Callable]:
    """`u2`, `u3` of every theory, under `_obs_name`."""
    obs = {}
    for tag, fp in theories.items():
        for k in (2, 3):
            u = fp.left_eigenfunction(k)
            obs[_obs_name(k, tag)] = (lambda u: lambda x, y: u(y))(u)
    return obs


def _run(case: NullCase, n: int, m: int, groups: int, seed: int, dt: float, obs: dict,
         progress: bool) -> list[SimulationResult]:
    if n % groups:
        raise ValueError(f"n_particles {n} must be a multiple of groups={groups}")
    res = simulate(case.landscape(), constant(case.lr_bath), n_particles=n * m,
                   n_steps=int(round(case.t_end / dt)), dt=dt, seed=seed,
                   init=equilibrium(case.lr_init), record_steps=case.record_steps(dt),
                   bins=case.bins, bin_range=case.bin_range, observables=obs,
                   block_size=n // groups, n_groups=m * groups, group_histograms=True,
                   progress=progress)
    return split_replicates(res, m)


def _alt_theories(case: NullCase, alternatives) -> dict[str, object]:
    """The theories the case's alternatives predict with (tag -> FokkerPlanck)."""
    out = {}
    for alt in alternatives:
        if alt.kind == "theory_lr":
            out[alt.name] = case.theory(lr_bath=case.lr_bath * alt.factor)
        elif alt.kind == "valley_dim":
            out[alt.name] = case.theory(landscape=entropic_valley(int(alt.factor)))
    return out


def _validate_all(reps, fp, *, rename=None, init=None, level: float):
    """`validate` every replicate against `fp` with one shared prediction; returns the
    verdicts and the predicted cell probabilities `(R, n_bins + 2)`."""
    views = [with_observables(r, rename or {}, init) if (rename or init) else r for r in reps]
    pred = predict(views[0], fp)
    probs = cell_probabilities(fp, pred[0], np.asarray(views[0].bin_edges, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the alternatives' mismatches are deliberate
        return [validate(v, fp, level=level, prediction=pred) for v in views], probs


def _noncentrality(true: np.ndarray, tested: np.ndarray) -> float:
    """Mean over records of the chi-square noncentrality per particle,
    `sum_i (P_i - p_i)^2 / p_i` for true cell probabilities `P` tested against `p`."""
    return float(np.mean(np.sum((true - tested) ** 2 / np.where(tested > 0, tested, np.inf), -1)))


def _study_pvalues(reps, verdicts, fp, case: NullCase) -> dict[str, list[float]]:
    """The equivalence test at the margin `|a_2|` (cases with `a_2 != 0`) and the TV rate
    difference of replicate pairs (`nan` where it cannot be made)."""
    lam = fp.eigenvalues
    a2 = float(fp.amplitude(case.lr_init, 2))
    out = {"a_2 equivalence at the margin": [], "TV rate difference (jackknife)": []}
    for v in verdicts:
        m = v.modes[2]
        if abs(a2) > 1e-6:
            est, se = fit_amplitude(v.times, m["A"], m["se"], lam[1])
            out["a_2 equivalence at the margin"].append(
                equivalence_check("|a_2| < margin", est, se, abs(a2), 0.01).p_value)
    for i in range(0, len(reps) - 1, 2):
        d = rate_difference(reps[i], verdicts[i], reps[i + 1], verdicts[i + 1], fp,
                            t_min=1.0 / lam[2])
        out["TV rate difference (jackknife)"].append(
            float(2 * scipy.stats.norm.sf(abs(d["delta"] - d["predicted"]) / d["se"]))
            if math.isfinite(d["delta"]) else math.nan)
    return out


def _tally(pvalues: dict[str, list[float]], levels, kinds: dict[str, str]) -> dict:
    """Per check: `runs`, `made` (runs in which the check was made: `validate` makes a rate
    check only for a significant amplitude, the rate difference needs resolved records),
    `rejected` (p <= level, a check not made rejects nothing) with its rate over all runs
    and 95% Clopper–Pearson interval. For the equivalence test a rejection is a (false)
    "verified"."""
    out = {}
    for name, ps in pvalues.items():
        p = np.asarray(ps, float)
        row = {"kind": kinds[name], "runs": int(len(p)), "made": int(np.isfinite(p).sum()),
               "rejected": {}, "rate": {}, "interval": {}}
        for a in levels:
            k = int(np.sum(np.nan_to_num(p, nan=2.0) <= a))
            row["rejected"][f"{a:g}"] = k
            row["rate"][f"{a:g}"] = k / len(p) if len(p) else math.nan
            row["interval"][f"{a:g}"] = (list(binomial_interval(k, len(p))) if len(p)
                                         else [math.nan, math.nan])
        out[name] = row
    return out


def run_calibration(*, n_particles=(1024, 4096, 16384), n_replicates: int = 200,
                    groups: int = 16, seed: int = 0, cases=None, alternatives=None,
                    levels=LEVELS, power_level: float = 0.01, progress: bool = False,
                    log: Callable[[str], None] = print) -> dict:
    """Measure every check's size on the null cases and its power against the alternatives.

    Args:
      n_particles: particles per run (each a multiple of `groups`).
      n_replicates: independent runs per case and particle number.
      groups: replicate groups inside each run (for the aggregate chi-square and
        the jackknife).
      seed: the first seed; each (case, N) run gets its own.
      cases, alternatives: names to restrict to (default: all).
      levels: levels at which sizes are read off; power_level: the level of power.

    Returns a JSON-able dict: `settings`, `cases` (descriptions, EM-bias estimates),
    `alternatives` (each with the chi-square noncentrality per particle and record it
    adds, `noncentrality_per_particle`: times N, what a histogram of N particles
    sees), `size[case][N][check]`, `power[alternative][N][check]` (see `_tally`), timings.
    """
    started = time.perf_counter()
    kinds = {k: v[1] for k, v in CHECKS.items()} | STUDY_CHECKS
    case_names = list(NULL_CASES) if cases is None else list(cases)
    alts = [a for a in ALTERNATIVES if (alternatives is None or a.name in alternatives)
            and a.case in case_names]
    out = {"settings": {"n_particles": list(n_particles), "n_replicates": n_replicates,
                        "groups": groups, "seed": seed, "levels": list(levels),
                        "power_level": power_level},
           "cases": {}, "alternatives": {a.name: dataclasses.asdict(a) for a in alts},
           "size": {}, "power": {a.name: {} for a in alts}, "timing": {}}
    run_seed = seed
    for cname in case_names:
        case = NULL_CASES[cname]
        fp = case.theory()
        mine = [a for a in alts if a.case == cname]
        theories = {"null": fp} | _alt_theories(case, mine)
        obs = _observables(theories)
        steps = case.record_steps()
        bias = em_bias(fp, case.dt, steps, {"start": case.lr_init},
                       np.linspace(*case.bin_range, case.bins + 1), max(n_particles))["start"]
        out["cases"][cname] = {"description": case.description, "lr_bath": case.lr_bath,
                               "lr_init": case.lr_init, "dt": case.dt, "t_end": case.t_end,
                               "records": case.n_records, "bins": case.bins,
                               "eigenvalues": [float(x) for x in fp.eigenvalues[:4]],
                               "em_bias_at_largest_n": bias}
        out["size"][cname] = {}
        for n in n_particles:
            t0 = time.perf_counter()
            run_seed += 1
            reps = _run(case, n, n_replicates, groups, run_seed, case.dt, obs, progress)
            t_run = time.perf_counter() - t0
            verdicts, probs = _validate_all(reps, fp, level=power_level)
            pv = {k: [] for k in CHECKS}
            for v in verdicts:
                for k, p in check_pvalues(v).items():
                    pv[k].append(p)
            pv |= _study_pvalues(reps, verdicts, fp, case)
            out["size"][cname][str(n)] = _tally(pv, levels, kinds)
            for alt in mine:
                t1 = time.perf_counter()
                if alt.kind == "dt":
                    run_seed += 1
                    dt_alt = case.dt * alt.factor
                    alt_reps = _run(case, n, n_replicates, groups, run_seed, dt_alt, obs, progress)
                    alt_v, _ = _validate_all(alt_reps, fp, level=power_level)
                    ncp = em_bias(fp, dt_alt, case.record_steps(dt_alt), {"s": case.lr_init},
                                  np.asarray(reps[0].bin_edges, float), 1)["s"]
                    ncp = ncp["chi2_noncentrality_mean"]
                elif alt.kind == "init_lr":
                    init = {"kind": "equilibrium", "lr": case.lr_init * alt.factor}
                    alt_v, alt_probs = _validate_all(reps, fp, init=init, level=power_level)
                    ncp = _noncentrality(probs, alt_probs)
                else:
                    rename = {_obs_name(k, alt.name): f"u{k}" for k in (2, 3)}
                    alt_v, alt_probs = _validate_all(reps, theories[alt.name], rename=rename,
                                                     level=power_level)
                    ncp = _noncentrality(probs, alt_probs)
                out["alternatives"][alt.name]["noncentrality_per_particle"] = ncp
                apv = {k: [] for k in CHECKS}
                for v in alt_v:
                    for k, p in check_pvalues(v).items():
                        apv[k].append(p)
                out["power"][alt.name][str(n)] = _tally(apv, (power_level,), kinds)
                out["timing"][f"{alt.name} N={n}"] = time.perf_counter() - t1
            out["timing"][f"{cname} N={n}"] = time.perf_counter() - t0
            log(f"{cname} N={n}: {n_replicates} runs in {t_run:.0f} s, validated in "
                f"{time.perf_counter() - t0 - t_run:.0f} s")
    out["wall_seconds"] = time.perf_counter() - started
    return out


def size_failures(size: dict, *, tail: float) -> list[str]:
    """Checks whose false-rejection count lies outside the binomial band `[ppf(tail),
    isf(tail)]` of the nominal level (upper side only for conservative checks, and for
    checks not made in every run). `size`: one `out["size"][case][N]` table. Returns
    descriptions of the failures."""
    bad = []
    for name, row in size.items():
        n = row["runs"]
        if not n:
            continue
        for a, k in row["rejected"].items():
            lvl = float(a)
            hi = scipy.stats.binom.isf(tail, n, lvl)
            lo = scipy.stats.binom.ppf(tail, n, lvl)
            two_sided = row["kind"] == "exact" and row["made"] == n
            if k > hi or (two_sided and k < lo):
                bad.append(f"{name} at level {a}: {k} of {n} rejected (band "
                           f"[{lo if two_sided else 0:g}, {hi:g}])")
    return bad
