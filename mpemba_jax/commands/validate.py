"""`mpemba-jax validate`: particles against theory through a strong Mpemba point.

Quenches a preset with a strong Mpemba point from equilibrium at three plateau
LRs to the bath LR: a cold plateau (largest `|a_2|` below `lr*`), a hot plateau
(above `lr*`, `|a_2(hot)| = |a_2(cold)| / 2` unless given) and `lr*` itself.
Each run records the river histogram and `A_k = mean u_k(y)` for k = 2, 3;
`mj.validate` tests each against the Fokker–Planck prediction and
`mj.validate_crossing` measures where the cold and hot distance curves cross.
Writes `verdict.json` and `mpemba_crossing.png` into `--out`.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import time

import numpy as np
import scipy.sparse
import scipy.special
import scipy.stats

from ..theory.em_bias import em_bias
from ..theory.operator import FokkerPlanck
from ..theory.plateaus import choose_plateaus
from ..engine.initial import equilibrium
from ..presets import preset
from ..schedules import constant
from ..engine import simulate
from ..validation.verdict import (
    HEAVY_TAILED,
    INCONCLUSIVE,
    NOT_VERIFIED,
    VERIFIED,
    Check,
    validate,
    validate_crossing,
)
from . import parse_params

# The valley stiffness of the default run: at the preset's a0 = 3 box_wells has
# tau_x / tau_y = 0.04, and the valley's lag after the quench moves A_2 by
# about -0.003, which 10^6 particles resolve (experiments/coarse_graining.py).
# a0 only shifts F_T by a constant, so the theory (lr*, a_k, lambda_k) is unchanged.
DEFAULT_PARAMS = {"box_wells": {"a0": 30.0}}


def add_parser(sub):
    p = sub.add_parser(
        "validate",
        help="Monte Carlo against theory: Mpemba crossing and a strong Mpemba point",
        description=(
            "Quench a preset from equilibrium at a cold plateau, a hot plateau and its strong "
            "Mpemba point lr* to the bath LR; test histograms, distances and eigenmode "
            "projections against the Fokker–Planck theory; measure the crossing of the cold "
            "and hot distance curves. Writes verdict.json and mpemba_crossing.png."
        ),
    )
    p.add_argument("--preset", default="box_wells", help="preset with a strong Mpemba point")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset parameter (repeatable); box_wells defaults to a0=30")
    p.add_argument("--lr-bath", type=float, default=0.01, help="bath LR (default 0.01)")
    p.add_argument("--lr-cold", type=float, default=None,
                   help="cold plateau LR (default: largest |a_2| between lr_bath and lr*)")
    p.add_argument("--lr-hot", type=float, default=None,
                   help="hot plateau LR (default: above lr* where a_2 = -a_2(cold) / 2)")
    p.add_argument("--n-particles", type=float, default=1e6,
                   help="particles per plateau (default 1e6; 1e8 and more on an accelerator)")
    p.add_argument("--dt", type=float, default=0.05,
                   help="time step in steps units (default 0.05: at 0.1 the Euler–Maruyama "
                        "bias of the histograms is resolved at 10^6 particles)")
    p.add_argument("--t-end", type=float, default=250.0,
                   help="run length (default 250: the hot and cold curves must separate "
                        "significantly after crossing near t = 105)")
    p.add_argument("--record-every", type=int, default=100,
                   help="steps between records (default 100)")
    p.add_argument("--bins", type=int, default=40, help="river bins (default 40)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cold run (hot +1, lr* +2)")
    p.add_argument("--n-grid", type=int, default=2000, help="Fokker–Planck grid cells")
    p.add_argument("--level", type=float, default=0.01, help="level of the statistical tests")
    p.add_argument("--crossing-level", type=float, default=0.05,
                   help="1 - confidence of the crossing-time interval (default 0.05)")
    p.add_argument("--integrator", default="euler_maruyama",
                   help="simulator scheme (default euler_maruyama; the bias estimate is for it)")
    p.add_argument("--chunk-size", type=int, default=None, help="particles in memory at once")
    p.add_argument("--out", default="runs/mpemba_crossing", help="output directory")
    p.add_argument("--figure", default=None, help="also copy the figure here")
    p.add_argument("--no-progress", action="store_true", help="hide progress lines")
    p.set_defaults(func=run)






def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(args) -> int:
    start = time.perf_counter()
    params = dict(DEFAULT_PARAMS.get(args.preset, {}))
    params.update(parse_params(args.param))
    land = preset(args.preset, **params)
    n_particles = int(args.n_particles)
    if n_particles < 1 or n_particles != args.n_particles:
        raise ValueError(f"--n-particles must be a positive integer; got {args.n_particles:g}")
    if not (args.dt > 0 and args.t_end > 0):
        raise ValueError("--dt and --t-end must be > 0")
    fp = FokkerPlanck(land, args.lr_bath, n_grid=args.n_grid, n_modes=8,
                      lr_max=10 * args.lr_bath)
    lrs = choose_plateaus(fp, args.lr_cold, args.lr_hot)
    a = {k: fp.amplitudes(v)[:4].tolist() for k, v in lrs.items()}
    lam = fp.eigenvalues
    print(f"{land!r}")
    print(f"lr_bath={fp.lr_bath:g}  lambda_2={lam[1]:.5g}  lambda_3={lam[2]:.5g}  "
          f"lambda_3/lambda_2={lam[2] / lam[1]:.3g}")
    for k in ("cold", "hot", "star"):
        print(f"  {k:>4}: lr={lrs[k]:.6g}  a_2={a[k][1]:+.5f}  a_3={a[k][2]:+.4f}")
    if not abs(a["hot"][1]) < abs(a["cold"][1]):
        raise ValueError("the hot plateau must have |a_2| below the cold one's (Mpemba pair)")

    n_steps = int(round(args.t_end / args.dt))
    record_steps = np.arange(0, n_steps + 1, args.record_every)
    u2, u3 = fp.left_eigenfunction(2), fp.left_eigenfunction(3)
    observables = {"u2": lambda x, y: u2(y), "u3": lambda x, y: u3(y)}
    bins = np.linspace(*land.support(fp.temperature), args.bins + 1) if land.domain is None \
        else args.bins
    results, verdicts, timing = {}, {}, {}
    for i, k in enumerate(("cold", "hot", "star")):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        res = simulate(land, constant(fp.lr_bath), n_particles=n_particles, n_steps=n_steps,
                       dt=args.dt, seed=args.seed + i, init=equilibrium(lrs[k]),
                       record_steps=record_steps, bins=bins, observables=observables,
                       integrator=args.integrator, chunk_size=args.chunk_size,
                       progress=not args.no_progress)
        timing[k] = {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu_seconds() - c0}
        results[k] = res
        verdicts[k] = validate(res, fp, level=args.level)
        print(f"  ran {k}: {n_particles:,} particles x {n_steps} steps in "
              f"{timing[k]['wall_s']:.1f} s ({timing[k]['cpu_s']:.1f} CPU s)")
    edges = results["cold"].bin_edges
    cross = validate_crossing(verdicts["cold"], verdicts["hot"], theory=fp,
                              level=args.crossing_level)
    cross_star = validate_crossing(verdicts["cold"], verdicts["star"], theory=fp,
                                   level=args.crossing_level)
    bias = em_bias(fp, args.dt, record_steps, lrs, edges, n_particles)
    for k, v in verdicts.items():  # what the histograms show of it
        bias[k]["chi2_excess_measured_mean"] = float(np.mean((v.chi2 - v.chi2_dof)[v.times > 0]))
    summary = _summary_checks(verdicts, cross, fp, args.level)

    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "mpemba_crossing.png")
    _figure(verdicts, results, fp, lrs, cross, png, summary)
    if args.figure:
        os.makedirs(os.path.dirname(os.path.abspath(args.figure)), exist_ok=True)
        shutil.copyfile(png, args.figure)
    se = {k: float(verdicts[k].modes[2]["se"].max()) for k in verdicts}
    report = {
        "command": "mpemba-jax validate",
        "settings": {k: v for k, v in vars(args).items() if k != "func"},
        "landscape": land.describe(),
        "theory": fp.describe(),
        "plateaus": lrs,
        "amplitudes": a,
        "separation": verdicts["cold"].separation,
        "em_bias": {"per_start": bias, "largest_A2_se": se,
                    "method": "EM transition kernel of the 1D river vs mj.evolve at the same dt"},
        "checks": [c.__dict__ for c in summary],
        "crossing_cold_hot": cross.to_dict(),
        "crossing_cold_star": cross_star.to_dict(),
        "verdicts": {k: v.to_dict() for k, v in verdicts.items()},
        "timing": timing,
        "wall_seconds": time.perf_counter() - start,
    }
    from ..io.results import jsonable
    with open(os.path.join(args.out, "verdict.json"), "w") as f:
        json.dump(jsonable(report), f, indent=1, allow_nan=False)

    sep = verdicts["cold"].separation
    print(f"separation tau_x/tau_y = {sep['ratio']:.3g} (tau_x={sep['tau_x']:.3g}, "
          f"tau_y={sep['tau_y']:.4g})")
    for k, b in bias.items():
        print(f"  EM bias ({k}): |dA_2| <= {b['A2']:.2g}, |dA_3| <= {b['A3']:.2g}, "
              f"|dTV| <= {b['tv']:.2g}  (SE of A_2 ~ {se[k]:.2g}); chi-square noncentrality "
              f"predicted {b['chi2_noncentrality_mean']:.3g} (mean over records), measured "
              f"X^2 - dof {b['chi2_excess_measured_mean']:.3g} (mean over t > 0)")
    for k, v in verdicts.items():
        m2, m3 = v.modes[2], v.modes[3]
        r2, r3, rd = v.rates["A2"], v.rates["A3"], v.rates["distance"]
        print(f"{k:>4}: A_2(0)={m2['A'][0]:+.5f}+-{m2['se'][0]:.5f} (a_2={m2['theory'][0]:+.5f}); "
              f"A_3(0)={m3['A'][0]:+.4f}+-{m3['se'][0]:.4f} (a_3={m3['theory'][0]:+.4f})")
        print(f"      rate A_3 {r3['rate']:.5f}+-{r3['rate_se']:.5f}, rate A_2 {r2['rate']:.5f}+-"
              f"{r2['rate_se']:.5f}, distance {rd['rate']:.5f}+-{rd['rate_se']:.5f} "
              f"(theory as measured {rd['theory_rate']:.5f}) over t in {rd['t_range']}")
        print(f"      chi2 p-values: min {v.chi2_pvalues.min():.3g}, median "
              f"{np.median(v.chi2_pvalues):.3g}; {int(v.tv_resolved.sum())}/{len(v.times)} "
              f"records resolved above the noise floor {v.tv_floor[0]:.4f}")
        for c in v.checks:
            print(f"      [{c.outcome}] {c.claim} ({c.detail})")
    for name, c in (("cold/hot", cross), ("cold/lr*", cross_star)):
        print(f"crossing {name}: measured {c.time:.4g}, {100 * (1 - c.level):g}% CI "
              f"[{c.ci[0]:.4g}, {c.ci[1]:.4g}]; predicted as measured {c.predicted:.4g}, "
              f"binned {c.predicted_binned:.4g}, fp.crossing_time {c.predicted_continuum:.4g} "
              f"-> {c.check.outcome}")
    print("summary:")
    for c in summary:
        print(f"  [{c.outcome}] {c.claim}: {c.detail}")
    print(f"wrote {os.path.join(args.out, 'verdict.json')} and {png} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


def _summary_checks(verdicts, cross, fp, level) -> list[Check]:
    z2 = scipy.stats.norm.isf(level / 2)
    out = [cross.check]
    for k in ("cold", "hot", "star"):
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


def _figure(verdicts, results, fp, lrs, cross, path, summary=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..validation.verdict import predict

    colors = {"cold": "C0", "hot": "C3", "star": "C2"}
    label = {k: f"{k if k != 'star' else 'lr*'} (lr={lrs[k]:.4g})" for k in lrs}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    ax = axes[0, 0]
    for k, v in verdicts.items():
        ax.errorbar(v.times, v.tv, yerr=v.tv_se, fmt="o", ms=2.5, color=colors[k], lw=0.8,
                    label=f"{label[k]}")
        ax.plot(v.times, v.tv_expected, "-", color=colors[k], lw=1.2)
        ax.plot(v.times, v.tv_binned, ":", color=colors[k], lw=1.0)
    ax.axhline(verdicts["cold"].tv_floor[0], color="k", ls="--", lw=0.8, label="noise floor")
    if math.isfinite(cross.time):
        ax.axvspan(*cross.ci, color="0.85", zorder=0,
                   label=f"crossing {100 * (1 - cross.level):g}% CI")
    if math.isfinite(cross.predicted):
        ax.axvline(cross.predicted, color="k", lw=0.8, label="predicted crossing")
    ax.set_yscale("log")
    ax.set_xlabel("t (steps)")
    ax.set_ylabel("TV distance to equilibrium")
    ax.set_title("distance: MC (points), theory as measured (solid), noise-free (dotted)",
                 fontsize=8)
    ax.legend(fontsize=7, frameon=False)

    ax = axes[0, 1]
    vc, vh = verdicts["cold"], verdicts["hot"]
    t = vc.times
    ax.errorbar(t, vc.tv - vh.tv, yerr=np.hypot(vc.tv_se, vh.tv_se), fmt="o", ms=2.5, lw=0.8,
                color="C4", label="MC: cold - hot")
    ax.plot(t, vc.tv_expected - vh.tv_expected, "-", color="k", lw=1.0, label="theory as measured")
    ax.plot(t, vc.tv_binned - vh.tv_binned, ":", color="k", lw=1.0, label="theory, noise-free")
    ax.axhline(0, color="k", lw=0.5)
    if math.isfinite(cross.time):
        ax.axvspan(*cross.ci, color="0.85", zorder=0, label="crossing CI")
        ax.axvline(cross.time, color="C4", lw=0.8, label=f"measured {cross.time:.1f}")
    ax.set_xlim(0.4 * (cross.predicted if math.isfinite(cross.predicted) else t[-1] / 2), t[-1])
    sel = t >= ax.get_xlim()[0]
    d = (vc.tv - vh.tv)[sel]
    pad = 3 * np.hypot(vc.tv_se, vh.tv_se)[sel].max()
    ax.set_ylim(d.min() - pad, d.max() + pad)
    ax.set_xlabel("t (steps)")
    ax.set_ylabel("TV(cold) - TV(hot)")
    ax.set_title("the Mpemba crossing: hotter start ends closer to equilibrium", fontsize=9)
    ax.legend(fontsize=7, frameon=False)

    for ax, k in ((axes[1, 0], 2), (axes[1, 1], 3)):
        for name, v in verdicts.items():
            m = v.modes[k]
            ax.errorbar(v.times, m["A"], yerr=m["se"], fmt="o", ms=2.5, lw=0.8,
                        color=colors[name], label=label[name])
            ax.plot(v.times, m["theory"], "-", color=colors[name], lw=1.0)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("t (steps)")
        ax.set_ylabel(f"$A_{k}(t)$ = mean $u_{k}(y)$")
        ax.set_title(f"$A_{k}$: MC (points) vs $a_{k} e^{{-\\lambda_{k} t}}$ (lines)", fontsize=9)
        ax.legend(fontsize=7, frameon=False)

    ax = axes[0, 2]
    res, v = results["hot"], verdicts["hot"]
    mid = cross.time if math.isfinite(cross.time) else v.times[len(v.times) // 2]
    picks = [0, int(np.argmin(np.abs(v.times - mid))), len(v.times) - 1]
    widths = np.diff(res.bin_edges)
    masses, _ = predict(res, fp, None)
    for j, r in enumerate(picks):
        c = ("C0", "C1", "C4")[j]
        ax.step(res.bin_centers, res.counts[r] / (res.n_particles * widths), where="mid", color=c,
                lw=1.2, alpha=0.8, label=f"MC t={v.times[r]:g}")
        ax.plot(fp.centres, masses[r] / fp.h, "--", color="k" if j == 0 else c, lw=0.9)
    ax.set_xlabel("river coordinate y")
    ax.set_ylabel("density")
    ax.set_title("hot start: histograms (steps) vs predicted densities (dashed)", fontsize=9)
    ax.legend(fontsize=7, frameon=False)

    ax = axes[1, 2]
    ax.axis("off")
    if summary:
        lines = []
        for c in summary:
            lines.append(f"[{c.outcome}] {c.claim}")
        for k, v in verdicts.items():
            c = v.check("histograms match")
            lines.append(f"[{c.outcome}] {k}: histogram chi-square at every record "
                         f"(level {c.level:g}, Bonferroni; {c.detail})")
        sep = verdicts["cold"].separation["ratio"]
        lines += ["", f"tau_x / tau_y = {sep:.2g}",
                  f"lambda_2 = {fp.eigenvalues[1]:.4g}, lambda_3 = {fp.eigenvalues[2]:.4g}",
                  f"crossing: measured {cross.time:.1f}, CI [{cross.ci[0]:.1f}, {cross.ci[1]:.1f}]",
                  f"predicted {cross.predicted:.1f} (as measured), "
                  f"{cross.predicted_continuum:.1f} (fp.crossing_time)"]
        ax.text(0.0, 1.0, "\n".join(_wrap(x, 60) for x in lines), va="top", ha="left",
                fontsize=8, family="monospace", transform=ax.transAxes)
    n = results["cold"].n_particles
    fig.suptitle(f"{fp.landscape.name}: quench to lr={fp.lr_bath:g}, {n:,} particles per start",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def _wrap(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width, subsequent_indent="    ")) or text
