"""Many devices: the same seed gives the same numbers on 1 and on 4 devices.

The child process sees four CPU devices (`XLA_FLAGS=--xla_force_host_platform_device_count=4`,
which must be set before JAX starts, hence the subprocess). Particles are sharded
over the devices by noise block; the noise of a particle depends only on its
block, step and seed, and block sums are added in block order, so counts and
float sums must agree exactly, including when the blocks do not divide evenly
over the devices (padding blocks).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from pathlib import Path

CHILD = textwrap.dedent("""
    import json
    import jax
    import numpy as np
    import mpemba_jax as mj

    assert jax.device_count() == 4, jax.devices()
    land = mj.preset("double_well")
    out = {}
    for integrator, noise in [("euler_maruyama", "gaussian"),
                              ("leimkuhler_matthews", "three_point")]:
        runs = {}
        for n_dev in (1, 4):
            res = mj.simulate(land, mj.constant(0.02), n_particles=5000, n_steps=60, dt=1.0,
                              seed=17, init=mj.equilibrium(0.05), record_every=20,
                              block_size=512, bins=40, progress=False,
                              integrator=integrator, noise=noise,
                              devices=jax.devices()[:n_dev])
            runs[n_dev] = res
        one, four = runs[1], runs[4]
        out[f"{integrator}/{noise}"] = {
            "counts_equal": bool(np.array_equal(one.counts, four.counts)
                                 and np.array_equal(one.underflow, four.underflow)
                                 and np.array_equal(one.overflow, four.overflow)),
            "sums_equal": bool(np.array_equal(one.sums, four.sums)),
            "n_counted": int(four.counts[-1].sum() + four.underflow[-1] + four.overflow[-1]),
            "devices_1": one.metadata["devices"],
            "devices_4": four.metadata["devices"],
        }
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_one_and_four_devices_give_identical_results():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    results = json.loads(line[len("RESULT"):])
    for config, r in results.items():
        assert r["counts_equal"], f"{config}: counts differ between 1 and 4 devices"
        assert r["sums_equal"], f"{config}: sums differ between 1 and 4 devices"
        assert r["n_counted"] == 5000, config
        assert r["devices_1"]["count"] == 1 and r["devices_4"]["count"] == 4, r
        assert r["devices_4"]["platform"] == "cpu" and r["devices_4"]["kind"]
