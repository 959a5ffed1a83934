"""Figures of the loss-curve study, drawn from its JSON summaries (no refitting).

`fits_figure`: per model size a column of data with every model's fit, the
in-sample residuals, the leave-one-out residuals (each curve predicted by the
refit on the other two), and the predictions for schedules outside the data. `uses_figure`:
the fitted river's `a_2` against the plateau LR, and the predicted final loss
of WSD schedules against the decay fraction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.plotting import pyplot, save_figure
from .data import LossCurve, load_shared_curves
from .result import LossCurveFit
from .study import loo_fit

__all__ = ["fits_figure", "uses_figure"]

_COLORS = {"valley_river": "C3", "multi_power": "C0", "annealing": "C2"}
_LABELS = {"valley_river": "valley–river", "multi_power": "multi-power law",
           "annealing": "LR-annealing law"}


def fits_figure(summaries: list[dict], path: str | Path,
                curves: list[list[LossCurve]] | None = None) -> Path:
    """Data, fits, residuals, leave-one-out residuals and predictions, one column per summary (`fit_curves`'s
    dict; its curves are `curves[col]`, or the shared curves of `summary["size"]`)."""
    plt = pyplot()
    n = len(summaries)
    fig, axes = plt.subplots(4, n, figsize=(5.2 * n, 14), squeeze=False)
    for col, summary in enumerate(summaries):
        data = curves[col] if curves is not None else load_shared_curves(summary["size"])
        title = (f"{summary['size']}M parameters" if "size" in summary else "curves") \
            + ": joint fit"
        fits = {name: LossCurveFit.from_json(entry["fit"])
                for name, entry in summary["models"].items()}
        ax, ax_r, ax_l, ax_p = axes[:, col]
        for k, c in enumerate(data):
            ax.plot(c.steps, c.loss, ".", ms=2.5, color=f"0.{2 + 2 * k}",
                    label=f"data: {c.name}")
            for name, fit in fits.items():
                pred = fit.predict(c.lrs, c.steps)
                ax.plot(c.steps, pred, color=_COLORS.get(name), lw=0.9,
                        label=_LABELS.get(name, name) if k == 0 else None)
                ax_r.plot(c.steps, pred - c.loss, color=_COLORS.get(name), lw=0.8,
                          ls=("-", "--", ":", "-.")[k % 4],
                          label=f"{_LABELS.get(name, name)}, {c.name}" if col == 0 else None)
        for k, c in enumerate(data):
            for name, entry in summary["models"].items():
                if c.name in entry.get("loo", {}):
                    pred = loo_fit(entry, c.name).predict(c.lrs, c.steps)
                    ax_l.plot(c.steps, pred - c.loss, color=_COLORS.get(name), lw=0.8,
                              ls=("-", "--", ":", "-.")[k % 4])
        ax_l.axhline(0.0, color="k", lw=0.5)
        ax_l.set_ylim(-0.04, 0.04)
        ax_l.set_ylabel("model - data")
        ax_l.set_title("leave-one-out: each curve predicted by the fit to the other two",
                       fontsize=9)
        low, high = min(c.loss.min() for c in data), max(c.loss[0] for c in data)
        ax.set_ylim(low - 0.03, high + 0.05)
        ax.set_title(title)
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7, frameon=False)
        ax_r.axhline(0.0, color="k", lw=0.5)
        ax_r.set_ylim(-0.015, 0.015)
        ax_r.set_ylabel("model - data")
        ax_r.set_title("residuals (first points off scale)", fontsize=9)
        if col == 0:
            ax_r.legend(fontsize=6, frameon=False, ncol=1)
        for k, (sname, entry) in enumerate(summary.get("predictions", {}).items()):
            for name in fits:
                if name in entry:
                    ax_p.plot(entry["steps"], entry[name], color=_COLORS.get(name),
                              ls=("-", "--", ":", "-.", (0, (1, 3)))[k % 5], lw=0.9,
                              label=sname if name == next(iter(fits)) else None)
        ax_p.set_ylim(low - 0.1, high + 0.05)
        ax_p.set_title("predictions (colour: model, style: schedule)", fontsize=9)
        ax_p.set_xlabel("step")
        ax_p.legend(fontsize=7, frameon=False)
    return save_figure(fig, path, dpi=100)


def uses_figure(uses: list[dict], path: str | Path) -> Path:
    """`a_2` against the plateau LR and WSD final losses, one column per size
    (the `uses_<size>.json` dicts of the study)."""
    plt = pyplot()
    n = len(uses)
    fig, axes = plt.subplots(2, n, figsize=(5.2 * n, 7.5), squeeze=False)
    for col, u in enumerate(uses):
        ax, ax_w = axes[:, col]
        m = u["mpemba"]
        ax.plot(m["lr_plateaus"], m["a2"], color="C3", label="$a_2$")
        ax.plot(m["lr_plateaus"], m["a3"], color="C3", ls="--", label="$a_3$")
        for x in m["strong_points"]:
            ax.axvline(x, color="k", ls=":", lw=0.8)
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("plateau LR")
        ax.set_title(f"{u['size']}M: fitted river, bath LR {m['lr_bath']:g}; "
                     f"1/$\\lambda_2$ = {m['relaxation_steps']:.2g} steps", fontsize=9)
        ax.legend(fontsize=8, frameon=False)
        for name, grid in u["wsd"].items():
            loss = np.asarray(grid["final_loss"], dtype=float)
            j = int(np.argmin(np.abs(np.asarray(grid["peaks"]) - u["reference_peak"])))
            for i, shape in enumerate(grid["shapes"]):
                ax_w.plot(grid["decay_fractions"], loss[i, j], marker="o", ms=3,
                          color=_COLORS.get(name), ls=("-", "--")[i % 2],
                          label=f"{_LABELS.get(name, name)}, {shape}")
        ax_w.set_xlabel(f"decay fraction (peak {u['reference_peak']:g}, "
                        f"{u['budget']} steps, decay to 0)")
        ax_w.set_ylabel("predicted final loss")
        ax_w.legend(fontsize=7, frameon=False)
    return save_figure(fig, path, dpi=100)
