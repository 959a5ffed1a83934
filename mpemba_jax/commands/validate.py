"""`mpemba-jax validate`: particles against theory through a strong Mpemba point.

Quenches a preset with a strong Mpemba point from equilibrium at three plateau
LRs to the bath LR: a cold plateau (largest `|a_2|` below `lr*`), a hot plateau
(above `lr*`, `|a_2(hot)| = |a_2(cold)| / 2` unless given) and `lr*` itself.
Argument parsing around the study `mpemba_jax.studies.run_mpemba_crossing`
(`mpemba_jax/studies/mpemba_crossing.py`). Writes `verdict.json` and
`mpemba_crossing.png` into `--out`.
"""

from __future__ import annotations

import time

from ..presets import preset
from ..studies import (DEFAULT_PARAMS, print_crossing_summary, run_mpemba_crossing,
                       write_crossing_outputs)
from . import parse_params


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
    study = run_mpemba_crossing(
        land, lr_bath=args.lr_bath, lr_cold=args.lr_cold, lr_hot=args.lr_hot,
        n_particles=n_particles, dt=args.dt, t_end=args.t_end, record_every=args.record_every,
        bins=args.bins, seed=args.seed, n_grid=args.n_grid, level=args.level,
        crossing_level=args.crossing_level, integrator=args.integrator,
        chunk_size=args.chunk_size, progress=not args.no_progress)
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    path, png = write_crossing_outputs(study, args.out, settings=settings, figure=args.figure)
    print_crossing_summary(study)
    print(f"wrote {path} and {png} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0
