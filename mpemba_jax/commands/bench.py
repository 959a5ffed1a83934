"""`mpemba-jax bench`: particle-steps/s of the engine, NumPy, diffrax and the RNG bound."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..studies.bench import DEFAULT_CONFIGS, run_benchmark
from ..engine.noise import GENERATORS


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="throughput benchmark (JSON to stdout)",
        description="Time the same work (double_well preset, N particles, S steps, a river "
                    "histogram every k steps) for the engine in each integrator x noise "
                    "configuration and each JAX generator, plain NumPy Euler–Maruyama, diffrax, "
                    "and the engine's noise drawn alone; print JSON with particle-steps/s, "
                    "ratios, device and versions. Sizes can differ per contender; rates are per "
                    "particle-step. See docs/performance.md.")
    p.add_argument("--n-particles", type=int, default=1 << 20, help="engine particles (N)")
    p.add_argument("--n-steps", type=int, default=200, help="steps (S)")
    p.add_argument("--record-every", type=int, default=50, help="histogram every k steps")
    p.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                   help="comma-separated integrator/noise pairs (default: all)")
    p.add_argument("--generators", default=",".join(GENERATORS),
                   help="JAX generators to time with Gaussian Euler–Maruyama ('' for none)")
    p.add_argument("--generator-particles", type=int, default=None,
                   help="particles for the generator comparison (default: N)")
    p.add_argument("--numpy-particles", type=int, default=None,
                   help="particles for NumPy (default: min(N, 2^18))")
    p.add_argument("--numpy-steps", type=int, default=100)
    p.add_argument("--diffrax-particles", type=int, default=None,
                   help="particles for diffrax (default: min(N, 2^16))")
    p.add_argument("--diffrax-steps", type=int, default=100)
    p.add_argument("--chunk-size", type=int, default=None,
                   help="engine particles held at once (default: the engine's)")
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--dt", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=2, help="timed runs per contender (best kept)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def _command(args) -> str:
    """The command line that reproduces this run, every option spelled out."""
    words = ["mpemba-jax", "bench"]
    for name in ("n_particles", "n_steps", "record_every", "configs", "generators",
                 "generator_particles", "numpy_particles", "numpy_steps", "diffrax_particles",
                 "diffrax_steps", "chunk_size", "lr", "dt", "repeats"):
        value = getattr(args, name)
        if value is not None:
            words += ["--" + name.replace("_", "-"), repr(value) if value == "" else str(value)]
    return " ".join(words)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def run(args) -> int:
    configs = _split(args.configs)
    for config in configs:
        if config not in DEFAULT_CONFIGS:
            raise ValueError(f"--configs: {config!r} is not one of {', '.join(DEFAULT_CONFIGS)}")
    generators = _split(args.generators)
    for generator in generators:
        if generator not in GENERATORS:
            raise ValueError(f"--generators: {generator!r} is not one of {', '.join(GENERATORS)}")
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    report = run_benchmark(
        args.n_particles, args.n_steps, args.record_every, configs=configs,
        generators=generators, generator_particles=args.generator_particles,
        numpy_particles=args.numpy_particles, numpy_steps=args.numpy_steps,
        diffrax_particles=args.diffrax_particles, diffrax_steps=args.diffrax_steps,
        chunk_size=args.chunk_size, lr=args.lr, dt=args.dt, repeats=args.repeats, log=log)
    report["command"] = _command(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0
