"""Smoke test of `mpemba-jax bench` at toy sizes: it runs and reports every contender."""

import json

import numpy as np
import pytest
from conftest import assert_within_se

from mpemba_jax.studies import bench
from mpemba_jax.cli import main


@pytest.mark.slow
def test_bench_cli_reports_every_contender(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--n-particles", "4096", "--n-steps", "8", "--record-every", "4",
                 "--configs", "euler_maruyama/gaussian,leimkuhler_matthews/three_point",
                 "--generators", "threefry2x32", "--numpy-particles", "2048",
                 "--numpy-steps", "8", "--diffrax-particles", "256", "--diffrax-steps", "8",
                 "--repeats", "1", "--quiet", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report == json.loads(capsys.readouterr().out)
    rates = report["particle_steps_per_s"]
    assert set(rates["engine"]) == {"euler_maruyama/gaussian", "leimkuhler_matthews/three_point"}
    assert set(rates["noise_alone"]) == {"gaussian", "rademacher", "three_point"}
    assert set(rates["generators"]) == {"threefry2x32"}
    numbers = [*rates["engine"].values(), *rates["noise_alone"].values(), rates["numpy"],
               *rates["generators"]["threefry2x32"].values()]
    if isinstance(rates["diffrax"], float):
        numbers.append(rates["diffrax"])
        assert "engine_em_gaussian/diffrax" in report["ratios"]
    else:
        assert rates["diffrax"].startswith("skipped")
    assert all(np.isfinite(v) and v > 0 for v in numbers)
    assert report["ratios"]["engine_em_gaussian/numpy"] > 0
    assert report["workload"]["n_particles"] == 4096 and report["workload"]["record_every"] == 4
    assert report["device"]["platform"] and report["versions"]["jax"]
    assert report["command"].startswith("mpemba-jax bench")


@pytest.mark.statistical
def test_numpy_baseline_is_the_engine_update():
    # Same update, same numbers: NumPy EM and the engine agree on the mean
    # position after a few steps within their combined standard error.
    import mpemba_jax as mj

    land = mj.preset("double_well")
    res = mj.simulate(land, mj.constant(0.02), n_particles=100_000, n_steps=20, dt=1.0,
                      init=mj.point(-1.0), record_steps=[20], progress=False)
    numbers = bench.double_well_numbers(land)
    rng = np.random.default_rng(1)
    x, y = np.zeros(100_000, np.float32), np.full(100_000, -1.0, np.float32)
    mu, amp = np.float32(0.02), np.float32(np.sqrt(2 * 0.02 * 0.02))
    for _ in range(20):  # the benchmark's own NumPy step
        x, y = bench.numpy_double_well_step(x, y, rng.standard_normal((2, y.size), np.float32),
                                            numbers, mu, amp)
    se = np.hypot(res.standard_errors["y_mean"][-1], y.std() / np.sqrt(y.size))
    assert_within_se(res.observables["y_mean"][-1], se, y.mean(), "engine vs NumPy mean y")
