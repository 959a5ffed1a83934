"""A batch of schedules in one compiled program: bit for bit `simulate` run by run,
the recorded LR table, equipartition on a plateau, checks before compilation.
"""

import jax
import numpy as np
import optax
import pytest

import mpemba_jax as mj
import mpemba_jax.engine.api as engine_api
from conftest import assert_within_se
from mpemba_jax.theory.schedule import theory_observables


def _schedules():
    return {
        "wsd_high": mj.wsd(0.05, 0.01, 20, 100, 50, "cosine"),
        "wsd_lstar": mj.wsd(0.0182, 0.01, 20, 100, 50, "exponential"),
        "optax_warmup_cosine": optax.warmup_cosine_decay_schedule(0.0, 0.03, 20, 200, 0.01),
        "greedy": mj.greedy_anneal(0.04, 3.0, warmup=20, stable=100, final=0.01),
    }


def test_batch_equals_one_by_one_with_same_seed():
    land = mj.preset("box_wells")
    fp = mj.FokkerPlanck(land, 0.01, n_grid=800, lr_max=0.05)
    obs = theory_observables(fp)
    # 5000 particles: the last noise block is padded; 2048 per chunk in the batch and
    # 3072 per chunk one by one: chunking must not matter either.
    kw = dict(n_particles=5000, n_steps=300, dt=1.0, seed=7, init=mj.point(-0.28),
              record_every=37, observables=obs, block_size=512)
    scheds = _schedules()
    batch = mj.run_batch(land, scheds, bins=30, chunk_size=2048, progress=False, **kw)
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
    batch = mj.run_batch(land, scheds, n_particles=1024, n_steps=n_steps, dt=dt,
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


@pytest.mark.statistical
def test_equipartition_on_a_stable_plateau():
    # Harmonic valley, time="lr_area", a dt = 10 * 2e-4 = 0.002: the Euler–Maruyama
    # stationary energy exceeds d T / 2 by 1 / (1 - a dt / 2) - 1 = 0.1 %, a fifth of
    # the SE here. Measured at step 2400, 2300 steps (4.6 tau_x) into the plateau: the
    # energy relaxes at rate 2 a, so exp(-9.2) of the start's deficit is left.
    d, a, dt = 3, 10.0, 2e-4
    land = mj.preset("harmonic", stiffness=1.0, valley_curvature=a, valley_dim=d)
    plateaus = (0.02, 0.05)
    scheds = {f"p{p}": mj.wsd(p, 0.01, 100 * dt, 2400 * dt, 500 * dt) for p in plateaus}
    batch = mj.run_batch(land, scheds, n_particles=32768, n_steps=2600, dt=dt,
                              time="lr_area", init=mj.point(1.0), record_steps=[0, 2400, 2600],
                              progress=False)
    r = batch.record_index(2400)
    energy = batch.observables["valley_energy"][:, r]
    se = batch.standard_errors["valley_energy"][:, r]
    np.testing.assert_allclose(batch.lr[:, r], plateaus, rtol=1e-12)
    assert_within_se(energy, se, 0.5 * d * np.array(plateaus), "valley energy vs d T / 2")


def test_batch_of_different_lengths_fails_before_compilation(monkeypatch):
    monkeypatch.setattr(engine_api, "execute", lambda *a, **k: pytest.fail("compiled"))
    land = mj.preset("box_wells")
    with pytest.raises(ValueError, match=r"same length.*'short'.*'long'"):
        mj.run_batch(land, {"short": np.full(101, 0.02), "long": np.full(201, 0.02)},
                          n_particles=100, dt=1.0, init=mj.point(0.0), progress=False)
    with pytest.raises(ValueError, match="n_steps=300 does not match"):
        mj.run_batch(land, {"a": np.full(101, 0.02), "b": mj.constant(0.02)},
                          n_particles=100, n_steps=300, dt=1.0, progress=False)
    with pytest.raises(ValueError, match="schedule 'bad'.*finite LR"):
        mj.run_batch(land, {"ok": mj.constant(0.02), "bad": lambda t: -0.01 + 0 * t},
                          n_particles=100, n_steps=10, dt=1.0, progress=False)


@pytest.mark.parametrize("integrator", ["euler_maruyama", "valley_exact", "leimkuhler_matthews"])
@pytest.mark.parametrize("noise", ["gaussian", "rademacher", "three_point"])
def test_batch_equals_one_by_one_for_every_integrator_and_noise(integrator, noise):
    # A valley curvature that changes along a walled river (box_wells) and a constant one
    # (double_well): XLA fuses these steps differently, and a kernel mapped over a
    # schedule axis was measured to drift from the lone run's in the last bit on some.
    cases = [(mj.preset("box_wells"), mj.point(-0.28), (0.02, 0.012)),
             (mj.preset("double_well"), mj.equilibrium(0.05), (0.05, 0.02))]
    for land, init, (hot, cold) in cases:
        scheds = {"hot": mj.constant(hot), "wsd": mj.wsd(hot, cold, 5, 10, 20, "cosine"),
                  "cold": mj.constant(cold)}
        kw = dict(n_particles=3000, n_steps=40, dt=1.0, seed=5, init=init, record_every=10,
                  block_size=512, integrator=integrator, noise=noise, progress=False)
        batch = mj.run_batch(land, scheds, bins=25, **kw)
        for name in ("wsd", "cold"):
            alone = mj.simulate(land, scheds[name], bins=batch.bin_edges, chunk_size=1024, **kw)
            mine = batch.result(name)
            np.testing.assert_array_equal(mine.counts, alone.counts, err_msg=f"{land.name} {name}")
            np.testing.assert_array_equal(mine.sums, alone.sums, err_msg=f"{land.name} {name}")
            np.testing.assert_array_equal(mine.lr_steps, alone.lr_steps)
        assert not np.array_equal(batch.sums[0], batch.sums[2])


def test_batch_options_checkpoint_resume_and_divergence(tmp_path, monkeypatch):
    """Every option of `simulate` works batched: an interrupted checkpointed batch
    resumes bit-identical, and a batch that blows up names the schedule and keeps
    the records taken before it."""
    from mpemba_jax.engine import CheckpointStore, driver

    land = mj.preset("double_well")
    scheds = {"a": mj.constant(0.05), "b": mj.wsd(0.1, 0.05, 5, 20, 20)}
    kw = dict(n_particles=3000, n_steps=60, dt=1.0, seed=3, init=mj.equilibrium(0.1),
              record_every=15, bins=30, block_size=512, chunk_size=1024, progress=False,
              integrator="leimkuhler_matthews", noise="three_point")
    reference = mj.run_batch(land, scheds, **kw)
    save, calls = CheckpointStore.save, []

    def save_then_stop(self, *args):
        save(self, *args)
        calls.append(args[:2])
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(CheckpointStore, "save", save_then_stop)
    monkeypatch.setattr(driver, "seconds_per_call", 1e-6)
    with pytest.raises(KeyboardInterrupt):
        mj.run_batch(land, scheds, checkpoint=tmp_path, checkpoint_every=7, **kw)
    monkeypatch.setattr(CheckpointStore, "save", save)
    assert any(step > 0 for _, step in calls), calls  # one checkpoint fell inside a chunk
    resumed = mj.run_batch(land, scheds, checkpoint=tmp_path, checkpoint_every=7, resume=True,
                           **kw)
    for f in ("counts", "underflow", "overflow", "sums", "group_sums", "lr_steps"):
        np.testing.assert_array_equal(getattr(resumed, f), getattr(reference, f), err_msg=f)

    # Far beyond the stable step of the valley (mu a dt = 60 >> 2 would be refused by the
    # plan): a river kick that sends particles to infinity in schedule "boom" only.
    steep = mj.ValleyRiver(lambda y: 0.25 * y**4, lambda y: 1.0 + 0 * y, name="quartic")
    with pytest.raises(mj.SimulationDiverged, match=r"schedule\(s\) \['boom'\]") as err:
        mj.run_batch(steep, {"calm": mj.constant(0.01), "boom": mj.quench(0.01, 1.5, at=20.0)},
                     n_particles=1024, n_steps=40, dt=1.0, init=mj.point(2.0), bins=10,
                     bin_range=(-5.0, 5.0), record_every=10, progress=False)
    e = err.value
    assert e.schedules == ("boom",) and e.step >= 20
    assert isinstance(e.partial_result, mj.BatchResult)
    assert len(e.partial_result.steps) == e.partial_result.counts.shape[1] >= 3
    np.testing.assert_array_equal(e.partial_result.counts.sum(-1) + e.partial_result.underflow
                                  + e.partial_result.overflow, 1024)
