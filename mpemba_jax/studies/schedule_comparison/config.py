"""The schedule study's config: defaults and checks; every error names its key.

A config is `DEFAULT` with a TOML file's keys put over it (sections `landscape`,
`run`, `plateau`, `shapes`, `equal_area`, `valley`, `output`; see
`experiments/configs/schedule_comparison.toml`, which equals `DEFAULT`). LRs
are numbers or `"lr*"`, the strong Mpemba point of the landscape at
`run.lr_bath`, resolved when the sweeps are built (`build_plan`). Steps are
integers in units of `run.dt`.

Example:
  >>> cfg = check_config({"run": {"n_particles": 4096}, "plateau": {"stable": [400]}})
  >>> cfg["plateau"]["decay"]
  [20, 80, 400]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...io.schema import list_of, load_toml, merge_defaults, number
from ...schedules import DECAY_SHAPES

__all__ = ["DEFAULT", "SWEEPS", "SPECIAL_SHAPES", "load_config", "check_config"]

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
# Decays beside `DECAY_SHAPES`: a step quench, the decay-window decay, the greedy anneal.
SPECIAL_SHAPES = ("quench", "window", "greedy")


def load_config(path: str | Path) -> dict:
    """Read a TOML config; keys it omits take the built-in defaults."""
    return load_toml(path, check_config)


def check_config(raw: dict) -> dict:
    """Merge `raw` over `DEFAULT` and check every key; returns the merged config."""
    # `run.chunk_size` has no default: by backend, unless given.
    cfg = merge_defaults(raw, DEFAULT, optional={"run": ("chunk_size",)})
    run_ = _check_run(cfg)
    bath = run_["lr_bath"]
    pl, sh, ea, va = (cfg[s] for s in ("plateau", "shapes", "equal_area", "valley"))

    def steps(key, v, minimum=0):
        return number(key, v, integer=True, minimum=minimum)

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
    list_of("plateau.lrs", pl["lrs"], above_bath)
    steps("plateau.warmup", pl["warmup"])
    list_of("plateau.stable", pl["stable"], lambda k, v: steps(k, v))
    list_of("plateau.decay", pl["decay"], lambda k, v: steps(k, v))
    shape_name("plateau.shape", pl["shape"], DECAY_SHAPES)
    steps("plateau.hold", pl["hold"], 1)
    # shapes
    list_of("shapes.peaks", sh["peaks"], above_bath)
    for k in ("warmup", "stable"):
        steps(f"shapes.{k}", sh[k])
    steps("shapes.decay", sh["decay"], 1)
    steps("shapes.n_steps", sh["n_steps"], 1)
    list_of("shapes.shapes", sh["shapes"],
            lambda k, v: shape_name(k, v, DECAY_SHAPES + SPECIAL_SHAPES))
    list_of("shapes.exponential_decays", sh["exponential_decays"], lambda k, v: steps(k, v, 1),
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
    list_of("equal_area.shapes", ea["shapes"], lambda k, v: shape_name(k, v, DECAY_SHAPES))
    list_of("equal_area.decays", ea["decays"], lambda k, v: steps(k, v, 1))
    list_of("equal_area.control_peaks", ea["control_peaks"], above_bath, nonempty=False)
    for key, d in [("equal_area.decay", ea["decay"])] + [
            (f"equal_area.decays[{i}]", d) for i, d in enumerate(ea["decays"])]:
        if ea["warmup"] + d > ea["n_steps"]:
            raise ValueError(
                f"config key '{key}': a decay of {d} steps is longer than the run: warmup + "
                f"decay = {ea['warmup'] + d} > equal_area.n_steps = {ea['n_steps']}")
    # valley
    number("valley.peak", va["peak"], positive=True)
    steps("valley.stable", va["stable"], 1)
    steps("valley.anneal", va["anneal"], 2)
    steps("valley.n_particles", va["n_particles"], 1)
    list_of("valley.shapes", va["shapes"], lambda k, v: shape_name(
        k, v, DECAY_SHAPES + ("quench", "greedy")))
    if not isinstance(cfg["output"]["dir"], str):
        raise ValueError("config key 'output.dir' must be a string")
    return cfg


def _check_run(cfg: dict) -> dict:
    """The landscapes' presets and parameters and the `[run]` section."""
    for sec in ("landscape", "valley"):
        if not isinstance(cfg[sec]["preset"], str):
            raise ValueError(f"config key '{sec}.preset' must be a string")
        if not isinstance(cfg[sec]["params"], dict):
            raise ValueError(f"config key '{sec}.params' must be a table")
        for k, v in cfg[sec]["params"].items():
            number(f"{sec}.params.{k}", v)
    run_ = cfg["run"]
    bath = number("run.lr_bath", run_["lr_bath"], positive=True)
    if run_["time"] not in ("steps", "lr_area"):
        raise ValueError(f"config key 'run.time' must be 'steps' or 'lr_area'; got {run_['time']!r}")
    number("run.temperature_scale", run_["temperature_scale"], positive=True)
    number("run.dt", run_["dt"], positive=True)
    number("run.init_y", run_["init_y"])
    for k in ("n_particles", "bins", "n_records", "block_size", "fp_grid", "n_groups",
              "bath_steps"):
        number(f"run.{k}", run_[k], integer=True, minimum=1)
    number("run.seed", run_["seed"], integer=True, minimum=0)
    number("run.z", run_["z"], positive=True)
    if "chunk_size" in run_:
        number("run.chunk_size", run_["chunk_size"], integer=True, minimum=1)
    if run_["dtype"] not in ("float32", "float64"):
        raise ValueError(f"config key 'run.dtype' must be 'float32' or 'float64'; "
                         f"got {run_['dtype']!r}")
    lo, hi = list_of("run.lr_range", run_["lr_range"],
                     lambda k, v: number(k, v, positive=True))[:2] \
        if len(run_["lr_range"]) == 2 else (None, None)
    if lo is None or not bath < lo < hi:
        raise ValueError(f"config key 'run.lr_range' must be [lo, hi] with run.lr_bath={bath:g} "
                         f"< lo < hi; got {run_['lr_range']!r}")
    sweeps = list_of("run.sweeps", run_["sweeps"], lambda k, v: v)
    for s in sweeps:
        if s not in SWEEPS:
            raise ValueError(f"config key 'run.sweeps' has unknown sweep {s!r}; allowed: {SWEEPS}")
    return run_


def _lr_or_star(key, v):
    if v == "lr*":
        return v
    if isinstance(v, str):
        raise ValueError(f"config key '{key}' must be a number or \"lr*\"; got {v!r}")
    return number(key, v, positive=True)
