"""`mpemba-jax bench`: particle-steps/s of the engine, NumPy and the normals-only bound."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..bench import run_benchmark


def add_parser(sub):
    p = sub.add_parser("bench", help="throughput benchmark (JSON to stdout)",
                       description="Time the engine, a plain NumPy Euler–Maruyama of the same "
                                   "update, and the engine's normal generator alone, on the "
                                   "double_well preset; print JSON.")
    p.add_argument("--n-particles", type=int, default=1_000_000)
    p.add_argument("--n-steps", type=int, default=1000)
    p.add_argument("--numpy-particles", type=int, default=None,
                   help="particles for the NumPy baseline (default: min(N, 1e6))")
    p.add_argument("--numpy-steps", type=int, default=100)
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    report = run_benchmark(args.n_particles, args.n_steps, args.numpy_particles, args.numpy_steps)
    report["command"] = "mpemba-jax " + " ".join(sys.argv[1:])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0
