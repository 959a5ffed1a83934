"""The whole schedule study: config -> sweeps -> batches and metrics -> verdicts -> files.

`run_schedule_comparison(cfg, out)` checks the config and builds every
schedule (no compilation before that), runs the batches, and writes into the
output directory `out` (atomically, `mpemba_jax.io.results.atomic_directory`):

- `report.md` and the figures it links;
- `summary.json`: config, `lr*`, timescales, every run's final metrics, the
  verdicts with the comparisons behind them;
- `runs/<sweep>/<run>.json`: every run's schedule, curves with standard
  errors, theory, final histogram and metrics.

`report_dir` (e.g. `docs/schedule_comparison`) receives a copy of the report
and its figures only: generated data stays in `out` (under `runs/`, not in git).

Example:
  >>> cfg = check_config({"run": {"n_particles": 4096, "sweeps": ["valley"]}})
  >>> run_schedule_comparison(cfg, "runs/sc", progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ...io.results import atomic_directory, jsonable
from .config import check_config
from .figures import draw_figures
from .measure import execute
from .report import render_report
from .sweeps import build_plan

__all__ = ["run_schedule_comparison", "write_outputs", "summary"]

# The run metadata copied into every per-run JSON.
_RUN_KEYS = ("landscape", "dynamics", "init", "n_particles", "n_steps", "dt", "seed", "dtype",
             "block_size", "devices")


def run_schedule_comparison(cfg: dict, out: str | os.PathLike | None = None, *,
                            overwrite: bool = False, progress: bool = True,
                            report_dir: str | os.PathLike | None = None) -> Path:
    """Run the study of the config `cfg` (checked again here) and write its outputs.

    `out` defaults to `cfg["output"]["dir"]`. An existing non-empty `out` (or
    `report_dir`) is refused before anything runs unless `overwrite`; it is
    replaced only once the new one is complete. Returns `out`.
    """
    cfg = check_config(cfg)
    out = Path(out if out is not None else cfg["output"]["dir"])
    targets = [out] + ([Path(report_dir)] if report_dir is not None else [])
    if report_dir is not None and Path(report_dir).resolve() == out.resolve():
        raise ValueError(f"the report directory {report_dir} must differ from the output "
                         "directory: it receives only the report and its figures")
    for d in targets:
        if d.exists() and any(d.iterdir()) and not overwrite:
            raise FileExistsError(f"{d} exists and is not empty; pass --overwrite or choose --out"
                                  if d == out else
                                  f"{d} exists and is not empty; pass --overwrite")
    plan = build_plan(cfg)
    outcome = execute(plan, progress=progress)
    write_outputs(plan, outcome, out, report_dir=report_dir)
    return out


def write_outputs(plan: dict, outcome: dict, out: str | os.PathLike, *,
                  report_dir: str | os.PathLike | None = None) -> None:
    """Write every output into `out` (replacing it once complete); with `report_dir`,
    also the report and its figures there (replacing that directory too)."""
    out = Path(out)
    with atomic_directory(out, overwrite=True) as tmp:
        tmp.chmod(0o755)  # a temporary directory is private; the output is not
        for sweep, res in outcome.items():
            if sweep.startswith("_"):
                continue
            d = tmp / "runs" / sweep
            d.mkdir(parents=True)
            meta = res["batch"].metadata
            for name, run_ in res["runs"].items():
                rec = {"sweep": sweep, "name": name, "schedule": meta["schedules"][run_["index"]],
                       **{k: v for k, v in run_.items() if k != "index"},
                       "run": {k: meta[k] for k in _RUN_KEYS}}
                (d / f"{_safe(name)}.json").write_text(json.dumps(jsonable(rec), indent=1))
        (tmp / "summary.json").write_text(json.dumps(jsonable(summary(plan, outcome)), indent=1))
        figs = draw_figures(plan, outcome, tmp)
        (tmp / "report.md").write_text(render_report(plan, outcome, figs))
    if report_dir is not None:
        with atomic_directory(report_dir, overwrite=True) as tmp:
            tmp.chmod(0o755)
            for f in figs.values():
                shutil.copyfile(out / f, tmp / f)
            (tmp / "report.md").write_text(render_report(plan, outcome, figs, data_dir=str(out)))


def summary(plan: dict, outcome: dict) -> dict:
    """`summary.json`: config, `lr*`, strong points, spectrum, the chain against the
    continuum theory, timescales, verdicts, wall times and every run's `info` and
    `final` metrics, by sweep."""
    s = plan["summary"]
    out = {"config": plan["cfg"], "lr_star": plan["lr_star"],
           "strong_points": s.strong_points, "eigenvalues": plan["fp"].eigenvalues,
           "theory": plan["theory"],
           "timescales": plan["timescales"], "verdicts": outcome["_verdicts"],
           "seconds": outcome["_seconds"], "sweeps": {}}
    for sweep, res in outcome.items():
        if sweep.startswith("_"):
            continue
        out["sweeps"][sweep] = {
            "seconds": res["seconds"], "n_particles": res["batch"].n_particles,
            "n_steps": res["batch"].metadata["n_steps"], "devices": res["batch"].metadata["devices"],
            "runs": {n: {"info": r["info"], "final": r["final"]} for n, r in res["runs"].items()}}
    return out


def _safe(name: str) -> str:
    """`name` as a file name: anything but letters, digits, `_.-` becomes `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


