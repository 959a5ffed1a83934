"""`mpemba-jax compare-schedules`: which LR schedule does a valley–river landscape reward?

Argument parsing around `mpemba_jax.studies.run_schedule_comparison` (the
study: config, sweeps, measurement, verdicts, report and figures live in
`mpemba_jax/studies/schedule_comparison/`). Output: `report.md`, figures,
`summary.json` and `runs/<sweep>/<run>.json` in `--out`; with `--report-dir`
a copy of the report and its figures there (e.g. `docs/schedule_comparison`).
"""

from __future__ import annotations

from ..studies.schedule_comparison import (DEFAULT, SWEEPS, check_config, load_config,
                                           run_schedule_comparison)


def add_parser(sub):
    p = sub.add_parser(
        "compare-schedules",
        help="compare LR schedules (plateau heights, decay shapes, LR sums) in simulation",
        description=(
            "Run batches of warm-up/stable/decay schedules on particles that start upstream, "
            "measure excess loss, TV distance, A_2/A_3 and valley equipartition against the "
            "time-dependent Fokker-Planck theory, and write JSON, figures and a report."),
    )
    p.add_argument("--config", default=None,
                   help="TOML config (default: the built-in one, = "
                        "experiments/configs/schedule_comparison.toml)")
    p.add_argument("--out", default=None, help="output directory (default: output.dir)")
    p.add_argument("--report-dir", default=None,
                   help="also write report.md and the figures it links into this directory "
                        "(e.g. docs/schedule_comparison); the JSON stays in --out")
    p.add_argument("--particles", type=int, default=None,
                   help="particles per schedule in every sweep (e.g. 100000000 on an accelerator)")
    p.add_argument("--sweeps", default=None,
                   help=f"comma-separated subset of {','.join(SWEEPS)}")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="particles per schedule held in memory at once (default: by backend)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output directory (and --report-dir)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_config(args.config) if args.config else check_config(DEFAULT)
    if args.particles is not None:
        cfg["run"]["n_particles"] = args.particles
        cfg["valley"]["n_particles"] = args.particles
    if args.sweeps is not None:
        cfg["run"]["sweeps"] = [s.strip() for s in args.sweeps.split(",") if s.strip()]
    if args.chunk_size is not None:
        cfg["run"]["chunk_size"] = args.chunk_size
    out = run_schedule_comparison(cfg, args.out or None, overwrite=args.overwrite,
                                  progress=not args.no_progress, report_dir=args.report_dir)
    print(f"wrote {out / 'report.md'}")
    if args.report_dir is not None:
        print(f"wrote the report and its figures into {args.report_dir}")
    return 0
