"""The `mpemba-jax` command: help everywhere, a tiny simulate run, no clobbering, presets."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mpemba_jax as mj
from mpemba_jax.io import config as cfg
from mpemba_jax.cli import COMMANDS, build_parser, main

TINY = """
[landscape]
preset = "double_well"
params = { barrier = 0.1 }

[schedule]
kind = "quench"
lr_from = 0.2
lr_to = 0.05

[init]
kind = "equilibrium"
lr = 0.2

[simulation]
n_particles = 3000
n_steps = 40
dt = 1.0
seed = 5
record_every = 10
bins = 24
block_size = 512

[output]
dir = "unused"
"""


def _subcommands() -> list[str]:
    """The subcommands the parser registers (one per module in `COMMANDS`)."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


SUBCOMMANDS = _subcommands()


def test_every_command_module_registers_a_subcommand():
    assert len(SUBCOMMANDS) == len(COMMANDS) and "simulate" in SUBCOMMANDS


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse exits after --help
        return 0 if e.code is None else int(e.code)


@pytest.mark.parametrize("argv", [["--help"], []] + [[c, "--help"] for c in SUBCOMMANDS],
                         ids=lambda a: " ".join(a) or "(no command)")
def test_help_exits_zero(argv, capsys):
    assert _exit_code(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mpemba-jax")
    if argv[1:] == ["--help"]:
        assert f"mpemba-jax {argv[0]}" in out
    else:
        assert all(c in out for c in SUBCOMMANDS)


def _console_script() -> str:
    # The script pip installed next to this interpreter, else the one on PATH.
    here = Path(sys.executable).with_name("mpemba-jax")
    found = str(here) if here.exists() else shutil.which("mpemba-jax")
    assert found, "the mpemba-jax console script is not installed"
    return found


def test_installed_console_script_help():
    proc = subprocess.run([_console_script(), "simulate", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: mpemba-jax simulate" in proc.stdout and "--overwrite" in proc.stdout


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name, info in mj.list_presets().items():
        assert f"{name}(" in out and info["description"] in out


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


def test_simulate_writes_result_and_refuses_to_clobber(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "result"
    argv = ["simulate", "--config", str(config), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert sorted(_files(out)) == ["arrays.npz", "config.json", "histograms.png", "metadata.json"]
    assert _files(out)["histograms.png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "config.json").read_text()) == cfg.load_config(config)
    res = mj.load_result(out)
    assert res.counts.shape == (5, 24) and res.n_particles == 3000
    assert (res.counts.sum(1) + res.underflow + res.overflow + res.nonfinite == 3000).all()
    assert res.metadata["landscape"]["params"]["barrier"] == 0.1
    assert res.metadata["seed"] == 5 and res.metadata["init"] == {"kind": "equilibrium", "lr": 0.2}

    # Again to the same directory: exit code 2, a clear message, the first result intact.
    before = _files(out)
    config.write_text(TINY.replace("seed = 5", "seed = 6"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert _files(out) == before

    # --overwrite replaces it with the new run.
    assert main(argv + ["--overwrite"]) == 0
    assert mj.load_result(out).metadata["seed"] == 6


def test_simulate_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace("n_steps = 40", "n_steps = 0"))
    out = tmp_path / "result"
    assert main(["simulate", "--config", str(config), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "mpemba-jax simulate: error:" in err and "'simulation.n_steps'" in err
    assert not out.exists()
