"""Throughput benchmark: the engine against plain NumPy, diffrax and the random-number bound.

Same work for every contender: the `double_well` preset at a constant LR
(`time="steps"`, `dt`), every particle starting at `y = -1, x = 0`, `S`
steps of the Euler–Maruyama update of THEORY section 2, and a 100-bin
histogram of the river coordinate every `k` steps. Contenders:

- the engine (`mj.simulate`), in each integrator x noise configuration;
- the engine's Gaussian Euler–Maruyama with each JAX generator;
- plain NumPy Euler–Maruyama of the identical float32 update
  (`Generator.standard_normal`, `np.bincount` histograms);
- diffrax: `jax.vmap` over `diffeqsolve` with `Euler`, `UnsafeBrownianPath`,
  `ConstantStepSize`, additive diagonal noise (a `lineax` diagonal operator),
  `max_steps` equal to the step count, `adjoint=ForwardMode()` (no
  backpropagation; the adjoint `UnsafeBrownianPath` requires),
  `throw=False`, `SaveAt(ts=..., fn=river)` at the record
  times (histogrammed afterwards), one jitted function, compiled before timing:
  the fixed-step configuration diffrax's documentation recommends;
- the random-number bound: the engine's noise of each kind drawn alone with its
  generator (`noise.block_noise`) and summed, nothing else.

Figures are particle-steps per second (best of `repeats` timed runs, after a
compiling run) and their ratios, all measured in one process; each contender
can be sized separately (rates are per particle-step). Compile time is
excluded everywhere.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..engine import noise as _noise
from ..engine.integrators import INTEGRATORS
from ..presets import preset
from ..schedules import constant
from ..engine import default_chunk_size, point, simulate
from ..engine.driver import versions

__all__ = ["run_benchmark", "DEFAULT_CONFIGS"]

DEFAULT_CONFIGS = tuple(f"{i}/{n}" for i in INTEGRATORS for n in _noise.NOISE_KINDS)
_BINS, _RANGE = 100, (-2.5, 2.5)


def _best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def engine_rate(land, lr: float, dt: float, n: int, steps: int, every: int, *,
                integrator: str = "euler_maruyama", noise: str = "gaussian",
                generator: str = "threefry2x32", chunk_size: int | None = None,
                repeats: int = 2) -> float:
    """Particle-steps/s of `mj.simulate` on the benchmark work (compile excluded)."""
    kw = dict(n_particles=n, n_steps=steps, dt=dt, init=point(-1.0), bins=_BINS,
              bin_range=_RANGE, integrator=integrator, noise=noise, generator=generator,
              chunk_size=chunk_size, progress=False)
    simulate(land, constant(lr), record_steps=[0, 1], **kw)  # same shapes: compiles everything
    return n * steps / _best_time(
        lambda: simulate(land, constant(lr), record_every=every, **kw), repeats)


def noise_rate(n: int, steps: int, *, kind: str = "gaussian", generator: str = "threefry2x32",
               block_size: int = 1024, width: int = 2, chunk: int | None = None,
               repeats: int = 2) -> float:
    """The engine's generator drawing `width` variates per particle-step, and nothing else.

    Runs one chunk of `min(n, chunk)` particles (default: the engine's default
    chunk for the backend) for `steps` steps; the rate is per particle-step.
    """
    if chunk is None:
        chunk = default_chunk_size(jax.local_devices()[:1], 1, block_size)
    n_blocks = -(-min(n, chunk) // block_size)
    ids = jnp.arange(n_blocks, dtype=jnp.uint32)
    root = _noise.root_key(0, generator)

    @jax.jit
    def draw(root, s0, n_steps):
        def body(s, acc):
            return acc + _noise.block_noise(root, s, ids, block_size, width, jnp.float32, kind)
        return jax.lax.fori_loop(s0, s0 + n_steps, body,
                                 jnp.zeros((n_blocks, block_size, width), jnp.float32))

    draw(root, np.int32(0), np.int32(1)).block_until_ready()
    seconds = _best_time(lambda: draw(root, np.int32(0), np.int32(steps)).block_until_ready(),
                         repeats)
    return n_blocks * block_size * steps / seconds


def double_well_numbers(land):
    """`(barrier, width, tilt, a0, growth)` of a `double_well` preset as float32."""
    p = land.params
    return tuple(np.float32(p[k]) for k in ("barrier", "width", "tilt", "a0", "growth"))


def numpy_double_well_step(x, y, noise, numbers, mu, amp):
    """One plain-NumPy Euler–Maruyama step of the `double_well` preset (`d = 1`).

    `x, y: (n,)`, `noise: (2, n)` standard normals, `numbers` from
    `double_well_numbers`, `mu = mobility * dt`, `amp = sqrt(2 mobility T dt)`.
    """
    h, w, s, a0, g = numbers
    a = a0 * np.exp(g * y / w)
    dv = 4 * h * ((y / w) ** 2 - 1) * y / w**2 - s
    x_new = x - mu * a * x + amp * noise[0]
    y_new = y - mu * (dv + 0.5 * (a * g / w) * x * x) + amp * noise[1]
    return x_new, y_new


def numpy_rate(land, lr: float, dt: float, n: int, steps: int, every: int, *, seed: int = 0,
               repeats: int = 1) -> float:
    """Plain NumPy Euler–Maruyama of the identical double-well update (float32)."""
    numbers = double_well_numbers(land)
    mu, amp = np.float32(lr * dt), np.float32(np.sqrt(2.0 * lr * lr * dt))
    lo, width = np.float32(_RANGE[0]), np.float32((_RANGE[1] - _RANGE[0]) / _BINS)

    def run():
        rng = np.random.default_rng(seed)
        x = np.zeros(n, np.float32)
        y = np.full(n, -1.0, np.float32)
        counts = np.zeros(_BINS + 2, np.int64)
        for step in range(1, steps + 1):
            noise = rng.standard_normal((2, n), dtype=np.float32)
            x, y = numpy_double_well_step(x, y, noise, numbers, mu, amp)
            if step % every == 0 or step == steps:
                idx = np.clip(np.floor((y - lo) / width), -1, _BINS).astype(np.int64) + 1
                counts += np.bincount(idx, minlength=_BINS + 2)
        return counts

    return n * steps / _best_time(run, repeats)


def diffrax_rate(land, lr: float, dt: float, n: int, steps: int, every: int, *,
                 repeats: int = 2) -> float | str:
    """diffrax on the same work, or a note saying why it was skipped."""
    try:
        import diffrax
        import lineax
    except ImportError as e:  # optional `bench` extra
        return f"skipped: {e}"
    h, w, s, a0, g = (float(v) for v in double_well_numbers(land))
    mu, amp = lr, float(np.sqrt(2.0 * lr * lr))
    t1 = steps * dt
    ts = jnp.asarray(np.unique(np.append(np.arange(every, steps + 1, every), steps)) * dt,
                     jnp.float32)

    def drift(t, state, args):
        x, y = state[0], state[1]
        a = a0 * jnp.exp(g * y / w)
        dv = 4 * h * ((y / w) ** 2 - 1) * y / w**2 - s
        return -mu * jnp.stack([a * x, dv + 0.5 * (a * g / w) * x * x])

    def diffusion(t, state, args):
        return lineax.DiagonalLinearOperator(jnp.full((2,), amp, state.dtype))

    def one(key):
        brownian = diffrax.UnsafeBrownianPath(shape=(2,), key=key)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, brownian))
        sol = diffrax.diffeqsolve(
            terms, diffrax.Euler(), 0.0, t1, dt, jnp.asarray([0.0, -1.0], jnp.float32),
            saveat=diffrax.SaveAt(ts=ts, fn=lambda t, state, args: state[1]),
            stepsize_controller=diffrax.ConstantStepSize(), max_steps=steps, throw=False,
            adjoint=diffrax.ForwardMode())  # no backpropagation; required by UnsafeBrownianPath
        return sol.ys

    @jax.jit
    def run(keys):
        ys = jax.vmap(one)(keys)  # (n, n_records)
        idx = jnp.clip(jnp.floor((ys - _RANGE[0]) / ((_RANGE[1] - _RANGE[0]) / _BINS)),
                       -1, _BINS).astype(jnp.int32) + 1
        return jnp.zeros((ys.shape[1], _BINS + 2), jnp.int32).at[
            jnp.arange(ys.shape[1])[None, :], idx].add(1)

    keys = jax.random.split(jax.random.key(0), n)
    run(keys).block_until_ready()
    return n * steps / _best_time(lambda: run(keys).block_until_ready(), repeats)


def _versions() -> dict:
    """The run's versions (`engine.driver.versions`) and those of the contenders."""
    out = versions()
    for name in ("diffrax", "lineax", "equinox"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


def run_benchmark(n_particles: int = 1 << 20, n_steps: int = 200, record_every: int = 50, *,
                  configs=DEFAULT_CONFIGS, generators=_noise.GENERATORS,
                  generator_particles: int | None = None,
                  numpy_particles: int | None = None, numpy_steps: int = 100,
                  diffrax_particles: int | None = None, diffrax_steps: int = 100,
                  chunk_size: int | None = None, lr: float = 0.02, dt: float = 1.0,
                  repeats: int = 2, log: Callable[[str], None] | None = None) -> dict:
    """Particle-steps/s of every contender on the same work; a JSON-able dict.

    `configs` are "integrator/noise" strings; `generators` are timed with
    Gaussian Euler–Maruyama (on `generator_particles`, default `n_particles`).
    NumPy and diffrax default to `min(n_particles, 2^18)` and `2^16` particles.
    """
    log = log or (lambda message: None)
    land = preset("double_well")
    numpy_particles = numpy_particles or min(n_particles, 1 << 18)
    diffrax_particles = diffrax_particles or min(n_particles, 1 << 16)
    generator_particles = generator_particles or n_particles

    engine = {}
    for config in configs:
        integrator, noise = config.split("/")
        engine[config] = engine_rate(land, lr, dt, n_particles, n_steps, record_every,
                                     integrator=integrator, noise=noise, chunk_size=chunk_size,
                                     repeats=repeats)
        log(f"engine {config}: {engine[config]:.3g}")
    bound = {}
    for kind in _noise.NOISE_KINDS:
        bound[kind] = noise_rate(n_particles, n_steps, kind=kind, repeats=repeats)
        log(f"noise alone {kind}: {bound[kind]:.3g}")
    by_generator = {}
    for generator in generators:
        by_generator[generator] = {
            "engine_euler_maruyama_gaussian": engine_rate(
                land, lr, dt, generator_particles, n_steps, record_every, generator=generator,
                chunk_size=chunk_size, repeats=repeats),
            "normals_alone": noise_rate(generator_particles, n_steps, generator=generator,
                                        repeats=repeats),
        }
        log(f"generator {generator}: {by_generator[generator]}")
    numpy_ps = numpy_rate(land, lr, dt, numpy_particles, numpy_steps, record_every,
                          repeats=max(1, repeats - 1))
    log(f"numpy: {numpy_ps:.3g}")
    diffrax_ps = diffrax_rate(land, lr, dt, diffrax_particles, diffrax_steps, record_every,
                              repeats=repeats)
    log(f"diffrax: {diffrax_ps}")

    reference = engine.get("euler_maruyama/gaussian")
    best_config = max(engine, key=engine.get) if engine else None
    ratios = {}
    if reference is not None:
        ratios["engine_em_gaussian/normals_alone"] = reference / bound["gaussian"]
        ratios["engine_em_gaussian/numpy"] = reference / numpy_ps
        if isinstance(diffrax_ps, float):
            ratios["engine_em_gaussian/diffrax"] = reference / diffrax_ps
    for config, rate in engine.items():
        ratios[f"{config}/noise_alone_{config.split('/')[1]}"] = rate / bound[config.split("/")[1]]
    if best_config is not None:
        ratios[f"best ({best_config})/numpy"] = engine[best_config] / numpy_ps

    dev = jax.devices()[0]
    return {
        "workload": {
            "preset": "double_well", "time": "steps", "lr": lr, "dt": dt, "init": "y=-1, x=0",
            "n_particles": n_particles, "n_steps": n_steps, "record_every": record_every,
            "bins": _BINS, "bin_range": list(_RANGE), "dtype": "float32",
            "chunk_size": chunk_size, "generator_particles": generator_particles,
            "numpy_particles": numpy_particles, "numpy_steps": numpy_steps,
            "diffrax_particles": diffrax_particles, "diffrax_steps": diffrax_steps,
            "timing": f"best of {repeats} after a compiling run, wall clock",
        },
        "particle_steps_per_s": {
            "engine": engine, "noise_alone": bound, "generators": by_generator,
            "numpy": numpy_ps, "diffrax": diffrax_ps,
        },
        "ratios": ratios,
        "device": {"platform": dev.platform, "kind": dev.device_kind,
                   "count": jax.device_count(), "cpu_count": os.cpu_count(),
                   "xla_flags": os.environ.get("XLA_FLAGS", "")},
        "versions": _versions(),
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
    }


if __name__ == "__main__":
    print(json.dumps(run_benchmark(log=lambda m: print(m, file=sys.stderr)), indent=2))
