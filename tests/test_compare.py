"""Batched schedule comparison (`mpemba_jax.compare`, `mpemba-jax compare-schedules`).

Exactness: a batch reproduces `simulate` run by run, bit for bit. Physics:
equipartition on a plateau, the Monte Carlo loss curve of a slow decay against
the time-dependent theory, and the greedy valley anneal against every other
shape and its closed form. Tolerances are standard errors from the runs (see
`conftest`); discretisation biases are made negligible or predicted exactly,
as stated at each test.
"""

import json

import jax
import numpy as np
import optax
import pytest

import mpemba_jax as mj
from conftest import assert_within_se, z_threshold
from mpemba_jax import cli, compare
from mpemba_jax.commands import compare_schedules as cs


def _schedules():
    return {
        "wsd_high": mj.wsd(0.05, 0.01, 20, 100, 50, "cosine"),
        "wsd_lstar": mj.wsd(0.0182, 0.01, 20, 100, 50, "exponential"),
        "optax_warmup_cosine": optax.warmup_cosine_decay_schedule(0.0, 0.03, 20, 200, 0.01),
        "greedy": compare.greedy_anneal(0.04, 3.0, warmup=20, stable=100, final=0.01),
    }


def test_batch_equals_one_by_one_with_same_seed():
    land = mj.preset("box_wells")
    fp = mj.FokkerPlanck(land, 0.01, n_grid=800, lr_max=0.05)
    obs = compare.theory_observables(fp)
    # 5000 particles: the last noise block is padded; 2048 per chunk in the batch and
    # 3072 per chunk one by one: chunking must not matter either.
    kw = dict(n_particles=5000, n_steps=300, dt=1.0, seed=7, init=mj.point(-0.28),
              record_every=37, observables=obs, block_size=512)
    scheds = _schedules()
    batch = compare.run_batch(land, scheds, bins=30, chunk_size=2048, progress=False, **kw)
    assert batch.counts.shape == (4, len(batch.steps), 30)
    for i, (name, s) in enumerate(scheds.items()):
        alone = mj.simulate(land, s, bins=batch.bin_edges, chunk_size=3072, progress=False, **kw)
        mine = batch.result(name)
        np.testing.assert_array_equal(mine.steps, alone.steps)
        np.testing.assert_array_equal(mine.counts, alone.counts)
        for f in ("underflow", "overflow", "nonfinite", "lr"):
            np.testing.assert_array_equal(getattr(mine, f), getattr(alone, f))
        np.testing.assert_array_equal(mine.sums, alone.sums)  # float64 sums, bit for bit
        for k in alone.observables:
            np.testing.assert_array_equal(mine.observables[k], alone.observables[k])
        assert mine.counts[-1].sum() + mine.underflow[-1] + mine.overflow[-1] == 5000
    # the runs differ from one another (the comparison is not vacuous)
    assert not np.array_equal(batch.counts[0], batch.counts[1])


def test_optax_schedules_unwrapped_and_recorded_lr_equals_schedule():
    land = mj.preset("box_wells")
    scheds = {
        "warmup_cosine": optax.warmup_cosine_decay_schedule(0.0, 0.04, 50, 400, 0.01),
        "exponential": optax.exponential_decay(0.04, 40, 0.8, end_value=0.01),
        "piecewise": optax.piecewise_constant_schedule(0.04, {150: 0.5, 300: 0.5}),
        "wsd": mj.wsd(0.03, 0.01, 50, 100, 200, "inverse_sqrt"),
    }
    n_steps, dt = 400, 1.0
    batch = compare.run_batch(land, scheds, n_particles=1024, n_steps=n_steps, dt=dt,
                              init=mj.point(-0.28), record_every=25, progress=False)
    with jax.enable_x64(True):
        for i, (name, s) in enumerate(scheds.items()):
            expected = np.array([float(s(t)) for t in batch.times])
            np.testing.assert_array_equal(batch.lr[i], expected, err_msg=name)
            full = np.asarray(jax.vmap(s)(np.arange(n_steps + 1) * dt), np.float64)
            np.testing.assert_array_equal(batch.lr_steps[i], full, err_msg=name)
            assert batch.metadata["schedules"][i]  # recorded as a description
    # the piecewise schedule really changes LR where optax says
    assert batch.lr[2][batch.steps == 125][0] == pytest.approx(0.04)
    assert batch.lr[2][batch.steps == 325][0] == pytest.approx(0.01)


def test_equipartition_on_a_stable_plateau():
    # Harmonic valley, time="lr_area", a dt = 10 * 2e-4 = 0.002: the Euler–Maruyama
    # stationary energy exceeds d T / 2 by 1 / (1 - a dt / 2) - 1 = 0.1 %, a fifth of
    # the SE here. Measured at step 2400, 2300 steps (4.6 tau_x) into the plateau: the
    # energy relaxes at rate 2 a, so exp(-9.2) of the start's deficit is left.
    d, a, dt = 3, 10.0, 2e-4
    land = mj.preset("harmonic", stiffness=1.0, valley_curvature=a, valley_dim=d)
    plateaus = (0.02, 0.05)
    scheds = {f"p{p}": mj.wsd(p, 0.01, 100 * dt, 2400 * dt, 500 * dt) for p in plateaus}
    batch = compare.run_batch(land, scheds, n_particles=32768, n_steps=2600, dt=dt,
                              time="lr_area", init=mj.point(1.0), record_steps=[0, 2400, 2600],
                              progress=False)
    r = batch.record_index(2400)
    energy = batch.observables["valley_energy"][:, r]
    se = batch.standard_errors["valley_energy"][:, r]
    np.testing.assert_allclose(batch.lr[:, r], plateaus, rtol=1e-12)
    assert_within_se(energy, se, 0.5 * d * np.array(plateaus), "valley energy vs d T / 2")


def _discrete_ou_river_loss(lr, k, y0, dt, g=1.0):
    """Exact <V> of the Euler–Maruyama river y <- (1 - lr k dt) y + sqrt(2 lr g lr dt) n."""
    m, v = y0, 0.0
    out = np.zeros(len(lr))
    for s in range(len(lr)):
        out[s] = 0.5 * k * (v + m * m)
        if s < len(lr) - 1:
            m = (1 - lr[s] * k * dt) * m
            v = (1 - lr[s] * k * dt) ** 2 * v + 2 * lr[s] * g * lr[s] * dt
    return out


def test_slow_decay_loss_curve_matches_time_dependent_theory():
    # Harmonic river k = 0.1, valley a = 10, SGD time: a slow linear decay 0.03 -> 0.01
    # over 1500 steps from particles started upstream at y = 1. The theory is
    # mj.evolve (river) + the valley's Euler–Maruyama moment recursion, which is exact
    # for constant a. The river's own step error (mu k dt <= 0.003) is checked below
    # to stay under half an SE, so the tolerance is the statistical one.
    k, a, y0, dt = 0.1, 10.0, 1.0, 1.0
    land = mj.preset("harmonic", stiffness=k, valley_curvature=a)
    sched = mj.wsd(0.03, 0.01, 50, 400, 1500, "linear")
    n_steps = 2000
    rec = np.arange(0, n_steps + 1, 200)
    batch = compare.run_batch(land, {"slow": sched}, n_particles=32768, n_steps=n_steps, dt=dt,
                              init=mj.point(y0), record_steps=rec, progress=False)
    fp = mj.FokkerPlanck(land, 0.01, n_grid=2000, lr_max=0.03)
    th = compare.schedule_theory(fp, batch.lr_steps[0], dt, fp.point_mass(y0), batch.steps)
    loss, se = batch.observables["loss"][0], batch.standard_errors["loss"][0]
    discrete = _discrete_ou_river_loss(batch.lr_steps[0], k, y0, dt)[rec]
    assert np.all(np.abs(discrete - th["river_loss"])[1:] < 0.5 * se[1:])
    # t = 0 is a point mass: the loss is exactly V(y0) with zero spread
    assert loss[0] == pytest.approx(0.5 * k * y0**2, rel=1e-6)
    assert_within_se(loss[1:], se[1:], th["loss"][1:], "MC loss curve vs theory")
    # the curve does move: the excess over the end value is many SE at the start
    assert loss[1] - loss[-1] > 20 * se[1]


def test_greedy_anneal_beats_every_shape_and_matches_closed_form():
    # Discrete SGD (time="steps", dt=1) on a harmonic valley, per coordinate
    # v_{t+1} = (1 - a eta_t)^2 v_t + sigma^2 eta_t^2, sigma^2 = 2 g. v is the second
    # moment (= variance, the mean is 0) of one valley coordinate, from the valley
    # energy: v = 2 <E> / (a d). The stable phase (60 steps at a eta = 0.5, from x = 0)
    # leaves v at its stationary value v_0 = sigma^2 eta / (a (2 - a eta)) to 1e-36;
    # then K = 200 steps of eta_t = eta / (2 + a eta t), t = 0..K-1, and the record at
    # step 60 + K gives v_K = 1 / (1 / v_0 + a^2 K / sigma^2).
    a, d, eta, n0, K, g = 10.0, 4, 0.05, 60, 200, 1.0
    land = mj.preset("harmonic", valley_curvature=a, valley_dim=d)
    greedy = compare.greedy_anneal(eta, a, stable=float(n0))
    final = float(greedy(float(n0 + K - 1)))
    scheds = {"greedy": greedy, "quench": mj.quench(eta, final, at=float(n0))}
    for shape in mj.DECAY_SHAPES:
        scheds[shape] = mj.wsd(eta, final, 0.0, float(n0), float(K - 1), shape)
    batch = compare.run_batch(land, scheds, n_particles=32768, n_steps=n0 + K, dt=1.0,
                              init=mj.point(0.0), record_steps=[0, n0, n0 + K], progress=False)
    scale = 2.0 / (a * d)
    r0, r = batch.record_index(n0), batch.record_index(n0 + K)
    v = scale * batch.observables["valley_energy"][:, r]
    v_se = scale * batch.standard_errors["valley_energy"][:, r]
    sigma2 = 2 * g
    v0 = sigma2 * eta / (a * (2 - a * eta))
    closed = 1.0 / (1.0 / v0 + a * a * K / sigma2)
    gi = batch.index("greedy")
    assert_within_se(scale * batch.observables["valley_energy"][gi, r0],
                     scale * batch.standard_errors["valley_energy"][gi, r0], v0, "v_0")
    assert_within_se(v[gi], v_se[gi], closed, "greedy v_K vs 1/(1/v0 + a^2 K/sigma^2)")
    # the recursion checked by hand: iterating it on the recorded LRs gives the closed form
    lr = batch.lr_steps[gi]
    w = v0
    for t in range(n0, n0 + K):
        w = (1 - a * lr[t]) ** 2 * w + sigma2 * lr[t] ** 2
    assert w == pytest.approx(closed, rel=1e-12)
    # every other shape ends higher, significantly, by the paired difference (shared noise)
    others = [n for n in scheds if n != "greedy"]
    z = z_threshold(len(others))
    for n in others:
        diff, se = compare.paired_difference(batch, "valley_energy", batch.index(n), gi, r)
        lr_n = batch.lr_steps[batch.index(n)]
        w = v0
        for t in range(n0, n0 + K):
            w = (1 - a * lr_n[t]) ** 2 * w + sigma2 * lr_n[t] ** 2
        # the exact gap is far beyond the noise, so this cannot fail by bad luck ...
        assert (w - closed) / (scale * se) > 2 * z, n
        # ... and the measured gap is significant and matches the exact one
        assert scale * diff > z * scale * se, (n, scale * diff, scale * se)
        assert abs(scale * diff - (w - closed)) < z * scale * se, n


def test_window_decay_stays_inside_and_lr_sum_matching():
    land = mj.preset("box_wells")
    w = mj.decay_window(land, 0.05, 0.01, n_grid=800)
    s = compare.window_decay(w, warmup=10, stable=20)
    D = s.description["decay"]
    t = 30 + np.linspace(0.0, D, 200)[1:-1]
    assert np.all(w.check(s, t) == 0)
    assert float(s(30.0 + D + 1)) == pytest.approx(0.01)
    assert float(s(29.0)) == pytest.approx(0.05)
    build = lambda p: mj.wsd(p, 0.01, 10, 100, 200, "cosine")  # noqa: E731
    target = compare.lr_sum(build(0.03), 500, 1.0)
    p, sched = compare.match_lr_sum(build, target, 500, 1.0, (0.011, 0.2))
    assert p == pytest.approx(0.03, rel=1e-9)
    with pytest.raises(ValueError, match="no parameter"):
        compare.match_lr_sum(build, 1e3, 500, 1.0, (0.011, 0.2))


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


def test_batch_of_different_lengths_fails_before_compilation(monkeypatch):
    monkeypatch.setattr(compare, "_kernels", lambda *a, **k: pytest.fail("compiled"))
    land = mj.preset("box_wells")
    with pytest.raises(ValueError, match=r"same length.*'short'.*'long'"):
        compare.run_batch(land, {"short": np.full(101, 0.02), "long": np.full(201, 0.02)},
                          n_particles=100, dt=1.0, init=mj.point(0.0), progress=False)
    with pytest.raises(ValueError, match="n_steps=300 does not match"):
        compare.run_batch(land, {"a": np.full(101, 0.02), "b": mj.constant(0.02)},
                          n_particles=100, n_steps=300, dt=1.0, progress=False)
    with pytest.raises(ValueError, match="schedule 'bad'.*finite LR"):
        compare.run_batch(land, {"ok": mj.constant(0.02), "bad": lambda t: -0.01 + 0 * t},
                          n_particles=100, n_steps=10, dt=1.0, progress=False)


def test_default_config_file_is_the_built_in_default():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "schedule_comparison.toml"
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
