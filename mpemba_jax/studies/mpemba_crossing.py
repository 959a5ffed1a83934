"""The Mpemba-crossing study: particles against theory through a strong Mpemba point.

Quenches a landscape with a strong Mpemba point from equilibrium at three
plateau LRs to the bath LR (THEORY sections 4 and 5): a cold plateau (largest
`|a_2|` below `lr*`), a hot one (above `lr*`, `a_2(hot) = -a_2(cold) / 2`
unless given) and `lr*` itself, where `a_2 = 0` and relaxation runs at
`lambda_3`. Each run records the river histogram and `A_k = mean u_k(y)` for
k = 2, 3; `validate` tests each against the Fokker–Planck prediction,
`validate_crossing` measures where the cold and hot distance curves cross, and
`em_bias` bounds what the Euler–Maruyama step moves.

`run_mpemba_crossing` runs it; `write_crossing_outputs` writes `verdict.json`
and `mpemba_crossing.png`; `print_crossing_summary` prints what they say.
`mpemba-jax validate` is these three calls.

Example:
  >>> land = mj.preset("box_wells", **DEFAULT_PARAMS["box_wells"])
  >>> study = run_mpemba_crossing(land, n_particles=10**6)       # doctest: +SKIP
  >>> write_crossing_outputs(study, "runs/mpemba_crossing", settings={})  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats

from ..engine import equilibrium, simulate
from ..io.results import jsonable
from ..schedules import constant
from ..theory import FokkerPlanck, choose_plateaus, em_bias
from ..validation import (HEAVY_TAILED, INCONCLUSIVE, NOT_VERIFIED, VERIFIED, Check,
                          CrossingVerdict, Verdict, validate, validate_crossing)
from .crossing_figure import draw_crossing_figure

__all__ = ["DEFAULT_PARAMS", "CrossingStudy", "run_mpemba_crossing", "crossing_checks",
           "write_crossing_outputs", "print_crossing_summary"]

# The valley stiffness of the default run: at the preset's a0 = 3 box_wells has
# tau_x / tau_y = 0.04, and the valley's lag after the quench moves A_2 by
# about -0.003, which 10^6 particles resolve (experiments/coarse_graining.py).
# a0 only shifts F_T by a constant, so the theory (lr*, a_k, lambda_k) is unchanged.
DEFAULT_PARAMS = {"box_wells": {"a0": 30.0}}

STARTS = ("cold", "hot", "star")


@dataclasses.dataclass
class CrossingStudy:
    """What one Mpemba-crossing study measured.

    plateaus: start -> plateau LR (`"cold"`, `"hot"`, `"star"` = `lr*`).
    amplitudes: start -> `[a_1, a_2, a_3, a_4]` at that plateau.
    results, verdicts: start -> the run and `validate`'s verdict on it.
    crossing, crossing_star: cold/hot and cold/lr* crossings of the TV curves.
    em_bias: start -> the Euler–Maruyama bias bounds (`em_bias`) and what the
      histograms show of it.
    checks: the study's summary checks (`crossing_checks`).
    timing: start -> wall and CPU seconds of its run; started: `perf_counter` at start.
    """

    landscape: Any
    fp: FokkerPlanck
    plateaus: dict[str, float]
    amplitudes: dict[str, list[float]]
    n_particles: int
    n_steps: int
    record_steps: np.ndarray
    results: dict[str, Any]
    verdicts: dict[str, Verdict]
    crossing: CrossingVerdict
    crossing_star: CrossingVerdict
    em_bias: dict[str, dict]
    checks: list[Check]
    timing: dict[str, dict[str, float]]
    started: float


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_mpemba_crossing(landscape, *, lr_bath: float = 0.01, lr_cold: float | None = None,
                        lr_hot: float | None = None, n_particles: int = 10**6,
                        dt: float = 0.05, t_end: float = 250.0, record_every: int = 100,
                        bins: int = 40, seed: int = 0, n_grid: int = 2000, level: float = 0.01,
                        crossing_level: float = 0.05, integrator: str = "euler_maruyama",
                        chunk_size: int | None = None, progress: bool = True,
                        log: Callable[[str], None] = print) -> CrossingStudy:
    """Quench `landscape` from the cold, hot and `lr*` plateaus to `lr_bath` and test
    every record against the theory. Starts use seeds `seed`, `seed + 1`, `seed + 2`;
    `n_steps = round(t_end / dt)`, a record every `record_every` steps. `log` gets the
    plateaus before and one line per run after it ran.
    """
    started = time.perf_counter()
    if isinstance(n_particles, bool) or int(n_particles) != n_particles or n_particles < 1:
        raise ValueError(f"n_particles must be a positive integer; got {n_particles!r}")
    if not (dt > 0 and t_end > 0):
        raise ValueError(f"dt and t_end must be > 0; got dt={dt!r}, t_end={t_end!r}")
    n_particles = int(n_particles)
    fp = FokkerPlanck(landscape, lr_bath, n_grid=n_grid, n_modes=8, lr_max=10 * lr_bath)
    lrs = choose_plateaus(fp, lr_cold, lr_hot)
    a = {k: fp.amplitudes(v)[:4].tolist() for k, v in lrs.items()}
    lam = fp.eigenvalues
    log(f"{landscape!r}")
    log(f"lr_bath={fp.lr_bath:g}  lambda_2={lam[1]:.5g}  lambda_3={lam[2]:.5g}  "
        f"lambda_3/lambda_2={lam[2] / lam[1]:.3g}")
    for k in STARTS:
        log(f"  {k:>4}: lr={lrs[k]:.6g}  a_2={a[k][1]:+.5f}  a_3={a[k][2]:+.4f}")
    if not abs(a["hot"][1]) < abs(a["cold"][1]):
        raise ValueError("the hot plateau must have |a_2| below the cold one's (Mpemba pair)")

    n_steps = int(round(t_end / dt))
    record_steps = np.arange(0, n_steps + 1, record_every)
    u2, u3 = fp.left_eigenfunction(2), fp.left_eigenfunction(3)
    observables = {"u2": lambda x, y: u2(y), "u3": lambda x, y: u3(y)}
    edges = (np.linspace(*landscape.support(fp.temperature), bins + 1)
             if landscape.domain is None else bins)
    results, verdicts, timing = {}, {}, {}
    for i, k in enumerate(STARTS):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        res = simulate(landscape, constant(fp.lr_bath), n_particles=n_particles, n_steps=n_steps,
                       dt=dt, seed=seed + i, init=equilibrium(lrs[k]),
                       record_steps=record_steps, bins=edges, observables=observables,
                       integrator=integrator, chunk_size=chunk_size, progress=progress)
        timing[k] = {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu_seconds() - c0}
        results[k] = res
        verdicts[k] = validate(res, fp, level=level)
        log(f"  ran {k}: {n_particles:,} particles x {n_steps} steps in "
            f"{timing[k]['wall_s']:.1f} s ({timing[k]['cpu_s']:.1f} CPU s)")
    cross = validate_crossing(verdicts["cold"], verdicts["hot"], theory=fp, level=crossing_level)
    cross_star = validate_crossing(verdicts["cold"], verdicts["star"], theory=fp,
                                   level=crossing_level)
    bias = em_bias(fp, dt, record_steps, lrs, results["cold"].bin_edges, n_particles)
    for k, v in verdicts.items():  # what the histograms show of it
        bias[k]["chi2_excess_measured_mean"] = float(np.mean((v.chi2 - v.chi2_dof)[v.times > 0]))
    return CrossingStudy(
        landscape=landscape, fp=fp, plateaus=lrs, amplitudes=a, n_particles=n_particles,
        n_steps=n_steps, record_steps=record_steps, results=results, verdicts=verdicts,
        crossing=cross, crossing_star=cross_star, em_bias=bias,
        checks=crossing_checks(verdicts, cross, fp, level), timing=timing, started=started)


def crossing_checks(verdicts: dict[str, Verdict], cross: CrossingVerdict, fp: FokkerPlanck,
                    level: float) -> list[Check]:
    """The study's claims as checks: the curves cross where predicted; `A_2(0) = a_2`
    at each plateau; at `lr*`, `A_2` stays zero, `A_3` is not zero, and relaxation runs
    at `lambda_3`, not `lambda_2` (two-sided tests at `level`)."""
    z2 = scipy.stats.norm.isf(level / 2)
    out = [cross.check]
    for k in STARTS:
        c = verdicts[k].check("A_2(0)")
        out.append(Check(claim=f"A_2(0) = a_2 at the {k} plateau", test=c.test, level=c.level,
                         statistic=c.statistic, p_value=c.p_value, outcome=c.outcome,
                         detail=c.detail))
    v = verdicts["star"]
    c2 = v.check("A_2(t) follows")
    out.append(Check(claim="at lr*, A_2 is indistinguishable from zero at every record",
                     test=c2.test + " (theory a_2(lr*) = 0)", level=level,
                     statistic=c2.statistic, p_value=c2.p_value, outcome=c2.outcome,
                     detail=f"max |A_2| / SE = {np.max(np.abs(v.modes[2]['A'] / v.modes[2]['se'])):.2f}"))
    z3 = float(v.modes[3]["A"][0] / v.modes[3]["se"][0])
    out.append(Check(claim="at lr*, A_3 is not zero", test="|A_3(0)| / SE > z_{1-level/2}",
                     level=level, statistic=z3, p_value=float(2 * scipy.stats.norm.sf(abs(z3))),
                     outcome=(HEAVY_TAILED if v.modes[3]["heavy_tailed"] else
                              VERIFIED if abs(z3) > z2 else NOT_VERIFIED),
                     detail=f"z = {z3:.1f}"))
    r3, rd = v.rates["A3"], v.rates["distance"]
    lam2, lam3 = fp.eigenvalues[1], fp.eigenvalues[2]
    ok3 = abs(r3["z_vs_lambda_3"]) < z2 and abs(r3["z_vs_lambda_2"]) > z2
    okd = math.isfinite(rd["z_vs_lambda_2"]) and rd["z_vs_lambda_2"] > z2
    resolved = rd["records"] >= 3
    out.append(Check(
        claim="at lr*, relaxation runs at lambda_3, not lambda_2",
        test=("GLS rate of A_3 within z_{1-level/2} SE of lambda_3 and beyond it from lambda_2; "
              "log-slope of the resolved TV distance above lambda_2 by more than z_{1-level/2} SE"),
        level=level, statistic=float(r3["z_vs_lambda_3"]), p_value=None,
        outcome=(HEAVY_TAILED if v.modes[3]["heavy_tailed"] else VERIFIED if ok3 and okd
                 else INCONCLUSIVE if not resolved else NOT_VERIFIED),
        detail=(f"A_3 rate {r3['rate']:.5f} +- {r3['rate_se']:.5f} (lambda_3 {lam3:.5f}, "
                f"lambda_2 {lam2:.5f}); distance rate {rd['rate']:.5f} +- {rd['rate_se']:.5f} "
                f"over {rd['records']} resolved records (theory as measured {rd['theory_rate']:.5f})")))
    return out


def write_crossing_outputs(study: CrossingStudy, out: str | os.PathLike, *,
                           settings: dict, figure: str | os.PathLike | None = None,
                           command: str = "mpemba-jax validate") -> tuple[str, str]:
    """Write `out/mpemba_crossing.png` (and a copy at `figure`) and `out/verdict.json`
    (settings, landscape, theory, plateaus, amplitudes, EM bias, checks, crossings,
    verdicts, timing); returns the paths of the JSON and the figure."""
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, "mpemba_crossing.png")
    draw_crossing_figure(study.verdicts, study.results, study.fp, study.plateaus, study.crossing,
                         png, study.checks)
    if figure:
        os.makedirs(os.path.dirname(os.path.abspath(figure)), exist_ok=True)
        shutil.copyfile(png, figure)
    verdicts = study.verdicts
    se = {k: float(verdicts[k].modes[2]["se"].max()) for k in verdicts}
    report = {
        "command": command,
        "settings": settings,
        "landscape": study.landscape.describe(),
        "theory": study.fp.describe(),
        "plateaus": study.plateaus,
        "amplitudes": study.amplitudes,
        "separation": verdicts["cold"].separation,
        "em_bias": {"per_start": study.em_bias, "largest_A2_se": se,
                    "method": "EM transition kernel of the 1D river vs mj.evolve at the same dt"},
        "checks": [c.__dict__ for c in study.checks],
        "crossing_cold_hot": study.crossing.to_dict(),
        "crossing_cold_star": study.crossing_star.to_dict(),
        "verdicts": {k: v.to_dict() for k, v in verdicts.items()},
        "timing": study.timing,
        "wall_seconds": time.perf_counter() - study.started,
    }
    path = os.path.join(out, "verdict.json")
    with open(path, "w") as f:
        json.dump(jsonable(report), f, indent=1, allow_nan=False)
    return path, png


def print_crossing_summary(study: CrossingStudy, log: Callable[[str], None] = print) -> None:
    """The separation, EM bias, every verdict's numbers and checks, both crossings and the
    summary checks, one line each."""
    verdicts = study.verdicts
    sep = verdicts["cold"].separation
    se = {k: float(verdicts[k].modes[2]["se"].max()) for k in verdicts}
    log(f"separation tau_x/tau_y = {sep['ratio']:.3g} (tau_x={sep['tau_x']:.3g}, "
        f"tau_y={sep['tau_y']:.4g})")
    for k, b in study.em_bias.items():
        log(f"  EM bias ({k}): |dA_2| <= {b['A2']:.2g}, |dA_3| <= {b['A3']:.2g}, "
            f"|dTV| <= {b['tv']:.2g}  (SE of A_2 ~ {se[k]:.2g}); chi-square noncentrality "
            f"predicted {b['chi2_noncentrality_mean']:.3g} (mean over records), measured "
            f"X^2 - dof {b['chi2_excess_measured_mean']:.3g} (mean over t > 0)")
    for k, v in verdicts.items():
        m2, m3 = v.modes[2], v.modes[3]
        r2, r3, rd = v.rates["A2"], v.rates["A3"], v.rates["distance"]
        log(f"{k:>4}: A_2(0)={m2['A'][0]:+.5f}+-{m2['se'][0]:.5f} (a_2={m2['theory'][0]:+.5f}); "
            f"A_3(0)={m3['A'][0]:+.4f}+-{m3['se'][0]:.4f} (a_3={m3['theory'][0]:+.4f})")
        log(f"      rate A_3 {r3['rate']:.5f}+-{r3['rate_se']:.5f}, rate A_2 {r2['rate']:.5f}+-"
            f"{r2['rate_se']:.5f}, distance {rd['rate']:.5f}+-{rd['rate_se']:.5f} "
            f"(theory as measured {rd['theory_rate']:.5f}) over t in {rd['t_range']}")
        log(f"      chi2 p-values: min {v.chi2_pvalues.min():.3g}, median "
            f"{np.median(v.chi2_pvalues):.3g}; {int(v.tv_resolved.sum())}/{len(v.times)} "
            f"records resolved above the noise floor {v.tv_floor[0]:.4f}")
        for c in v.checks:
            log(f"      [{c.outcome}] {c.claim} ({c.detail})")
    for name, c in (("cold/hot", study.crossing), ("cold/lr*", study.crossing_star)):
        log(f"crossing {name}: measured {c.time:.4g}, {100 * (1 - c.level):g}% CI "
            f"[{c.ci[0]:.4g}, {c.ci[1]:.4g}]; predicted as measured {c.predicted:.4g}, "
            f"binned {c.predicted_binned:.4g}, fp.crossing_time {c.predicted_continuum:.4g} "
            f"-> {c.check.outcome}")
    log("summary:")
    for c in study.checks:
        log(f"  [{c.outcome}] {c.claim}: {c.detail}")
