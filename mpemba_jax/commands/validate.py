"""`mpemba-jax validate`: particles against theory through a strong Mpemba point.

Quenches a preset with a strong Mpemba point from equilibrium at three plateau
LRs to the bath LR: a cold plateau (largest `|a_2|` below `lr*`), a hot plateau
(above `lr*`, `|a_2(hot)| = |a_2(cold)| / 2` unless given) and `lr*` itself.
Argument parsing around the study `mpemba_jax.studies.run_mpemba_crossing`
(`mpemba_jax/studies/mpemba_crossing.py`). Writes `verdict.json` and
`mpemba_crossing.png` into `--out` (into `--out/seed_S/` per seed triple with
`--replicates`), and with `--results DIR` the small record of each seed triple
as `DIR/crossing_seed_S.json`.
"""

from __future__ import annotations

import json
import os
import shlex
import time

from ..io.results import jsonable
from ..presets import preset
from ..studies import (DEFAULT_PARAMS, crossing_summary, print_crossing_summary,
                       run_mpemba_crossing, write_crossing_outputs)
from . import parse_params


def add_parser(sub):
    p = sub.add_parser(
        "validate",
        help="Monte Carlo against theory: Mpemba crossing and a strong Mpemba point",
        description=(
            "Quench a preset from equilibrium at a cold plateau, a hot plateau and its strong "
            "Mpemba point lr* to the bath LR; test histograms, distances and eigenmode "
            "projections against the theory; measure the crossing of the cold and hot distance "
            "curves; state each claim as a test that could fail (docs/validation.md). Writes "
            "verdict.json and mpemba_crossing.png."
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
    p.add_argument("--replicates", type=int, default=1,
                   help="independent seed triples (seed + 3 i, ...; default 1)")
    p.add_argument("--theory", choices=("continuum", "chain"), default="continuum",
                   help="continuum Fokker–Planck (its EM bias at dt is estimated and reported) "
                        "or the discrete chain the integrator runs at dt (THEORY section 8)")
    p.add_argument("--groups", type=int, default=64,
                   help="replicate groups per run (aggregate chi-square, jackknife; default 64)")
    p.add_argument("--n-grid", type=int, default=2000, help="Fokker–Planck grid cells")
    p.add_argument("--level", type=float, default=0.01, help="level of the statistical tests")
    p.add_argument("--crossing-level", type=float, default=0.05,
                   help="1 - confidence of the crossing-time interval (default 0.05)")
    p.add_argument("--integrator", default="euler_maruyama",
                   help="simulator scheme (default euler_maruyama; the bias estimate is for it)")
    p.add_argument("--chunk-size", type=int, default=None, help="particles in memory at once")
    p.add_argument("--out", default="runs/mpemba_crossing", help="output directory")
    p.add_argument("--results", default=None,
                   help="also write each seed triple's small record here (crossing_seed_S.json)")
    p.add_argument("--figure", default=None, help="also copy the (first triple's) figure here")
    p.add_argument("--no-progress", action="store_true", help="hide progress lines")
    p.set_defaults(func=run)


def _command(args) -> str:
    """The command line that reproduces this run, every option spelled out."""
    words = ["mpemba-jax", "validate"]
    for name, value in vars(args).items():
        if name in ("func", "command", "out", "results", "figure", "no_progress") or value is None:
            continue
        if isinstance(value, bool):  # a flag: spelled when set
            words += ["--" + name.replace("_", "-")] if value else []
            continue
        if name == "heartbeat_timeout" and not vars(args).get("distributed"):
            continue
        for v in (value if isinstance(value, list) else [value]):
            if name == "n_particles" and float(v).is_integer():
                v = int(v)  # read as a float so that 1e6 is accepted; written as a count
            words += ["--" + name.replace("_", "-"), str(v)]
    return shlex.join(words)


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
    if args.replicates < 1:
        raise ValueError(f"--replicates must be >= 1; got {args.replicates}")
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    command = _command(args)
    for i in range(args.replicates):
        seed = args.seed + 3 * i
        study = run_mpemba_crossing(
            land, lr_bath=args.lr_bath, lr_cold=args.lr_cold, lr_hot=args.lr_hot,
            n_particles=n_particles, dt=args.dt, t_end=args.t_end,
            record_every=args.record_every, bins=args.bins, seed=seed, n_grid=args.n_grid,
            level=args.level, crossing_level=args.crossing_level, integrator=args.integrator,
            theory=args.theory, groups=args.groups, chunk_size=args.chunk_size,
            progress=not args.no_progress)
        out = args.out if args.replicates == 1 else os.path.join(args.out, f"seed_{seed}")
        path, png = write_crossing_outputs(study, out, settings=settings,
                                           figure=args.figure if i == 0 else None,
                                           command=command)
        print_crossing_summary(study)
        if args.results:
            os.makedirs(args.results, exist_ok=True)
            small = os.path.join(args.results, f"crossing_seed_{seed}.json")
            with open(small, "w") as f:
                json.dump(jsonable(crossing_summary(study, settings=settings, command=command)),
                          f, indent=1, allow_nan=False)
            print(f"wrote {small}")
        print(f"wrote {path} and {png} ({time.perf_counter() - start:.0f} s)")
    return 0
