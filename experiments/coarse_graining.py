"""How far the 1D river theory can be trusted: particles vs theory against tau_x / tau_y.

The Fokker–Planck theory integrates the valley out (THEORY section 3), which
is exact only when the valley relaxes infinitely fast. After a quench the
valley is still at the plateau temperature for a time ~ tau_x, and its extra
entropic force `0.5 a'(y) |x|^2` pushes the river where the theory does not.

This runs the same quench (box_wells, equilibrium at `--lr-init` to the bath
LR 0.01) at valley stiffnesses `a0` chosen so that `tau_x / tau_y` takes the
`--targets` values (0.3 .. 0.003). `a0` only shifts F_T by a constant, so the
theory (spectrum, amplitudes) is the same for all of them and only the
separation changes. For each run `mj.validate` compares particles and theory;
the gap is reported as

  - `A2_gap`: `A_2(t) - a_2 e^{-lambda_2 t}` at the last record (the valley's
    push accumulates there), with its standard error, and the GLS chi-square
    p-value of the whole A_2 trajectory;
  - `chi_gap`: `(max(mean_r (X^2_r - dof_r), 0) / N)^(1/2)`, the records' mean
    excess chi-square turned into an estimate of the chi-square divergence
    `(sum_i (p_MC - p_theory)^2 / p_theory)^(1/2)` between the particles' and
    the predicted bin probabilities; sampling noise alone moves it by about
    `chi_noise = ((2 dof)^(1/2) / N)^(1/2)` (one record's spread, an upper bound
    for the mean's).

While `tau_x` is shorter than the run the gap should scale like
`tau_x / tau_y`; a valley slower than the run stays hot throughout and the gap
then depends on the run length instead.

The time step keeps the Euler–Maruyama bias of the valley variance,
`mu a dt / 2`, at or below 0.5% (and dt <= 0.1).

    python experiments/coarse_graining.py [--n-particles 262144] [--out runs/coarse_graining]

Writes OUT/coarse_graining.json and OUT/coarse_graining.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

import mpemba_jax as mj
from mpemba_jax.io.results import jsonable

LR_BATH = 0.01


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-particles", type=float, default=2**18)
    p.add_argument("--lr-init", type=float, default=0.02)
    p.add_argument("--t-end", type=float, default=100.0)
    p.add_argument("--record-every-t", type=float, default=2.5)
    p.add_argument("--targets", type=float, nargs="+", default=[0.3, 0.1, 0.03, 0.01, 0.003])
    p.add_argument("--valley-em", type=float, default=0.005,
                   help="bound on mu a_max dt / 2 (default 0.005)")
    p.add_argument("--bins", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/coarse_graining")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    n = int(args.n_particles)
    start = time.perf_counter()

    ref = mj.FokkerPlanck(mj.preset("box_wells", a0=1.0), LR_BATH, n_grid=2000, n_modes=6,
                          lr_max=10 * LR_BATH)
    ratio_at_1 = float(mj.tau_x(ref, LR_BATH)) * ref.eigenvalues[1]  # tau_x / tau_y at a0 = 1
    rows = []
    for i, target in enumerate(args.targets):
        a0 = ratio_at_1 / target
        land = mj.preset("box_wells", a0=a0)
        fp = mj.FokkerPlanck(land, LR_BATH, n_grid=2000, n_modes=6, lr_max=10 * LR_BATH)
        a_max = a0 * math.exp(land.params["growth"] * land.domain[1])
        lr_max = LR_BATH  # the run is at the bath LR from its first step
        dt = min(0.1, 2 * args.valley_em / (lr_max * a_max))
        # round so that records fall on steps
        every = max(1, int(round(args.record_every_t / dt)))
        dt = args.record_every_t / every
        n_steps = int(round(args.t_end / dt))
        u2, u3 = fp.left_eigenfunction(2), fp.left_eigenfunction(3)
        t0 = time.perf_counter()
        res = mj.simulate(land, mj.constant(LR_BATH), n_particles=n, n_steps=n_steps, dt=dt,
                          seed=args.seed + i, init=mj.equilibrium(args.lr_init),
                          record_steps=np.arange(0, n_steps + 1, every), bins=args.bins,
                          observables={"u2": lambda x, y: u2(y), "u3": lambda x, y: u3(y)},
                          progress=not args.no_progress)
        wall = time.perf_counter() - t0
        v = mj.validate(res, fp)
        d2 = v.modes[2]["A"] - v.modes[2]["theory"]
        excess = v.chi2 - v.chi2_dof
        row = {
            "target": target, "a0": a0, "separation": v.separation["ratio"],
            "tau_x": v.separation["tau_x"], "tau_y": v.separation["tau_y"], "dt": dt,
            "n_steps": n_steps, "valley_em_bias": lr_max * a_max * dt / 2,
            "A2_gap": float(d2[-1]), "A2_gap_se": float(v.modes[2]["se"][-1]),
            "A2_gls_pvalue": v.check("A_2(t)").p_value,
            "A3_gls_pvalue": v.check("A_3(t)").p_value,
            "chi_gap": float(math.sqrt(max(excess.mean(), 0.0) / n)),
            "chi_noise": float(math.sqrt(math.sqrt(2 * v.chi2_dof.mean()) / n)),
            "chi2_min_pvalue": float(v.chi2_pvalues.min()),
            "histogram_check": v.check("histograms match").outcome,
            "records": {"t": v.times, "A2_dev": d2, "A2_se": v.modes[2]["se"],
                        "chi2_excess": excess, "chi2_pvalues": v.chi2_pvalues},
            "wall_s": wall,
        }
        rows.append(row)
        print(f"tau_x/tau_y={row['separation']:.3g} (a0={a0:.3g}, dt={dt:.3g}, {n_steps} steps, "
              f"{wall:.0f} s): A2 gap at t={v.times[-1]:g}: {row['A2_gap']:+.5f} +- "
              f"{row['A2_gap_se']:.5f} (GLS p={row['A2_gls_pvalue']:.2g}); chi gap "
              f"{row['chi_gap']:.4f} (noise {row['chi_noise']:.4f}, min chi2 p "
              f"{row['chi2_min_pvalue']:.2g}) -> histograms {row['histogram_check']}", flush=True)

    sep = np.array([r["separation"] for r in rows])
    gap = np.abs([r["A2_gap"] for r in rows])
    gap_se = np.array([r["A2_gap_se"] for r in rows])
    chi = np.array([r["chi_gap"] for r in rows])
    chi_noise = np.array([r["chi_noise"] for r in rows])
    # Slope of log gap vs log separation over the points resolved beyond 3 SE / the noise.
    fits = {}
    for name, g, noise in (("A2_gap", gap, 3 * gap_se), ("chi_gap", chi, chi_noise)):
        use = g > noise
        fits[name] = (float(np.polyfit(np.log(sep[use]), np.log(g[use]), 1)[0])
                      if use.sum() >= 2 else None)
        fits[name + "_resolved_down_to"] = float(sep[use].min()) if use.any() else None
    print(f"log-log slope of the gap vs tau_x/tau_y over resolved points: A2 {fits['A2_gap']}, "
          f"chi {fits['chi_gap']}; resolved down to separation A2 {fits['A2_gap_resolved_down_to']},"
          f" chi {fits['chi_gap_resolved_down_to']}")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "coarse_graining.json"), "w") as f:
        json.dump(jsonable({"settings": vars(args), "lr_bath": LR_BATH, "rows": rows,
                             "fits": fits, "wall_seconds": time.perf_counter() - start}),
                  f, indent=1, allow_nan=False)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.errorbar(sep, gap, yerr=gap_se, fmt="o-", label=r"$|A_2 - a_2 e^{-\lambda_2 t}|$ at the end")
    ax.plot(sep, 2 * gap_se, "C0:", label=r"2 SE of $A_2$")
    ax.plot(sep, chi, "s-", color="C3", label=r"$\chi$-divergence of histograms (mean $X^2$ - dof)")
    ax.plot(sep, chi_noise, "C3:", label=r"$\chi$ sampling noise")
    k = int(np.argmax(chi > chi_noise)) if np.any(chi > chi_noise) else 0
    guide = chi[k] * sep / sep[k]
    ax.plot(sep, guide, "k--", lw=0.7, label=r"$\propto \tau_x / \tau_y$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\tau_x / \tau_y$ at the bath LR")
    ax.set_ylabel("gap between particles and 1D theory")
    ax.set_title(f"box_wells quench {args.lr_init:g} -> {LR_BATH:g}, {n:,} particles", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    png = os.path.join(args.out, "coarse_graining.png")
    fig.savefig(png, dpi=90)
    print(f"wrote {args.out}/coarse_graining.json and {png} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
