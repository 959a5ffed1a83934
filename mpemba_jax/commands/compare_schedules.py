"""`mpemba-jax compare-schedules`: which LR schedule does a valley–river landscape reward?

Runs whole warm-up / stable / decay schedules on particles that start upstream
on the river (every particle at `run.init_y`, `x = 0`), in four sweeps, each
one batch in one compiled program (`mpemba_jax.run_batch`):

- `plateau`: plateau LRs (the strong Mpemba point `"lr*"` among them) x
  stable-phase lengths x decay lengths; each run is measured `hold` steps after
  its decay ends;
- `shapes`: decay shapes at a fixed budget (`n_steps`, measured at the end) from
  each peak: the `DECAY_SHAPES`, a step quench, a decay inside the window of
  THEORY section 6 (`window`), the greedy valley anneal (`greedy`), and
  exponential decays of other lengths, classified inside / outside the window;
- `equal_area`: schedules with the LR sum and final LR of a reference but other
  shapes and decay lengths, plus controls with other LR sums;
- `valley`: a harmonic valley as discrete SGD (`time="steps"`): the greedy
  anneal `eta / (2 + a eta t)` against the other shapes at the same budget.

Every check runs before any compilation; errors name the config key. Output:
`summary.json`, `runs/<sweep>/<run>.json` (every run: curves, theory, final
metrics), figures, and `report.md`, whose verdicts are computed from the
measured numbers (`_verdicts`).
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
import time as _time
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import run_batch
from ..io.results import jsonable
from ..schedules import greedy_anneal, lr_sum, match_lr_sum, window_decay
from ..theory.schedule import (bath_equilibrium, extended_bin_masses, schedule_theory,
                               theory_observables)
from ..validation.paired import paired_difference
from ..validation.statistics import tv_between, tv_distance

DEFAULT: dict[str, Any] = {
    "landscape": {"preset": "box_wells", "params": {}},
    "run": {
        "lr_bath": 0.01, "time": "steps", "temperature_scale": 1.0, "dt": 1.0,
        "init_y": -0.28, "n_particles": 98304, "seed": 0, "bins": 40, "n_records": 60,
        "block_size": 256, "dtype": "float32", "fp_grid": 1000, "lr_range": [0.0105, 0.1],
        "n_groups": 64, "z": 3.0, "bath_steps": 3600,
        "sweeps": ["plateau", "shapes", "equal_area", "valley"],
    },
    "plateau": {
        "lrs": [0.0125, 0.015, "lr*", 0.025, 0.035, 0.05], "warmup": 100,
        "stable": [400, 1500], "decay": [20, 80, 400], "shape": "cosine", "hold": 300,
    },
    "shapes": {
        "peaks": ["lr*", 0.05], "warmup": 100, "stable": 1000, "decay": 80,
        "shapes": ["linear", "cosine", "exponential", "inverse_time", "inverse_sqrt",
                   "quench", "window", "greedy"],
        "exponential_decays": [5, 20, 320], "n_steps": 1720,
    },
    "equal_area": {
        "peak": 0.03, "shape": "cosine", "decay": 400, "warmup": 100,
        "shapes": ["linear", "cosine", "exponential", "inverse_time", "inverse_sqrt"],
        "decays": [100, 800], "control_peaks": [0.02, 0.045], "n_steps": 1900,
    },
    "valley": {
        "preset": "harmonic", "params": {"valley_curvature": 10.0, "valley_dim": 4},
        "peak": 0.05, "stable": 60, "anneal": 200, "n_particles": 32768,
        "shapes": ["greedy", "linear", "cosine", "exponential", "inverse_time",
                   "inverse_sqrt", "quench"],
    },
    "output": {"dir": "runs/schedule_comparison"},
}
SWEEPS = ("plateau", "shapes", "equal_area", "valley")
SPECIAL_SHAPES = ("quench", "window", "greedy")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
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
    p.add_argument("--particles", type=int, default=None,
                   help="particles per schedule in every sweep (e.g. 100000000 on an accelerator)")
    p.add_argument("--sweeps", default=None,
                   help=f"comma-separated subset of {','.join(SWEEPS)}")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="particles per schedule held in memory at once (default: by backend)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
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
    cfg = check_config(cfg)
    out = Path(args.out or cfg["output"]["dir"])
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass --overwrite or choose --out")
    plan = build_plan(cfg)
    outcome = execute(plan, progress=not args.no_progress)
    write_outputs(plan, outcome, out)
    print(f"wrote {out / 'report.md'}")
    return 0


# ---------------------------------------------------------------------------
# Config: schema, defaults, checks (errors name the key)
# ---------------------------------------------------------------------------
def load_config(path) -> dict:
    """Read a TOML config; keys it omits take the built-in defaults."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config file {path} is not valid TOML: {e}") from None
    try:
        return check_config(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _num(key, v, *, positive=False, minimum=None, integer=False):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if integer:
        ok = ok and isinstance(v, int)
    if not ok or (positive and v <= 0) or (minimum is not None and v < minimum):
        what = "an integer" if integer else "a number"
        bound = " > 0" if positive else (f" >= {minimum}" if minimum is not None else "")
        raise ValueError(f"config key '{key}' must be {what}{bound}; got {v!r}")
    return v


def _list(key, v, check, *, nonempty=True):
    if not isinstance(v, list) or (nonempty and not v):
        raise ValueError(f"config key '{key}' must be a non-empty list; got {v!r}")
    return [check(f"{key}[{i}]", x) for i, x in enumerate(v)]


def _lr_or_star(key, v):
    if v == "lr*":
        return v
    if isinstance(v, str):
        raise ValueError(f"config key '{key}' must be a number or \"lr*\"; got {v!r}")
    return _num(key, v, positive=True)


def check_config(raw: dict) -> dict:
    """Merge `raw` over `DEFAULT` and check every key; returns the merged config."""
    from ..schedules import DECAY_SHAPES

    if not isinstance(raw, dict):
        raise ValueError("config must be a table of sections")
    unknown = sorted(set(raw) - set(DEFAULT))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; allowed: {sorted(DEFAULT)}")
    cfg = copy.deepcopy(DEFAULT)
    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ValueError(f"config key '{section}' must be a table [{section}]")
        for key, value in table.items():
            if key not in DEFAULT[section] and not (section == "run" and key == "chunk_size"):
                raise ValueError(f"config key '{section}.{key}' is unknown; allowed: "
                                 f"{sorted(DEFAULT[section])}")
            cfg[section][key] = copy.deepcopy(value)
    run_, pl, sh, ea, va = (cfg[s] for s in ("run", "plateau", "shapes", "equal_area", "valley"))

    for sec in ("landscape", "valley"):
        if not isinstance(cfg[sec]["preset"], str):
            raise ValueError(f"config key '{sec}.preset' must be a string")
        if not isinstance(cfg[sec]["params"], dict):
            raise ValueError(f"config key '{sec}.params' must be a table")
        for k, v in cfg[sec]["params"].items():
            _num(f"{sec}.params.{k}", v)
    bath = _num("run.lr_bath", run_["lr_bath"], positive=True)
    if run_["time"] not in ("steps", "lr_area"):
        raise ValueError(f"config key 'run.time' must be 'steps' or 'lr_area'; got {run_['time']!r}")
    _num("run.temperature_scale", run_["temperature_scale"], positive=True)
    _num("run.dt", run_["dt"], positive=True)
    _num("run.init_y", run_["init_y"])
    for k in ("n_particles", "bins", "n_records", "block_size", "fp_grid", "n_groups",
              "bath_steps"):
        _num(f"run.{k}", run_[k], integer=True, minimum=1)
    _num("run.seed", run_["seed"], integer=True, minimum=0)
    _num("run.z", run_["z"], positive=True)
    if "chunk_size" in run_:
        _num("run.chunk_size", run_["chunk_size"], integer=True, minimum=1)
    if run_["dtype"] not in ("float32", "float64"):
        raise ValueError(f"config key 'run.dtype' must be 'float32' or 'float64'; got {run_['dtype']!r}")
    lo, hi = _list("run.lr_range", run_["lr_range"], lambda k, v: _num(k, v, positive=True))[:2] \
        if len(run_["lr_range"]) == 2 else (None, None)
    if lo is None or not bath < lo < hi:
        raise ValueError(f"config key 'run.lr_range' must be [lo, hi] with run.lr_bath={bath:g} "
                         f"< lo < hi; got {run_['lr_range']!r}")
    sweeps = _list("run.sweeps", run_["sweeps"], lambda k, v: v)
    for s in sweeps:
        if s not in SWEEPS:
            raise ValueError(f"config key 'run.sweeps' has unknown sweep {s!r}; allowed: {SWEEPS}")

    def steps(key, v, minimum=0):
        return _num(key, v, integer=True, minimum=minimum)

    def shape_name(key, v, allowed):
        if v not in allowed:
            raise ValueError(f"config key '{key}' is the unknown shape {v!r}; allowed: {allowed}")
        return v

    def above_bath(key, v):
        v = _lr_or_star(key, v)
        if v != "lr*" and v <= bath:
            raise ValueError(f"config key '{key}' = {v:g} is not above the bath LR run.lr_bath="
                             f"{bath:g}: a plateau must lie above the bath LR")
        return v

    # plateau
    _list("plateau.lrs", pl["lrs"], above_bath)
    steps("plateau.warmup", pl["warmup"])
    _list("plateau.stable", pl["stable"], lambda k, v: steps(k, v))
    _list("plateau.decay", pl["decay"], lambda k, v: steps(k, v))
    shape_name("plateau.shape", pl["shape"], DECAY_SHAPES)
    steps("plateau.hold", pl["hold"], 1)
    # shapes
    _list("shapes.peaks", sh["peaks"], above_bath)
    for k in ("warmup", "stable"):
        steps(f"shapes.{k}", sh[k])
    steps("shapes.decay", sh["decay"], 1)
    steps("shapes.n_steps", sh["n_steps"], 1)
    _list("shapes.shapes", sh["shapes"], lambda k, v: shape_name(k, v, DECAY_SHAPES + SPECIAL_SHAPES))
    _list("shapes.exponential_decays", sh["exponential_decays"], lambda k, v: steps(k, v, 1),
          nonempty=False)
    longest = max([sh["decay"]] + list(sh["exponential_decays"]))
    if sh["warmup"] + sh["stable"] + longest > sh["n_steps"]:
        key = "shapes.decay" if sh["decay"] == longest else "shapes.exponential_decays"
        raise ValueError(
            f"config key '{key}': a decay of {longest} steps is longer than the run: "
            f"warmup + stable + decay = {sh['warmup'] + sh['stable'] + longest} > "
            f"shapes.n_steps = {sh['n_steps']}")
    if "greedy" in sh["shapes"] and run_["time"] != "steps":
        raise ValueError("config key 'shapes.shapes': 'greedy' is the discrete-SGD anneal and "
                         "needs run.time = 'steps'")
    # equal_area
    above_bath("equal_area.peak", ea["peak"])
    shape_name("equal_area.shape", ea["shape"], DECAY_SHAPES)
    steps("equal_area.warmup", ea["warmup"])
    steps("equal_area.decay", ea["decay"], 1)
    steps("equal_area.n_steps", ea["n_steps"], 1)
    _list("equal_area.shapes", ea["shapes"], lambda k, v: shape_name(k, v, DECAY_SHAPES))
    _list("equal_area.decays", ea["decays"], lambda k, v: steps(k, v, 1))
    _list("equal_area.control_peaks", ea["control_peaks"], above_bath, nonempty=False)
    for key, d in [("equal_area.decay", ea["decay"])] + [
            (f"equal_area.decays[{i}]", d) for i, d in enumerate(ea["decays"])]:
        if ea["warmup"] + d > ea["n_steps"]:
            raise ValueError(
                f"config key '{key}': a decay of {d} steps is longer than the run: warmup + "
                f"decay = {ea['warmup'] + d} > equal_area.n_steps = {ea['n_steps']}")
    # valley
    _num("valley.peak", va["peak"], positive=True)
    steps("valley.stable", va["stable"], 1)
    steps("valley.anneal", va["anneal"], 2)
    steps("valley.n_particles", va["n_particles"], 1)
    _list("valley.shapes", va["shapes"], lambda k, v: shape_name(
        k, v, DECAY_SHAPES + ("quench", "greedy")))
    if not isinstance(cfg["output"]["dir"], str):
        raise ValueError("config key 'output.dir' must be a string")
    return cfg


# ---------------------------------------------------------------------------
# Plan: every schedule built and checked, no compiled work
# ---------------------------------------------------------------------------
class Sweep:
    """One batch: landscape, schedules `{name: schedule}`, per-run `info`, steps."""

    def __init__(self, name, landscape, schedules, info, n_steps, record_steps, *, dt, time,
                 temperature_scale, init_y, n_particles, fp=None, valley_only=False,
                 init_lr=None):
        from ..engine.initial import equilibrium, point

        self.name, self.landscape, self.schedules, self.info = name, landscape, schedules, info
        self.n_steps, self.record_steps = n_steps, record_steps
        self.dt, self.time, self.temperature_scale = dt, time, temperature_scale
        self.init_y, self.n_particles, self.fp, self.valley_only = init_y, n_particles, fp, valley_only
        # Upstream point start, or (the bath reference) the continuum Boltzmann state.
        self.init_lr = init_lr
        self.init = point(init_y) if init_lr is None else equilibrium(init_lr)

    def initial_masses(self):
        return self.fp.point_mass(self.init_y) if self.init_lr is None else self.fp.equilibrium(self.init_lr)


def _label(x: float) -> str:
    return f"{x:.4g}"


def build_plan(cfg: dict) -> dict:
    """Landscape, theory objects, `lr*`, and the `Sweep`s of `cfg` (checked, not run)."""
    from ..theory.operator import FokkerPlanck
    from ..presets import preset
    from ..schedules import wsd
    from ..theory.timescales import decay_window, tau_x, tau_y

    run_ = cfg["run"]
    try:
        land = preset(cfg["landscape"]["preset"], **cfg["landscape"]["params"])
    except ValueError as e:
        raise ValueError(f"config key 'landscape.preset': {e}") from None
    bath, dt, time = run_["lr_bath"], float(run_["dt"]), run_["time"]
    g = float(run_["temperature_scale"])
    lo, hi = run_["lr_range"]
    fp_kw = dict(time=time, temperature_scale=g, n_grid=run_["fp_grid"], n_modes=4)
    fp_star = FokkerPlanck(land, bath, lr_max=hi, **fp_kw)
    summary = fp_star.mpemba_summary((lo, hi))
    lr_star = float(summary.optimal_lr) if len(summary.strong_points) else None
    sweeps_wanted = run_["sweeps"]

    def resolve(key, v):
        if v != "lr*":
            return float(v)
        if lr_star is None:
            raise ValueError(f"config key '{key}' asks for \"lr*\" but {land.name!r} has no strong "
                             f"Mpemba point in run.lr_range = [{lo:g}, {hi:g}] at lr_bath={bath:g}")
        return lr_star

    def records(n_steps, extra):
        grid = np.unique(np.round(np.linspace(0, n_steps, run_["n_records"] + 1)).astype(np.int64))
        return np.unique(np.concatenate([grid, np.asarray(extra, np.int64)]))

    common = dict(dt=dt, time=time, temperature_scale=g, init_y=float(run_["init_y"]),
                  n_particles=run_["n_particles"])
    sweeps = []
    if any(s in sweeps_wanted for s in ("plateau", "shapes", "equal_area")):
        # The SGD's own stationary state at the bath LR: from the continuum Boltzmann
        # state, `bath_steps` at the bath LR. Distances are measured to it.
        from ..schedules import constant

        nb = run_["bath_steps"]
        sweeps.append(Sweep("bath", land, {"bath": constant(bath)},
                            {"bath": {"group": "bath", "peak": bath, "measure": nb}}, nb,
                            records(nb, []), fp=fp_star, init_lr=bath, **common))

    def fp_for(max_lr):
        return FokkerPlanck(land, bath, lr_max=max(max_lr, hi), **fp_kw)

    if "plateau" in sweeps_wanted:
        pl = cfg["plateau"]
        lrs = sorted({resolve(f"plateau.lrs[{i}]", v) for i, v in enumerate(pl["lrs"])})
        scheds, info, extra = {}, {}, []
        for stable in pl["stable"]:
            for decay in pl["decay"]:
                t_end = pl["warmup"] + stable + decay
                for lr in lrs:
                    name = f"p{_label(lr)}_s{stable}_d{decay}"
                    scheds[name] = wsd(lr, bath, pl["warmup"] * dt, stable * dt, decay * dt,
                                       pl["shape"])
                    info[name] = {"group": f"stable {stable}, decay {decay}", "peak": lr,
                                  "stable": stable, "decay": decay, "shape": pl["shape"],
                                  "is_lr_star": lr_star is not None and lr == lr_star,
                                  "decay_start": pl["warmup"] + stable, "decay_end": t_end,
                                  "measure": t_end + pl["hold"]}
                    extra += [pl["warmup"] + stable, t_end, t_end + pl["hold"]]
        n_steps = max(v["measure"] for v in info.values())
        sweeps.append(Sweep("plateau", land, scheds, info, n_steps, records(n_steps, extra),
                            fp=fp_for(max(lrs)), **common))

    if "shapes" in sweeps_wanted:
        sh = cfg["shapes"]
        peaks = sorted({resolve(f"shapes.peaks[{i}]", v) for i, v in enumerate(sh["peaks"])})
        t0 = sh["warmup"] + sh["stable"]
        scheds, info = {}, {}
        n_steps = sh["n_steps"]
        fp = fp_for(max(peaks))
        import jax
        with jax.enable_x64(True):
            a_centres = np.asarray(land.curvature(fp.centres))
        for peak in peaks:
            window = decay_window(land, peak, bath, time=time, temperature_scale=g,
                                  n_grid=run_["fp_grid"])
            a_eff = float(fp.equilibrium(peak) @ a_centres)
            entries = [(s, sh["decay"]) for s in sh["shapes"]] + [
                ("exponential", d) for d in sh["exponential_decays"] if d != sh["decay"]
                or "exponential" not in sh["shapes"]]
            for shape, decay in entries:
                name = f"peak{_label(peak)}_{shape}" + (
                    f"_d{decay}" if shape == "exponential" and decay != sh["decay"] else "")
                if shape == "quench":
                    s, decay = wsd(peak, bath, sh["warmup"] * dt, sh["stable"] * dt, 0.0), 1
                elif shape == "window":
                    s = window_decay(window, warmup=sh["warmup"] * dt,
                                             stable=sh["stable"] * dt)
                    decay = int(math.ceil(s.description["decay"] / dt))
                    if t0 + decay > n_steps:
                        raise ValueError(
                            f"config key 'shapes.n_steps': the window decay from {peak:g} lasts "
                            f"{decay} steps, longer than the run (warmup + stable + decay = "
                            f"{t0 + decay} > {n_steps})")
                elif shape == "greedy":
                    s = greedy_anneal(peak, a_eff, warmup=sh["warmup"] * dt,
                                              stable=sh["stable"] * dt, final=bath)
                    k = max(0.0, (peak / bath - 2.0) / (a_eff * peak * dt))
                    decay = max(1, int(math.ceil(k)) + 1)
                else:
                    s = wsd(peak, bath, sh["warmup"] * dt, sh["stable"] * dt, decay * dt, shape)
                scheds[name] = s
                info[name] = {"group": f"peak {_label(peak)}", "peak": peak, "shape": shape,
                              "decay": decay, "decay_start": t0, "decay_end": t0 + decay,
                              "measure": n_steps, "window": _window_class(window, s, t0, decay, dt),
                              "is_lr_star": lr_star is not None and peak == lr_star}
                if shape == "greedy":
                    info[name]["curvature"] = a_eff
        extra = [t0 + d for d in range(0, 200, 4)] + [v["decay_end"] for v in info.values()]
        sweeps.append(Sweep("shapes", land, scheds, info, n_steps,
                            records(n_steps, [e for e in extra if e <= n_steps]), fp=fp, **common))

    if "equal_area" in sweeps_wanted:
        # Every decay ends at n_steps, where all runs are measured: WSD at a fixed budget,
        # the stable phase filling what warm-up and decay leave.
        ea = cfg["equal_area"]
        n_steps, w = ea["n_steps"], ea["warmup"] * dt

        def wsd_at_end(p, shape, decay):
            return wsd(p, bath, w, (n_steps - ea["warmup"] - decay) * dt, decay * dt, shape)

        ref_peak = resolve("equal_area.peak", ea["peak"])
        ref = wsd_at_end(ref_peak, ea["shape"], ea["decay"])
        target = lr_sum(ref, n_steps, dt)
        scheds = {"reference": ref}
        info = {"reference": {"group": "reference", "peak": ref_peak, "shape": ea["shape"],
                              "decay": ea["decay"], "lr_sum": target}}
        for i, decay in enumerate(ea["decays"]):
            for shape in ea["shapes"]:
                try:
                    peak, s = match_lr_sum(
                        lambda p, shape=shape, decay=decay: wsd_at_end(p, shape, decay),
                        target, n_steps, dt, (bath * (1 + 1e-6), 20 * ref_peak))
                except ValueError as e:
                    raise ValueError(f"config key 'equal_area.decays[{i}]': {e}") from None
                name = f"{shape}_d{decay}"
                scheds[name] = s
                info[name] = {"group": "equal LR sum", "peak": peak, "shape": shape,
                              "decay": decay, "lr_sum": lr_sum(s, n_steps, dt)}
        for i, p in enumerate(ea["control_peaks"]):
            p = resolve(f"equal_area.control_peaks[{i}]", p)
            name = f"control_peak{_label(p)}"
            s = wsd_at_end(p, ea["shape"], ea["decay"])
            scheds[name] = s
            info[name] = {"group": "control", "peak": p, "shape": ea["shape"],
                          "decay": ea["decay"], "lr_sum": lr_sum(s, n_steps, dt)}
        for v in info.values():
            v.update(measure=n_steps, decay_start=n_steps - v["decay"], decay_end=n_steps)
        sweeps.append(Sweep("equal_area", land, scheds, info, n_steps, records(n_steps, []),
                            fp=fp_for(max(v["peak"] for v in info.values())), **common))

    if "valley" in sweeps_wanted:
        sweeps.append(_valley_sweep(cfg, records))

    if not sweeps:
        raise ValueError("config key 'run.sweeps' selects no sweep")
    # Check every batch as `run_batch` will, still before any compilation.
    for sw in sweeps:
        _check_batch(sw, run_)
    timescales = {
        "tau_x": {str(x): float(tau_x(fp_star, x)) for x in (bath, lr_star or lo, hi)},
        "tau_y": {str(x): float(tau_y(land, x, time=time, temperature_scale=g,
                                      n_grid=run_["fp_grid"])) for x in (bath, lr_star or lo, hi)},
    }
    return {"cfg": cfg, "landscape": land, "fp": fp_star, "lr_star": lr_star,
            "summary": summary, "sweeps": sweeps, "timescales": timescales}


def _window_class(window, schedule, t0, decay, dt) -> dict:
    """Where the decay's steps fall in the window of THEORY section 6.

    Every step `s` on which the LR falls (from `t0 - 1` to the end of the
    decay) has the rate `|ln(eta_{s+1} / eta_s)| / dt`; it is inside when it lies
    between `window.rate_min` and `window.rate_max` at the step's LR
    (geometric mean of both ends), too slow below, too fast above. A step
    quench is one step, far too fast.
    """
    from ..schedules import evaluate_schedule

    t = (t0 - 1 + np.arange(decay + 2)) * dt
    lr = evaluate_schedule(schedule, t)
    falling = lr[1:] < lr[:-1] * (1 - 1e-12)
    rate = np.abs(np.log(lr[1:] / lr[:-1]))[falling] / dt
    eta = np.sqrt(lr[1:] * lr[:-1])[falling]
    lo = np.interp(eta, window.lrs[::-1], window.rate_min[::-1])
    hi = np.interp(eta, window.lrs[::-1], window.rate_max[::-1])
    n = max(len(rate), 1)
    inside = float(np.sum((rate >= lo) & (rate <= hi)) / n)
    slow, fast = float(np.sum(rate < lo) / n), float(np.sum(rate > hi) / n)
    label = ("inside" if inside >= 0.9 else "too fast" if fast >= slow else "too slow")
    return {"inside": inside, "too_slow": slow, "too_fast": fast, "class": label,
            "falling_steps": int(len(rate))}


def _valley_sweep(cfg, records):
    from ..presets import preset
    from ..schedules import quench, wsd

    va, g = cfg["valley"], float(cfg["run"]["temperature_scale"])
    try:
        land = preset(va["preset"], **va["params"])
    except ValueError as e:
        raise ValueError(f"config key 'valley.preset': {e}") from None
    import jax
    with jax.enable_x64(True):
        lo, hi = land.support(va["peak"] * g)
        a_vals = np.asarray(land.curvature(np.linspace(lo, hi, 257)))
    if np.ptp(a_vals) > 1e-12 * a_vals.max():
        raise ValueError(f"config key 'valley.preset': {va['preset']!r} has a y-dependent valley "
                         "curvature; the greedy anneal is derived for a constant one")
    a = float(a_vals[0])
    peak, n0, K = float(va["peak"]), va["stable"], va["anneal"]
    if not 0 < a * peak < 2:
        raise ValueError(f"config key 'valley.peak': a * peak = {a * peak:g} must lie in (0, 2) "
                         "for discrete SGD on the valley to be stable")
    if abs(1 - a * peak) ** (2 * n0) > 1e-9:
        raise ValueError(f"config key 'valley.stable': {n0} steps at peak leave the valley "
                         f"{abs(1 - a * peak) ** (2 * n0):.2g} away from its stationary variance; "
                         "the greedy anneal assumes it is stationary")
    n_steps = n0 + K
    greedy = greedy_anneal(peak, a, stable=float(n0))
    final = float(greedy(float(n_steps - 1)))
    scheds, info = {}, {}
    for shape in va["shapes"]:
        if shape == "greedy":
            s = greedy
        elif shape == "quench":
            s = quench(peak, final, at=float(n0))
        else:
            s = wsd(peak, final, 0.0, float(n0), float(K - 1), shape)
        scheds[shape] = s
        info[shape] = {"group": "valley", "shape": shape, "peak": peak, "final": final,
                       "decay_start": n0, "decay_end": n_steps, "measure": n_steps,
                       "curvature": a, "anneal": K}
    return Sweep("valley", land, scheds, info, n_steps, records(n_steps, [n0]), dt=1.0,
                 time="steps", temperature_scale=g, init_y=0.5 * (lo + hi),
                 n_particles=va["n_particles"], valley_only=True)


def _check_batch(sw: Sweep, run_) -> None:
    """The per-schedule checks of `run_batch` (stability, support), no compilation."""
    from ..engine import make_plan

    for name, s in sw.schedules.items():
        try:
            make_plan(sw.landscape, {"schedule": s}, single=True, n_particles=sw.n_particles, n_steps=sw.n_steps, dt=sw.dt,
                     seed=run_["seed"], init=sw.init, record_steps=sw.record_steps,
                     bins=2, bin_range=(0.0, 1.0), time=sw.time,
                     temperature_scale=sw.temperature_scale, dtype=run_["dtype"],
                     block_size=run_["block_size"])
        except ValueError as e:
            raise ValueError(f"config [{sw.name}], schedule {name!r}: {e}") from None


# ---------------------------------------------------------------------------
# Running and measuring
# ---------------------------------------------------------------------------
def execute(plan: dict, progress: bool = True) -> dict:
    """Run every sweep (the SGD bath reference first), its theory and its metrics."""

    run_ = plan["cfg"]["run"]
    out, ref = {}, None
    t_all = _time.perf_counter()
    for k, sw in enumerate(plan["sweeps"], 1):
        what = "SGD bath reference" if sw.name == "bath" else sw.name
        print(f"[{k}/{len(plan['sweeps'])}] {what}: {len(sw.schedules)} schedule(s) x "
              f"{sw.n_particles:,} particles x {sw.n_steps} steps", flush=True)
        t0 = _time.perf_counter()
        observables = None if sw.valley_only else theory_observables(sw.fp)
        batch = run_batch(
            sw.landscape, sw.schedules, n_particles=sw.n_particles, n_steps=sw.n_steps,
            dt=sw.dt, seed=run_["seed"], init=sw.init, record_steps=sw.record_steps,
            bins=run_["bins"], bin_range=None if sw.valley_only else _bin_range(sw),
            observables=observables, time=sw.time, temperature_scale=sw.temperature_scale,
            dtype=run_["dtype"], block_size=run_["block_size"],
            chunk_size=run_.get("chunk_size"), n_groups=run_["n_groups"], progress=progress,
            label=sw.name)
        t_mc = _time.perf_counter() - t0
        t1 = _time.perf_counter()
        if sw.valley_only:
            runs = _measure_valley(sw, batch)
        else:
            runs = _measure(sw, batch, run_, ref)
        if sw.name == "bath":
            ref = runs["bath"]
        t_th = _time.perf_counter() - t1
        print(f"    Monte Carlo {t_mc:.1f} s, theory + metrics {t_th:.1f} s", flush=True)
        out[sw.name] = {"batch": batch, "runs": runs, "seconds": {"monte_carlo": t_mc,
                                                                   "theory": t_th}}
    out["_seconds"] = _time.perf_counter() - t_all
    out["_verdicts"] = _verdicts(plan, out)
    return out


def _bin_range(sw: Sweep):
    """Histogram range: the bath's support (and the start), so every run shares it."""
    lo, hi = sw.landscape.support(sw.fp.temperature, 20.0)
    return (min(lo, sw.init_y), max(hi, sw.init_y))


def _measure(sw: Sweep, batch, run_, ref=None) -> dict:
    """Final metrics of every run against the continuum bath (`pi_f`, `<V>_pi + d T_f / 2`)
    and, given the SGD bath reference run `ref`, against the SGD's own stationary state."""

    fp = sw.fp
    bath = bath_equilibrium(fp)
    ref_bins = extended_bin_masses(fp, bath["masses"], batch.bin_edges)
    d = sw.landscape.valley_dim
    g = sw.temperature_scale
    runs = {}
    for i, name in enumerate(batch.names):
        info = sw.info[name]
        th = schedule_theory(fp, batch.lr_steps[i], sw.dt, sw.initial_masses(),
                                     batch.steps, edges=batch.bin_edges)
        r = batch.record_index(info["measure"])
        obs, se = batch.observables, batch.standard_errors
        counts = np.concatenate([[batch.underflow[i, r]], batch.counts[i, r],
                                 [batch.overflow[i, r]]])
        tv = tv_distance(counts, ref_bins, predicted=th["bin_masses"][r],
                                 seed=run_["seed"] + i)
        lr_now = float(batch.lr_steps[i, info["measure"]])
        final = {
            "measure_step": int(info["measure"]), "lr": lr_now,
            "excess_loss": float(obs["loss"][i, r] - bath["loss"]),
            "excess_loss_se": float(se["loss"][i, r]),
            "excess_loss_theory": float(th["loss"][r] - bath["loss"]),
            "excess_river_loss": float(obs["river_loss"][i, r] - bath["river_loss"]),
            "excess_river_loss_se": float(se["river_loss"][i, r]),
            "excess_river_loss_theory": float(th["river_loss"][r] - bath["river_loss"]),
            "valley_energy": float(obs["valley_energy"][i, r]),
            "valley_energy_se": float(se["valley_energy"][i, r]),
            "valley_energy_theory": float(th["valley_energy"][r]),
            "equipartition": 0.5 * d * g * lr_now,
            "tv": tv["tv"], "tv_se": tv["se"], "tv_floor": tv["floor"],
            "tv_theory_expected": tv["expected"], "tv_theory": tv["exact"],
        }
        for k in (2, 3):
            final[f"A_{k}"] = float(obs[f"A_{k}"][i, r])
            final[f"A_{k}_se"] = float(se[f"A_{k}"][i, r])
            final[f"A_{k}_theory"] = float(th[f"A_{k}"][r])
        if ref is not None:
            # Against the SGD's own bath state (the reference run): unpaired errors.
            rf = ref["final"]
            tvs = tv_between(counts, ref["histogram"]["ext_counts"], seed=run_["seed"] + i)
            final.update(tv_sgd=tvs["tv"], tv_sgd_se=tvs["se"], tv_sgd_floor=tvs["floor"])
            for key in ("excess_loss", "A_2", "A_3"):
                final[f"{key}_sgd"] = final[key] - rf[key]
                final[f"{key}_sgd_se"] = math.hypot(final[f"{key}_se"], rf[f"{key}_se"])
        if "decay_end" in info and info["decay_end"] in set(batch.steps.tolist()):
            re_ = batch.record_index(info["decay_end"])
            lr_end = float(batch.lr_steps[i, info["decay_end"]])
            final["decay_end_valley_energy"] = float(obs["valley_energy"][i, re_])
            final["decay_end_valley_energy_se"] = float(se["valley_energy"][i, re_])
            final["decay_end_valley_energy_theory"] = float(th["valley_energy"][re_])
            final["decay_end_equipartition"] = 0.5 * d * g * lr_end
        curves = {"steps": batch.steps, "lr": batch.lr[i]}
        for key in ("loss", "valley_energy", "river_loss", "A_2", "A_3", "y_mean"):
            curves[key] = obs[key][i]
            curves[f"{key}_se"] = se[key][i]
            if key in th:
                curves[f"{key}_theory"] = th[key]
        curves["equipartition"] = 0.5 * d * g * batch.lr[i]
        runs[name] = {"index": i, "info": info, "final": final, "curves": curves,
                      "histogram": {"edges": batch.bin_edges, "counts": batch.counts[i, r],
                                    "ext_counts": counts,
                                    "underflow": int(batch.underflow[i, r]),
                                    "overflow": int(batch.overflow[i, r]),
                                    "theory_bin_masses": th["bin_masses"][r]},
                      "reference": {"loss": bath["loss"], "river_loss": bath["river_loss"]}}
    return runs


def _measure_valley(sw: Sweep, batch) -> dict:
    """Final valley second moment per coordinate, `v = 2 <E> / (a d)`, against the
    exact Euler–Maruyama recursion and, for the greedy anneal, the closed form."""
    d, g = sw.landscape.valley_dim, sw.temperature_scale
    runs = {}
    for i, name in enumerate(batch.names):
        info = sw.info[name]
        a, n0, K = info["curvature"], info["decay_start"], info["anneal"]
        scale = 2.0 / (a * d)
        lr = batch.lr_steps[i]
        v = 0.0
        v_path = np.zeros(sw.n_steps + 1)
        for s in range(sw.n_steps):
            v_path[s] = v
            v = (1 - a * lr[s]) ** 2 * v + 2 * g * lr[s] ** 2
        v_path[-1] = v
        v0 = v_path[n0]
        r = batch.record_index(info["measure"])
        final = {
            "measure_step": int(info["measure"]),
            "variance": float(scale * batch.observables["valley_energy"][i, r]),
            "variance_se": float(scale * batch.standard_errors["valley_energy"][i, r]),
            "variance_theory": float(v_path[-1]),
            "v0": float(v0), "anneal_steps": int(K), "sigma2": 2 * g,
            "closed_form_greedy": float(1.0 / (1.0 / v0 + a * a * K / (2 * g))),
        }
        curves = {"steps": batch.steps, "lr": batch.lr[i],
                  "variance": scale * batch.observables["valley_energy"][i],
                  "variance_se": scale * batch.standard_errors["valley_energy"][i],
                  "variance_theory": v_path[batch.steps]}
        runs[name] = {"index": i, "info": info, "final": final, "curves": curves}
    return runs


# ---------------------------------------------------------------------------
# Verdicts: every sentence of the report comes from these numbers
# ---------------------------------------------------------------------------
METRICS = {"loss": "excess loss", "tv": "TV to the SGD bath", "a2": "A_2 distance to the SGD bath"}


def _compare(res, a, b, metric, z, ref=None):
    """Run `a` minus run `b` in `metric`, lower being better: `(diff, se, sign)`,
    `sign` -1 / 0 / +1 for `a` significantly better / neither / worse.

    `loss`: paired difference of the mean loss (shared noise, grouped blocks).
    `tv`: TV to the SGD bath reference (`ref`; else to the continuum bath), unpaired
    bootstrap errors. `a2`: `|A_2 - A_2^ref|`; when both runs lie on the same side
    of the reference it is the paired difference of `A_2`, else an unpaired bound.
    """

    batch, runs = res["batch"], res["runs"]
    fa, fb = runs[a]["final"], runs[b]["final"]
    ia, ib = runs[a]["index"], runs[b]["index"]
    ra = batch.record_index(runs[a]["info"]["measure"])
    rb = batch.record_index(runs[b]["info"]["measure"])
    if metric == "loss":
        diff, se = paired_difference(batch, "loss", ia, ib, ra, rb)
    elif metric == "tv":
        key = "tv_sgd" if "tv_sgd" in fa else "tv"
        diff, se = fa[key] - fb[key], math.hypot(fa[f"{key}_se"], fb[f"{key}_se"])
    elif metric == "a2":
        a0, a0_se = (ref["A_2"], ref["A_2_se"]) if ref is not None else (0.0, 0.0)
        da, db = fa["A_2"] - a0, fb["A_2"] - a0
        if np.sign(da) == np.sign(db):
            d, se = paired_difference(batch, "A_2", ia, ib, ra, rb)
            diff = float(np.sign(da)) * d
        else:
            diff = abs(da) - abs(db)
            se = math.sqrt(fa["A_2_se"] ** 2 + fb["A_2_se"] ** 2 + 4 * a0_se**2)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return diff, se, (-1 if diff < -z * se else 1 if diff > z * se else 0)


def _rule(n_for: int, n_against: int) -> str:
    """The verdict of a tally of significant comparisons for and against a claim."""
    if n_for and not n_against:
        return "supported"
    if n_for and n_against:
        return "partly supported"
    if n_against:
        return "not supported: the opposite is significant"
    return "not supported: no significant difference"


def _verdicts(plan, out) -> dict:
    z = plan["cfg"]["run"]["z"]
    ref = out["bath"]["runs"]["bath"]["final"] if "bath" in out else None
    v = {}
    if "plateau" in out:
        v.update(_plateau_verdicts(out["plateau"], plan["lr_star"], z, ref))
    if "shapes" in out:
        v["window"] = _window_verdict(out["shapes"], z, ref)
    if "valley" in out:
        v["valley"] = _valley_verdict(out["valley"], out.get("shapes"), z)
    if "equal_area" in out:
        v["lr_sum"] = _lr_sum_verdict(out["equal_area"], z)
    v["theory"] = _theory_agreement(out)
    return v


def _groups(runs):
    groups = {}
    for name, r in runs.items():
        groups.setdefault(r["info"]["group"], []).append(name)
    return groups


def _tally():
    return {m: {"for": 0, "against": 0, "tie": 0} for m in METRICS}


def _count(tally, metric, sign):
    tally[metric][{-1: "for", 1: "against", 0: "tie"}[sign]] += 1


def _plateau_verdicts(res, lr_star, z, ref):
    runs = res["runs"]
    high_low, star = [], []
    tally = _tally()
    for group, names in _groups(runs).items():
        names = sorted(names, key=lambda n: runs[n]["info"]["peak"])
        for a_ in range(len(names)):
            for b_ in range(a_ + 1, len(names)):
                for m in METRICS:  # "for": the higher plateau is better
                    _count(tally, m, _compare(res, names[b_], names[a_], m, z, ref)[2])
        lo_, hi_ = names[0], names[-1]
        row = {"group": group, "high": runs[hi_]["info"]["peak"], "low": runs[lo_]["info"]["peak"],
               "best_peak": runs[min(names, key=lambda n: runs[n]["final"]["excess_loss"])]
               ["info"]["peak"]}
        for m in METRICS:
            row[m] = dict(zip(("diff", "se", "sign"), _compare(res, hi_, lo_, m, z, ref)))
        high_low.append(row)
        stars = [n for n in names if runs[n]["info"]["is_lr_star"]]
        if stars:
            st = stars[0]
            comps = [{"peak": runs[n]["info"]["peak"],
                      **{m: dict(zip(("diff", "se", "sign"), _compare(res, n, st, m, z, ref)))
                         for m in METRICS}} for n in names if n != st]
            status = {m: ("best" if all(c[m]["sign"] == 1 for c in comps) else
                          "beaten" if any(c[m]["sign"] == -1 for c in comps) else "tied")
                      for m in METRICS}
            star.append({"group": group, "lr_star": lr_star, "comparisons": comps,
                         "status": status})
    out = {"high_plateau": {"pairs": tally, "groups": high_low,
                            "verdict": {m: _rule(tally[m]["for"], tally[m]["against"])
                                        for m in METRICS}}}
    if star:
        def st_overall(m):
            stat = [s["status"][m] for s in star]
            if all(s == "best" for s in stat):
                return "supported"
            if any(s == "beaten" for s in stat):
                return (f"not supported: another plateau is significantly better in "
                        f"{stat.count('beaten')} of {len(stat)} groups")
            if any(s == "best" for s in stat):
                return ("partly supported: never beaten, significantly best in "
                        f"{stat.count('best')} of {len(stat)} groups")
            return "not supported: no significant difference from the best plateau"
        out["lr_star_best"] = {"groups": star, "verdict": {m: st_overall(m) for m in METRICS}}
    return out


def _window_verdict(res, z, ref):
    runs = res["runs"]
    peaks = []
    tally = _tally()
    for group, names in _groups(runs).items():
        inside = [n for n in names if runs[n]["info"]["window"]["class"] == "inside"]
        outside = [n for n in names if runs[n]["info"]["window"]["class"] != "inside"]
        row = {"group": group, "inside": inside, "outside": outside}
        if inside and outside:
            for a_ in inside:
                for b_ in outside:
                    for m in METRICS:  # "for": the one inside the window is better
                        _count(tally, m, _compare(res, a_, b_, m, z, ref)[2])
            key = lambda n: runs[n]["final"]["excess_loss"]  # noqa: E731
            row["best_inside"], row["best_outside"] = min(inside, key=key), min(outside, key=key)
            row["loss"] = dict(zip(("diff", "se", "sign"), _compare(
                res, row["best_inside"], row["best_outside"], "loss", z, ref)))
        peaks.append(row)
    tested = any("loss" in p for p in peaks)
    verdict = {m: _rule(tally[m]["for"], tally[m]["against"]) if tested else
               "not tested (no run inside or no run outside the window)" for m in METRICS}
    return {"peaks": peaks, "pairs": tally, "verdict": verdict}


def _valley_verdict(res, shapes_res, z):

    batch, runs = res["batch"], res["runs"]
    out = {"verdict": "not tested (no greedy run)"}
    if "greedy" not in runs:
        return out
    gi = runs["greedy"]["index"]
    r = batch.record_index(runs["greedy"]["info"]["measure"])
    a, d = runs["greedy"]["info"]["curvature"], batch.metadata["landscape"]["valley_dim"]
    scale = 2.0 / (a * d)
    comps = []
    for name, run_ in runs.items():
        if name == "greedy":
            continue
        diff, se = paired_difference(batch, "valley_energy", run_["index"], gi, r, r)
        comps.append({"shape": name, "diff": scale * diff, "se": scale * se,
                      "sign": -1 if diff < -z * se else 1 if diff > z * se else 0})
    f = runs["greedy"]["final"]
    zc = (f["variance"] - f["closed_form_greedy"]) / f["variance_se"]
    ranking = sorted(runs, key=lambda n: runs[n]["final"]["variance"])
    out = {"comparisons": comps, "ranking": ranking, "closed_form_z": zc,
           # The claim is about the 1/t family: the greedy anneal (halving, then 1/t) and the
           # plain inverse-time shape; it holds if the greedy one beats every other shape.
           "verdict": _rule(sum(c["sign"] == 1 for c in comps if c["shape"] != "inverse_time"),
                            sum(c["sign"] == -1 for c in comps if c["shape"] != "inverse_time"))}
    if out["verdict"] == "supported" and any(
            c["sign"] == 0 for c in comps if c["shape"] != "inverse_time"):
        out["verdict"] = "partly supported: tied with " + ", ".join(
            c["shape"] for c in comps if c["sign"] == 0 and c["shape"] != "inverse_time")
    if shapes_res is not None:
        lag = {}
        for name, run_ in shapes_res["runs"].items():
            fin = run_["final"]
            if "decay_end_valley_energy" in fin:
                lag[name] = {"lag": fin["decay_end_valley_energy"] - fin["decay_end_equipartition"],
                             "se": fin["decay_end_valley_energy_se"],
                             "theory": fin["decay_end_valley_energy_theory"]
                             - fin["decay_end_equipartition"]}
        out["decay_end_lag"] = lag
    return out


def _lr_sum_verdict(res, z):
    runs = res["runs"]
    eq, ctl = [], []
    for name, run_ in runs.items():
        if name == "reference":
            continue
        d, se, s = _compare(res, name, "reference", "loss", z)
        row = {"name": name, "lr_sum": run_["info"]["lr_sum"], "peak": run_["info"]["peak"],
               "diff": d, "se": se, "sign": s}
        (eq if run_["info"]["group"] == "equal LR sum" else ctl).append(row)
    vals = [runs[n]["final"]["excess_loss"] for n in runs if runs[n]["info"]["group"] != "control"]
    spread_eq = float(max(vals) - min(vals))
    ctl_vals = [runs[n]["final"]["excess_loss"] for n in runs if runs[n]["info"]["group"] != "equal LR sum"]
    spread_ctl = float(max(ctl_vals) - min(ctl_vals)) if len(ctl_vals) > 1 else float("nan")
    n_sig = sum(1 for e in eq if e["sign"] != 0)
    ctl_sig = sum(1 for c in ctl if c["sign"] != 0)
    if n_sig == 0 and ctl_sig > 0:
        verdict = "supported"
    elif n_sig == 0:
        verdict = ("not supported: no significant difference, but the controls with other LR "
                   "sums do not differ significantly either")
    elif spread_eq < spread_ctl / 3:
        verdict = (f"partly supported: {n_sig} equal-sum schedules differ significantly, by "
                   "less than a third of the spread that other LR sums make")
    else:
        verdict = (f"not supported: {n_sig} of {len(eq)} equal-sum schedules differ "
                   "significantly from the reference, by more than a third of the spread that "
                   "other LR sums make")
    return {"equal": eq, "control": ctl, "spread_equal": spread_eq, "spread_control": spread_ctl,
            "n_significant": n_sig, "verdict": verdict}


def _theory_agreement(out) -> dict:
    """z = (MC - theory) / SE of the final metrics, raw and after subtracting the SGD
    bath reference's own offset from the continuum theory (its `MC - theory`)."""
    ref = out["bath"]["runs"]["bath"]["final"] if "bath" in out else None
    rows = {}
    for sweep, res in out.items():
        if sweep.startswith("_") or sweep == "valley":
            continue
        zs = {"excess_loss": [], "A_2": [], "A_3": [], "tv": [], "valley_energy": []}
        zc = {"excess_loss": [], "A_2": [], "A_3": []}
        for run_ in res["runs"].values():
            f = run_["final"]
            zs["tv"].append((f["tv"] - f["tv_theory_expected"]) / f["tv_se"])
            for k in ("excess_loss", "valley_energy", "A_2", "A_3"):
                zs[k].append((f[k] - f[f"{k}_theory"]) / f[f"{k}_se"])
            if ref is not None and sweep != "bath":
                for k in zc:
                    off = ref[k] - ref[f"{k}_theory"]
                    zc[k].append((f[k] - f[f"{k}_theory"] - off) / math.hypot(f[f"{k}_se"],
                                                                             ref[f"{k}_se"]))
        rows[sweep] = {}
        for k, v in zs.items():
            row = {"max_abs_z": float(np.max(np.abs(v))), "mean_z": float(np.mean(v)),
                   "n": len(v), "n_beyond_3": int(np.sum(np.abs(v) > 3))}
            if zc.get(k):
                row.update(corrected_max_abs_z=float(np.max(np.abs(zc[k]))),
                           corrected_mean_z=float(np.mean(zc[k])),
                           corrected_n_beyond_3=int(np.sum(np.abs(zc[k]) > 3)))
            rows[sweep][k] = row
    if "valley" in out:
        zv = [(r["final"]["variance"] - r["final"]["variance_theory"]) / r["final"]["variance_se"]
              for r in out["valley"]["runs"].values()]
        rows["valley"] = {"variance": {"max_abs_z": float(np.max(np.abs(zv))),
                                       "mean_z": float(np.mean(zv)), "n": len(zv),
                                       "n_beyond_3": int(np.sum(np.abs(zv) > 3))}}
    return rows


# ---------------------------------------------------------------------------
# Output: JSON, figures, report
# ---------------------------------------------------------------------------

def _save_figure(fig, out: Path, name: str) -> str:
    """Lay out, write `out/name.png` and close `fig`; the file name, for the report."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=110)
    plt.close(fig)
    return f"{name}.png"

def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def write_outputs(plan: dict, outcome: dict, out: Path) -> None:
    """Write everything into a temporary sibling of `out`, then rename it into place
    (an existing `out` is replaced only once the new one is complete)."""
    import os
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)
        for sweep, res in outcome.items():
            if sweep.startswith("_"):
                continue
            d = tmp / "runs" / sweep
            d.mkdir(parents=True)
            meta = res["batch"].metadata
            for name, run_ in res["runs"].items():
                rec = {"sweep": sweep, "name": name, "schedule": meta["schedules"][run_["index"]],
                       **{k: v for k, v in run_.items() if k != "index"},
                       "run": {k: meta[k] for k in ("landscape", "dynamics", "init", "n_particles",
                                                    "n_steps", "dt", "seed", "dtype", "block_size",
                                                    "devices")}}
                (d / f"{_safe(name)}.json").write_text(json.dumps(jsonable(rec), indent=1))
        summary = _summary(plan, outcome)
        (tmp / "summary.json").write_text(json.dumps(jsonable(summary), indent=1))
        figures = _figures(plan, outcome, tmp)
        (tmp / "report.md").write_text(_report(plan, outcome, figures))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, old)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _summary(plan, outcome) -> dict:
    cfg = plan["cfg"]
    s = plan["summary"]
    out = {"config": cfg, "lr_star": plan["lr_star"],
           "strong_points": s.strong_points, "eigenvalues": plan["fp"].eigenvalues,
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figures(plan, outcome, out: Path) -> dict:
    plt = _pyplot()
    figs = {}
    lr_star = plan["lr_star"]
    # The continuum theory shifted by the SGD bath reference's own offset (MC - theory),
    # so that the curves compare with the Monte Carlo where every run ends.
    offset = {"excess_loss": 0.0, "A_2": 0.0}
    if "bath" in outcome:
        b = outcome["bath"]["runs"]["bath"]["final"]
        offset = {k: b[k] - b[f"{k}_theory"] for k in offset}
    if "plateau" in outcome:
        runs = outcome["plateau"]["runs"]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
        for k, (group, names) in enumerate(_groups(runs).items()):
            names = sorted(names, key=lambda n: runs[n]["info"]["peak"])
            x = [runs[n]["info"]["peak"] for n in names]
            col = f"C{k}"
            for ax, key, th in ((axes[0], "excess_loss", "excess_loss_theory"),
                                (axes[1], "tv_sgd", None), (axes[2], "A_2", "A_2_theory")):
                y = [runs[n]["final"][key] for n in names]
                e = [runs[n]["final"][f"{key}_se"] for n in names]
                ax.errorbar(x, y, yerr=e, fmt="o", color=col, ms=4, capsize=2,
                            label=group if ax is axes[0] else None)
                if th is not None:
                    ax.plot(x, [runs[n]["final"][th] + offset[key] for n in names], "--",
                            color=col, lw=1)
        floor = np.mean([r["final"]["tv_sgd_floor"] for r in runs.values()])
        axes[1].axhline(floor, color="0.6", lw=1, ls=":", label="two-sample noise floor")
        if "bath" in outcome:
            b = outcome["bath"]["runs"]["bath"]["final"]
            axes[0].axhline(b["excess_loss"], color="0.6", lw=1, ls=":", label="SGD bath")
            axes[2].axhline(b["A_2"], color="0.6", lw=1, ls=":", label="SGD bath")
        for ax, lab in zip(axes, ("excess loss at measurement", "TV distance to the SGD bath",
                                  "$A_2$ at measurement")):
            ax.set_xscale("log")
            ax.set_xlabel("plateau LR")
            ax.set_ylabel(lab)
            if lr_star:
                ax.axvline(lr_star, color="r", ls="--", lw=0.8)
        axes[2].axhline(0, color="k", lw=0.5)
        axes[0].legend(fontsize=7, frameon=False)
        axes[1].legend(fontsize=7, frameon=False)
        fig.suptitle("Plateau sweep: Monte Carlo (points, ±1 SE) and Fokker–Planck + the SGD "
                     "bath's offset (dashed); red line: lr*", fontsize=10)
        figs["plateau"] = _save_figure(fig, out, "plateau")
    if "shapes" in outcome:
        runs = outcome["shapes"]["runs"]
        groups = _groups(runs)
        fig, axes = plt.subplots(len(groups), 2, figsize=(14, 3.8 * len(groups)), squeeze=False)
        colours = {"inside": "C2", "too fast": "C3", "too slow": "C0"}
        for k, (group, names) in enumerate(groups.items()):
            names = sorted(names, key=lambda n: runs[n]["info"]["decay"])
            for ax, key in zip(axes[k], ("excess_loss", "tv_sgd")):
                for j, n in enumerate(names):
                    f = runs[n]["final"]
                    c = colours[runs[n]["info"]["window"]["class"]]
                    ax.errorbar(j, f[key], yerr=f[f"{key}_se"], fmt="o", color=c, capsize=2)
                    if key == "excess_loss":
                        th = f["excess_loss_theory"] + offset["excess_loss"]
                        ax.plot([j - 0.3, j + 0.3], [th, th], color="k", lw=1)
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels([n.split("_", 1)[1] for n in names], rotation=30, ha="right",
                                   fontsize=8)
                ax.set_ylabel(key.replace("_", " "))
                ax.set_title(f"{group}: green inside the decay window, red too fast, blue too "
                             "slow" + ("; black: theory + SGD bath offset" if key == "excess_loss"
                                       else ""),
                             fontsize=9)
        figs["shapes"] = _save_figure(fig, out, "shapes")
        # equipartition lag during the decays of the hottest peak
        hot = max(groups, key=lambda gname: runs[groups[gname][0]]["info"]["peak"])
        names = [n for n in groups[hot] if runs[n]["info"]["shape"] in
                 ("quench", "cosine", "inverse_time", "window", "greedy")
                 or n.endswith("_d320")][:6]
        fig, ax = plt.subplots(figsize=(7.5, 4.3))
        for j, n in enumerate(names):
            c = runs[n]["curves"]
            t0 = runs[n]["info"]["decay_start"]
            sel = (c["steps"] >= t0 - 20) & (c["steps"] <= t0 + 400)
            t = c["steps"][sel] - t0
            ax.errorbar(t, c["valley_energy"][sel] - c["equipartition"][sel],
                        yerr=c["valley_energy_se"][sel], fmt=".", color=f"C{j}", ms=3,
                        label=n.split("_", 1)[1])
            ax.plot(t, c["valley_energy_theory"][sel] - c["equipartition"][sel], "-",
                    color=f"C{j}", lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("steps since the decay began")
        ax.set_ylabel("valley energy - d T(t) / 2")
        ax.set_title(f"Equipartition lag during decay ({hot}); lines: valley recursion x FP",
                     fontsize=9)
        ax.legend(fontsize=8, frameon=False)
        figs["equipartition"] = _save_figure(fig, out, "equipartition")
    # loss curves for a few schedules
    picks = []
    if "plateau" in outcome:
        runs = outcome["plateau"]["runs"]
        g0 = list(_groups(runs).values())[-1]
        g0 = sorted(g0, key=lambda n: runs[n]["info"]["peak"])
        picks += [("plateau", n) for n in g0
                  if n in (g0[0], g0[-1]) or runs[n]["info"]["is_lr_star"]]
    if "shapes" in outcome:
        runs = outcome["shapes"]["runs"]
        picks += [("shapes", n) for n in runs if n.endswith(("_quench", "_window"))][:3]
    if picks:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for j, (sweep, n) in enumerate(picks):
            run_ = outcome[sweep]["runs"][n]
            c, ref = run_["curves"], run_["reference"]["loss"]
            ax.plot(c["steps"], c["loss"] - ref, color=f"C{j}", lw=1.2, label=f"{sweep}: {n}")
            ax.fill_between(c["steps"], c["loss"] - ref - c["loss_se"], c["loss"] - ref + c["loss_se"],
                            color=f"C{j}", alpha=0.3)
            ax.plot(c["steps"], c["loss_theory"] - ref, "--", color=f"C{j}", lw=0.8)
        if "bath" in outcome:
            ax.axhline(outcome["bath"]["runs"]["bath"]["final"]["excess_loss"], color="0.5",
                       ls=":", lw=1, label="SGD bath (reference run)")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_xlabel("step")
        ax.set_ylabel("loss - bath equilibrium loss")
        ax.set_title("Loss curves: Monte Carlo (band ±1 SE), theory (dashed)", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
        figs["loss_curves"] = _save_figure(fig, out, "loss_curves")
    if "equal_area" in outcome:
        runs = outcome["equal_area"]["runs"]
        fig, ax = plt.subplots(figsize=(6.5, 4.3))
        for n, r in runs.items():
            f, grp = r["final"], r["info"]["group"]
            c = {"reference": "k", "equal LR sum": "C0", "control": "C3"}[grp]
            ax.errorbar(r["info"]["lr_sum"], f["excess_loss"], yerr=f["excess_loss_se"], fmt="o",
                        color=c, capsize=2, ms=4)
            ax.plot(r["info"]["lr_sum"], f["excess_loss_theory"], "x", color=c)
        ax.set_xlabel("LR sum")
        ax.set_ylabel("final excess loss")
        ax.set_title("Equal LR sum (blue), reference (black), other sums (red); x: theory",
                     fontsize=9)
        figs["equal_area"] = _save_figure(fig, out, "equal_area")
    if "valley" in outcome:
        runs = outcome["valley"]["runs"]
        names = sorted(runs, key=lambda n: runs[n]["final"]["variance"])
        fig, ax = plt.subplots(figsize=(6.5, 4.3))
        for j, n in enumerate(names):
            f = runs[n]["final"]
            ax.errorbar(j, f["variance"], yerr=f["variance_se"], fmt="o", color="C0", capsize=2)
            ax.plot([j - 0.3, j + 0.3], [f["variance_theory"]] * 2, "k-", lw=1)
        f = runs[names[0]]["final"]
        ax.axhline(f["closed_form_greedy"], color="r", ls="--", lw=0.8,
                   label="1 / (1/v0 + a^2 K / sigma^2)")
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("final valley variance per coordinate")
        ax.legend(fontsize=8, frameon=False)
        ax.set_title("Harmonic valley, discrete SGD, same budget; black: exact recursion",
                     fontsize=9)
        figs["valley"] = _save_figure(fig, out, "valley")
    return figs


def _fmt(x, se=None, digits=3):
    if se is None:
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g} ± {se:.2g}"


def _report(plan, outcome, figs) -> str:
    cfg, v = plan["cfg"], outcome["_verdicts"]
    run_ = cfg["run"]
    z = run_["z"]
    land = plan["landscape"]
    lam = plan["fp"].eigenvalues
    L = []
    L.append("# Schedule comparison: what the simulation supports\n")
    devices = next(r["batch"].metadata["devices"] for k, r in outcome.items() if not k.startswith("_"))
    L.append(
        f"Landscape `{land.name}` ({', '.join(f'{k}={x:g}' for k, x in land.params.items())}), "
        f"bath LR {run_['lr_bath']:g}, time convention `{run_['time']}`, dt = {run_['dt']:g}, "
        f"`T = {run_['temperature_scale']:g} * lr`. Particles start upstream at "
        f"y = {run_['init_y']:g}, x = 0. Strong Mpemba point lr* = "
        + (f"{plan['lr_star']:.5g}" if plan["lr_star"] else "none") +
        f" in [{run_['lr_range'][0]:g}, {run_['lr_range'][1]:g}]; lambda_2 = {lam[1]:.3g}, "
        f"lambda_3 = {lam[2]:.3g} per unit time at the bath. "
        f"tau_x / tau_y (equilibrium averages): "
        + ", ".join(f"{float(k):.4g}: {plan['timescales']['tau_x'][k]:.3g} / "
                    f"{plan['timescales']['tau_y'][k]:.3g}" for k in plan["timescales"]["tau_x"])
        + f". Total wall time {outcome['_seconds']:.0f} s on {devices['count']} "
        f"{devices['platform']} device(s).\n")
    L.append(
        f"All comparisons are of one run against another in the same batch at its "
        f"measurement step. Runs of a batch share their noise (common random numbers), so "
        f"differences of means carry paired standard errors from {run_['n_groups']} independent "
        f"groups of noise blocks; TV distances carry multinomial-bootstrap errors (unpaired). "
        f"\"Significant\" means |difference| > {z:g} SE. \"Excess loss\" is the mean loss minus the "
        f"bath equilibrium loss `<V>_pi + d T_f / 2`.\n")
    if "bath" in outcome:
        b = outcome["bath"]["runs"]["bath"]["final"]
        nb = outcome["bath"]["batch"]
        L.append(
            f"**The SGD bath.** Discrete SGD is not the continuum: a reference run of "
            f"{nb.n_particles:,} particles started in the continuum Boltzmann state at the bath "
            f"LR and held there for {nb.metadata['n_steps']} steps (about "
            f"{nb.metadata['n_steps'] * lam[1] * run_['dt']:.1f} / lambda_2) ends at excess loss "
            f"{_fmt(b['excess_loss'], b['excess_loss_se'])} (river part "
            f"{_fmt(b['excess_river_loss'], b['excess_river_loss_se'])}; valley energy "
            f"{_fmt(b['valley_energy'], b['valley_energy_se'])} against d T / 2 = "
            f"{_fmt(b['equipartition'])}, the Euler–Maruyama valley recursion predicts "
            f"{_fmt(b['valley_energy_theory'])}), A_2 = {_fmt(b['A_2'], b['A_2_se'])}, "
            f"TV to the continuum bath {_fmt(b['tv'], b['tv_se'])} (noise floor "
            f"{_fmt(b['tv_floor'])}). That offset (the river's O(mu V'' dt) step error in the "
            f"narrow well as well as the valley's) is where every run ends; \"TV to the SGD "
            f"bath\" below is the distance to this reference histogram (two-sample noise floor "
            f"about {_fmt(np.mean([r['final'].get('tv_sgd_floor', np.nan) for k, x in outcome.items() if not k.startswith('_') and k not in ('bath', 'valley') for r in x['runs'].values()]))}).\n")
    L.append("## Verdicts\n")
    L.append("| claim | verdict | evidence |")
    L.append("|---|---|---|")
    def verdict_cell(verdicts):
        first, *rest = METRICS
        return (f"**{verdicts[first]}** ({METRICS[first]}); "
                + "; ".join(f"{verdicts[m]} ({METRICS[m]})" for m in rest))

    def tally_text(t):
        return "; ".join(f"{METRICS[m]}: {t[m]['for']} / {t[m]['against']} / {t[m]['tie']}"
                         for m in METRICS)

    if "high_plateau" in v:
        hp = v["high_plateau"]
        L.append(f"| A high plateau beats a low one | {verdict_cell(hp['verdict'])} | pairs of "
                 "plateaus within a (stable, decay) group, the higher plateau significantly "
                 f"better / worse / tied: {tally_text(hp['pairs'])} |")
    if "lr_star_best" in v:
        sb = v["lr_star_best"]
        L.append(f"| The strong Mpemba plateau is the best plateau | {verdict_cell(sb['verdict'])} | "
                 "groups where lr* is significantly best / beaten / tied with the best: " + "; ".join(
                     f"{METRICS[m]}: " + " / ".join(
                         str([g['status'][m] for g in sb['groups']].count(k))
                         for k in ("best", "beaten", "tied")) for m in METRICS) + " |")
    if "window" in v:
        w = v["window"]
        L.append(f"| Decays inside the window beat decays outside it | {verdict_cell(w['verdict'])} | "
                 "pairs (inside, outside) at the same peak, the one inside significantly better / "
                 f"worse / tied: {tally_text(w['pairs'])} |")
    if "valley" in v and "comparisons" in v["valley"]:
        va = v["valley"]
        non = [c for c in va["comparisons"] if c["shape"] != "inverse_time"]
        worst = min(non, key=lambda c: c["diff"] / c["se"]) if non else None
        inv = next((c for c in va["comparisons"] if c["shape"] == "inverse_time"), None)
        L.append(f"| 1/t decay is optimal for the valley | **{va['verdict']}** | harmonic valley, "
                 f"discrete SGD, same budget and final LR: lowest final variance: "
                 f"`{va['ranking'][0]}`, then `{va['ranking'][1]}`"
                 + (f"; closest shape outside the 1/t family, `{worst['shape']}`, is higher than "
                    f"the greedy 1/t anneal by {_fmt(worst['diff'], worst['se'])} "
                    f"({worst['diff'] / worst['se']:.0f} SE)" if worst else "")
                 + (f"; plain inverse-time (1/t without the initial halving) is higher by "
                    f"{_fmt(inv['diff'], inv['se'])} ({inv['diff'] / inv['se']:.1f} SE)" if inv else "")
                 + f"; greedy vs 1/(1/v0 + a^2 K/sigma^2): {va['closed_form_z']:+.2f} SE |")
    if "lr_sum" in v:
        ls = v["lr_sum"]
        L.append(f"| Final loss depends mainly on LR sum and final LR | **{ls['verdict']}** | "
                 f"{len(ls['equal'])} schedules with the reference's LR sum: "
                 f"{ls['n_significant']} differ significantly from it; spread of their excess "
                 f"loss {_fmt(ls['spread_equal'])} vs {_fmt(ls['spread_control'])} across the "
                 f"controls with other LR sums |")
    L.append("")
    L.append("Each claim is judged by three metrics (lower is better): the excess loss (paired "
             "errors), the TV distance of the river histogram to the SGD bath state (unpaired "
             "bootstrap errors) and the slow-mode distance abs(A_2 - A_2 of the SGD bath) (paired errors "
             "where both runs lie on one side of the bath value). ")
    L.append("Verdict rules, over the pairwise comparisons each claim names: *supported* = "
             "at least one is significant in the claimed direction and none against it; "
             "*partly supported* = significant ones both ways (or, for lr*, never beaten but not "
             "always better); *not supported* = significant only against the claim, or nothing "
             "significant at all. The LR-sum claim is supported when no equal-sum schedule "
             "differs significantly from the reference while schedules with other LR sums do. "
             f"With many comparisons at {z:g} SE a stray significant one is possible "
             "(0.27 % each).\n")

    if "high_plateau" in v:
        L.append("## Plateau sweep\n")
        res = outcome["plateau"]
        L.append(f"{len(res['runs'])} runs, {res['batch'].n_particles:,} particles each, "
                 f"{cfg['plateau']['shape']} decay, measured {cfg['plateau']['hold']} steps after "
                 "the decay ends. Excess loss (MC ± SE / theory), TV (MC ± SE / theory incl. "
                 "noise), A_2 (MC ± SE / theory):\n")
        L.append("| group | plateau | excess loss | theory | river part | theory | TV to SGD bath | TV to continuum | theory | A_2 | theory |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for group, names in _groups(res["runs"]).items():
            for n in sorted(names, key=lambda n: res["runs"][n]["info"]["peak"]):
                f, i = res["runs"][n]["final"], res["runs"][n]["info"]
                star = " (lr*)" if i["is_lr_star"] else ""
                L.append(f"| {group} | {i['peak']:.4g}{star} | {_fmt(f['excess_loss'], f['excess_loss_se'])} | "
                         f"{_fmt(f['excess_loss_theory'])} | "
                         f"{_fmt(f['excess_river_loss'], f['excess_river_loss_se'])} | "
                         f"{_fmt(f['excess_river_loss_theory'])} | {_fmt(f['tv_sgd'], f['tv_sgd_se'])} | "
                         f"{_fmt(f['tv'], f['tv_se'])} | "
                         f"{_fmt(f['tv_theory_expected'])} | {_fmt(f['A_2'], f['A_2_se'])} | "
                         f"{_fmt(f['A_2_theory'])} |")
        L.append(f"\nTV noise floors: one sample of the continuum bath "
                 f"{_fmt(np.mean([r['final']['tv_floor'] for r in res['runs'].values()]))}; two "
                 f"samples of one state (TV to the SGD bath) "
                 f"{_fmt(np.mean([r['final']['tv_sgd_floor'] for r in res['runs'].values()]))}.\n")
        L.append("Highest minus lowest plateau per group (negative = the higher plateau is "
                 "better), by " + ", ".join(METRICS.values()) + ":\n")
        for g in v["high_plateau"]["groups"]:
            L.append(f"- {g['group']}: " + ", ".join(
                _fmt(g[m]["diff"], g[m]["se"]) for m in METRICS)
                + f" (lowest excess loss at plateau {g['best_peak']:.4g})")
        L.append("")
        if "lr_star_best" in v:
            L.append("Each plateau minus lr* (positive = lr* is better), by "
                     + ", ".join(METRICS.values()) + ":\n")
            for g in v["lr_star_best"]["groups"]:
                L.append(f"- {g['group']}: lr* " + ", ".join(
                    f"**{g['status'][m]}**" for m in METRICS) + "; " + "; ".join(
                        f"{c['peak']:.4g}: " + ", ".join(
                            _fmt(c[m]["diff"], c[m]["se"], 2) for m in METRICS)
                        for c in g["comparisons"]))
            L.append("")
    if "window" in v:
        L.append("## Decay shapes at a fixed budget\n")
        res = outcome["shapes"]
        L.append(f"Budget {cfg['shapes']['n_steps']} steps, warm-up {cfg['shapes']['warmup']}, "
                 f"stable {cfg['shapes']['stable']}, decays of {cfg['shapes']['decay']} steps "
                 "unless named; measured at the end. Window class: the fraction of the decay's "
                 "falling steps whose |d ln eta / dt| lies between 1 / tau_y(eta) and "
                 "1 / tau_x(eta) (`mj.decay_window`); inside if >= 90 %.\n")
        L.append("| run | decay steps | window (inside fraction) | excess loss | theory | river part | TV to SGD bath | A_2 | valley lag at decay end |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for n, r in sorted(res["runs"].items(), key=lambda kv: (kv[1]["info"]["peak"], kv[1]["final"]["excess_loss"])):
            f, i = r["final"], r["info"]
            lag = (_fmt(f["decay_end_valley_energy"] - f["decay_end_equipartition"],
                        f["decay_end_valley_energy_se"]) if "decay_end_valley_energy" in f else "")
            L.append(f"| {n} | {i['decay']} | {i['window']['class']} ({i['window']['inside']:.2f}) | "
                     f"{_fmt(f['excess_loss'], f['excess_loss_se'])} | {_fmt(f['excess_loss_theory'])} | "
                     f"{_fmt(f['excess_river_loss'], f['excess_river_loss_se'])} | "
                     f"{_fmt(f['tv_sgd'], f['tv_sgd_se'])} | {_fmt(f['A_2'], f['A_2_se'])} | {lag} |")
        L.append("")
    if "valley" in v and "comparisons" in v["valley"]:
        L.append("## Harmonic valley under discrete SGD\n")
        res = outcome["valley"]
        g = res["runs"]["greedy"]
        L.append(f"`{cfg['valley']['preset']}` ({cfg['valley']['params']}), peak "
                 f"{cfg['valley']['peak']:g}, {g['final']['anneal_steps']} anneal steps after "
                 f"{cfg['valley']['stable']} at the peak; every shape ends at the greedy "
                 f"anneal's last LR {g['info']['final']:.3g}. v0 = {g['final']['v0']:.4g}, "
                 f"closed form {g['final']['closed_form_greedy']:.4g}.\n")
        L.append("| shape | final variance | exact recursion | minus greedy (paired) |")
        L.append("|---|---|---|---|")
        comps = {c["shape"]: c for c in v["valley"]["comparisons"]}
        for n in v["valley"]["ranking"]:
            f = res["runs"][n]["final"]
            c = comps.get(n)
            L.append(f"| {n} | {_fmt(f['variance'], f['variance_se'], 4)} | "
                     f"{_fmt(f['variance_theory'], digits=4)} | "
                     f"{_fmt(c['diff'], c['se']) if c else '-'} |")
        L.append("")
    if "lr_sum" in v:
        L.append("## Equal LR sum\n")
        res = outcome["equal_area"]
        L.append("| run | peak | LR sum | excess loss | theory | minus reference (paired) |")
        L.append("|---|---|---|---|---|---|")
        rows = {r["name"]: r for r in v["lr_sum"]["equal"] + v["lr_sum"]["control"]}
        for n, r in res["runs"].items():
            f, i = r["final"], r["info"]
            c = rows.get(n)
            L.append(f"| {n} | {i['peak']:.4g} | {i['lr_sum']:.4g} | "
                     f"{_fmt(f['excess_loss'], f['excess_loss_se'])} | {_fmt(f['excess_loss_theory'])} | "
                     f"{_fmt(c['diff'], c['se']) if c else '-'} |")
        L.append("")
    L.append("## Monte Carlo against the time-dependent theory\n")
    L.append("z = (MC - theory) / SE of every final metric (TV against the theory's expected "
             "sampled TV). The theory is the 1D Fokker–Planck river (`mj.evolve`) with the "
             "valley's Euler–Maruyama moment recursion per river cell; it neglects terms of order "
             "tau_x / tau_y and the river's O(mu h) step error, so |z| > 3 marks where those "
             "are resolved, not necessarily a bug.\n")
    L.append("Columns \"after offset\" subtract the SGD bath reference's own MC - theory "
             "offset (errors of both combined): what is left of the discrepancy once the "
             "discretisation offset of the bath state is accounted for.\n")
    L.append("| sweep | metric | runs | max abs z | mean z | beyond 3 SE | after offset: max abs z | mean z | beyond 3 SE |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for sweep, rows in v["theory"].items():
        for k, r in rows.items():
            corr = (f"{r['corrected_max_abs_z']:.2f} | {r['corrected_mean_z']:+.2f} | "
                    f"{r['corrected_n_beyond_3']}" if "corrected_max_abs_z" in r else "- | - | -")
            L.append(f"| {sweep} | {k} | {r['n']} | {r['max_abs_z']:.2f} | {r['mean_z']:+.2f} | "
                     f"{r['n_beyond_3']} | {corr} |")
    L.append("")
    if figs:
        L.append("## Figures\n")
        for k, f in figs.items():
            L.append(f"![{k}]({f})\n")
    L.append("Every run's curves, theory and final metrics: `runs/<sweep>/<run>.json`; all final "
             "metrics and verdicts: `summary.json`.\n")
    return "\n".join(L)
