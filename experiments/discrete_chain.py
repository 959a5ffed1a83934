"""The discrete chain's theory from `h -> 0` to the stability limit, and particles against it.

Two parts, on `box_wells` (the schedule study's landscape) at bath LR 0.01,
`time="steps"` (so `h = 1` is SGD):

1. theory sweep: for steps `h` from 0.02 to the river's stability limit at the
   bath LR (`mu h max F_h'' = 2`), the chain's `lambda_2(h)`, `lambda_3(h)` and
   strong Mpemba point `lr*(h)` for a plateau's own state (`start="chain"`),
   and `a_2` of the Boltzmann start at the bath LR, beside the continuum
   operator's values (THEORY section 8);
2. particles: a quench from `mj.equilibrium(--lr-init)` at three steps
   (`--steps-h`), `mj.validate` against the chain at that `h` and against the
   continuum theory on the same run (histogram chi-square per record,
   Bonferroni; `A_2(t)` with each theory's own `u_2`);
3. the valley's lag: three WSD schedules of the schedule study (upstream point
   start, 1000 stable steps at a peak, then a quench or a linear decay) run in
   one batch at `h = 1`, `A_2(t)` after the decay against the chain with the
   valley at its stationary variance and with the valley's moment recursion
   pushing the river (`schedule_theory`, THEORY section 8).

    python experiments/discrete_chain.py [--n-particles 200000] [--json docs/chain/discrete_chain.json]
    python experiments/discrete_chain.py --from-json docs/chain/discrete_chain.json

Writes the JSON, `docs/figures/chain_spectrum.png`, `docs/figures/chain_particles.png`
and `docs/chain/report.md` (tables generated from the JSON; `--from-json`
redraws them without computing anything). Parts 1 and 2 use the engine's
`simulate`, part 3 `run_batch`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import mpemba_jax as mj
from mpemba_jax.io.plotting import pyplot, save_figure
from mpemba_jax.io.results import jsonable
from mpemba_jax.theory import effective_free_energy

LR_BATH, LR_RANGE, N_GRID = 0.01, (0.0105, 0.05), 400


def theory_sweep(land, hs) -> dict:
    """Chain spectra and strong points at each step `h`; continuum references."""
    cont = mj.FokkerPlanck(land, LR_BATH, n_grid=3000, n_modes=4, lr_max=0.1)
    out = {"continuum": {"lambda": cont.eigenvalues[1:3].tolist(),
                         "lr_star": float(cont.strong_mpemba_points(LR_RANGE)[0])}, "h": []}
    for h in hs:
        row = {"h": float(h)}
        try:
            fp = mj.FokkerPlanck(land, LR_BATH, n_grid=N_GRID, n_modes=4, lr_max=0.1, dt=float(h))
        except (ValueError, np.linalg.LinAlgError) as err:
            row["error"] = str(err).split(";")[0]
            out["h"].append(row)
            print(f"h = {h:.4g}: {row['error']}", flush=True)
            continue
        row["lambda"] = fp.eigenvalues[1:3].tolist()
        row["a2_boltzmann_at_bath"] = float(fp.amplitude(LR_BATH, 2))
        pts = fp.strong_mpemba_points(LR_RANGE, n_scan=24, start="chain")
        row["lr_star_chain"] = [float(x) for x in pts]
        pb = fp.strong_mpemba_points(LR_RANGE, n_scan=200)
        row["lr_star_boltzmann"] = [float(x) for x in pb]
        # mu h F_h'' at lr*: beyond 1 the step's mean map folds back, beyond 2 it is unstable
        if len(pts):
            f = effective_free_energy(fp, pts[0])
            row["c_f2_at_lr_star"] = float(pts[0] * h * np.max(np.diff(f, 2)) / fp.h**2)
        out["h"].append(row)
        print(f"h = {h:.4g}: lambda_2 {row['lambda'][0]:.5g}, lambda_3 {row['lambda'][1]:.5g}, "
              f"lr* {row['lr_star_chain']}", flush=True)
    return out


def particles(land, hs, n_particles, lr_init, t_end, seed) -> list[dict]:
    """A quench at each step `h`, validated against the chain at `h` and the continuum."""
    cont = mj.FokkerPlanck(land, LR_BATH, n_grid=3000, n_modes=4, lr_max=0.1)
    rows = []
    for h in hs:
        fp = mj.FokkerPlanck(land, LR_BATH, n_grid=N_GRID, n_modes=4, lr_max=0.1, dt=float(h))
        n_steps = int(round(t_end / h))
        obs = {"u2": lambda x, y, fp=fp: fp.left_eigenfunction(2)(y),
               "u2_continuum": lambda x, y: cont.left_eigenfunction(2)(y)}
        t0 = time.perf_counter()
        res = mj.simulate(land, mj.constant(LR_BATH), n_particles=n_particles, n_steps=n_steps,
                          dt=float(h), init=mj.equilibrium(lr_init), record_every=max(1, n_steps // 30),
                          bins=40, observables=obs, seed=seed, progress=False)
        wall = time.perf_counter() - t0
        row = {"h": float(h), "n_particles": n_particles, "n_steps": n_steps, "seconds": wall,
               "t": res.times.tolist()}
        for name, theory, key in (("chain", fp, "u2"), ("continuum", cont, "u2_continuum")):
            v = mj.validate(res, theory, modes=())
            chk = v.check("histograms match")
            pred = theory.amplitude(lr_init, 2) * np.exp(-theory.eigenvalues[1] * res.times)
            z = (res.observables[key] - pred) / res.standard_errors[key]
            row[name] = {"chi2_p_bonferroni": chk.p_value, "chi2_outcome": chk.outcome,
                         "records_p_le_0.01": int(np.sum(v.chi2_pvalues <= 0.01)),
                         "records": len(v.chi2_pvalues), "lambda_2": float(theory.eigenvalues[1]),
                         "a2": float(theory.amplitude(lr_init, 2)),
                         "A2": res.observables[key].tolist(), "A2_se": res.standard_errors[key].tolist(),
                         "A2_theory": pred.tolist(), "A2_max_abs_z": float(np.max(np.abs(z)))}
        rows.append(row)
        print(f"h = {h:g}: {n_particles} x {n_steps} steps in {wall:.0f} s; chain chi2 p "
              f"{row['chain']['chi2_p_bonferroni']:.3g}, max|z| A_2 {row['chain']['A2_max_abs_z']:.2f}; "
              f"continuum {row['continuum']['chi2_p_bonferroni']:.3g}, "
              f"{row['continuum']['A2_max_abs_z']:.2f}", flush=True)
    return rows


def valley_lag(land, n_particles, seed) -> dict:
    """Schedules of the study from the upstream point: the chain with a stationary valley
    against the chain whose valley moment follows its recursion, and particles."""
    fp = mj.FokkerPlanck(land, LR_BATH, n_grid=1000, n_modes=4, lr_max=0.1, dt=1.0)
    scheds = {"peak 0.05, quench": mj.wsd(0.05, LR_BATH, 100.0, 1000.0, 0.0),
              "peak 0.05, linear decay 80": mj.wsd(0.05, LR_BATH, 100.0, 1000.0, 80.0, "linear"),
              "peak 0.01924, quench": mj.wsd(0.01924, LR_BATH, 100.0, 1000.0, 0.0)}
    steps = np.array([0, 1100, 1180, 1300, 1480, 1720])
    t0 = time.perf_counter()
    b = mj.run_batch(land, scheds, n_particles=n_particles, n_steps=int(steps[-1]), dt=1.0,
                     init=mj.point(-0.28), record_steps=steps, bins=40, bin_range=(-0.3, 0.35),
                     observables={"A_2": lambda x, y: fp.left_eigenfunction(2)(y)},
                     block_size=256, seed=seed, progress=False)
    out = {"steps": steps.tolist(), "n_particles": n_particles,
           "seconds": time.perf_counter() - t0, "runs": {}}
    p0 = fp.point_mass(-0.28)
    for i, name in enumerate(b.names):
        lagging = mj.schedule_theory(fp, b.lr_steps[i], 1.0, p0, steps, ks=(2,))["A_2"]
        still = mj.evolve(fp, p0, b.lr_steps[i], 1.0, n_steps=int(steps[-1]),
                          record_steps=steps).masses @ fp.left_eigenfunctions[1]
        out["runs"][name] = {"A2": b.observables["A_2"][i].tolist(),
                             "A2_se": b.standard_errors["A_2"][i].tolist(),
                             "lagging_valley": lagging.tolist(), "stationary_valley": still.tolist()}
    return out


def draw(data: dict, fig_dir: Path) -> None:
    plt = pyplot()
    th = data["theory"]
    ok = [r for r in th["h"] if "lambda" in r]
    h = np.array([r["h"] for r in ok])
    lam = np.array([r["lambda"] for r in ok])
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for k, c in ((0, "C0"), (1, "C1")):
        ax[0].plot(h, lam[:, k] / th["continuum"]["lambda"][k], "o-", color=c, ms=3,
                   label=f"$\\lambda_{k + 2}(h) / \\lambda_{k + 2}$(continuum)")
    ax[0].axhline(1, color="k", lw=0.6)
    ax[0].set_xscale("log")
    ax[0].set_xlabel("step h (SGD steps; h = 1 is SGD)")
    ax[0].legend(frameon=False, fontsize=8)
    star = [(r["h"], r["lr_star_chain"][0]) for r in ok if r["lr_star_chain"]]
    if star:
        ax[1].plot(*zip(*star), "o-", ms=3, label="chain, plateau's own state (start=\"chain\")")
    bz = [(r["h"], r["lr_star_boltzmann"][0]) for r in ok if r["lr_star_boltzmann"]]
    if bz:
        ax[1].plot(*zip(*bz), "s-", ms=3, label="chain, Boltzmann start")
    ax[1].axhline(th["continuum"]["lr_star"], color="k", ls="--", lw=0.8, label="continuum")
    ax[1].set_xscale("log")
    ax[1].set_xlabel("step h")
    ax[1].set_ylabel("strong Mpemba point lr*")
    ax[1].legend(frameon=False, fontsize=8)
    fig.suptitle(f"box_wells, bath LR {LR_BATH}: the discrete chain's spectrum and strong point")
    save_figure(fig, fig_dir / "chain_spectrum.png")

    rows = data["particles"]
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.8), squeeze=False)
    for ax, r in zip(axes[0], rows):
        t = np.array(r["t"])
        for name, c in (("chain", "C0"), ("continuum", "C3")):
            q = r[name]
            ax.errorbar(t, q["A2"], yerr=q["A2_se"], fmt="o", ms=2.5, color=c, capsize=1.5,
                        label=f"particles, {name} $u_2$")
            ax.plot(t, q["A2_theory"], "-", color=c, lw=1, label=f"{name} theory")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"h = {r['h']:g}", fontsize=10)
        ax.set_xlabel("time (steps x h)")
    axes[0][0].set_ylabel("$A_2(t)$")
    axes[0][0].legend(frameon=False, fontsize=7)
    fig.suptitle(f"Quench from mj.equilibrium({data['lr_init']:g}) to {LR_BATH}: particles against "
                 "the chain at each h and the continuum theory", fontsize=10)
    save_figure(fig, fig_dir / "chain_particles.png")


def report(data: dict) -> str:
    th = data["theory"]
    c = th["continuum"]
    L = ["# The discrete chain on `box_wells` (generated)\n",
         f"Generated by `python experiments/discrete_chain.py` from "
         f"[`discrete_chain.json`](discrete_chain.json) ({data['command']}); THEORY section 8 "
         "has the theory. Bath LR 0.01, `time=\"steps\"`, Euler–Maruyama; chain on "
         f"{N_GRID} cells, continuum on 3000.\n",
         "## Spectrum and strong Mpemba point against the step\n",
         f"Continuum: lambda_2 = {c['lambda'][0]:.5g}, lambda_3 = {c['lambda'][1]:.5g}, "
         f"lr* = {c['lr_star']:.5g}. `lr*` (chain) is the zero of `a_2` for a plateau's own "
         "state; (Boltzmann) for the state `mj.equilibrium` samples; `mu h F_h''` at `lr*` is "
         "the river step's stiffness there (the mean map folds back beyond 1). The last rows "
         "show where the chain at the bath LR stops being computable.\n",
         "| h | lambda_2 | lambda_3 | lr* (chain) | lr* (Boltzmann) | a_2 of the Boltzmann state at the bath | mu h F_h'' at lr* |",
         "|---|---|---|---|---|---|---|"]
    for r in th["h"]:
        if "lambda" not in r:
            L.append(f"| {r['h']:.3g} | {r['error']} | | | | | |")
            continue
        L.append(f"| {r['h']:.3g} | {r['lambda'][0]:.5g} | {r['lambda'][1]:.5g} | "
                 f"{', '.join(f'{x:.5g}' for x in r['lr_star_chain']) or 'none'} | "
                 f"{', '.join(f'{x:.5g}' for x in r['lr_star_boltzmann']) or 'none'} | "
                 f"{r['a2_boltzmann_at_bath']:+.4f} | "
                 f"{'%.2f' % r['c_f2_at_lr_star'] if 'c_f2_at_lr_star' in r else '–'} |")
    L += ["", "![spectrum](../figures/chain_spectrum.png)\n",
          "## Particles against the chain at three steps\n",
          f"Quench from `mj.equilibrium({data['lr_init']:g})` to the bath, t up to "
          f"{data['t_end']:g}, {data['particles'][0]['n_particles']:,} particles, 40 bins, "
          "about 30 records per run (the table gives each run's number). Chi-square: smallest "
          "p-value times the number of records (Bonferroni, capped at 1; verified above 0.01). "
          "`A_2` uses each theory's own `u_2`.\n",
          "| h | theory | lambda_2 | a_2 | histograms: Bonferroni p | records with p <= 0.01 | max abs z of A_2(t) |",
          "|---|---|---|---|---|---|---|"]
    for r in data["particles"]:
        for name in ("chain", "continuum"):
            q = r[name]
            L.append(f"| {r['h']:g} | {name} | {q['lambda_2']:.5g} | {q['a2']:+.4f} | "
                     f"{q['chi2_p_bonferroni']:.3g} | {q['records_p_le_0.01']} of {q['records']} | "
                     f"{q['A2_max_abs_z']:.2f} |")
    L += ["", "![particles](../figures/chain_particles.png)\n"]
    lag = data.get("valley_lag")
    if lag:
        L += ["## The valley's lag\n",
              f"Schedules of the schedule study at `h = 1` ({lag['n_particles']:,} particles, one "
              "batch, common noise), from the upstream point `y = -0.28`, `x = 0`: warm-up 100 "
              "steps, 1000 at the peak, then the decay to 0.01. `A_2(t)` of the particles "
              "against the chain with the valley at its stationary variance and with the valley's "
              "moment recursion pushing the river (`schedule_theory`); z = (MC - theory) / SE. "
              "The runs share their noise, so their z-scores are correlated.\n"]
        after = [(r, j) for r in lag["runs"].values() for j, st in enumerate(lag["steps"]) if st > 1100]
        worst = {k: max(abs(r["A2"][j] - r[k][j]) / r["A2_se"][j] for r, j in after)
                 for k in ("stationary_valley", "lagging_valley")}
        L += [f"After the decays the largest |z| is {worst['stationary_valley']:.1f} with the "
              f"valley at its stationary variance and {worst['lagging_valley']:.1f} with the "
              "valley's moment recursion: the lag is most of the discrepancy; what remains has "
              "one sign across the records of a run (they share their particles).\n",
              "| schedule | step | A_2 (particles) | stationary valley | z | lagging valley | z |",
              "|---|---|---|---|---|---|---|"]
        for name, r in lag["runs"].items():
            for j, st in enumerate(lag["steps"]):
                if st < 1100:
                    continue
                a, se = r["A2"][j], r["A2_se"][j]
                L.append(f"| {name} | {st} | {a:.4f} ± {se:.4f} | {r['stationary_valley'][j]:.4f} | "
                         f"{(a - r['stationary_valley'][j]) / se:+.2f} | {r['lagging_valley'][j]:.4f} | "
                         f"{(a - r['lagging_valley'][j]) / se:+.2f} |")
        L.append("")
    return "\n".join(L)


def summary(data: dict) -> str:
    """The README's short table: particles against the chain and the continuum at each `h`."""
    def p(x):
        return "< 1e-300" if x == 0 else f"{x:.2g}"
    L = ["| h (SGD steps) | chain: histograms Bonferroni p, max abs z of A_2 | continuum: the same |",
         "|---|---|---|"]
    for r in data["particles"]:
        c, k = r["chain"], r["continuum"]
        L.append(f"| {r['h']:g} | {p(c['chi2_p_bonferroni'])}, {c['A2_max_abs_z']:.1f} | "
                 f"{p(k['chi2_p_bonferroni'])}, {k['A2_max_abs_z']:.1f} |")
    near = min((r for r in data["theory"]["h"] if r.get("lr_star_chain")),
               key=lambda r: abs(np.log(r["h"])))
    L += ["", f"{data['particles'][0]['n_particles']:,} particles per run, box_wells quenched from "
          f"`mj.equilibrium({data['lr_init']:g})` to LR {LR_BATH}. The strong Mpemba point "
          f"moves from {data['theory']['continuum']['lr_star']:.4g} (continuum) to "
          f"{near['lr_star_chain'][0]:.4g} at h = {near['h']:.3g}."]
    return "\n".join(L)


def crossing_on_the_chain(run: dict) -> str:
    """The README's lines on one crossing study run with `--theory chain` (its JSON)."""
    p, a = run["plateaus"], run["amplitudes"]
    L = [f"`{run['command']}` ({run['wall_seconds'] / 60:.0f} min on this 2-core CPU, shared): "
         f"plateaus from the chain-start amplitude, cold {p['cold']:.4g} (a_2 "
         f"{a['cold'][1]:+.4f}), lr* {p['star']:.4g}, hot {p['hot']:.4g} (a_2 {a['hot'][1]:+.4f}); "
         "runs started from the chain's stationary states (`mj.chain_state`).", "",
         "| claim | outcome |", "|---|---|"]
    L += [f"| {c['claim']} | {c['outcome']} |".replace("|A_2|", "\\|A_2\\|")
          .replace("|a_2(cold)|", "\\|a_2(cold)\\|") for c in run["checks"]]
    L += ["", "(The negative control is meant to fail: the cold plateau relaxes at lambda_2.)"]
    return "\n".join(L)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", default="docs/chain/discrete_chain.json")
    p.add_argument("--from-json", default=None, help="redraw figures and tables from this JSON")
    p.add_argument("--figure-dir", default="docs/figures")
    p.add_argument("--report", default="docs/chain/report.md")
    p.add_argument("--n-particles", type=float, default=2e5)
    p.add_argument("--lr-init", type=float, default=0.02)
    p.add_argument("--t-end", type=float, default=1500.0)
    p.add_argument("--steps-h", type=float, nargs=3, default=[0.25, 1.0, 3.0])
    p.add_argument("--lag-particles", type=int, default=98304)
    p.add_argument("--n-h", type=int, default=14, help="steps h in the theory sweep")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
    else:
        land = mj.preset("box_wells")
        fp = mj.FokkerPlanck(land, LR_BATH, n_grid=N_GRID, n_modes=2, lr_max=0.1, dt=1.0)
        f2 = np.max(np.diff(effective_free_energy(fp, LR_BATH), 2)) / fp.h**2
        h_lim = 2.0 / (LR_BATH * f2)  # the river step's stability limit at the bath
        hs = np.geomspace(0.02, h_lim, args.n_h)
        t0 = time.perf_counter()
        data = {"command": "python experiments/discrete_chain.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "lr_init": args.lr_init, "t_end": args.t_end, "h_stability_limit": h_lim,
                "theory": theory_sweep(land, hs)}
        data["particles"] = particles(land, args.steps_h, int(args.n_particles), args.lr_init,
                                      args.t_end, args.seed)
        data["valley_lag"] = valley_lag(land, args.lag_particles, args.seed)
        data["seconds"] = time.perf_counter() - t0
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        Path(args.json).write_text(json.dumps(jsonable(data), indent=1))
    Path(args.figure_dir).mkdir(parents=True, exist_ok=True)
    draw(data, Path(args.figure_dir))
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(report(data))
    print(f"wrote {args.report} and the figures in {args.figure_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
