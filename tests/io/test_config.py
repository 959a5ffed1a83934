"""TOML run configs: the demo loads and builds; every malformed file names its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mpemba_jax as mj
from mpemba_jax.io import config as cfg
from mpemba_jax.engine.initial import Equilibrium, Point

DEMO_TOML = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "demo.toml"

GOOD = """
[landscape]
preset = "harmonic"
params = { stiffness = 2.0, valley_curvature = 20.0 }

[schedule]
kind = "wsd"
peak = 0.05
final = 0.01
warmup = 10
stable = 50
decay = 40
shape = "cosine"

[init]
kind = "point"
y = 0.5

[simulation]
n_particles = 2048
n_steps = 120
dt = 1.0
seed = 7
record_every = 20
bins = 30
bin_range = [-1.5, 1.5]
time = "steps"
dtype = "float32"

[output]
dir = "runs/test"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_demo_config_loads_and_builds():
    loaded = cfg.load_config(DEMO_TOML)
    assert loaded == cfg.check_config(cfg.DEMO)  # the file and the built-in demo agree
    land, schedule, kwargs = cfg.build_run(loaded)
    assert land.name == "double_well" and land.params["barrier"] == 0.1
    assert float(schedule(123.0)) == pytest.approx(0.05)
    assert kwargs["init"] == Equilibrium(0.2)
    assert kwargs["n_particles"] == 1_000_000 and kwargs["n_steps"] == 4000
    assert kwargs["record_every"] == 40 and kwargs["bins"] == 120
    assert loaded["output"]["dir"] == "runs/demo"


def test_full_config_builds_what_it_says(tmp_path):
    land, schedule, kwargs = cfg.build_run(cfg.load_config(_write(tmp_path, GOOD)))
    assert land.name == "harmonic" and land.params["stiffness"] == 2.0
    assert schedule.description == dict(kind="wsd", peak=0.05, final=0.01, warmup=10.0,
                                        stable=50.0, decay=40.0, initial=0.0, shape="cosine")
    assert kwargs["init"] == Point(0.5, 0.0)
    assert kwargs["bin_range"] == (-1.5, 1.5)
    res = mj.simulate(land, schedule, progress=False, **kwargs)
    assert res.counts.shape == (7, 30) and res.metadata["seed"] == 7


@pytest.mark.parametrize("kind, keys, t, lr", [
    ("constant", "lr = 0.03", 5.0, 0.03),
    ("quench", "lr_from = 0.08\nlr_to = 0.02\nat = 10", 9.0, 0.08),
    ("power_law_decay", "eta_0 = 0.08\nc = 0.5\nn = 2", 2.0, 1 / (1 / 0.08 + 0.5 * 2.0)),
])
def test_schedule_kinds(tmp_path, kind, keys, t, lr):
    text = re.sub(r'\[schedule\][^\[]*', f'[schedule]\nkind = "{kind}"\n{keys}\n\n', GOOD)
    _, schedule, _ = cfg.build_run(cfg.load_config(_write(tmp_path, text)))
    assert float(schedule(t)) == pytest.approx(lr, rel=1e-6)


def _edit(text: str, edit: tuple) -> str:
    """Apply `(old, new)` or a tuple of such replacements, each matching once."""
    for old, new in edit if isinstance(edit[0], tuple) else (edit,):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# (edit of GOOD, the key the error must name, a phrase of the message). Errors of
# the file's structure name the file too; errors found when building the objects
# and checking the run (`build_run`) name the key.
MALFORMED = [
    (("seed = 7", 'seed = "seven"'), "simulation.seed", "must be of type int"),
    (("n_steps = 120", "n_steps = 120.0"), "simulation.n_steps", "must be of type int"),
    (("dt = 1.0", 'dt = "1"'), "simulation.dt", "must be of type"),
    (("dt = 1.0", "dt = true"), "simulation.dt", "must be of type"),
    (("dt = 1.0\n", ""), "simulation.dt", "is missing"),
    (("n_particles = 2048", "n_partcles = 2048"), "simulation.n_partcles", "is unknown"),
    (('kind = "wsd"', 'kind = "cyclic"'), "schedule.kind", "must be one of"),
    (('shape = "cosine"', 'shape = "square"'), "schedule.shape", "shape must be one of"),
    (("peak = 0.05", "peak = -0.05"), "schedule.peak", "peak must be finite and > 0"),
    (("decay = 40\n", ""), "schedule.decay", "is missing"),
    (("final = 0.01", "final = 0.01\nlr = 0.1"), "schedule.lr", "does not apply to kind 'wsd'"),
    (("y = 0.5", 'lr = 0.5'), "init.lr", "does not apply to kind 'point'"),
    (("y = 0.5", "y = nan"), "init.y", "point needs finite y"),
    (('preset = "harmonic"', 'preset = "quartic"'), "landscape.preset", "unknown preset"),
    (("stiffness = 2.0", "stiff = 2.0"), "landscape.params.stiff", "unknown parameter"),
    (("stiffness = 2.0", 'stiffness = "2"'), "landscape.params.stiffness", "must be a number"),
    (("stiffness = 2.0", "stiffness = -2.0"), "landscape.params.stiffness", "must be finite and > 0"),
    (("valley_curvature = 20.0", "valley_curvature = 2000.0"), "simulation.dt", "is unstable"),
    (("bin_range = [-1.5, 1.5]", "bin_range = [1.5, -1.5]"), "simulation.bin_range", "lo < hi"),
    (("bin_range = [-1.5, 1.5]", "bin_range = [-1.5]"), "simulation.bin_range", "must be [lo, hi]"),
    (("bins = 30", "bins = 0"), "simulation.bins", "positive integer"),
    (('dtype = "float32"', 'dtype = "half"'), "simulation.dtype", "float32"),
    (('time = "steps"', 'time = "epochs"'), "simulation.time", "must be one of"),
    (("record_every = 20", "record_every = -1"), "simulation.record_every", ">= 1"),
    (('dir = "runs/test"', "dir = 3"), "output.dir", "must be of type str"),
    (("[output]", "[outputs]"), "outputs", "unknown config section"),
    ((("\n[landscape]", "init = 3\n[landscape]"), ('[init]\nkind = "point"\ny = 0.5\n', "")),
     "init", "must be a table"),
]


@pytest.mark.parametrize("edit, key, phrase", MALFORMED, ids=[m[1] + ":" + m[2] for m in MALFORMED])
def test_malformed_config_names_its_key(tmp_path, edit, key, phrase):
    path = _write(tmp_path, _edit(GOOD, edit))
    try:
        checked = cfg.load_config(path)
    except ValueError as e:
        message = str(e)
        assert message.startswith(f"{path}: "), message  # the file is named
    else:
        with pytest.raises(ValueError) as e:
            cfg.build_run(checked)
        message = str(e.value)
    assert f"'{key}'" in message and phrase in message, message


def test_missing_section_is_named(tmp_path):
    text = GOOD.split("[simulation]")[0]
    with pytest.raises(ValueError, match=r"config section 'simulation' is missing"):
        cfg.load_config(_write(tmp_path, text))


def test_invalid_toml_and_missing_file_are_named(tmp_path):
    path = _write(tmp_path, GOOD.replace("[schedule]", "[schedule"))
    with pytest.raises(ValueError, match=re.escape(f"config file {path} is not valid TOML")):
        cfg.load_config(path)
    with pytest.raises(ValueError, match="nope.toml does not exist"):
        cfg.load_config(tmp_path / "nope.toml")
