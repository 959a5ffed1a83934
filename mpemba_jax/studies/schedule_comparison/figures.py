"""Figures of the schedule study (matplotlib, headless), drawn from `execute`'s outcome."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io.plotting import pyplot, save_figure

from .verdicts import groups

__all__ = ["draw_figures"]


def _save_figure(fig, out: Path, name: str) -> str:
    """Write `out/name.png` (`io.plotting.save_figure`); the file name, for the report."""
    save_figure(fig, out / f"{name}.png", dpi=110)
    return f"{name}.png"


def draw_figures(plan: dict, outcome: dict, out: Path) -> dict[str, str]:
    """Draw the study's figures into `out`; `{name: file name}` of those drawn.

    `plateau.png` (final metrics against the plateau LR, `lr*` marked),
    `shapes.png` (against the decay shape, coloured by window class),
    `equipartition.png` (valley energy minus `d T(t) / 2` through the decays),
    `loss_curves.png`, `equal_area.png`, `valley.png`: each only if its sweep ran.
    """
    plt = pyplot()
    figs = {}
    lr_star = plan["lr_star"]
    if "plateau" in outcome:
        runs = outcome["plateau"]["runs"]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
        for k, (group, names) in enumerate(groups(runs).items()):
            names = sorted(names, key=lambda n: runs[n]["info"]["peak"])
            x = [runs[n]["info"]["peak"] for n in names]
            col = f"C{k}"
            for ax, key, th in ((axes[0], "excess_loss", "excess_loss_theory"),
                                (axes[1], "tv_sgd", None), (axes[2], "A_2", "A_2_theory")):
                y = [runs[n]["final"][key] for n in names]
                e = [runs[n]["final"][f"{key}_se"] for n in names]
                ax.errorbar(x, y, yerr=e, fmt="o", color=col, ms=4, capsize=2,
                            label=group if ax is axes[0] else None)
                if th is not None:
                    ax.plot(x, [runs[n]["final"][th] for n in names], "--",
                            color=col, lw=1)
        floor = np.mean([r["final"]["tv_sgd_floor"] for r in runs.values()])
        axes[1].axhline(floor, color="0.6", lw=1, ls=":", label="two-sample noise floor")
        if "bath" in outcome:
            b = outcome["bath"]["runs"]["bath"]["final"]
            axes[0].axhline(b["excess_loss"], color="0.6", lw=1, ls=":", label="SGD bath")
            axes[2].axhline(b["A_2"], color="0.6", lw=1, ls=":", label="SGD bath")
        for ax, lab in zip(axes, ("excess loss at measurement", "TV distance to the SGD bath",
                                  "$A_2$ at measurement")):
            ax.set_xscale("log")
            ax.set_xlabel("plateau LR")
            ax.set_ylabel(lab)
            if lr_star:
                ax.axvline(lr_star, color="r", ls="--", lw=0.8)
        axes[2].axhline(0, color="k", lw=0.5)
        axes[0].legend(fontsize=7, frameon=False)
        axes[1].legend(fontsize=7, frameon=False)
        fig.suptitle("Plateau sweep: Monte Carlo (points, ±1 SE) and the discrete chain's theory "
                     "(dashed); red line: the chain's lr*", fontsize=10)
        figs["plateau"] = _save_figure(fig, out, "plateau")
    if "shapes" in outcome:
        runs = outcome["shapes"]["runs"]
        by_group = groups(runs)
        fig, axes = plt.subplots(len(by_group), 2, figsize=(14, 3.8 * len(by_group)), squeeze=False)
        colours = {"inside": "C2", "too fast": "C3", "too slow": "C0"}
        for k, (group, names) in enumerate(by_group.items()):
            names = sorted(names, key=lambda n: runs[n]["info"]["decay"])
            for ax, key in zip(axes[k], ("excess_loss", "tv_sgd")):
                for j, n in enumerate(names):
                    f = runs[n]["final"]
                    c = colours[runs[n]["info"]["window"]["class"]]
                    ax.errorbar(j, f[key], yerr=f[f"{key}_se"], fmt="o", color=c, capsize=2)
                    if key == "excess_loss":
                        th = f["excess_loss_theory"]
                        ax.plot([j - 0.3, j + 0.3], [th, th], color="k", lw=1)
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels([n.split("_", 1)[1] for n in names], rotation=30, ha="right",
                                   fontsize=8)
                ax.set_ylabel(key.replace("_", " "))
                ax.set_title(f"{group}: green inside the decay window, red too fast, blue too "
                             "slow" + ("; black: the chain's theory" if key == "excess_loss"
                                       else ""),
                             fontsize=9)
        figs["shapes"] = _save_figure(fig, out, "shapes")
        # equipartition lag during the decays of the hottest peak
        hot = max(by_group, key=lambda gname: runs[by_group[gname][0]]["info"]["peak"])
        names = [n for n in by_group[hot] if runs[n]["info"]["shape"] in
                 ("quench", "cosine", "inverse_time", "window", "greedy")
                 or n.endswith("_d320")][:6]
        fig, ax = plt.subplots(figsize=(7.5, 4.3))
        for j, n in enumerate(names):
            c = runs[n]["curves"]
            t0 = runs[n]["info"]["decay_start"]
            sel = (c["steps"] >= t0 - 20) & (c["steps"] <= t0 + 400)
            t = c["steps"][sel] - t0
            ax.errorbar(t, c["valley_energy"][sel] - c["equipartition"][sel],
                        yerr=c["valley_energy_se"][sel], fmt=".", color=f"C{j}", ms=3,
                        label=n.split("_", 1)[1])
            ax.plot(t, c["valley_energy_theory"][sel] - c["equipartition"][sel], "-",
                    color=f"C{j}", lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("steps since the decay began")
        ax.set_ylabel("valley energy - d T(t) / 2")
        ax.set_title(f"Equipartition lag during decay ({hot}); lines: valley recursion x FP",
                     fontsize=9)
        ax.legend(fontsize=8, frameon=False)
        figs["equipartition"] = _save_figure(fig, out, "equipartition")
    # loss curves for a few schedules
    picks = []
    if "plateau" in outcome:
        runs = outcome["plateau"]["runs"]
        g0 = list(groups(runs).values())[-1]
        g0 = sorted(g0, key=lambda n: runs[n]["info"]["peak"])
        picks += [("plateau", n) for n in g0
                  if n in (g0[0], g0[-1]) or runs[n]["info"]["is_lr_star"]]
    if "shapes" in outcome:
        runs = outcome["shapes"]["runs"]
        picks += [("shapes", n) for n in runs if n.endswith(("_quench", "_window"))][:3]
    if picks:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for j, (sweep, n) in enumerate(picks):
            run_ = outcome[sweep]["runs"][n]
            c, ref = run_["curves"], run_["reference"]["loss"]
            ax.plot(c["steps"], c["loss"] - ref, color=f"C{j}", lw=1.2, label=f"{sweep}: {n}")
            ax.fill_between(c["steps"], c["loss"] - ref - c["loss_se"], c["loss"] - ref + c["loss_se"],
                            color=f"C{j}", alpha=0.3)
            ax.plot(c["steps"], c["loss_theory"] - ref, "--", color=f"C{j}", lw=0.8)
        if "bath" in outcome:
            ax.axhline(outcome["bath"]["runs"]["bath"]["final"]["excess_loss"], color="0.5",
                       ls=":", lw=1, label="SGD bath (reference run)")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_xlabel("step")
        ax.set_ylabel("loss - bath equilibrium loss")
        ax.set_title("Loss curves: Monte Carlo (band ±1 SE), theory (dashed)", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
        figs["loss_curves"] = _save_figure(fig, out, "loss_curves")
    if "equal_area" in outcome:
        runs = outcome["equal_area"]["runs"]
        fig, ax = plt.subplots(figsize=(6.5, 4.3))
        for n, r in runs.items():
            f, grp = r["final"], r["info"]["group"]
            c = {"reference": "k", "equal LR sum": "C0", "control": "C3"}[grp]
            ax.errorbar(r["info"]["lr_sum"], f["excess_loss"], yerr=f["excess_loss_se"], fmt="o",
                        color=c, capsize=2, ms=4)
            ax.plot(r["info"]["lr_sum"], f["excess_loss_theory"], "x", color=c)
        ax.set_xlabel("LR sum")
        ax.set_ylabel("final excess loss")
        ax.set_title("Equal LR sum (blue), reference (black), other sums (red); x: theory",
                     fontsize=9)
        figs["equal_area"] = _save_figure(fig, out, "equal_area")
    if "valley" in outcome:
        runs = outcome["valley"]["runs"]
        names = sorted(runs, key=lambda n: runs[n]["final"]["variance"])
        fig, ax = plt.subplots(figsize=(6.5, 4.3))
        for j, n in enumerate(names):
            f = runs[n]["final"]
            ax.errorbar(j, f["variance"], yerr=f["variance_se"], fmt="o", color="C0", capsize=2)
            ax.plot([j - 0.3, j + 0.3], [f["variance_theory"]] * 2, "k-", lw=1)
        f = runs[names[0]]["final"]
        ax.axhline(f["closed_form_greedy"], color="r", ls="--", lw=0.8,
                   label="1 / (1/v0 + a^2 K / sigma^2)")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("final valley variance per coordinate")
        ax.legend(fontsize=8, frameon=False)
        ax.set_title("Harmonic valley, discrete SGD, same budget; black: exact recursion",
                     fontsize=9)
        figs["valley"] = _save_figure(fig, out, "valley")
    return figs
