"""`mpemba-jax doctor`: this machine, whether the engine is right on it, and how fast it runs.

One call takes every figure we care about on whatever backend JAX finds (CPU,
GPU, TPU), in a few minutes:

- devices and their memory;
- a correctness subset: the Ornstein–Uhlenbeck stationary variance of the
  Euler–Maruyama chain, `T / (k (1 - mu k h / 2))` per river and
  `T / (a (1 - mu a h / 2))` per valley direction, within 4 standard errors;
  chunk invariance and (with several devices) device invariance, bit for bit;
  a checkpoint interrupted and resumed, bit for bit; float32 against float64
  on one case, within 4 combined standard errors;
- throughput (particle-steps per second, `double_well`, a 100-bin histogram
  every `record_every` steps) for each integrator x noise, at a size chosen
  from the device's memory (10^8 particles on a large accelerator), against
  the same noise drawn alone and the memory-bandwidth roofline: the measured
  bandwidth of a streaming copy of as many bytes as the particles' state (so
  from the same level of the memory hierarchy) divided by the bytes one step
  must move
  (read and write `x`, `y`: `2 * 4 (d + 1)` bytes in float32, `d = 1`; the
  Leimkuhler–Matthews scheme also carries its noise, `+ 2 * 4 (d + 1)`);
- the peak memory in use (device, or host RSS on the CPU).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..engine import CheckpointStore, execute, make_plan, noise as _noise, simulate
from ..engine.checkpoint import fingerprint
from ..engine.driver import versions
from ..engine.initial import equilibrium, point
from ..engine.integrators import INTEGRATORS
from ..presets import preset
from ..schedules import constant
from .bench import engine_rate, noise_rate

__all__ = ["run_doctor", "device_report", "correctness", "throughput", "bandwidth"]

_Z = 4.0  # pass band of the statistical checks, in standard errors


def device_report() -> dict:
    """Backend, devices, their kind and memory (bytes; `None` where JAX does not say)."""
    devices = []
    for d in jax.devices():
        stats = _memory_stats(d)
        devices.append({"id": d.id, "kind": d.device_kind, "platform": d.platform,
                        "process": d.process_index,
                        "memory_bytes": stats.get("bytes_limit"),
                        "memory_in_use_bytes": stats.get("bytes_in_use")})
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") \
        if hasattr(os, "sysconf") else None
    return {"backend": jax.default_backend(), "device_count": jax.device_count(),
            "process_count": jax.process_count(), "devices": devices,
            "host_memory_bytes": host, "cpu_count": os.cpu_count()}


def _memory_stats(device) -> dict:
    try:
        return device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory statistics
        return {}


def correctness(n_particles: int, log: Callable[[str], None] = print) -> dict:
    """The correctness subset (see the module docstring); each entry has `passed`."""
    out = {}
    k, a, lr, h = 1.0, 10.0, 0.05, 1.0
    land = preset("harmonic", stiffness=k, valley_curvature=a)
    n_steps = int(40 / (lr * k))
    res = simulate(land, constant(lr), n_particles=n_particles, n_steps=n_steps, dt=h,
                   init=point(0.0), record_steps=[n_steps], progress=False)
    var, se = res.observables["y_var"][-1], res.standard_errors["y_var"][-1]
    energy, e_se = res.observables["valley_energy"][-1], res.standard_errors["valley_energy"][-1]
    want_y = lr / (k * (1 - lr * k * h / 2))
    want_e = 0.5 * a * lr / (a * (1 - lr * a * h / 2))
    out["ou_stationary_variance"] = {
        "river_var": float(var), "river_var_se": float(se), "river_theory": want_y,
        "valley_energy": float(energy), "valley_energy_se": float(e_se), "valley_theory": want_e,
        "passed": bool(abs(var - want_y) < _Z * se and abs(energy - want_e) < _Z * e_se)}
    log(f"  OU stationary variance: river {var:.5g} +- {se:.2g} (theory {want_y:.5g}), "
        f"valley energy {energy:.5g} +- {e_se:.2g} (theory {want_e:.5g})")

    dw = preset("double_well")
    kw = dict(n_particles=min(n_particles, 1 << 16), n_steps=50, dt=1.0, seed=3,
              init=equilibrium(0.1), record_every=25, bins=40, block_size=256, progress=False)
    runs = [simulate(dw, constant(0.05), chunk_size=c, **kw) for c in (256, 4096, None)]
    out["chunk_invariance"] = {"passed": all(
        np.array_equal(r.counts, runs[0].counts) and np.array_equal(r.sums, runs[0].sums)
        for r in runs[1:])}
    if jax.local_device_count() > 1:
        one = simulate(dw, constant(0.05), devices=jax.local_devices()[:1], **kw)
        out["device_invariance"] = {"devices": jax.local_device_count(), "passed": bool(
            np.array_equal(one.counts, runs[0].counts) and np.array_equal(one.sums, runs[0].sums))}
    else:
        out["device_invariance"] = {"devices": 1, "passed": None, "note": "one device: skipped"}
    out["checkpoint_resume"] = {"passed": _checkpoint_round_trip(dw, kw, runs[0])}
    log(f"  chunk invariance {out['chunk_invariance']['passed']}, device invariance "
        f"{out['device_invariance']['passed']}, checkpoint resume "
        f"{out['checkpoint_resume']['passed']}")

    f32 = simulate(dw, constant(0.05), dtype="float32", **dict(kw, seed=5))
    f64 = simulate(dw, constant(0.05), dtype="float64", **dict(kw, seed=5))
    gap = {}
    for name in ("y_mean", "loss"):
        d = f32.observables[name][-1] - f64.observables[name][-1]
        s = math.hypot(f32.standard_errors[name][-1], f64.standard_errors[name][-1])
        gap[name] = {"difference": float(d), "se": float(s)}
    out["float32_vs_float64"] = {**gap, "passed": all(abs(g["difference"]) < _Z * g["se"]
                                                      for g in gap.values())}
    log(f"  float32 vs float64: {gap}")
    return out


class _Interrupted(Exception):
    pass


def _checkpoint_round_trip(land, kw, reference) -> bool:
    """Interrupt a checkpointing run after its second checkpoint, resume it,
    compare with the uninterrupted run."""
    plan = make_plan(land, {"schedule": constant(0.05)}, single=True, chunk_size=256,
                     **{k: v for k, v in kw.items() if k != "progress"})
    with tempfile.TemporaryDirectory() as tmp:
        saves = []

        class StopAfterTwo(CheckpointStore):
            def save(self, *args):
                super().save(*args)
                saves.append(args[:2])
                if len(saves) == 2:
                    raise _Interrupted

        try:
            execute(plan, progress=False,
                    checkpoint=StopAfterTwo(Path(tmp), fingerprint(plan), 10, False))
        except _Interrupted:
            pass
        resumed = execute(plan, progress=False,
                          checkpoint=CheckpointStore(Path(tmp), fingerprint(plan), 10, True))
    return bool(np.array_equal(resumed.counts[0], reference.counts)
                and np.array_equal(resumed.sums[0], reference.sums))


def bandwidth(n_floats: int, repeats: int = 3) -> float:
    """Bytes per second of a streaming copy-and-scale `y = 1.0001 x` (read + write)."""
    x = jnp.ones(n_floats, jnp.float32)
    f = jax.jit(lambda v: v * np.float32(1.0001))
    f(x).block_until_ready()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(x).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * 4 * n_floats / best


def throughput(n_particles: int, n_steps: int, record_every: int,
               log: Callable[[str], None] = print) -> dict:
    """Particle-steps/s per integrator x noise, the noise-alone bound and the roofline."""
    land = preset("double_well")
    # The copy streams as many bytes as the particles' state, so that both run
    # from the same level of the memory hierarchy (a small CPU run's state sits
    # in cache, where a large copy's would not).
    bw = bandwidth(max(1 << 16, n_particles * (land.valley_dim + 1)))
    state_bytes = 2 * 4 * (land.valley_dim + 1)
    bound = {kind: noise_rate(n_particles, n_steps, kind=kind, repeats=2)
             for kind in _noise.NOISE_KINDS}
    rates = {}
    for integrator in INTEGRATORS:
        for kind in _noise.NOISE_KINDS:
            rate = engine_rate(land, 0.02, 1.0, n_particles, n_steps, record_every,
                               integrator=integrator, noise=kind, repeats=2)
            moved = state_bytes * (2 if integrator == "leimkuhler_matthews" else 1)
            roofline = bw / moved
            rates[f"{integrator}/{kind}"] = {
                "particle_steps_per_s": rate, "noise_alone": bound[kind],
                "of_noise_alone": rate / bound[kind], "roofline": roofline,
                "of_roofline": rate / roofline, "bytes_per_particle_step": moved}
            log(f"  {integrator}/{kind}: {rate:.3g} particle-steps/s "
                f"({rate / bound[kind]:.2f} of the noise alone, {rate / roofline:.2f} of the "
                "roofline)")
    return {"n_particles": n_particles, "n_steps": n_steps, "record_every": record_every,
            "bandwidth_bytes_per_s": bw, "noise_alone": bound, "configs": rates}


def _size(quick: bool) -> tuple[int, int, int]:
    """Particles, steps and record interval by backend and memory: 10^8 particles on an
    accelerator that holds them (state, noise and temporaries: ~100 bytes each)."""
    if jax.default_backend() == "cpu":
        return ((1 << 18, 40, 20) if quick else (1 << 20, 200, 50))
    limit = _memory_stats(jax.devices()[0]).get("bytes_limit") or (16 << 30)
    n = int(min(10**8, limit // 400))
    return (n // 10, 50, 25) if quick else (n, 200, 50)


def run_doctor(*, quick: bool = False, n_particles: int | None = None,
               log: Callable[[str], None] = print) -> dict:
    """Everything above in one JSON-able dict (see the module docstring)."""
    start = time.perf_counter()
    report = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
              "quick": quick, "versions": versions(), "devices": device_report(),
              "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    log(f"backend {report['devices']['backend']}: {jax.device_count()} device(s), "
        f"{report['devices']['devices'][0]['kind']}")
    n, steps, every = _size(quick)
    n = n_particles or n
    log("correctness:")
    report["correctness"] = correctness(min(n, 1 << 20 if not quick else 1 << 17), log)
    log(f"throughput at {n:,} particles x {steps} steps:")
    report["throughput"] = throughput(n, steps, every, log)
    stats = _memory_stats(jax.devices()[0])
    report["peak_memory"] = {
        "device_bytes": stats.get("peak_bytes_in_use"),
        "host_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    checks = [c["passed"] for c in report["correctness"].values() if c["passed"] is not None]
    report["passed"] = all(checks)
    report["wall_seconds"] = time.perf_counter() - start
    log(f"correctness {'passed' if report['passed'] else 'FAILED'}; "
        f"{report['wall_seconds']:.0f} s")
    return report
