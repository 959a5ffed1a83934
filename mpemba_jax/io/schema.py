"""Checking TOML configs key by key; every error names the key at fault.

A config is a table of sections, each a table of keys. These helpers check the
shape (known sections, tables, known keys) and single values (numbers, lists,
types), raising `ValueError("config key 'section.key' ...")`, so that a config
reader states its schema and its ranges and leaves the wording to one place.

Example:
  >>> raw = {"run": {"n_particles": 0}}
  >>> cfg = merge_defaults(raw, {"run": {"n_particles": 1024, "seed": 0}})
  >>> number("run.n_particles", cfg["run"]["n_particles"], integer=True, minimum=1)
  Traceback (most recent call last):
  ValueError: config key 'run.n_particles' must be an integer >= 1; got 0
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_toml", "check_sections", "check_table", "check_known", "merge_defaults",
           "number", "list_of", "typed"]


def load_toml(path: str | Path, check: Callable[[dict], dict]) -> dict:
    """Read the TOML file `path` and return `check(raw)`; errors name the file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))  # TOML is UTF-8
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"config file {path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ValueError(f"config file {path} cannot be read: {e}") from None
    try:
        return check(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def check_sections(raw: Any, allowed: Collection[str]) -> None:
    """`raw` is a table whose sections are all in `allowed`."""
    if not isinstance(raw, dict):
        raise ValueError("config must be a table of sections")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; allowed: {sorted(allowed)}")


def check_table(section: str, table: Any) -> None:
    """The section `section` is a table (`[section]`), not a value."""
    if not isinstance(table, dict):
        raise ValueError(f"config key '{section}' must be a table [{section}]")


def check_known(section: str, key: str, allowed: Collection[str],
                optional: Collection[str] = ()) -> None:
    """`key` of `section` is one of `allowed` (listed in the error) or of `optional` (not)."""
    if key not in allowed and key not in optional:
        raise ValueError(f"config key '{section}.{key}' is unknown; allowed: {sorted(allowed)}")


def merge_defaults(raw: Any, defaults: Mapping[str, Mapping[str, Any]], *,
                   optional: Mapping[str, Collection[str]] | None = None) -> dict:
    """A deep copy of `defaults` with every key of `raw` put over it.

    Every section of `raw` must be a section of `defaults` and every key a key
    of that section (or of `optional[section]`, keys without a default).
    Values are not checked.
    """
    optional = optional or {}
    check_sections(raw, defaults)
    cfg = copy.deepcopy(dict(defaults))
    for section, table in raw.items():
        check_table(section, table)
        for key, value in table.items():
            check_known(section, key, defaults[section], optional.get(section, ()))
            cfg[section][key] = copy.deepcopy(value)
    return cfg


def number(key: str, v: Any, *, positive: bool = False, minimum: float | None = None,
           integer: bool = False):
    """`v` if it is a finite number (an `int` if `integer`), `> 0` if `positive`,
    `>= minimum` if given; else `ValueError` naming `key` and the range."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if integer:
        ok = ok and isinstance(v, int)
    if not ok or (positive and v <= 0) or (minimum is not None and v < minimum):
        what = "an integer" if integer else "a number"
        bound = " > 0" if positive else (f" >= {minimum}" if minimum is not None else "")
        raise ValueError(f"config key '{key}' must be {what}{bound}; got {v!r}")
    return v


def list_of(key: str, v: Any, check: Callable[[str, Any], Any], *,
            nonempty: bool = True) -> list:
    """`[check("key[i]", x) for x in v]` for a list `v` (non-empty unless told)."""
    if not isinstance(v, list) or (nonempty and not v):
        raise ValueError(f"config key '{key}' must be a non-empty list; got {v!r}")
    return [check(f"{key}[{i}]", x) for i, x in enumerate(v)]


def typed(key: str, v: Any, types: tuple[type, ...]):
    """`v` if it is an instance of one of `types` (a `bool` counts only as a `bool`,
    never as a number)."""
    if (isinstance(v, bool) and bool not in types) or not isinstance(v, types):
        names = " or ".join(t.__name__ for t in types)
        raise ValueError(f"config key '{key}' must be of type {names}; got {v!r}")
    return v
