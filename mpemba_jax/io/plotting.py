"""Figures (matplotlib, headless-safe): the one way the package gets `pyplot` and
writes a figure, and the histogram figure of a simulation result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..record import SimulationResult

__all__ = ["plot_histograms", "pyplot", "save_figure"]


def pyplot():
    """`matplotlib.pyplot`, on the non-interactive Agg backend unless a notebook's
    inline backend is active (figures are written to files, never shown)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, *, dpi: int = 110) -> Path:
    """Lay out `fig`, write it to `path` (PNG by the suffix), close it; returns `path`."""
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def plot_histograms(result: SimulationResult, path: str | Path | None = None,
                    n_curves: int = 8):
    """River density at `n_curves` record times (colour = time), and the mean
    loss and river position against time. Returns the figure; saves it to `path`.

    Example:
      >>> fig = mj.plot_histograms(result, "histograms.png")  # doctest: +SKIP
    """
    plt = pyplot()
    fig, (ax_h, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    picks = np.unique(np.round(np.geomspace(1, len(result.times), n_curves)).astype(int) - 1)
    cmap = plt.get_cmap("viridis")
    density = result.density()
    centers = result.bin_centers
    for j, r in enumerate(picks):
        ax_h.step(centers, density[r], where="mid", color=cmap(j / max(len(picks) - 1, 1)),
                  label=f"t = {result.times[r]:g}")
    ax_h.set_xlabel("river coordinate y")
    ax_h.set_ylabel("density")
    ax_h.legend(fontsize=8, frameon=False)
    meta = result.metadata
    ax_h.set_title(f"{meta['landscape']['name']}: {result.n_particles:,} particles, "
                   f"time={meta['dynamics']['time']}", fontsize=10)
    t = result.times
    for name, label, color in (("loss", "mean loss", "C0"), ("y_mean", "mean river y", "C1")):
        m, se = result.observables[name], result.standard_errors[name]
        ax_t.plot(t, m, color=color, label=label + " (band: 2 SE)" if name == "loss" else label)
        ax_t.fill_between(t, m - 2 * se, m + 2 * se, color=color, alpha=0.3)
    ax_t.set_xscale("symlog", linthresh=max(t[1] if len(t) > 1 else 1.0, 1e-12))
    ax_t.set_xlabel(f"t ({meta['dynamics']['time']})")
    ax_t.legend(fontsize=8, frameon=False)
    ax_lr = ax_t.twinx()
    ax_lr.plot(t, result.lr, color="0.5", lw=1, ls="--", label="learning rate")
    ax_lr.set_ylabel("learning rate", color="0.5")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
