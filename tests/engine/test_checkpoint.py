"""Checkpoint and resume: interrupted runs finish bit-identical to uninterrupted ones."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import mpemba_jax as mj
from conftest import double_well_config
from mpemba_jax.engine import CheckpointStore, driver

# Three chunks of two blocks, records every 15 steps: checkpoints fall inside
# chunks, on record steps and on chunk boundaries.
RUN = dict(n_particles=5000, n_steps=60, dt=1.0, init=mj.equilibrium(0.1), record_every=15,
           bins=40, seed=31, block_size=1024, chunk_size=2048, progress=False)


def _run(**kw):
    return mj.simulate(mj.preset("double_well"), mj.constant(0.05), **{**RUN, **kw})


def _assert_identical(a, b):
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.underflow, b.underflow)
    np.testing.assert_array_equal(a.overflow, b.overflow)
    np.testing.assert_array_equal(a.sums, b.sums)
    for name in a.observables:
        np.testing.assert_array_equal(a.observables[name], b.observables[name])


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def reference():
    return _run()


@pytest.mark.parametrize("stop_after", [1, 2, 4, 7])
def test_resume_after_interruption_is_bit_identical(tmp_path, monkeypatch, reference, stop_after):
    save = CheckpointStore.save
    calls = []

    def save_then_stop(self, *args):
        save(self, *args)
        calls.append(args[:2])
        if len(calls) == stop_after:
            raise Interrupted

    monkeypatch.setattr(CheckpointStore, "save", save_then_stop)
    # Force many small compiled calls so that checkpoints land mid-chunk.
    monkeypatch.setattr(driver, "seconds_per_call", 1e-6)
    with pytest.raises(Interrupted):
        _run(checkpoint=tmp_path, checkpoint_every=7)
    monkeypatch.setattr(CheckpointStore, "save", save)
    resumed = _run(checkpoint=tmp_path, checkpoint_every=7, resume=True)
    _assert_identical(resumed, reference)
    # resuming a finished run returns its result again
    _assert_identical(_run(checkpoint=tmp_path, resume=True), reference)


def test_existing_checkpoint_is_not_overwritten(tmp_path):
    _run(checkpoint=tmp_path)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(FileExistsError, match="resume"):
        _run(checkpoint=tmp_path)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_checkpoint_of_another_run_or_corrupt_file_is_refused(tmp_path):
    _run(checkpoint=tmp_path)
    with pytest.raises(ValueError, match="different run"):
        _run(checkpoint=tmp_path, resume=True, seed=32)
    path = tmp_path / "checkpoint.npz"
    data = bytearray(path.read_bytes())
    # Flip a byte of the histogram counts themselves (past the .npy header); a byte in
    # the zip's local headers may be one nothing reads (zipfile trusts the directory).
    data[data.index(b"\x93NUMPY", data.index(b"counts.npy")) + 256] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checkpoint.npz"):
        _run(checkpoint=tmp_path, resume=True)
    path.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ValueError, match="checkpoint.npz"):
        _run(checkpoint=tmp_path, resume=True)


def test_checkpoint_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_every"):
        _run(checkpoint=tmp_path, checkpoint_every=0)


KILLED_RUN = textwrap.dedent("""
    import sys
    import mpemba_jax as mj
    from mpemba_jax.engine import driver
    driver.seconds_per_call = 0.01  # many calls, so checkpoints keep coming
    mj.simulate(mj.preset("double_well"), mj.constant(0.05), n_particles=20000, n_steps=3000,
                dt=1.0, init=mj.equilibrium(0.1), record_every=300, bins=40, seed=7,
                chunk_size=8192, progress=False, checkpoint=sys.argv[1],
                checkpoint_every=50, resume=True)
    print("finished")
""")


@pytest.mark.slow
def test_sigkill_at_a_random_moment_then_resume(tmp_path):
    """Kill a checkpointing run with SIGKILL at a random moment; resuming it must
    give exactly the uninterrupted result, wherever the kill landed."""
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    ckpt = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    # wait for the first checkpoint, then kill somewhere in the following seconds
    deadline = time.monotonic() + 120
    while not (ckpt / "checkpoint.npz").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written within 120 s"
        time.sleep(0.05)
    # The run takes ~20 s here after its first checkpoint; half a second leaves a
    # faster machine room, and the kill must have landed for the test to mean anything.
    time.sleep(random.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, ("the run ended before the kill",
                                                proc.stderr.read()[-2000:])
    kw = dict(n_particles=20000, n_steps=3000, dt=1.0, init=mj.equilibrium(0.1),
              record_every=300, bins=40, seed=7, chunk_size=8192, progress=False)
    land, sched = mj.preset("double_well"), mj.constant(0.05)
    resumed = mj.simulate(land, sched, checkpoint=ckpt, checkpoint_every=50, resume=True, **kw)
    _assert_identical(resumed, mj.simulate(land, sched, **kw))
    assert not [p for p in ckpt.iterdir() if p.name != "checkpoint.npz"], "temp files left"


CONFIG = double_well_config(n_particles=5000, n_steps=60, dt=1.0, seed=3, record_every=15,
                            bins=40, chunk_size=2048)


def test_cli_resume_completes_a_killed_run(tmp_path, monkeypatch):
    from mpemba_jax.cli import main

    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint"
    save = CheckpointStore.save

    def save_then_die(self, *args):
        save(self, *args)
        raise Interrupted

    monkeypatch.setattr(CheckpointStore, "save", save_then_die)
    with pytest.raises(Interrupted):
        main(["simulate", "--config", str(cfg), "--out", str(out), "--checkpoint-every", "10",
              "--no-progress"])
    monkeypatch.setattr(CheckpointStore, "save", save)
    assert not out.exists() and (ckpt / "checkpoint.npz").exists()
    # starting it afresh would clobber the checkpoint: refused
    assert main(["simulate", "--config", str(cfg), "--out", str(out), "--checkpoint-every", "10",
                 "--no-progress"]) == 2
    assert main(["simulate", "--resume", str(ckpt), "--no-progress"]) == 0
    assert not ckpt.exists()
    assert main(["simulate", "--config", str(cfg), "--out", str(tmp_path / "ref"),
                 "--no-progress"]) == 0
    _assert_identical(mj.load_result(out), mj.load_result(tmp_path / "ref"))
