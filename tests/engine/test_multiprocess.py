"""Two processes joined by `jax.distributed` (CPU collectives, one device each) give
bit for bit the numbers of one process: `simulate`, `run_batch`, and a run whose
processes are killed and resumed from their checkpoints (through the CLI)."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import mpemba_jax as mj
from conftest import double_well_config
from mpemba_jax.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]

# The run both sides make: one process alone, and two (CHILD).
KW = """dict(n_particles=5000, n_steps=60, dt=1.0, seed=17, init=mj.point(-0.28),
          record_every=20, block_size=256, bins=30, progress=False, n_groups=8,
          integrator="leimkuhler_matthews")"""

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from mpemba_jax.engine import distributed
    pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    info = distributed.initialize(f"localhost:{port}", 2, pid, heartbeat_timeout=20)
    assert info["process_count"] == 2 and info["devices"] == 2, info
    import mpemba_jax as mj
    land = mj.preset("box_wells")
    kw = KW
    res = mj.simulate(land, mj.wsd(0.03, 0.01, 5, 20, 20), **kw)
    batch = mj.run_batch(land, {"a": mj.constant(0.02), "b": mj.constant(0.012)}, **kw)
    if distributed.is_writer():
        np.savez(out, counts=res.counts, sums=res.sums, group_sums=res.group_sums,
                 b_counts=batch.counts, b_sums=batch.sums, b_group_sums=batch.group_sums)
    print("done", pid)
""")

CONFIG = double_well_config(n_particles=10000, n_steps=1500, dt=1.0, seed=7, record_every=150,
                            bins=40, block_size=512, chunk_size=8192)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env():
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    return env


def _launch(argv_of, **kw):
    return [subprocess.Popen(argv_of(i), env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **kw) for i in range(2)]


def _wait(procs, timeout=120):
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return outs


@pytest.mark.slow
def test_two_processes_equal_one_bit_for_bit(tmp_path):
    out, port = tmp_path / "two.npz", _port()
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("KW", KW))
    _wait(_launch(lambda i: [sys.executable, str(script), str(i), str(port), str(out)]))
    two = np.load(out)
    land = mj.preset("box_wells")
    kw = eval(KW, {"mj": mj})
    one = mj.simulate(land, mj.wsd(0.03, 0.01, 5, 20, 20), **kw)
    batch = mj.run_batch(land, {"a": mj.constant(0.02), "b": mj.constant(0.012)}, **kw)
    for name, a, b in (("counts", two["counts"], one.counts), ("sums", two["sums"], one.sums),
                       ("group_sums", two["group_sums"], one.group_sums),
                       ("batch counts", two["b_counts"], batch.counts),
                       ("batch sums", two["b_sums"], batch.sums),
                       ("batch group_sums", two["b_group_sums"], batch.group_sums)):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.slow
def test_killed_processes_resume_bit_for_bit_through_the_cli(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(CONFIG)
    out, ckpt = tmp_path / "out", tmp_path / "out.checkpoint"
    cli = [sys.executable, "-m", "mpemba_jax.cli", "simulate", "--no-progress"]

    def flags(i, port):
        return ["--coordinator", f"localhost:{port}", "--num-processes", "2",
                "--process-id", str(i), "--heartbeat-timeout", "10"]

    port = _port()
    procs = _launch(lambda i: cli + ["--config", str(cfg), "--out", str(out),
                                     "--checkpoint-every", "10"] + flags(i, port))
    # Kill process 1 as soon as both processes hold a checkpoint (10 of 1500 steps done),
    # and process 0 a random moment later: each may hold a different newest checkpoint.
    # Process 0 cannot write the result without process 1 (the sums are gathered from
    # both), so the only race is process 1 finishing its 1490 steps within one poll.
    # (A fixed delay before the first kill let a fast machine finish the run: CI, stop 17.)
    deadline = time.monotonic() + 120
    while len(list(ckpt.glob("checkpoint-*-of-2.npz"))) < 2:
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
        assert time.monotonic() < deadline, "no checkpoints within 120 s"
        time.sleep(0.005)
    procs[1].send_signal(signal.SIGKILL)
    time.sleep(random.uniform(0.0, 0.5))
    procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.wait()
    assert not out.exists(), "killed before the end, yet a result was written"
    port = _port()
    outs = _wait(_launch(lambda i: cli + ["--resume", str(ckpt)] + flags(i, port)))
    assert "wrote" in outs[0][0] and "wrote" not in outs[1][0]  # only process 0 writes
    assert not ckpt.exists()
    ref = tmp_path / "ref"
    assert cli_main(["simulate", "--config", str(cfg), "--out", str(ref),
                        "--no-progress"]) == 0
    resumed, single = mj.load_result(out), mj.load_result(ref)
    for f in ("counts", "underflow", "overflow", "sums", "group_sums", "lr_steps"):
        np.testing.assert_array_equal(getattr(resumed, f), getattr(single, f), err_msg=f)
    assert resumed.metadata["devices"]["count"] == 2
    assert json.loads((out / "config.json").read_text())["simulation"]["n_particles"] == 10000


def test_resuming_with_another_number_of_processes_is_refused(tmp_path):
    # A checkpoint written by process 0 of 2 in the directory, resumed by one process.
    (tmp_path / "checkpoint-0-of-2.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="another number of processes"):
        mj.simulate(mj.preset("double_well"), mj.constant(0.05), n_particles=100, n_steps=10,
                    dt=1.0, init=mj.point(-1.0), progress=False, checkpoint=tmp_path,
                    resume=True)


def test_distributed_arguments_are_checked():
    from mpemba_jax.engine import distributed

    with pytest.raises(ValueError, match="give all of coordinator"):
        distributed.initialize("localhost:1234", None, 0)
    with pytest.raises(ValueError, match=r"process_id must be an integer in \[0, num_processes=2\)"):
        distributed.initialize("localhost:1234", 2, 2)
    with pytest.raises(ValueError, match="coordinator must be HOST:PORT"):
        distributed.initialize("localhost", 2, 0)
    assert distributed.describe_failure(RuntimeError("boom")) == "process 0 of 1 failed: RuntimeError: boom"
    assert "another process of the run failed" in distributed.describe_failure(
        RuntimeError("DEADLINE_EXCEEDED: GetKeyValue() timed out"))
