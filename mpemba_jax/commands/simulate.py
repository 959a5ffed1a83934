"""`mpemba-jax simulate`: run a TOML-configured simulation, save the result and a figure."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from ..io import config as _config
from ..io.plotting import plot_histograms
from ..engine import SimulationDiverged, simulate
from ..engine.distributed import is_writer
from . import distributed as _distributed


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
    p.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                   help="checkpoint the run into OUT.checkpoint/ every STEPS steps (and at "
                        "every chunk's end); continue a killed run with --resume")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="continue the checkpointed run in DIR (an OUT.checkpoint directory); "
                        "its config is read from DIR, the result goes where it was meant to")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.resume is not None:
        if args.config or args.n_particles is not None or args.checkpoint_every is not None:
            raise ValueError("--resume takes the run's config from its checkpoint directory; "
                             "drop --config, --n-particles and --checkpoint-every")
        saved = _read_resume(args.resume)
        cfg, every, ckpt = saved["config"], saved["checkpoint_every"], args.resume
        out = args.out or Path(saved["out"])
    else:
        cfg = _config.load_config(args.config) if args.config else _config.check_config(_config.DEMO)
        if args.n_particles is not None:
            cfg["simulation"]["n_particles"] = args.n_particles
        out = args.out or Path(cfg.get("output", {}).get("dir", "runs/simulation"))
        every = args.checkpoint_every
        if every is not None and every < 1:
            raise ValueError(f"--checkpoint-every must be an integer >= 1; got {every}")
        ckpt = out.with_name(out.name + ".checkpoint") if every is not None else None
    # Before any JAX computation: join a multi-process run if the flags or the
    # config ask for one. Every process runs; process 0 alone writes the result.
    _distributed.start(args, cfg.get("distributed"))
    writer = is_writer()
    if writer and out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    landscape, schedule, kwargs = _config.build_run(cfg)
    if ckpt is not None:
        kwargs.update(checkpoint=ckpt, checkpoint_every=every, resume=args.resume is not None)
        if args.resume is None:
            if any(ckpt.glob("checkpoint*.npz")):
                raise FileExistsError(f"{ckpt} holds a checkpoint of an earlier run; continue it "
                                      f"with --resume {ckpt}, or remove it")
            _write_resume(ckpt, {"config": cfg, "checkpoint_every": every, "out": str(out)})
    start = time.perf_counter()
    try:
        result = simulate(landscape, schedule, progress=not args.no_progress, **kwargs)
    except SimulationDiverged as e:
        partial = out.with_name(out.name + ".partial")
        if writer:
            e.partial_result.save(partial, overwrite=args.overwrite)
        raise ValueError(f"{e} (records before it saved to {partial})") from None
    if not writer:  # process 0 writes the result and removes the checkpoint
        return 0

    def extra(tmp: Path) -> None:
        plot_histograms(result, tmp / "histograms.png")
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2))

    result.save(out, overwrite=args.overwrite, extra=extra)
    if ckpt is not None:  # the result is safely in place: the checkpoint has done its job
        shutil.rmtree(ckpt)
    elapsed = time.perf_counter() - start
    n = result.n_particles * result.metadata["n_steps"]
    print(f"wrote {out}/ ({len(result.times)} records, {result.n_particles:,} particles, "
          f"{elapsed:.1f} s, {n / elapsed:.3g} particle-steps/s); figure {out / 'histograms.png'}")
    return 0


_RESUME = "run.json"


def _write_resume(ckpt: Path, info: dict) -> None:
    """What `--resume` needs to rebuild the run, written atomically into the checkpoint dir."""
    ckpt.mkdir(parents=True, exist_ok=True)
    tmp = ckpt / f"{_RESUME}.{os.getpid()}.tmp"  # every process writes the same content
    with open(tmp, "w") as f:
        json.dump(info, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, ckpt / _RESUME)


def _read_resume(ckpt: Path) -> dict:
    path = ckpt / _RESUME
    if not path.exists():
        raise ValueError(f"--resume {ckpt}: no {_RESUME} there; it is not a checkpoint "
                         "directory written by `mpemba-jax simulate --checkpoint-every`")
    try:
        info = json.loads(path.read_text())
        return {"config": _config.check_config(info["config"]),
                "checkpoint_every": int(info["checkpoint_every"]), "out": info["out"]}
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"--resume {ckpt}: {path} is unreadable ({e})") from None
