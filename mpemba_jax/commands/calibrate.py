"""`mpemba-jax calibrate`: every check's false-rejection rate and power, measured.

Argument parsing around `mpemba_jax.studies.run_calibration`
(`mpemba_jax/studies/calibration.py`): null runs of the cases whose theory is
exact, the stated alternatives, at the particle numbers given. Writes the
JSON (`--out`) and the power figure (`--figure`); `experiments/make_tables.py`
turns the JSON into the tables of docs/validation.md.
"""

from __future__ import annotations

import json
import os
import shlex
import time

from ..io.results import jsonable
from ..studies import ALTERNATIVES, NULL_CASES, draw_power_figure, run_calibration, size_failures


def add_parser(sub):
    p = sub.add_parser(
        "calibrate", help="measure every check's size on null runs and its power",
        description=("Run many independent null runs (one run with replicate groups) of cases "
                     "whose theory is exact, validate each, and tabulate every check's "
                     "false-rejection rate against its level (Clopper–Pearson intervals) and "
                     "its power against stated alternatives, at several particle numbers."))
    p.add_argument("--n-particles", type=int, nargs="+", default=[1024, 4096, 16384],
                   help="particles per run (default 1024 4096 16384)")
    p.add_argument("--replicates", type=int, default=200, help="runs per case and N (200)")
    p.add_argument("--groups", type=int, default=16, help="replicate groups per run (16)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--cases", nargs="+", default=None, choices=list(NULL_CASES),
                   help="null cases (default: all)")
    p.add_argument("--alternatives", nargs="*", default=None,
                   choices=[a.name for a in ALTERNATIVES], help="alternatives (default: all)")
    p.add_argument("--out", default="runs/calibration.json", help="JSON output")
    p.add_argument("--figure", default=None, help="power figure (PNG)")
    p.add_argument("--no-progress", action="store_true", help="hide progress lines")
    p.set_defaults(func=run)


def _command(args) -> str:
    words = ["mpemba-jax", "calibrate", "--n-particles", *map(str, args.n_particles),
             "--replicates", str(args.replicates), "--groups", str(args.groups),
             "--seed", str(args.seed)]
    if args.cases is not None:
        words += ["--cases", *args.cases]
    if args.alternatives is not None:
        words += ["--alternatives", *args.alternatives]
    return shlex.join(words)


def run(args) -> int:
    for n in args.n_particles:
        if n < 1 or n % args.groups:
            raise ValueError(f"--n-particles must be positive multiples of --groups "
                             f"({args.groups}); got {n}")
    if args.replicates < 2:
        raise ValueError(f"--replicates must be >= 2; got {args.replicates}")
    start = time.perf_counter()
    out = run_calibration(n_particles=tuple(args.n_particles), n_replicates=args.replicates,
                          groups=args.groups, seed=args.seed, cases=args.cases,
                          alternatives=args.alternatives, progress=not args.no_progress)
    out["command"] = _command(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(jsonable(out), f, indent=1, allow_nan=False)
    if args.figure:
        draw_power_figure(out, args.figure)
    for case, per_n in out["size"].items():
        for n, table in per_n.items():
            bad = size_failures(table, tail=1e-3)
            print(f"{case} N={n}: " + ("sizes within the 0.1% binomial bands" if not bad
                                       else "; ".join(bad)))
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")
    return 0
