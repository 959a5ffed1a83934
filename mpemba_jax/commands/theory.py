"""`mpemba-jax theory`: spectrum, strong Mpemba points and the a_2 / a_3 figure."""

from __future__ import annotations


import json
import os

import numpy as np

from ..theory import FokkerPlanck
from ..io.plotting import pyplot, save_figure
from ..presets import preset
from . import parse_params


def add_parser(sub):
    p = sub.add_parser(
        "theory",
        help="Fokker–Planck spectrum and strong Mpemba points of a preset",
        description=(
            "Build the river's Fokker–Planck operator at the bath LR, print its leading "
            "eigenvalues and the strong Mpemba points (a_2 = 0) in a plateau-LR range, "
            "and write a figure of a_2 and a_3 against the plateau LR."
        ),
    )
    p.add_argument("--preset", default="kinked_double_well", help="preset landscape name")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="override a preset parameter (repeatable), e.g. --param tilt=0.02",
    )
    p.add_argument("--lr-bath", type=float, default=0.01, help="bath (final) LR (default 0.01)")
    p.add_argument(
        "--lr-range", type=float, nargs=2, metavar=("LO", "HI"), default=None,
        help="plateau-LR range, above the bath LR (default 1.05 and 10 times lr-bath)",
    )
    p.add_argument("--time", choices=("steps", "lr_area"), default="steps",
                   help="time convention (default steps)")
    p.add_argument("--temperature-scale", type=float, default=1.0, help="g in T = g * lr")
    p.add_argument("--n-grid", type=int, default=8000, help="grid cells (default 8000)")
    p.add_argument("--n-modes", type=int, default=6, help="eigenvalues to print (default 6)")
    p.add_argument("--out", default=".", help="directory for theory.png and theory.json")
    p.set_defaults(func=run)


def run(args) -> int:
    plt = pyplot()
    land = preset(args.preset, **parse_params(args.param))
    lo, hi = args.lr_range or (1.05 * args.lr_bath, 10.0 * args.lr_bath)
    fp = FokkerPlanck(
        land, args.lr_bath, time=args.time, temperature_scale=args.temperature_scale,
        n_grid=args.n_grid, n_modes=max(args.n_modes, 3), lr_max=max(hi, args.lr_bath),
    )
    summary = fp.mpemba_summary((lo, hi))
    lam = fp.eigenvalues[: args.n_modes]
    print(f"{land!r}")
    print(f"lr_bath={fp.lr_bath:g}  time={args.time}  grid [{fp.edges[0]:.4g}, "
          f"{fp.edges[-1]:.4g}] x {fp.n_grid}")
    print("eigenvalues lambda_k (per unit time):")
    for k, v in enumerate(lam, 1):
        print(f"  lambda_{k} = {v:.6g}")
    print(f"lambda_3 / lambda_2 = {fp.eigenvalues[2] / fp.eigenvalues[1]:.4g}")
    print(f"strong Mpemba points in [{lo:g}, {hi:g}]: "
          + (", ".join(f"{x:.6g} (a_3={a:.4g})" for x, a in
                       zip(summary.strong_points, summary.a3_at_points)) or "none"))
    print(f"Mpemba index {summary.index}; optimal plateau {summary.optimal_lr:.6g} "
          f"(a_2={summary.optimal_a2:.3g}); worst {summary.worst_lr:.6g} "
          f"(a_2={summary.worst_a2:.3g})")

    os.makedirs(args.out, exist_ok=True)
    lrs = np.geomspace(lo, hi, 300)
    a = fp.amplitudes(lrs)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, a[:, 1], label="$a_2$")
    ax.plot(lrs, a[:, 2], label="$a_3$")
    ax.axhline(0.0, color="k", lw=0.5)
    for x in summary.strong_points:
        ax.axvline(x, color="r", ls="--", lw=0.8)
    if len(summary.strong_points):
        ax.plot(summary.strong_points, np.zeros(len(summary.strong_points)), "ro",
                label="strong Mpemba point")
    ax.set_xscale("log")
    # a_3 can be astronomically large for hot starts that fill far tails, so a
    # linear-near-zero log scale keeps a_2 readable.
    ax.set_yscale("symlog", linthresh=max(float(np.abs(a[:, 1]).max()), 1e-12))
    ax.set_xlabel("plateau LR")
    ax.set_ylabel("amplitude")
    ax.set_title(f"{land.name}, lr_bath={fp.lr_bath:g}")
    ax.legend()
    png = os.path.join(args.out, "theory.png")
    save_figure(fig, png, dpi=120)
    with open(os.path.join(args.out, "theory.json"), "w") as f:
        json.dump({
            **fp.describe(),
            "lr_range": [lo, hi],
            "strong_points": summary.strong_points.tolist(),
            "a3_at_points": summary.a3_at_points.tolist(),
            "optimal_lr": summary.optimal_lr,
            "worst_lr": summary.worst_lr,
            "mpemba_index": summary.index,
        }, f, indent=2)
    print(f"wrote {png}")
    return 0
