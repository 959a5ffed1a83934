"""`mpemba-jax compare-schedules`: config checks before compilation, the default
config file, and a tiny end-to-end run.
"""

import json

import pytest

import mpemba_jax.compare as compare
from mpemba_jax import cli
from mpemba_jax.commands import compare_schedules as cs


def _no_compilation(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("compiled work started before the config was checked")
    monkeypatch.setattr(compare, "_kernels", boom)
    monkeypatch.setattr(compare, "run_batch", boom)


@pytest.mark.parametrize("raw, key, words", [
    ({"plateau": {"lrs": [0.005, 0.02]}}, "plateau.lrs[0]", "bath LR"),
    ({"shapes": {"peaks": ["lr*", 0.009]}}, "shapes.peaks[1]", "bath LR"),
    ({"shapes": {"decay": 5000}}, "shapes.decay", "longer than the run"),
    ({"equal_area": {"decays": [100, 4000]}}, "equal_area.decays[1]", "longer than the run"),
    ({"shapes": {"shapes": ["linear", "sigmoid"]}}, "shapes.shapes[1]", "unknown shape"),
    ({"plateau": {"shape": "sawtooth"}}, "plateau.shape", "unknown shape"),
    ({"run": {"n_particle": 10}}, "run.n_particle", "unknown"),
])
def test_bad_configs_fail_before_compilation(tmp_path, monkeypatch, capsys, raw, key, words):
    _no_compilation(monkeypatch)
    with pytest.raises(ValueError) as err:
        cs.build_plan(cs.check_config(raw))
    assert key in str(err.value) and words in str(err.value)
    # the same through the command line, from a TOML file
    toml = "\n".join(f"[{sec}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in tab.items())
                     for sec, tab in raw.items())
    (tmp_path / "bad.toml").write_text(toml)
    rc = cli.main(["compare-schedules", "--config", str(tmp_path / "bad.toml"),
                   "--out", str(tmp_path / "out")])
    assert rc == 2
    assert key in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_default_config_file_is_the_built_in_default():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "schedule_comparison.toml"
    assert cs.load_config(path) == cs.check_config(cs.DEFAULT)


def test_command_end_to_end(tmp_path):
    # A tiny run of two sweeps: the outputs exist and the report states verdicts.
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("""
[run]
n_particles = 1024
n_records = 8
bath_steps = 300
sweeps = ["shapes", "valley"]
[shapes]
peaks = [0.05]
shapes = ["cosine", "quench", "window", "greedy"]
exponential_decays = [400]
stable = 300
n_steps = 900
[valley]
n_particles = 1024
shapes = ["greedy", "linear"]
""")
    out = tmp_path / "out"
    assert cli.main(["compare-schedules", "--config", str(cfg), "--out", str(out),
                     "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["sweeps"]) == {"bath", "shapes", "valley"}  # bath: the SGD reference
    runs = summary["sweeps"]["shapes"]["runs"]
    assert {r["info"]["window"]["class"] for r in runs.values()} <= {"inside", "too fast", "too slow"}
    assert runs["peak0.05_quench"]["info"]["window"]["class"] == "too fast"
    assert runs["peak0.05_window"]["info"]["window"]["class"] == "inside"
    one = json.loads((out / "runs" / "shapes" / "peak0.05_cosine.json").read_text())
    assert len(one["curves"]["loss"]) == len(one["curves"]["steps"])
    report = (out / "report.md").read_text()
    assert "## Verdicts" in report and "1/t decay is optimal for the valley" in report
    for fig in ("shapes.png", "equipartition.png", "valley.png"):
        assert (out / fig).stat().st_size > 0
