"""`mpemba-jax compare-schedules`: config checks before compilation, the default
config file, a tiny end-to-end run, and the docs that link only what git keeps.
"""

import importlib
import json
import re
from pathlib import Path

import pytest

from mpemba_jax import cli
from mpemba_jax.studies import schedule_comparison as cs

# The one name through which the study reaches compiled work.
measure_module = importlib.import_module("mpemba_jax.studies.schedule_comparison.measure")
ROOT = Path(__file__).resolve().parents[2]


def _no_compilation(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("compiled work started before the config was checked")
    monkeypatch.setattr(measure_module, "run_batch", boom)


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


@pytest.mark.parametrize("raw, message", [
    ({"runs": {}}, "unknown config section(s) ['runs']; allowed: "),
    ({"run": 3}, "config key 'run' must be a table [run]"),
    ({"run": {"seed": True}}, "config key 'run.seed' must be an integer >= 0; got True"),
    ({"run": {"dt": float("nan")}}, "config key 'run.dt' must be a number > 0; got nan"),
    ({"plateau": {"stable": 400}}, "config key 'plateau.stable' must be a non-empty list; got 400"),
    ({"run": {"chunk_size": 0}}, "config key 'run.chunk_size' must be an integer >= 1; got 0"),
])
def test_config_errors_name_the_key(raw, message):
    with pytest.raises(ValueError) as err:
        cs.check_config(raw)
    assert str(err.value).startswith(message)


def test_existing_output_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    _no_compilation(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert cli.main(["compare-schedules", "--sweeps", "valley", "--out", str(out)]) == 2
    assert "exists and is not empty; pass --overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


def test_default_config_file_is_the_built_in_default():
    path = ROOT / "experiments" / "configs" / "schedule_comparison.toml"
    assert cs.load_config(path) == cs.check_config(cs.DEFAULT)


@pytest.mark.slow
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
    out, docs = tmp_path / "out", tmp_path / "docs"
    assert cli.main(["compare-schedules", "--config", str(cfg), "--out", str(out),
                     "--report-dir", str(docs), "--no-progress"]) == 0
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
    # --report-dir: the report and the figures it links, no generated data
    linked = set(re.findall(r"\]\(([^)]+)\)", report))
    assert linked and {p.name for p in docs.iterdir()} == {"report.md"} | linked
    assert (docs / "report.md").read_text().split("## Figures")[0] == report.split("## Figures")[0]
    assert str(out) in (docs / "report.md").read_text()


def _local_links(markdown: Path) -> list[Path]:
    """Files a Markdown page links relatively (`[text](path)`, `![alt](path)`)."""
    links = re.findall(r"\]\(([^)#\s]+)[^)]*\)", markdown.read_text())
    return [markdown.parent / link for link in links if "://" not in link]


def test_docs_link_only_files_in_the_tree():
    # The schedule study's pages keep the report and its figures, not generated data.
    pages = [ROOT / "docs" / "schedule_comparison.md",
             ROOT / "docs" / "schedule_comparison" / "report.md"]
    for page in pages:
        for target in _local_links(page):
            assert target.exists(), f"{page.relative_to(ROOT)} links the missing {target}"
    docs = ROOT / "docs" / "schedule_comparison"
    assert not (docs / "runs").exists() and not (docs / "summary.json").exists()
    assert {p.name for p in docs.iterdir()} == {"report.md"} | {
        p.name for p in _local_links(docs / "report.md")}
