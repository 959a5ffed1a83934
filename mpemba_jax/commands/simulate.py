"""`mpemba-jax simulate`: run a TOML-configured simulation, save the result and a figure."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .. import config as _config
from ..plotting import plot_histograms
from ..simulate import SimulationDiverged, simulate


def add_parser(sub):
    p = sub.add_parser(
        "simulate", help="run a simulation from a TOML config (default: the demo)",
        description="Run a valley–river Langevin simulation described by a TOML config "
                    "(see experiments/configs/demo.toml; without --config the demo runs). "
                    "Writes the result directory (arrays.npz + metadata.json) and histograms.png.")
    p.add_argument("--config", type=Path, help="TOML config file (default: the built-in demo)")
    p.add_argument("--out", type=Path, help="result directory (default: [output] dir of the config)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing result directory")
    p.add_argument("--n-particles", type=int, help="override simulation.n_particles")
    p.add_argument("--no-progress", action="store_true", help="hide the progress line")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = _config.load_config(args.config) if args.config else _config.check_config(_config.DEMO)
    if args.n_particles is not None:
        cfg["simulation"]["n_particles"] = args.n_particles
    out = args.out or Path(cfg.get("output", {}).get("dir", "runs/simulation"))
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    landscape, schedule, kwargs = _config.build_run(cfg)
    start = time.perf_counter()
    try:
        result = simulate(landscape, schedule, progress=not args.no_progress, **kwargs)
    except SimulationDiverged as e:
        partial = out.with_name(out.name + ".partial")
        e.partial_result.save(partial, overwrite=args.overwrite)
        raise ValueError(f"{e} (records before it saved to {partial})") from None
    def extra(tmp: Path) -> None:
        plot_histograms(result, tmp / "histograms.png")
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2))

    result.save(out, overwrite=args.overwrite, extra=extra)
    elapsed = time.perf_counter() - start
    n = result.n_particles * result.metadata["n_steps"]
    print(f"wrote {out}/ ({len(result.times)} records, {result.n_particles:,} particles, "
          f"{elapsed:.1f} s, {n / elapsed:.3g} particle-steps/s); figure {out / 'histograms.png'}")
    return 0
