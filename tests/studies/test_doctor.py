"""`mpemba-jax doctor`: the report's structure, its checks passing on this machine,
and the roofline arithmetic."""

import json

import pytest

from mpemba_jax.cli import main
from mpemba_jax.studies.doctor import bandwidth


@pytest.mark.slow
def test_doctor_quick_writes_a_passing_report(tmp_path):
    out = tmp_path / "doctor.json"
    assert main(["doctor", "--quick", "--n-particles", "8192", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["passed"] is True
    checks = report["correctness"]
    assert set(checks) == {"ou_stationary_variance", "chunk_invariance", "device_invariance",
                           "checkpoint_resume", "float32_vs_float64"}
    assert checks["chunk_invariance"]["passed"] and checks["checkpoint_resume"]["passed"]
    ou = checks["ou_stationary_variance"]
    assert abs(ou["river_var"] - ou["river_theory"]) < 4 * ou["river_var_se"]
    configs = report["throughput"]["configs"]
    assert len(configs) == 9
    for r in configs.values():
        assert r["particle_steps_per_s"] > 0 and r["roofline"] > 0
        assert r["of_roofline"] == pytest.approx(r["particle_steps_per_s"] / r["roofline"])
    assert configs["leimkuhler_matthews/gaussian"]["bytes_per_particle_step"] == 32
    assert report["devices"]["device_count"] >= 1 and report["peak_memory"]["host_rss_bytes"] > 0


def test_bandwidth_is_a_rate_in_bytes_per_second():
    bw = bandwidth(1 << 16, repeats=2)
    assert 1e6 < bw < 1e13


def test_doctor_refuses_bad_sizes(capsys):
    assert main(["doctor", "--n-particles", "0"]) == 2
    assert "--n-particles must be an integer >= 1" in capsys.readouterr().err
