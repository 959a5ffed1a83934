"""TOML run configurations, checked key by key.

A config is a TOML file with sections `[landscape]`, `[schedule]`, `[init]`,
`[simulation]`, `[output]` and `[distributed]` (multi-process runs; see
`experiments/configs/demo.toml`). Every key is checked for name, type and range; a bad one raises `ValueError` naming
`section.key`. `DEMO` is the default run of `mpemba-jax simulate`.
"""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path
from typing import Any

from ..engine import initial
from .. import schedules
from ..presets import preset
from .schema import check_known, check_sections, check_table, load_toml, number, typed

__all__ = ["load_config", "check_config", "build_run", "DEMO"]

# Demo: a hot double-well ensemble quenched into a colder bath.
DEMO: dict[str, Any] = {
    "landscape": {"preset": "double_well", "params": {"barrier": 0.1}},
    "schedule": {"kind": "constant", "lr": 0.05},
    "init": {"kind": "equilibrium", "lr": 0.2},
    "simulation": {"n_particles": 1_000_000, "n_steps": 4000, "dt": 1.0, "seed": 0,
                   "record_every": 40, "bins": 120},
    "output": {"dir": "runs/demo"},
}

_NUM = (int, float)
# section -> key -> (allowed types, required)
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "landscape": {"preset": ((str,), True), "params": ((dict,), False)},
    "schedule": {"kind": ((str,), True), "lr": (_NUM, False), "lr_from": (_NUM, False),
                 "lr_to": (_NUM, False), "at": (_NUM, False), "peak": (_NUM, False),
                 "final": (_NUM, False), "warmup": (_NUM, False), "stable": (_NUM, False),
                 "decay": (_NUM, False), "shape": ((str,), False), "initial": (_NUM, False),
                 "eta_0": (_NUM, False), "c": (_NUM, False), "n": (_NUM, False),
                 "curvature": (_NUM, False)},
    "init": {"kind": ((str,), True), "lr": (_NUM, False), "y": (_NUM, False), "x": (_NUM, False)},
    "simulation": {"n_particles": ((int,), True), "n_steps": ((int,), True), "dt": (_NUM, True),
                   "seed": ((int,), False), "time": ((str,), False),
                   "temperature_scale": (_NUM, False), "dtype": ((str,), False),
                   "record_every": ((int,), False), "bins": ((int,), False),
                   "bin_range": ((list,), False), "chunk_size": ((int,), False),
                   "block_size": ((int,), False), "generator": ((str,), False),
                   "integrator": ((str,), False), "noise": ((str,), False)},
    "output": {"dir": ((str,), False)},
    # Multi-process runs (jax.distributed); the command-line flags override these.
    "distributed": {"enabled": ((bool,), False), "coordinator": ((str,), False),
                    "num_processes": ((int,), False), "process_id": ((int,), False),
                    "heartbeat_timeout": ((int,), False)},
}
# Keys each kind takes, and those it requires: for schedules, the parameters of
# the builder in `schedules.BUILDERS` (and those without a default).
_BUILDERS = {"schedule": schedules.BUILDERS,
             "init": {"equilibrium": initial.equilibrium, "point": initial.point}}
_KIND_KEYS = {section: {kind: set(inspect.signature(f).parameters) for kind, f in table.items()}
              for section, table in _BUILDERS.items()}
_REQUIRED_BY_KIND = {
    (section, kind): {n for n, p in inspect.signature(f).parameters.items()
                      if p.default is p.empty}
    for section, table in _BUILDERS.items() for kind, f in table.items()}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML config; errors name the file and the key at fault."""
    return load_toml(path, check_config)


def check_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a config dict against the schema; return a copy (init optional)."""
    check_sections(raw, _SCHEMA)
    for section in ("landscape", "schedule", "simulation"):
        if section not in raw:
            raise ValueError(f"config section '{section}' is missing (a [{section}] table)")
    cfg = copy.deepcopy(raw)
    for section, table in cfg.items():
        check_table(section, table)
        schema = _SCHEMA[section]
        for key, value in table.items():
            check_known(section, key, schema)
            typed(f"{section}.{key}", value, schema[key][0])
        for key, (_, required) in schema.items():
            if required and key not in table:
                raise ValueError(f"config key '{section}.{key}' is missing")
        if section in _KIND_KEYS:
            kind = table["kind"]
            kinds = _KIND_KEYS[section]
            if kind not in kinds:
                raise ValueError(
                    f"config key '{section}.kind' must be one of {sorted(kinds)}; got {kind!r}")
            extra = sorted(set(table) - {"kind"} - kinds[kind])
            if extra:
                raise ValueError(
                    f"config key '{section}.{extra[0]}' does not apply to kind {kind!r}; "
                    f"allowed: {sorted(kinds[kind])}")
            missing = sorted(_REQUIRED_BY_KIND[(section, kind)] - set(table))
            if missing:
                raise ValueError(f"config key '{section}.{missing[0]}' is missing (kind {kind!r})")
    for name, value in cfg["landscape"].get("params", {}).items():
        number(f"landscape.params.{name}", value)
    bin_range = cfg["simulation"].get("bin_range")
    if bin_range is not None and (len(bin_range) != 2 or not all(
            isinstance(v, _NUM) and not isinstance(v, bool) for v in bin_range)):
        raise ValueError(f"config key 'simulation.bin_range' must be [lo, hi]; got {bin_range!r}")
    return cfg


def build_run(cfg: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """`(landscape, schedule, simulate_kwargs)` from a checked config.

    Builds the objects and checks the whole run (`engine.make_plan`, no
    compiled work), so that every error names the key at fault where one is
    identifiable (`config key 'schedule.lr': lr must be ...`), else the section.
    """
    from ..engine.plan import make_plan

    land = cfg["landscape"]
    params = land.get("params", {})
    try:
        landscape = preset(land["preset"], **params)
    except ValueError as e:
        keys = {"preset": "landscape.preset", **{k: f"landscape.params.{k}" for k in params}}
        raise _keyed(e, keys, "landscape") from None
    sched = dict(cfg["schedule"])
    kind = sched.pop("kind")
    try:
        schedule = schedules.BUILDERS[kind](**sched)
    except ValueError as e:
        raise _keyed(e, {k: f"schedule.{k}" for k in sched}, "schedule") from None
    kwargs = dict(cfg["simulation"])
    if "bin_range" in kwargs:
        kwargs["bin_range"] = tuple(kwargs["bin_range"])
    init_keys = {}
    if "init" in cfg:
        init = dict(cfg["init"])
        kind = init.pop("kind")
        init_keys = {f"init {k}": f"init.{k}" for k in init}
        try:
            kwargs["init"] = _BUILDERS["init"][kind](**init)
        except ValueError as e:
            raise _keyed(e, {k: f"init.{k}" for k in init}, "init") from None
    try:
        make_plan(landscape, {"schedule": schedule}, single=True, **kwargs)
    except ValueError as e:
        keys = {k: f"simulation.{k}" for k in cfg["simulation"]}
        raise _keyed(e, {**keys, **init_keys, "schedule": "schedule"}, "simulation") from None
    return landscape, schedule, kwargs


def _keyed(error: ValueError, keys: dict[str, str], section: str) -> ValueError:
    """Prefix `error` with the config key whose name it mentions first.

    The builders' messages name their argument (`lr must be ...`), which is the
    key's name; `keys` maps such names to the config key.
    """
    message = str(error)
    hits = []
    for name, key in keys.items():
        m = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message)
        if m:
            hits.append((m.start(), -len(name), key))
    if hits:
        key = min(hits)[2]
        return ValueError(f"config key '{key}': {message}" if "." in key
                          else f"config [{key}]: {message}")
    return ValueError(f"config [{section}]: {message}")
