"""Property tests: every call either raises a clear `ValueError` or returns finite, normalised results.

Over preset landscape parameters (theory and run planning), schedule builder
parameters (and simulate runs under them), and config files (dicts, TOML
written from them, and TOML text with random edits). "Clear" means the
message names the argument or config key at fault. Hypothesis runs
derandomised (the same examples every run), with `deadline=None` because the
first example of a kind pays for JAX compilation; simulate runs reuse one
landscape and one set of array shapes so that their kernels compile once.
"""

from __future__ import annotations

import copy
import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import mpemba_jax as mj
from mpemba_jax.io import config as cfg
from mpemba_jax.engine.initial import boltzmann_cdf
from mpemba_jax.engine import make_plan


def fuzz(max_examples: int):
    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def names_one_of(message: str, names) -> bool:
    """Whether `message` mentions one of `names` as a whole word."""
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names)


# Numbers as users get them wrong: mostly plausible, sometimes zero, negative,
# huge, tiny, infinite, NaN or not a number at all.
SPECIAL = st.sampled_from([0.0, -1.0, 1e-300, 1e300, math.inf, -math.inf, math.nan])
PLAUSIBLE = st.floats(min_value=-3.0, max_value=6.0, allow_nan=False)
NUMBER = st.one_of(PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, SPECIAL, st.just("x"), st.just(None))


# ---------------------------------------------------------------------------
# Landscapes: preset parameters -> FokkerPlanck, the equilibrium sampler, a plan
# ---------------------------------------------------------------------------
PRESETS = mj.list_presets()
# Words a landscape-level failure may be named by besides the parameter itself:
# the river V, the curvature a, and `domain` (a river that does not confine).
LANDSCAPE_WORDS = ("river", "curvature", "domain")


@st.composite
def preset_params(draw):
    name = draw(st.sampled_from(sorted(PRESETS)))
    keys = draw(st.lists(st.sampled_from(sorted(PRESETS[name]["defaults"])), max_size=3,
                         unique=True))
    wild = draw(st.booleans())  # else values a user would plausibly choose
    params = {}
    for key in keys:
        default = PRESETS[name]["defaults"][key]
        if key == "valley_dim":
            params[key] = draw(st.one_of(st.integers(-1, 3), st.just(1.5), st.just(True))
                               if wild else st.integers(1, 3))
        elif wild:
            params[key] = draw(NUMBER)
        else:  # within a factor of 3 of the default, sign kept
            params[key] = default * draw(st.floats(1 / 3, 3)) if default else draw(
                st.floats(-0.5, 0.5))
    return name, params


@fuzz(40)
@given(case=preset_params(), lr_bath=st.floats(1e-3, 0.1), hot=st.floats(1.0, 8.0))
def test_preset_landscapes_theory_and_planning(case, lr_bath, hot):
    name, params = case
    try:
        land = mj.preset(name, **params)
    except ValueError as e:
        event("preset rejected")
        assert names_one_of(str(e), list(params) + list(LANDSCAPE_WORDS)), str(e)
        return
    lr_hot = hot * lr_bath
    try:
        fp = mj.FokkerPlanck(land, lr_bath, n_grid=600, n_modes=3, lr_max=lr_hot)
    except ValueError as e:
        event("FokkerPlanck rejected")
        assert names_one_of(str(e), ("n_grid", "lr_max") + LANDSCAPE_WORDS), str(e)
    else:
        event("FokkerPlanck built")
        masses = fp.stationary_masses
        assert np.all(np.isfinite(masses)) and np.all(masses >= 0)
        assert masses.sum() == pytest.approx(1.0, abs=1e-12)
        lam = fp.eigenvalues
        assert np.all(np.isfinite(lam)) and lam[0] == 0.0 and np.all(np.diff(lam) > 0)
        a = fp.amplitudes(np.array([lr_bath, lr_hot]))
        assert np.all(np.isfinite(a)) and np.allclose(a[:, 0], 1.0, atol=1e-9)
        assert np.allclose(a[0, 1:], 0.0, atol=1e-7)  # the bath is its own equilibrium
        hot_masses = fp.equilibrium(lr_hot)
        assert hot_masses.sum() == pytest.approx(1.0, abs=1e-12)
    try:
        y, cdf = boltzmann_cdf(land, lr_hot)
    except ValueError as e:
        assert names_one_of(str(e), LANDSCAPE_WORDS), str(e)
    else:
        assert np.all(np.isfinite(y)) and np.all(np.diff(cdf) >= 0)
        assert cdf[0] == 0.0 and cdf[-1] == pytest.approx(1.0, abs=1e-12)
    try:
        plan = make_plan(land, [mj.constant(lr_bath)], n_particles=1000, n_steps=50, dt=1.0,
                         init=mj.equilibrium(lr_hot))
    except ValueError as e:
        event("plan rejected")
        assert names_one_of(str(e), ("dt",) + LANDSCAPE_WORDS), str(e)
    else:
        event("plan made")
        assert np.all(np.isfinite(plan.bins.edges)) and np.all(np.diff(plan.bins.edges) > 0)


# ---------------------------------------------------------------------------
# Schedules: builders and their values
# ---------------------------------------------------------------------------
LR_NUMBER = st.one_of(st.floats(1e-4, 0.5), st.floats(1e-4, 0.5), SPECIAL, st.just("x"))
TIME_NUMBER = st.one_of(st.floats(0.0, 200.0), st.floats(0.0, 200.0), SPECIAL, st.just(None))


def _quadratic(s):
    return (1 - s) ** 2


def _overshoot(s):  # goes below the final LR: only a run's LR check can reject it
    return 1 - 2 * s


@st.composite
def schedule_case(draw, wild=None):
    """`(kind, params)`; wild ones mix in the values of SPECIAL and non-numbers."""
    kind = draw(st.sampled_from(["constant", "quench", "wsd", "power_law_decay"]))
    wild = draw(st.booleans()) if wild is None else wild
    lr = LR_NUMBER if wild else st.floats(1e-4, 0.15)
    duration = TIME_NUMBER if wild else st.floats(0.0, 80.0)
    if kind == "constant":
        params = {"lr": draw(lr)}
    elif kind == "quench":
        params = {"lr_from": draw(lr), "lr_to": draw(lr), "at": draw(duration)}
    elif kind == "wsd":
        params = {k: draw(lr) for k in ("peak", "final", "initial")}
        if not wild:  # final <= peak
            params["final"] = params["peak"] * draw(st.floats(0.01, 1.0))
        params.update({k: draw(duration) for k in ("warmup", "stable", "decay")})
        params["shape"] = draw(st.sampled_from(list(mj.DECAY_SHAPES) + [_quadratic, _overshoot]
                                               + (["square"] if wild else [])))
    else:
        params = {"eta_0": draw(lr),
                  "c": draw(st.one_of(st.floats(0.0, 5.0), SPECIAL) if wild else st.floats(0, 0.2)),
                  "n": draw(st.one_of(st.floats(-2.0, 4.0), st.just(1.0), SPECIAL) if wild
                            else st.one_of(st.floats(0.0, 3.0), st.just(1.0)))}
    return kind, params


BUILDERS = {"constant": mj.constant, "quench": mj.quench, "wsd": mj.wsd,
            "power_law_decay": mj.power_law_decay}
TIMES = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 300)])


def _values(schedule, t):
    with jax.enable_x64(True):
        return np.broadcast_to(np.asarray(schedule(jnp.asarray(t, jnp.float64)), np.float64),
                               np.shape(t))


@fuzz(80)
@given(case=schedule_case())
def test_schedule_builders(case):
    kind, params = case
    try:
        schedule = BUILDERS[kind](**params)
    except ValueError as e:
        event(f"{kind} rejected")
        assert names_one_of(str(e), params), str(e)
        return
    event(f"{kind} built")
    eta = _values(schedule, TIMES)
    custom = kind == "wsd" and callable(params["shape"])
    if not custom:
        assert np.all(np.isfinite(eta)) and np.all(eta >= 0), (params, eta)
    if kind == "wsd" and not custom:
        lo = min(params["initial"], params["final"])
        hi = max(params["initial"], params["peak"])
        assert np.all(eta >= lo * (1 - 1e-12)) and np.all(eta <= hi * (1 + 1e-12))
        assert _values(schedule, np.array([1e12]))[0] == pytest.approx(params["final"], rel=1e-12)
    if kind == "power_law_decay":
        assert eta[0] == pytest.approx(float(params["eta_0"]), rel=1e-12)
        assert np.all(np.diff(eta) <= 1e-12 * eta[:-1])  # it only decays
    # Whatever a builder returned, a run's LR check accepts it or says why.
    try:
        lr = mj.schedules.evaluate_schedule(schedule, TIMES)
    except ValueError as e:
        assert custom and "schedule" in str(e), str(e)
    else:
        np.testing.assert_array_equal(lr, eta)


# Tiny simulate runs under fuzzed schedules, dt and initial states. One
# landscape and fixed shapes: every example reuses the same compiled kernels.
LAND = mj.preset("double_well")
N = 512


@fuzz(12)
@given(case=schedule_case(wild=False), dt=st.floats(0.05, 3.0),
       init=st.one_of(st.builds(mj.equilibrium, st.floats(0.005, 0.3)),
                      st.builds(mj.point, st.floats(-2.5, 2.5), st.floats(-0.3, 0.3))),
       seed=st.integers(0, 2**31))
def test_simulate_under_fuzzed_schedules(case, dt, init, seed):
    kind, params = case
    try:
        schedule = BUILDERS[kind](**params)
    except ValueError:
        return  # covered by test_schedule_builders
    try:
        res = mj.simulate(LAND, schedule, n_particles=N, n_steps=60, dt=dt, seed=seed, init=init,
                          record_every=20, bins=20, bin_range=(-3.0, 3.0), block_size=256,
                          on_nonfinite="count", progress=False)
    except ValueError as e:
        event("run rejected")
        assert names_one_of(str(e), ("dt", "schedule")), str(e)
        return
    event("run made")
    total = res.counts.sum(1) + res.underflow + res.overflow + res.nonfinite
    np.testing.assert_array_equal(total, N)
    assert np.all(res.nonfinite == 0), "a run that passed the stability check blew up"
    for name, values in res.observables.items():
        assert np.all(np.isfinite(values)), name
        assert np.all(np.isfinite(res.standard_errors[name])), name
    assert np.all(res.observables["y_var"] >= 0)
    np.testing.assert_array_equal(res.lr, _values(schedule, res.times))


# ---------------------------------------------------------------------------
# Config files: mutations of a valid config, as dicts, as TOML, as broken text
# ---------------------------------------------------------------------------
BASE = {
    "landscape": {"preset": "double_well", "params": {"barrier": 0.1, "tilt": 0.05}},
    "schedule": {"kind": "wsd", "peak": 0.05, "final": 0.01, "warmup": 5, "stable": 20,
                 "decay": 20, "shape": "cosine"},
    "init": {"kind": "equilibrium", "lr": 0.1},
    "simulation": {"n_particles": 1000, "n_steps": 60, "dt": 1.0, "seed": 1,
                   "record_every": 10, "bins": 30},
    "output": {"dir": "runs/fuzz"},
}
ANY_VALUE = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.integers(0, 3), max_size=2))
KEY = st.from_regex(r"[a-z_]{1,10}", fullmatch=True)
# Well-typed values, in and out of range.
SMALL_INT = st.one_of(st.integers(-3, 200), st.integers(-10**6, 10**6))
TYPED_VALUE = {
    "number": st.one_of(st.floats(-1.0, 3.0), st.integers(-2, 5), SPECIAL),
    "n_particles": SMALL_INT, "n_steps": st.integers(-3, 2000), "seed": SMALL_INT,
    "record_every": SMALL_INT, "bins": st.integers(-3, 500),
    "kind": st.sampled_from(["constant", "quench", "wsd", "power_law_decay", "equilibrium",
                             "point"]),
    "preset": st.sampled_from(sorted(PRESETS) + ["quartic"]),
    "shape": st.sampled_from(list(mj.DECAY_SHAPES) + ["square"]),
    "dir": st.text(max_size=5), "params": st.dictionaries(KEY, st.floats(0.0, 2.0), max_size=2),
}


def _type_ok(section: str, key: str, value) -> bool:
    """Whether `value` has a type the schema allows for `section.key`."""
    if section == "landscape" and key.startswith("params."):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    types, _ = cfg._SCHEMA[section][key]
    return isinstance(value, types) and not isinstance(value, bool)


@st.composite
def mutated_config(draw):
    """`(config, key, how)`: BASE with one key set, deleted, added or a section broken."""
    c = copy.deepcopy(BASE)
    how = draw(st.sampled_from(["set", "set", "set", "delete", "add", "section"]))
    section = draw(st.sampled_from(sorted(c)))
    table = c[section]
    if how == "section":
        c[section] = draw(st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers())))
        return c, section, how
    if how == "add":
        key = draw(KEY.filter(lambda k: k not in cfg._SCHEMA[section]))
        table[key] = draw(ANY_VALUE)
        return c, f"{section}.{key}", how
    keys = sorted(table)
    if section == "landscape":
        keys += [f"params.{k}" for k in sorted(table["params"])]
    key = draw(st.sampled_from(keys))
    parent, leaf = (table["params"], key[7:]) if key.startswith("params.") else (table, key)
    if how == "delete":
        del parent[leaf]
    else:
        typed = TYPED_VALUE.get(leaf if leaf in TYPED_VALUE else "number", ANY_VALUE)
        parent[leaf] = draw(st.one_of(ANY_VALUE, typed, typed))
        if _type_ok(section, key, parent[leaf]):
            how = "value"  # right type, maybe out of range: any key may be at fault
    return c, f"{section}.{key}", how


CONFIG_KEY = re.compile(r"config (?:key|section) '([^']+)'|config \[([a-z]+)\]|"
                        r"unknown config section\(s\) \[")


def check_config_error(message: str, key: str, how: str) -> None:
    """A config error names the key at fault ('section.key'), or for a value that
    is fine alone but not with the rest, some key or section of the config."""
    assert CONFIG_KEY.search(message), message
    if how == "section":
        assert f"'{key}'" in message or f"[{key}]" in message, message
    elif how == "delete" and key == "landscape.params":
        pass  # dropping all parameters is valid; the defaults apply
    elif how in ("set", "delete", "add"):
        # Changing `kind` may make another key of the section the one at fault.
        wanted = f"'{key.split('.')[0]}." if key.endswith(".kind") else f"'{key}'"
        assert wanted in message, (key, how, message)


def _check_and_build(c: dict):
    checked = cfg.check_config(c)
    return cfg.build_run(checked)


@fuzz(80)
@given(case=mutated_config())
def test_config_dicts(case):
    c, key, how = case
    try:
        _check_and_build(c)
    except ValueError as e:
        event(f"{how}: rejected")
        check_config_error(str(e), key, how)
    else:
        event(f"{how}: accepted")
        # Only a well-typed value, or dropping an optional key, may pass.
        assert how in ("value", "delete"), f"{key} ({how}) was accepted"
        if how == "delete":
            section, _, name = key.partition(".")
            required = cfg._REQUIRED_BY_KIND.get((section, c[section].get("kind")), set())
            assert name.startswith("params") or not (cfg._SCHEMA[section][name][1]
                                                    or name in required), key


def to_toml(c: dict) -> str:
    """Our configs as TOML (top-level values first, then one table per section)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
        if isinstance(v, str):  # JSON's escapes are TOML's, but for surrogates and DEL
            return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"

    lines = [f"{json.dumps(k)} = {value(v)}" for k, v in c.items() if not isinstance(v, dict)]
    for section, table in c.items():
        if isinstance(table, dict):
            lines.append(f"[{section}]")
            lines += [f"{json.dumps(k)} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def test_to_toml_round_trips(tmp_path):
    path = tmp_path / "base.toml"
    path.write_text(to_toml(BASE), encoding="utf-8")
    assert cfg.load_config(path) == cfg.check_config(BASE)


@fuzz(60)
@given(case=mutated_config())
def test_config_files(case, tmp_path):
    c, key, how = case
    path = tmp_path / "fuzz.toml"
    path.write_text(to_toml(c), encoding="utf-8")
    try:
        checked = cfg.load_config(path)
    except ValueError as e:
        assert str(e).startswith(f"{path}: "), str(e)  # names the file
        check_config_error(str(e), key, how)
        return
    try:
        cfg.build_run(checked)
    except ValueError as e:
        check_config_error(str(e), key, how)


@fuzz(60)
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3),
                                st.sampled_from(list("=[]{}\"'.,#\n 0123456789abc_-"))),
                      min_size=1, max_size=4))
def test_config_text_with_random_edits(edits, tmp_path):
    text = to_toml(BASE)
    for pos, n_deleted, insert in edits:
        pos %= len(text) + 1
        text = text[:pos] + insert + text[pos + n_deleted:]
    path = tmp_path / "edited.toml"
    path.write_text(text, encoding="utf-8")
    try:
        checked = cfg.load_config(path)
    except ValueError as e:
        event("text rejected")
        message = str(e)
        assert str(path) in message, message
        assert "is not valid TOML" in message or CONFIG_KEY.search(message), message
        return
    try:
        cfg.build_run(checked)
    except ValueError as e:
        assert CONFIG_KEY.search(str(e)), str(e)
