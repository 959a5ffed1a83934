"""Throughput benchmark: the engine against plain NumPy and the normals-only bound.

Same work for every contender: the `double_well` preset, `N` particles,
Euler–Maruyama steps at a constant LR, a histogram at the end. Figures are
particle-steps per second and their ratios, measured in one process.
"""

from __future__ import annotations

import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import noise as _noise
from .presets import preset
from .schedules import constant
from .simulate import simulate

__all__ = ["run_benchmark"]


def _numpy_rate(land, lr: float, n: int, steps: int, seed: int = 0) -> float:
    """Plain NumPy EM of the identical double-well update (float32)."""
    p = land.params
    h, w, s, a0, g = (np.float32(p[k]) for k in ("barrier", "width", "tilt", "a0", "growth"))
    rng = np.random.default_rng(seed)
    x = np.zeros(n, np.float32)
    y = np.full(n, -1.0, np.float32)
    mu, dt = np.float32(lr), np.float32(1.0)
    amp = np.float32(np.sqrt(2 * lr * lr * 1.0))
    t0 = time.perf_counter()
    for _ in range(steps):
        noise = rng.standard_normal((2, n), dtype=np.float32)
        a = a0 * np.exp(g * y / w)
        dv = 4 * h * ((y / w) ** 2 - 1) * y / w**2 - s
        da = a * g / w
        x_new = x - mu * dt * a * x + amp * noise[0]
        y = y - mu * dt * (dv + 0.5 * da * x * x) + amp * noise[1]
        x = x_new
    np.histogram(y, bins=100, range=(-2.5, 2.5))
    return n * steps / (time.perf_counter() - t0)


def _normals_rate(n: int, steps: int, block_size: int = 1024) -> float:
    """The engine's generator drawing the same normals, with nothing else to do."""
    root = _noise.root_key(0)
    ids = jnp.arange(-(-n // block_size), dtype=jnp.uint32)

    @jax.jit
    def draw(root, n_steps):
        def body(s, acc):
            return acc + _noise.block_normals(root, s, ids, block_size, 2, jnp.float32)
        return jax.lax.fori_loop(0, n_steps, body, jnp.zeros((ids.shape[0], block_size, 2)))

    draw(root, 1).block_until_ready()
    t0 = time.perf_counter()
    draw(root, steps).block_until_ready()
    return ids.shape[0] * block_size * steps / (time.perf_counter() - t0)


def _engine_rate(land, lr: float, n: int, steps: int) -> float:
    kw = dict(n_particles=n, dt=1.0, record_steps=[0], init=None, progress=False)
    from .initial import point

    kw["init"] = point(-1.0)
    simulate(land, constant(lr), n_steps=2, **kw)  # compile
    t0 = time.perf_counter()
    simulate(land, constant(lr), n_steps=steps, **dict(kw, record_steps=[0, steps]))
    return n * steps / (time.perf_counter() - t0)


def run_benchmark(n_particles: int = 1_000_000, n_steps: int = 1000,
                  numpy_particles: int | None = None, numpy_steps: int = 100,
                  lr: float = 0.02) -> dict:
    """Particle-steps/s of engine, NumPy and normals-only; returns a JSON-able dict."""
    land = preset("double_well")
    numpy_particles = numpy_particles or min(n_particles, 1_000_000)
    engine = _engine_rate(land, lr, n_particles, n_steps)
    normals = _normals_rate(n_particles, n_steps)
    numpy_rate = _numpy_rate(land, lr, numpy_particles, numpy_steps)
    dev = jax.devices()[0]
    return {
        "workload": {"preset": "double_well", "n_particles": n_particles, "n_steps": n_steps,
                     "numpy_particles": numpy_particles, "numpy_steps": numpy_steps,
                     "dtype": "float32", "generator": "threefry2x32"},
        "particle_steps_per_s": {"engine": engine, "numpy": numpy_rate, "normals_only": normals},
        "ratios": {"engine/numpy": engine / numpy_rate, "engine/normals_only": engine / normals},
        "device": {"platform": dev.platform, "kind": dev.device_kind, "count": jax.device_count()},
        "versions": {"jax": jax.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


if __name__ == "__main__":
    print(json.dumps(run_benchmark(), indent=2))
