"""`mpemba-jax doctor`: devices, a correctness subset, throughput against the bounds.

Prints what it measures and writes one JSON (`--out`, default
`runs/doctor-<backend>.json`). `--quick` takes under two minutes on a 2-core
CPU; the full run at most about five minutes on one GPU. See
`mpemba_jax/studies/doctor.py` for what each figure is.
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser(
        "doctor", help="check this machine: devices, correctness subset, throughput (JSON)",
        description="Report the devices and their memory, run a correctness subset (OU "
                    "stationary variance, chunk and device invariance, checkpoint resume, "
                    "float32 vs float64) and time every integrator x noise against the noise "
                    "drawn alone and the memory-bandwidth roofline; write one JSON.")
    p.add_argument("--quick", action="store_true",
                   help="smaller sizes (under two minutes on a 2-core CPU)")
    p.add_argument("--n-particles", type=int, default=None,
                   help="particles for the throughput runs (default: from device memory)")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file to write (default runs/doctor-<backend>.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    import jax

    from ..io import jsonable
    from ..studies.doctor import run_doctor

    if args.n_particles is not None and args.n_particles < 1:
        raise ValueError(f"--n-particles must be an integer >= 1; got {args.n_particles}")
    report = run_doctor(quick=args.quick, n_particles=args.n_particles)
    out = args.out or Path("runs") / f"doctor-{jax.default_backend()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(jsonable(report), indent=1))
    print(f"wrote {out}")
    return 0 if report["passed"] else 1
