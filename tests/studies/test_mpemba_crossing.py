"""`mpemba-jax validate` (the Mpemba-crossing study): its flags, its refusals, and the
smallest run writing its report and figure."""

import json

import pytest

import mpemba_jax as mj
from mpemba_jax import cli
from mpemba_jax.studies import run_mpemba_crossing
from mpemba_jax.validation import HEAVY_TAILED, INCONCLUSIVE, NOT_VERIFIED, VERIFIED


def test_validate_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["validate", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--preset", "--param", "--lr-bath", "--lr-cold", "--lr-hot", "--n-particles",
                 "--dt", "--t-end", "--record-every", "--bins", "--seed", "--n-grid", "--level",
                 "--crossing-level", "--integrator", "--chunk-size", "--out", "--figure",
                 "--no-progress"):
        assert flag in text


@pytest.mark.parametrize("argv, message", [
    (["--n-particles", "0.5"], "--n-particles must be a positive integer; got 0.5"),
    (["--dt", "0"], "--dt and --t-end must be > 0"),
])
def test_bad_flags_fail_before_running(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert cli.main(["validate", *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_study_refuses_bad_arguments():
    land = mj.preset("box_wells")
    with pytest.raises(ValueError, match="n_particles must be a positive integer"):
        run_mpemba_crossing(land, n_particles=0)
    with pytest.raises(ValueError, match="dt and t_end must be > 0"):
        run_mpemba_crossing(land, t_end=-1.0)


@pytest.mark.slow
def test_smallest_run_writes_verdict_and_figure(tmp_path, capsys):
    out, figure = tmp_path / "out", tmp_path / "copy" / "crossing.png"
    assert cli.main(["validate", "--n-particles", "4096", "--t-end", "10", "--dt", "0.1",
                     "--record-every", "20", "--n-grid", "300", "--out", str(out),
                     "--figure", str(figure), "--no-progress"]) == 0
    report = json.loads((out / "verdict.json").read_text())
    assert report["command"] == "mpemba-jax validate"
    assert report["settings"]["n_particles"] == 4096 and report["settings"]["command"] == "validate"
    assert set(report["verdicts"]) == set(report["plateaus"]) == {"cold", "hot", "star"}
    lrs = report["plateaus"]
    assert report["theory"]["lr_bath"] == 0.01 < lrs["cold"] < lrs["star"] < lrs["hot"]
    assert len(report["checks"]) == 7
    assert {c["outcome"] for c in report["checks"]} <= {
        VERIFIED, NOT_VERIFIED, INCONCLUSIVE, HEAVY_TAILED}
    assert (out / "mpemba_crossing.png").read_bytes() == figure.read_bytes()
    printed = capsys.readouterr().out
    assert "summary:" in printed and f"wrote {out / 'verdict.json'}" in printed
