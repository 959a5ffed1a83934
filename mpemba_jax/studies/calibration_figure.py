"""The calibration study's figure: each check's power against N, per alternative, and its size."""

from __future__ import annotations

from ..io.plotting import pyplot, save_figure

__all__ = ["draw_power_figure"]


def draw_power_figure(calibration: dict, path) -> None:
    """One panel per alternative (rejection rate at the power level against particles per
    run, one line per check, 95% Clopper–Pearson bars) and one per null case (the sizes
    at the same level), from `run_calibration`'s dict, into `path`."""
    plt = pyplot()
    alts = list(calibration["power"])
    level = calibration["settings"]["power_level"]
    key = f"{level:g}"
    cases = list(calibration["size"])
    n_panels = len(alts) + len(cases)
    cols = 3
    rows = -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    checks = list(next(iter(next(iter(calibration["size"].values())).values())))
    colors = {c: pyplot().get_cmap("tab20")(i % 20) for i, c in enumerate(checks)}
    markers = {c: "os^vD<>ph*x+"[i % 12] for i, c in enumerate(checks)}

    def panel(ax, table, title):
        for c in checks:
            ns, rate, lo, hi = [], [], [], []
            for n, rows_n in sorted(table.items(), key=lambda kv: int(kv[0])):
                row = rows_n.get(c)
                if row is None or not row["runs"]:
                    continue
                ns.append(int(n))
                rate.append(row["rate"][key])
                lo.append(row["rate"][key] - row["interval"][key][0])
                hi.append(row["interval"][key][1] - row["rate"][key])
            if ns:
                ax.errorbar(ns, rate, yerr=[lo, hi], marker=markers[c], ms=4, lw=1,
                            color=colors[c], label=c, capsize=2)
        ax.axhline(level, color="k", ls="--", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("particles per run N")
        ax.set_ylabel(f"rejection rate at level {level:g}")
        ax.set_title(title, fontsize=9)

    for ax, alt in zip(axes.ravel(), alts):
        panel(ax, calibration["power"][alt], f"power: {alt}")
    for ax, case in zip(axes.ravel()[len(alts):], cases):
        panel(ax, calibration["size"][case], f"size: {case} (dashed: nominal)")
        ax.set_ylim(-0.005, max(0.1, 4 * level))
    axes.ravel()[len(alts)].legend(fontsize=6, frameon=False, loc="upper right", ncol=2)
    for ax in axes.ravel()[n_panels:]:
        ax.axis("off")
    fig.suptitle(f"calibration: {calibration['settings']['n_replicates']} runs per case and N",
                 fontsize=10)
    save_figure(fig, path, dpi=72)
