"""The Mpemba-crossing study: particles against theory through a strong Mpemba point.

Quenches a landscape with a strong Mpemba point from equilibrium at three
plateau LRs to the bath LR (THEORY sections 4 and 5): a cold plateau (largest
`|a_2|` below `lr*`), a hot one (above `lr*`, `a_2(hot) = -a_2(cold) / 2`
unless given) and `lr*` itself, where `a_2 = 0` and relaxation runs at
`lambda_3`. Each run records the river histogram, `A_k = mean u_k(y)` for
k = 2, 3 and `G` replicate groups (`group_histograms=True`); `validate` tests
each against the theory, and `crossing_claims.crossing_checks` states the
study's claims, each a test that could fail (`crossing_claims` says how).

The theory is one argument: `theory="continuum"` (the Fokker–Planck operator,
the `dt -> 0` limit; its Euler–Maruyama bias at the run's `dt` is estimated
by `em_bias` and named wherever the histograms resolve it), `"chain"` (the
theory of the discrete chain the integrator runs at the run's `dt`,
`FokkerPlanck(..., dt=dt, integrator=...)`, THEORY section 8), or a callable
`(landscape, lr_bath, n_grid, dt) -> FokkerPlanck`. With the continuum the
runs start from Boltzmann states (`mj.equilibrium`); with the chain from the
chain's own stationary states at the plateau LRs (`mj.chain_state`, the state a
long plateau reaches), and the plateaus, amplitudes and claims are those of
`start="chain"`. (A Boltzmann start on the chain carries the `O(dt)` difference
between the two states in its amplitudes, which moves its strong point: for
box_wells at `dt = 0.2` to 0.01095, next to the bath; docs/chain/report.md.)

`run_mpemba_crossing` runs one seed triple (`mpemba-jax validate --replicates`
runs several); `write_crossing_outputs` writes `verdict.json` (everything) and the figure;
`crossing_summary` is the small record committed under `docs/validation/`;
`print_crossing_summary` prints what they say. `mpemba-jax validate` is these.

Example:
  >>> land = mj.preset("box_wells", **DEFAULT_PARAMS["box_wells"])
  >>> study = run_mpemba_crossing(land, n_particles=10**6)       # doctest: +SKIP
  >>> write_crossing_outputs(study, "runs/mpemba_crossing", settings={})  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import chain_state, equilibrium, simulate
from ..io.results import jsonable
from ..schedules import constant
from ..theory import FokkerPlanck, choose_plateaus, em_bias
from ..validation import Check, CrossingVerdict, Verdict, validate, validate_crossing
from .crossing_claims import STARTS, crossing_checks, equivalence_margin
from .crossing_figure import draw_crossing_figure

__all__ = ["DEFAULT_PARAMS", "CrossingStudy", "run_mpemba_crossing", "make_theory", "write_crossing_outputs", "crossing_summary", "print_crossing_summary"]

# The valley stiffness of the default run: at the preset's a0 = 3 box_wells has
# tau_x / tau_y = 0.04, and the valley's lag after the quench moves A_2 by
# about -0.003, which 10^6 particles resolve (experiments/coarse_graining.py).
# a0 only shifts F_T by a constant, so the theory (lr*, a_k, lambda_k) is unchanged.
DEFAULT_PARAMS = {"box_wells": {"a0": 30.0}}


@dataclasses.dataclass
class CrossingStudy:
    """What one Mpemba-crossing study (one seed triple) measured.

    plateaus: start -> plateau LR (`"cold"`, `"hot"`, `"star"` = `lr*`).
    amplitudes: start -> `[a_1, a_2, a_3, a_4]` at that plateau.
    results, verdicts: start -> the run and `validate`'s verdict on it.
    crossing, crossing_star: cold/hot and cold/lr* crossings of the TV curves.
    discretisation: which theory (continuum or chain at `dt`) and what became
      of the step bias; em_bias: start -> `em_bias` (continuum theory only).
    checks: the study's claims (`crossing_checks`); rate_differences: the TV
      decay-rate differences behind the relaxation claims.
    timing: start -> wall and CPU seconds of its run; started: `perf_counter` at start.
    """

    landscape: Any
    fp: FokkerPlanck
    plateaus: dict[str, float]
    amplitudes: dict[str, list[float]]
    n_particles: int
    n_steps: int
    dt: float
    seeds: list[int]
    record_steps: np.ndarray
    results: dict[str, Any]
    verdicts: dict[str, Verdict]
    crossing: CrossingVerdict
    crossing_star: CrossingVerdict
    discretisation: dict
    em_bias: dict[str, dict] | None
    checks: list[Check]
    rate_differences: dict
    timing: dict[str, dict[str, float]]
    started: float


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_theory(landscape, lr_bath: float, n_grid: int, dt: float, kind="continuum",
                integrator: str = "euler_maruyama"):
    """The theory the particles are tested against: `(FokkerPlanck, description)`.

    `kind`: `"continuum"`, `"chain"` (the discrete chain the `integrator` runs at step
    `dt`, THEORY section 8), or a callable `(landscape, lr_bath, n_grid, dt) ->
    FokkerPlanck`."""
    common = dict(n_grid=n_grid, n_modes=8, lr_max=10 * lr_bath)
    if callable(kind):
        return kind(landscape, lr_bath, n_grid, dt), {"kind": getattr(kind, "__name__", "custom"),
                                                      "dt": dt}
    if kind == "continuum":
        return FokkerPlanck(landscape, lr_bath, **common), {"kind": "continuum", "dt": 0.0}
    if kind == "chain":
        fp = FokkerPlanck(landscape, lr_bath, dt=dt, integrator=integrator, **common)
        return fp, {"kind": "chain", "dt": dt, "integrator": integrator}
    raise ValueError(f"theory must be 'continuum', 'chain' or a callable; got {kind!r}")


def run_mpemba_crossing(landscape, *, lr_bath: float = 0.01, lr_cold: float | None = None,
                        lr_hot: float | None = None, n_particles: int = 10**6,
                        dt: float = 0.05, t_end: float = 250.0, record_every: int = 100,
                        bins: int = 40, seed: int = 0, n_grid: int = 2000, level: float = 0.01,
                        crossing_level: float = 0.05, integrator: str = "euler_maruyama",
                        theory="continuum", groups: int = 64, chunk_size: int | None = None,
                        progress: bool = True, log: Callable[[str], None] = print
                        ) -> CrossingStudy:
    """Quench `landscape` from the cold, hot and `lr*` plateaus to `lr_bath` and test
    every claim. Starts use seeds `seed`, `seed + 1`, `seed + 2`; `n_steps =
    round(t_end / dt)`, a record every `record_every` steps; each run keeps `groups`
    replicate groups. `theory`: see `make_theory`. `log` gets the plateaus before and
    one line per run after it ran.
    """
    started = time.perf_counter()
    if isinstance(n_particles, bool) or int(n_particles) != n_particles or n_particles < 1:
        raise ValueError(f"n_particles must be a positive integer; got {n_particles!r}")
    if not (dt > 0 and t_end > 0):
        raise ValueError(f"dt and t_end must be > 0; got dt={dt!r}, t_end={t_end!r}")
    if isinstance(groups, bool) or int(groups) != groups or groups < 3:
        raise ValueError(f"groups must be an integer >= 3; got {groups!r}")
    n_particles = int(n_particles)
    fp, described = make_theory(landscape, lr_bath, n_grid, dt, theory, integrator)
    # On the chain the runs start where long plateaus end: the chain's own stationary states.
    start = "chain" if described["kind"] == "chain" else "boltzmann"
    described["start"] = start
    # Each chain-start amplitude solves for the chain's stationary state: a coarser scan.
    lrs = choose_plateaus(fp, lr_cold, lr_hot, start=start, n_scan=24 if start == "chain" else 400)
    a = {k: fp.amplitudes(v, start)[:4].tolist() for k, v in lrs.items()}
    lam = fp.eigenvalues
    log(f"{landscape!r}; theory: {described['kind']}")
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
                       dt=dt, seed=seed + i,
                       init=chain_state(fp, lrs[k]) if start == "chain" else equilibrium(lrs[k]),
                       record_steps=record_steps, bins=edges, observables=observables,
                       integrator=integrator, chunk_size=chunk_size, n_groups=groups,
                       group_histograms=True, progress=progress)
        timing[k] = {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu_seconds() - c0}
        results[k] = res
        verdicts[k] = validate(res, fp, level=level)
        log(f"  ran {k}: {n_particles:,} particles x {n_steps} steps in "
            f"{timing[k]['wall_s']:.1f} s ({timing[k]['cpu_s']:.1f} CPU s)")
    cross = validate_crossing(verdicts["cold"], verdicts["hot"], theory=fp, level=crossing_level)
    cross_star = validate_crossing(verdicts["cold"], verdicts["star"], theory=fp,
                                   level=crossing_level)
    bias = None
    if described["kind"] == "continuum":
        bias = em_bias(fp, dt, record_steps, lrs, results["cold"].bin_edges, n_particles)
        for k, v in verdicts.items():  # what the histograms show of it
            bias[k]["chi2_excess_measured_mean"] = float(
                np.mean((v.chi2 - v.chi2_dof)[v.times > 0]))
        treatment = ("reported: the continuum theory leaves out the Euler–Maruyama bias at dt; "
                     "em_bias predicts it and a resolved bias is named in the histogram claims")
    elif described["kind"] == "chain":
        treatment = "removed: the theory is that of the discrete chain at the run's dt"
    else:
        treatment = f"not estimated: the theory was given ({described['kind']})"
    checks, diffs = crossing_checks(results, verdicts, cross, fp, lrs, a, level, bias)
    return CrossingStudy(
        landscape=landscape, fp=fp, plateaus=lrs, amplitudes=a, n_particles=n_particles,
        n_steps=n_steps, dt=dt, seeds=[seed, seed + 1, seed + 2], record_steps=record_steps,
        results=results, verdicts=verdicts, crossing=cross, crossing_star=cross_star,
        discretisation={"theory": described, "integrator": integrator, "dt": dt,
                        "treatment": treatment},
        em_bias=bias, checks=checks, rate_differences=diffs, timing=timing, started=started)


def _check_dict(c: Check) -> dict:
    return {"claim": c.claim, "outcome": c.outcome, "detail": c.detail, "test": c.test,
            "level": c.level, "statistic": c.statistic, "p_value": c.p_value}


def _crossing_dict(c: CrossingVerdict) -> dict:
    return {"time": c.time, "ci": list(c.ci), "predicted": c.predicted,
            "predicted_binned": c.predicted_binned, "predicted_continuum": c.predicted_continuum,
            "resolved": c.resolved, "outcome": c.check.outcome, "detail": c.check.detail}


def _start_dict(v: Verdict, level: float) -> dict:
    m2, m3, agg = v.modes[2], v.modes[3], v.chi2_aggregate
    return {
        "A2_0": float(m2["A"][0]), "A2_0_se": float(m2["se"][0]), "a2": float(m2["theory"][0]),
        "A3_0": float(m3["A"][0]), "A3_0_se": float(m3["se"][0]), "a3": float(m3["theory"][0]),
        "rates": {k: {"rate": r["rate"], "rate_se": r["rate_se"]} for k, r in v.rates.items()},
        "chi2_records_p_le_level": int(np.sum(v.chi2_pvalues <= level)),
        "chi2_min_p": float(v.chi2_pvalues.min()), "chi2_median_p": float(np.median(v.chi2_pvalues)),
        "aggregate": {k: agg[k] for k in ("excess", "excess_se", "p_value", "records", "groups",
                                          "method")},
        "tv_floor": float(v.tv_floor[0]), "tv_resolved_records": int(v.tv_resolved.sum()),
        "records": len(v.times), "checks": [_check_dict(c) for c in v.checks],
    }


def crossing_summary(study: CrossingStudy, *, settings: dict | None = None,
                     command: str | None = None) -> dict:
    """The small JSON-able record of one study (no per-record arrays)."""
    fp = study.fp
    return jsonable({
        "command": command, "settings": settings, "seeds": study.seeds,
        "n_particles": study.n_particles, "dt": study.dt, "n_steps": study.n_steps,
        "t_end": study.n_steps * study.dt, "records": len(study.record_steps),
        "landscape": study.landscape.describe(),
        "theory": {"lr_bath": fp.lr_bath, "eigenvalues": [float(x) for x in fp.eigenvalues[:4]],
                   **study.discretisation["theory"]},
        "discretisation": study.discretisation, "em_bias": study.em_bias,
        "plateaus": study.plateaus, "amplitudes": study.amplitudes,
        "equivalence_margin": equivalence_margin(study.amplitudes),
        "separation": study.verdicts["cold"].separation["ratio"],
        "checks": [_check_dict(c) for c in study.checks],
        "crossings": {"cold_hot": _crossing_dict(study.crossing),
                      "cold_star": _crossing_dict(study.crossing_star)},
        "rate_differences": study.rate_differences,
        "starts": {k: _start_dict(v, v.level) for k, v in study.verdicts.items()},
        "timing": study.timing, "wall_seconds": time.perf_counter() - study.started,
    })


def write_crossing_outputs(study: CrossingStudy, out: str | os.PathLike, *,
                           settings: dict, figure: str | os.PathLike | None = None,
                           command: str = "mpemba-jax validate") -> tuple[str, str]:
    """Write `out/mpemba_crossing.png` (and a copy at `figure`) and `out/verdict.json`
    (the summary plus every verdict in full); returns the paths of the JSON and figure."""
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, "mpemba_crossing.png")
    draw_crossing_figure(study.verdicts, study.results, study.fp, study.plateaus, study.crossing,
                         png, study.checks)
    if figure:
        os.makedirs(os.path.dirname(os.path.abspath(figure)), exist_ok=True)
        shutil.copyfile(png, figure)
    report = crossing_summary(study, settings=settings, command=command)
    report["theory"]["describe"] = study.fp.describe()
    report["crossing_cold_hot"] = study.crossing.to_dict()
    report["crossing_cold_star"] = study.crossing_star.to_dict()
    report["verdicts"] = {k: v.to_dict() for k, v in study.verdicts.items()}
    path = os.path.join(out, "verdict.json")
    with open(path, "w") as f:
        json.dump(jsonable(report), f, indent=1, allow_nan=False)
    return path, png


def print_crossing_summary(study: CrossingStudy, log: Callable[[str], None] = print) -> None:
    """The separation, the step bias, every verdict's numbers, both crossings and the
    study's claims, one line each."""
    verdicts = study.verdicts
    sep = verdicts["cold"].separation
    log(f"separation tau_x/tau_y = {sep['ratio']:.3g} (tau_x={sep['tau_x']:.3g}, "
        f"tau_y={sep['tau_y']:.4g}); discretisation: {study.discretisation['treatment']}")
    for k, b in (study.em_bias or {}).items():
        log(f"  EM bias ({k}): |dA_2| <= {b['A2']:.2g}, |dA_3| <= {b['A3']:.2g}, "
            f"|dTV| <= {b['tv']:.2g}; chi-square noncentrality predicted "
            f"{b['chi2_noncentrality_mean']:.3g} per record, measured X^2 - dof "
            f"{b['chi2_excess_measured_mean']:.3g} (mean over t > 0)")
    for k, v in verdicts.items():
        m2, m3 = v.modes[2], v.modes[3]
        r3, rd = v.rates["A3"], v.rates["distance"]
        log(f"{k:>4}: A_2(0)={m2['A'][0]:+.5f}+-{m2['se'][0]:.5f} (a_2={m2['theory'][0]:+.5f}); "
            f"A_3(0)={m3['A'][0]:+.4f}+-{m3['se'][0]:.4f} (a_3={m3['theory'][0]:+.4f}); rate A_3 "
            f"{r3['rate']:.5f}+-{r3['rate_se']:.5f}; distance {rd['rate']:.5f}")
        log(f"      {int(v.tv_resolved.sum())}/{len(v.times)} records resolved above the noise "
            f"floor {v.tv_floor[0]:.4f}")
        for c in v.checks:
            log(f"      [{c.outcome}] {c.claim} ({c.detail})")
    for name, c in (("cold/hot", study.crossing), ("cold/lr*", study.crossing_star)):
        log(f"crossing {name}: measured {c.time:.4g}, {100 * (1 - c.level):g}% CI "
            f"[{c.ci[0]:.4g}, {c.ci[1]:.4g}]; predicted as measured {c.predicted:.4g}, "
            f"fp.crossing_time {c.predicted_continuum:.4g} -> {c.check.outcome}")
    log("summary:")
    for c in study.checks:
        log(f"  [{c.outcome}] {c.claim}: {c.detail}")
