"""The crossing detector on synthetic curves with a planted crossing (power and
interval coverage, independent and AR(1) noise) and without one (false
crossings at most the family-wise level); `mpemba-jax validate` end to end.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from mpemba_jax.validation import find_crossing

T = np.linspace(0.0, 150.0, 61)


def _curves():
    d_a = 0.06 * np.exp(-0.004 * T)               # slow, starts low (cold)
    d_b = 0.15 * np.exp(-0.03 * T) + 0.01 * np.exp(-0.004 * T)  # fast, starts high (hot)
    # planted crossing: 0.05 e^{-0.004 t} = 0.15 e^{-0.03 t}
    t_x = math.log(0.15 / 0.05) / (0.03 - 0.004)
    return d_a, d_b, t_x


@pytest.mark.statistical
@pytest.mark.parametrize("correlated", [False, True])
def test_crossing_detector_finds_a_planted_crossing(correlated, binomial_floor, coverage_band):
    d_a, d_b, t_x = _curves()
    rng = np.random.default_rng(11)
    reps, se = 500, 0.002
    found, covered = 0, 0
    for _ in range(reps):
        if correlated:  # AR(1) noise along the curve, as for one set of particles
            e = np.empty((2, len(T)))
            e[:, 0] = rng.normal(size=2)
            for i in range(1, len(T)):
                e[:, i] = 0.9 * e[:, i - 1] + math.sqrt(1 - 0.81) * rng.normal(size=2)
        else:
            e = rng.normal(size=(2, len(T)))
        c = find_crossing(T, d_a + se * e[0], np.full_like(T, se), d_b + se * e[1],
                          np.full_like(T, se), level=0.05)
        if c["found"]:
            found += 1
            covered += c["ci"][0] <= t_x <= c["ci"][1]
            assert c["sign_before"] == -1  # b above a first
    assert found >= reps - binomial_floor(reps, 0.01, 0.999)  # power >= 99%
    lo, _ = coverage_band(found)
    assert covered / found >= lo, covered / found


@pytest.mark.statistical
def test_crossing_detector_reports_none_without_a_crossing():
    d_a, d_b, _ = _curves()
    rng = np.random.default_rng(12)
    reps, se = 500, 0.002
    above = np.maximum(d_a, d_b) + 0.002  # never crosses the other curve
    false_pos = {"apart": 0, "identical": 0}
    for _ in range(reps):
        e = rng.normal(size=(4, len(T)))
        s = np.full_like(T, se)
        false_pos["apart"] += find_crossing(T, above + se * e[0], s, d_b + se * e[1], s)["found"]
        false_pos["identical"] += find_crossing(T, d_a + se * e[2], s, d_a + se * e[3], s)["found"]
    # Family-wise level 5% (Bonferroni over the records): false crossings <= 5%.
    for k, v in false_pos.items():
        assert v / reps <= 0.05 + 3.5 * math.sqrt(0.05 * 0.95 / reps), (k, v)


@pytest.mark.slow
def test_validate_crossing_on_runs_and_cli_smoke(tmp_path):
    """The CLI end to end on a tiny run: files written, verdicts JSON-able."""
    out = tmp_path / "mc"
    cmd = [sys.executable, "-m", "mpemba_jax.cli", "validate", "--n-particles", "4096",
           "--t-end", "10", "--record-every", "20", "--out", str(out), "--no-progress",
           "--n-grid", "800"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "verdict.json").read_text())
    assert set(report["verdicts"]) == {"cold", "hot", "star"}
    assert report["crossing_cold_hot"]["check"]["outcome"] in (
        "verified", "not verified", "inconclusive (below noise floor)")
    assert (out / "mpemba_crossing.png").stat().st_size > 10_000
