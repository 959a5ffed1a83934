"""The figure of the Mpemba-crossing study (`mpemba_crossing.png`, matplotlib, headless)."""

from __future__ import annotations

import math

import numpy as np

from ..io.plotting import pyplot, save_figure

from ..validation import predict

__all__ = ["draw_crossing_figure"]


def draw_crossing_figure(verdicts: dict, results: dict, fp, lrs: dict, cross, path,
                         summary: list | None = None) -> None:
    """Six panels into `path`: TV distances to equilibrium (Monte Carlo, theory as
    measured, noise-free) with the crossing, cold minus hot, `A_2(t)` and `A_3(t)`
    against `a_k e^{-lambda_k t}`, hot-start histograms against the predicted
    densities, and the `summary` checks as text. `verdicts`, `results`, `lrs`:
    start (`"cold"`, `"hot"`, `"star"`) -> `Verdict`, run, plateau LR."""
    plt = pyplot()
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
        lines = [f"[{c.outcome.split(' (EM bias')[0]}] {c.claim}" for c in summary
                 if not c.claim.startswith("A_2(0)")]
        sep = verdicts["cold"].separation["ratio"]
        lines += ["", f"tau_x / tau_y = {sep:.2g}",
                  f"lambda_2 = {fp.eigenvalues[1]:.4g}, lambda_3 = {fp.eigenvalues[2]:.4g}",
                  f"crossing: measured {cross.time:.1f}, CI [{cross.ci[0]:.1f}, {cross.ci[1]:.1f}]",
                  f"predicted {cross.predicted:.1f} (as measured), "
                  f"{cross.predicted_continuum:.1f} (fp.crossing_time)"]
        ax.text(0.0, 1.0, "\n".join(_wrap(x, 70) for x in lines), va="top", ha="left",
                fontsize=7, family="monospace", transform=ax.transAxes)
    n = results["cold"].n_particles
    fig.suptitle(f"{fp.landscape.name}: quench to lr={fp.lr_bath:g}, {n:,} particles per start",
                 fontsize=10)
    save_figure(fig, path, dpi=72)


def _wrap(text, width):
    import textwrap

    return "\n".join(textwrap.wrap(text, width, subsequent_indent="    ")) or text
