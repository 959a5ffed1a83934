"""The simulation driver: particles in chunks and noise blocks, records, devices.

`simulate` runs the Langevin dynamics of a `ValleyRiver` under a schedule for
`n_particles` particles and returns a `SimulationResult` of river histograms
and particle averages at the record steps.

Layout. Particles live in noise blocks of `block_size` (see `noise`), state
arrays `x: (n_blocks, B, d)`, `y: (n_blocks, B)`. Memory is bounded by
streaming *chunks* of whole blocks: each chunk is initialised, run through
every step and recorded, and its integer counts and float64 sums are added on
the host. The block axis of a chunk is sharded over `devices`. Neither the
chunk size nor the device count changes any number in the result.

Inside a chunk, steps run in a `lax.fori_loop` (lowered to a loop over a
fused step kernel) between record steps; the driver returns to Python only
to record and, about twice a second, to report progress and check for
non-finite particles. The LR of step `s` is `schedule(s * dt)`, precomputed
on the host (so a new schedule or seed never recompiles).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import initial as _initial
from .checkpoint import FILENAME as _CHECKPOINT_FILE
from .checkpoint import Checkpoint as _Checkpoint
from .checkpoint import fingerprint as _fingerprint
from .checkpoint import load_checkpoint as _load_checkpoint
from .checkpoint import save_checkpoint as _save_checkpoint
from . import noise as _noise
from . import recording as _recording
from ..dynamics import Dynamics
from .integrators import EXPLICIT_VALLEY, INTEGRATORS, averages_noise, lm_noise, make_step
from ..landscape import ValleyRiver
from ..io.progress import Progress
from ..io.results import SimulationResult
from ..schedules import describe_schedule, evaluate_schedule

__all__ = ["simulate", "SimulationDiverged"]

# Default particles per chunk and device: small enough for a laptop's cache
# hierarchy on CPU, large enough to fill an accelerator.
_CHUNK_CPU, _CHUNK_ACCELERATOR = 1 << 20, 1 << 27
# Target wall time of one compiled call between progress updates.
_SECONDS_PER_CALL = 0.5


class SimulationDiverged(RuntimeError):
    """Particles became non-finite. Carries `step`, `time`, `lr` of the first
    offending step, the number of such particles, and `partial_result`: the
    records taken before it (possibly of fewer particles, see its metadata)."""

    def __init__(self, message, *, step, time, lr, n_nonfinite, partial_result):
        super().__init__(message)
        self.step, self.time, self.lr = step, time, lr
        self.n_nonfinite = n_nonfinite
        self.partial_result = partial_result


@dataclasses.dataclass(frozen=True, eq=False)
class RunPlan:
    """Everything `simulate` checked and precomputed before compiled work starts."""

    landscape: ValleyRiver
    dynamics: Dynamics
    schedule_description: dict
    n_particles: int
    n_steps: int
    dt: float
    seed: int
    init: Any
    record_steps: np.ndarray
    lr_steps: np.ndarray  # (n_steps + 1,) LR at s * dt
    bins: _recording.Bins
    observables: tuple[tuple[str, Callable], ...]
    dtype: Any
    integrator: str
    generator: str
    block_size: int
    chunk_blocks: int
    devices: tuple
    on_nonfinite: str
    noise: str = "gaussian"

    @property
    def n_blocks(self) -> int:
        return -(-self.n_particles // self.block_size)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_blocks // self.chunk_blocks)


def simulate(
    landscape: ValleyRiver,
    schedule: Callable,
    *,
    n_particles: int,
    n_steps: int,
    dt: float,
    seed: int = 0,
    init=None,
    record_every: int | None = None,
    record_steps=None,
    bins=100,
    bin_range: tuple[float, float] | None = None,
    observables: dict[str, Callable] | None = None,
    time: str = "steps",
    temperature_scale: float = 1.0,
    dtype: str = "float32",
    integrator: str = "euler_maruyama",
    generator: str = "threefry2x32",
    noise: str = "gaussian",
    block_size: int = 1024,
    chunk_size: int | None = None,
    devices=None,
    on_nonfinite: str = "raise",
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
) -> SimulationResult:
    """Simulate `n_particles` valley–river particles for `n_steps` steps of size `dt`.

    The SDE (THEORY section 2), with `mu` and `T = temperature_scale * lr` set
    by `time` ("steps": `mu = lr`; "lr_area": `mu = 1`):

        d theta = -mu grad L dt + sqrt(2 mu T) dW,    lr = schedule(t)

    Args:
      landscape: a `ValleyRiver`.
      schedule: any callable `t -> lr` (optax schedules work unwrapped); `t` is
        time in the `time` convention. Step `s` uses `schedule(s * dt)`.
      n_particles, n_steps, dt: ensemble size, number of steps, step size.
      seed: integer seed; see `noise` for what it keys.
      init: `mj.equilibrium(lr)`, `mj.point(y, x)`, or arrays `(x (N, d), y (N,))`;
        default: equilibrium at `schedule(0)`.
      record_every / record_steps: record every k steps (and at the last
        step), or at the given steps in `[0, n_steps]`; default 50 records.
      bins, bin_range: number of river bins with their range (default: the
        domain, or the support of the hottest Boltzmann state of the run), or
        explicit increasing edges.
      observables: extra per-particle functions `f(x, y) -> (...)` whose means
        and standard errors are recorded (e.g. a left eigenfunction `u_k(y)`).
      dtype: "float32" (default) or "float64".
      integrator, generator, block_size: numerical scheme and noise stream.
        integrator: "euler_maruyama" (default), "valley_exact" or
        "leimkuhler_matthews" (see `integrators`).
      noise: "gaussian" (default), "rademacher" or "three_point" (see `noise`):
        cheaper variates with the right weak order for histograms.
      chunk_size: particles held in memory at once (rounded down to whole
        blocks); default fits the backend. Does not change results.
      devices: devices to shard particles over (default: all local devices).
      on_nonfinite: "raise" (default) stops at the first non-finite particle
        with `SimulationDiverged`; "count" excludes them and counts them.
      progress: show a progress line on runs longer than two seconds.
      checkpoint: a directory to write the run's state to, atomically, every
        `checkpoint_every` steps and at the end of every chunk (see
        `checkpoint`). If it already holds a checkpoint, `resume=True`
        continues that run (which must have the same arguments) and gives a
        result bit-identical to an uninterrupted run; `resume=False` refuses
        rather than overwrite it.

    Returns:
      `SimulationResult` with `counts` of shape `(n_records, n_bins)`.

    Example:
      >>> import mpemba_jax as mj
      >>> land = mj.preset("double_well")
      >>> res = mj.simulate(land, mj.constant(0.02), n_particles=10_000,
      ...                   n_steps=200, dt=1.0, init=mj.point(-1.0), progress=False)
      >>> res.counts.shape
      (51, 100)
    """
    plan = plan_run(
        landscape, schedule, n_particles=n_particles, n_steps=n_steps, dt=dt, seed=seed,
        init=init, record_every=record_every, record_steps=record_steps, bins=bins,
        bin_range=bin_range, observables=observables, time=time,
        temperature_scale=temperature_scale, dtype=dtype, integrator=integrator,
        generator=generator, noise=noise, block_size=block_size, chunk_size=chunk_size,
        devices=devices, on_nonfinite=on_nonfinite,
    )
    store = None
    if checkpoint is not None:
        store = _CheckpointStore(Path(checkpoint), _fingerprint(plan),
                                 _positive_int("checkpoint_every", checkpoint_every), resume)
    return run_plan(plan, progress=progress, checkpoint=store)


# ---------------------------------------------------------------------------
# Checking and planning (pure Python, before any compilation)
# ---------------------------------------------------------------------------
def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def plan_run(landscape, schedule, *, n_particles, n_steps, dt, seed=0, init=None,
             record_every=None, record_steps=None, bins=100, bin_range=None,
             observables=None, time="steps", temperature_scale=1.0, dtype="float32",
             integrator="euler_maruyama", generator="threefry2x32", noise="gaussian",
             block_size=1024,
             chunk_size=None, devices=None, on_nonfinite="raise") -> RunPlan:
    """Check every argument of `simulate` and precompute what the run needs."""
    if not isinstance(landscape, ValleyRiver):
        raise ValueError(f"landscape must be a mj.ValleyRiver; got {type(landscape).__name__}")
    n_particles = _positive_int("n_particles", n_particles)
    n_steps = _positive_int("n_steps", n_steps)
    if n_steps >= 2**31:  # the step index is an int32 in the compiled loop and the noise key
        raise ValueError(f"n_steps must be < 2**31; got {n_steps}")
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a number > 0; got {dt!r}") from None
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0; got {dt}")
    seed = _positive_int("seed", seed, minimum=0)
    if seed >= 2**63:
        raise ValueError(f"seed must be < 2**63; got {seed}")
    dynamics = Dynamics(time=time, temperature_scale=temperature_scale)
    try:
        dtype_name = dtype if isinstance(dtype, str) else str(np.dtype(dtype))
    except TypeError:
        dtype_name = None
    if dtype_name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    dtype = {"float32": jnp.float32, "float64": jnp.float64}[dtype_name]
    _choice("integrator", integrator, INTEGRATORS)
    _choice("generator", generator, _noise.GENERATORS)
    _choice("noise", noise, _noise.NOISE_KINDS)
    _choice("on_nonfinite", on_nonfinite, ("raise", "count"))
    block_size = _positive_int("block_size", block_size)
    if -(-n_particles // block_size) >= 2**32:  # block ids are uint32
        raise ValueError(
            f"n_particles={n_particles} needs 2^32 or more noise blocks of block_size="
            f"{block_size}; use a larger block_size")

    lr_steps = evaluate_schedule(schedule, np.arange(n_steps + 1) * dt)

    init = _initial.as_init(
        _initial.equilibrium(lr_steps[0]) if init is None else init,
        n_particles, landscape.valley_dim)
    _initial.in_support(init, landscape)

    # The hottest temperature any particle sees sets the region to check.
    lr_hot = max(float(lr_steps.max()), init.lr if isinstance(init, _initial.Equilibrium) else 0.0)
    t_hot = dynamics.temperature_scale * lr_hot  # float64: float32 overflows at ~3e38
    if t_hot > 0:
        try:
            region = landscape.support(t_hot)
        except ValueError as e:
            source = "schedule" if float(lr_steps.max()) == lr_hot else "init"
            raise ValueError(f"{e} (T = temperature_scale * lr at the run's hottest LR, "
                             f"lr={lr_hot:g} from the {source})") from None
    elif landscape.domain is not None:
        region = landscape.domain
    else:
        region = None
    if region is not None:
        region = _cover(region, init)
        landscape.check_region(*region)
        _check_stability(landscape, dynamics, lr_steps, dt, region, integrator)

    if record_steps is not None and record_every is not None:
        raise ValueError("give record_every or record_steps, not both")
    if record_steps is None:
        every = max(1, n_steps // 50) if record_every is None else _positive_int(
            "record_every", record_every)
        record_steps = np.unique(np.append(np.arange(0, n_steps + 1, every), n_steps))
    else:
        record_steps = np.asarray(record_steps)
        if record_steps.ndim != 1 or record_steps.size == 0 or not np.issubdtype(
                record_steps.dtype, np.integer):
            raise ValueError("record_steps must be a non-empty 1-D array of integer steps")
        if record_steps.min() < 0 or record_steps.max() > n_steps:
            raise ValueError(
                f"record_steps must lie in [0, n_steps={n_steps}]; got values in "
                f"[{record_steps.min()}, {record_steps.max()}]")
        record_steps = np.unique(record_steps)

    if region is None and (np.ndim(bins) == 0 and bin_range is None):
        raise ValueError("bin_range is needed: the run is at LR 0 on an unbounded river")
    bins = _recording.make_bins(bins, bin_range, region)
    observables = _check_observables(observables, landscape.valley_dim)

    devices = tuple(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    per_device = (_CHUNK_CPU if devices[0].platform == "cpu" else _CHUNK_ACCELERATOR)
    if chunk_size is None:
        chunk_size = per_device * len(devices)
    chunk_size = _positive_int("chunk_size", chunk_size)
    chunk_blocks = max(1, chunk_size // block_size)
    chunk_blocks = min(chunk_blocks, -(-n_particles // block_size))
    # Every device holds the same number of blocks.
    chunk_blocks = -(-chunk_blocks // len(devices)) * len(devices)
    # A chunk's histogram is counted in int32 on the device (int64 across
    # chunks on the host), so a chunk holds fewer than 2^31 particles.
    if chunk_blocks * block_size >= 2**31:
        chunk_blocks = max(len(devices), (2**31 - 1) // block_size // len(devices) * len(devices))
        if chunk_blocks * block_size >= 2**31:
            raise ValueError(
                f"block_size={block_size} x {len(devices)} device(s) puts 2^31 or more "
                "particles in one chunk, beyond the int32 per-chunk histogram; use a smaller "
                "block_size")
    # Spread the blocks evenly over the chunks this needs, so that the last
    # chunk is not mostly padding (128 blocks in chunks of 113 would do 77 %
    # extra work); still a multiple of the device count, never larger.
    n_blocks = -(-n_particles // block_size)
    n_chunks = -(-n_blocks // chunk_blocks)
    chunk_blocks = -(-(-(-n_blocks // n_chunks)) // len(devices)) * len(devices)

    return RunPlan(
        landscape=landscape, dynamics=dynamics, schedule_description=describe_schedule(schedule),
        n_particles=n_particles, n_steps=n_steps, dt=dt, seed=seed, init=init,
        record_steps=record_steps.astype(np.int64), lr_steps=lr_steps, bins=bins,
        observables=observables, dtype=dtype, integrator=integrator, generator=generator,
        noise=noise,
        block_size=block_size, chunk_blocks=chunk_blocks, devices=devices,
        on_nonfinite=on_nonfinite,
    )


def _cover(region, init):
    """Widen `region` to hold explicit initial positions."""
    lo, hi = region
    if isinstance(init, _initial.Point):
        lo, hi = min(lo, init.y), max(hi, init.y)
    elif isinstance(init, _initial.Arrays):
        lo, hi = min(lo, float(init.y.min())), max(hi, float(init.y.max()))
    return (lo, hi)


def _check_stability(landscape, dynamics, lr_steps, dt, region, integrator="euler_maruyama"):
    """An explicit valley step (Euler–Maruyama, Leimkuhler–Matthews) needs
    `mu * a * dt < 2` at the largest LR; the exact valley step of "valley_exact"
    is stable at any `dt`."""
    if integrator not in EXPLICIT_VALLEY:
        return
    y = np.linspace(*region, 4097)
    with jax.enable_x64(True):
        a_max = float(np.max(np.asarray(landscape.curvature(jnp.asarray(y)))))
    lr_max = float(lr_steps.max())
    mu_max = float(dynamics.mobility(lr_max)) if lr_max > 0 else 0.0
    if mu_max * a_max * dt >= 2.0:
        raise ValueError(
            f"dt={dt:g} is unstable: mu * a * dt = {mu_max * a_max * dt:.3g} >= 2 at "
            f"lr={lr_max:g} (time={dynamics.time!r}, max curvature a={a_max:.4g} on "
            f"[{region[0]:.3g}, {region[1]:.3g}]); "
            f"{'Euler–Maruyama' if integrator == 'euler_maruyama' else 'Leimkuhler–Matthews'} "
            f"needs dt < {2.0 / (mu_max * a_max):.4g} and is accurate for dt << that"
        )


def _check_observables(observables, valley_dim):
    if observables is None:
        return ()
    if not isinstance(observables, dict):
        raise ValueError("observables must be a dict {name: f(x, y)}")
    out = []
    for name, f in observables.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"observable names must be identifiers; got {name!r}")
        if name in _recording.BUILTIN_OBSERVABLES:
            raise ValueError(f"observable name {name!r} clashes with a built-in observable")
        if not callable(f):
            raise ValueError(f"observable {name!r} must be a callable f(x, y)")
        try:
            shape = jax.eval_shape(f, jax.ShapeDtypeStruct((3, 5, valley_dim), jnp.float32),
                                   jax.ShapeDtypeStruct((3, 5), jnp.float32)).shape
        except Exception as e:  # noqa: BLE001 - re-raised with the observable's name
            raise ValueError(f"observable {name!r} failed on x (..., d), y (...): {e}") from e
        if shape not in ((), (3, 5)):
            raise ValueError(
                f"observable {name!r} must return one value per particle (shape of y); "
                f"for x (3, 5, {valley_dim}), y (3, 5) it returned shape {shape}")
        out.append((name, f))
    return tuple(out)


# ---------------------------------------------------------------------------
# Compiled kernels, cached per landscape/convention/observables
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _step_kernels(landscape, dynamics, integrator, block_size, dtype, noise="gaussian",
                  unroll=1):
    """`advance` and `first_nonfinite_step`: compiled once per landscape and scheme.

    Seeds, schedules (as LR tables), `dt` and step ranges are traced arguments,
    so a new run of the same landscape never recompiles. Step `s` always uses
    the noise keyed by `(seed, s, block)`; the Leimkuhler–Matthews scheme
    carries step `s + 1`'s draw to the next iteration and redraws step `s0`'s
    at the start of a call, so however a run is cut into calls and chunks every
    step sees the same numbers. `unroll` steps run per loop iteration
    (measured in docs/performance.md).
    """
    step = make_step(landscape, dynamics, integrator)
    width = landscape.valley_dim + 1
    averaged = averages_noise(integrator)

    def draw(root, block_ids, s):
        return _noise.block_noise(root, s, block_ids, block_size, width, dtype, noise)

    def start(root, block_ids, s0, x, y):
        return (x, y, draw(root, block_ids, s0)) if averaged else (x, y)

    def one_step(root, block_ids, lr_table, dt, s, state):
        if averaged:  # step s moves with (xi_s + xi_{s+1}) / 2, xi_{s+1} carried on
            x, y, xi = state
            xi_next = draw(root, block_ids, s + 1)
            x, y = step(x, y, lm_noise(xi, xi_next, landscape), lr_table[s], dt)
            return x, y, xi_next
        x, y = state
        return step(x, y, draw(root, block_ids, s), lr_table[s], dt)

    def run_steps(root, block_ids, lr_table, dt, s0, n, state):
        one = lambda s, c: one_step(root, block_ids, lr_table, dt, s, c)  # noqa: E731
        if unroll > 1:
            def fused(i, c):
                for j in range(unroll):
                    c = one(s0 + i * unroll + j, c)
                return c
            state = jax.lax.fori_loop(0, n // unroll, fused, state)
            s0, n = s0 + n // unroll * unroll, n % unroll
        return jax.lax.fori_loop(s0, s0 + n, one, state)

    def n_nonfinite(x, y):
        return jnp.sum(~(jnp.isfinite(y) & jnp.all(jnp.isfinite(x), axis=-1)))

    @jax.jit
    def advance(root, x, y, block_ids, lr_table, dt, s0, n):
        state = run_steps(root, block_ids, lr_table, dt, s0, n, start(root, block_ids, s0, x, y))
        x, y = state[0], state[1]
        return x, y, n_nonfinite(x, y)

    @jax.jit
    def first_nonfinite_step(root, x, y, block_ids, lr_table, dt, s0, n):
        """Replay `n` steps from `s0`: the first step whose update left a particle non-finite."""
        def body(s, c):
            state, first = c
            state = one_step(root, block_ids, lr_table, dt, s, state)
            bad = n_nonfinite(state[0], state[1]) > 0
            return state, jnp.where((first < 0) & bad, s, first)
        init = (start(root, block_ids, s0, x, y), jnp.asarray(-1, s0.dtype))
        return jax.lax.fori_loop(s0, s0 + n, body, init)[1]

    return advance, first_nonfinite_step


@functools.lru_cache(maxsize=32)
def _record_kernel(landscape, edges, uniform, observables):
    bins = _recording.Bins(np.asarray(edges), uniform)
    return jax.jit(_recording.make_record(landscape, bins, observables))


@functools.lru_cache(maxsize=32)
def _init_kernel(landscape, dynamics, block_size, dtype, kind):
    @jax.jit
    def init_state(root, block_ids, params):
        keys = _noise.block_init_keys(root, block_ids)
        return _initial.sample_blocks(kind, landscape, keys, block_size, dtype, params)

    return init_state


# ---------------------------------------------------------------------------
# Running a plan
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _CheckpointStore:
    """Where and how often a run checkpoints (see `checkpoint`)."""

    directory: Path
    fingerprint: str
    every: int
    resume: bool

    def load(self) -> _Checkpoint | None:
        if (self.directory / _CHECKPOINT_FILE).exists() and not self.resume:
            raise FileExistsError(
                f"{self.directory / _CHECKPOINT_FILE} holds a checkpoint of an earlier run; "
                "pass resume=True (CLI: --resume) to continue it, or remove it")
        return _load_checkpoint(self.directory, self.fingerprint)

    def save(self, chunk, step, x, y, counts, sums) -> None:
        _save_checkpoint(self.directory, self.fingerprint, _Checkpoint(
            chunk, step, None if x is None else np.asarray(x),
            None if y is None else np.asarray(y), counts, sums))


def run_plan(plan: RunPlan, *, progress: bool = True,
             checkpoint: _CheckpointStore | None = None) -> SimulationResult:
    """Execute a checked `RunPlan` (see `simulate`)."""
    if plan.dtype == jnp.float64:
        with jax.enable_x64(True):
            return _run(plan, progress, checkpoint)
    return _run(plan, progress, checkpoint)


def _run(plan: RunPlan, progress: bool, store: _CheckpointStore | None) -> SimulationResult:
    start = _time.perf_counter()
    init = plan.init
    advance, first_bad = _step_kernels(plan.landscape, plan.dynamics, plan.integrator,
                                       plan.block_size, plan.dtype, plan.noise)
    record = _record_kernel(plan.landscape, tuple(plan.bins.edges.tolist()), plan.bins.uniform,
                            plan.observables)
    mesh = Mesh(np.array(plan.devices), ("p",))
    sharded = NamedSharding(mesh, PartitionSpec("p"))
    replicated = NamedSharding(mesh, PartitionSpec())
    put = lambda a, s: jax.device_put(a, s)

    root = _noise.root_key(plan.seed, plan.generator)
    lr_table = put(jnp.asarray(plan.lr_steps, plan.dtype), replicated)
    dt = jnp.asarray(plan.dt, plan.dtype)
    if not isinstance(init, _initial.Arrays):
        kind = "point" if isinstance(init, _initial.Point) else "equilibrium"
        init_state = _init_kernel(plan.landscape, plan.dynamics, plan.block_size, plan.dtype, kind)
        params = jax.tree.map(lambda v: put(jnp.asarray(v, plan.dtype), replicated),
                              _initial.sampler_params(init, plan.landscape, plan.dynamics))

    names = _recording.term_names(tuple(n for n, _ in plan.observables))
    n_records, n_bins = len(plan.record_steps), plan.bins.n_bins
    counts_total = np.zeros((n_records, n_bins + 3), np.int64)
    sums_total = np.zeros((n_records, len(names)), np.float64)
    B, cb = plan.block_size, plan.chunk_blocks
    saved = store.load() if store is not None else None
    if saved is not None:
        counts_total[:], sums_total[:] = saved.counts, saved.sums
    first_chunk = saved.chunk if saved is not None else 0
    bar = Progress(plan.n_blocks * B * plan.n_steps, enabled=progress)
    done = float(first_chunk * cb * B * plan.n_steps)
    steps_per_call = max(1, (1 << 22) // (cb * B))

    for c in range(first_chunk, plan.n_chunks):
        block_ids_np = np.arange(c * cb, (c + 1) * cb, dtype=np.uint32)
        index = block_ids_np[:, None].astype(np.int64) * B + np.arange(B)
        valid = put(jnp.asarray(index < plan.n_particles), sharded)
        block_ids = put(jnp.asarray(block_ids_np), sharded)
        if isinstance(init, _initial.Arrays):
            x, y = _pad_arrays(init, index, plan.n_particles, plan.landscape.valley_dim)
            x, y = put(jnp.asarray(x, plan.dtype), sharded), put(jnp.asarray(y, plan.dtype), sharded)
        else:
            x, y = init_state(root, block_ids, params)
        s = 0
        if saved is not None and saved.x is not None and c == first_chunk:
            # Resume inside this chunk: records at steps < s are in the totals.
            x, y = put(jnp.asarray(saved.x), sharded), put(jnp.asarray(saved.y), sharded)
            s = saved.step
            done += s * cb * B
        last_saved = s
        for r, target in enumerate(plan.record_steps):
            if target < s:
                continue
            while s < target:
                n = int(min(steps_per_call, target - s))
                t0 = _time.perf_counter()
                x_new, y_new, n_bad = advance(root, x, y, block_ids, lr_table, dt,
                                              np.int32(s), np.int32(n))
                n_bad = int(n_bad)  # one host sync per call: progress and guard
                if n_bad and plan.on_nonfinite == "raise":
                    bar.close()
                    bad = int(first_bad(root, x, y, block_ids, lr_table, dt, np.int32(s), np.int32(n)))
                    raise _diverged(plan, bad, n_bad, counts_total[:r], sums_total[:r],
                                    names, (c + 1) * cb * B, start)
                x, y = x_new, y_new
                s += n
                done += n * cb * B
                bar.update(done)
                elapsed = _time.perf_counter() - t0
                steps_per_call = int(np.clip(n * _SECONDS_PER_CALL / max(elapsed, 1e-4),
                                             1, 4 * max(n, steps_per_call)))
                if store is not None and s - last_saved >= store.every:
                    # Before the record at `s` (if any): resuming takes it.
                    store.save(c, s, x, y, counts_total, sums_total)
                    last_saved = s
            counts, block_sums = record(x, y, valid)
            counts_total[r] += np.asarray(counts, np.int64)
            sums_total[r] = _add_blocks(sums_total[r], _gather(block_sums))
        if store is not None:
            store.save(c + 1, 0, None, None, counts_total, sums_total)
    bar.close()
    return _result(plan, counts_total, sums_total, names, plan.n_particles, start)


def _gather(block_sums: jax.Array) -> np.ndarray:
    """Every block's sums on this host, in block order; across processes on a
    multi-host run (`jax.distributed`), where each holds only its own blocks."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        block_sums = multihost_utils.process_allgather(block_sums, tiled=True)
    return np.asarray(block_sums, np.float64)


def _add_blocks(total: np.ndarray, block_sums: np.ndarray) -> np.ndarray:
    """`total (n_terms,)` plus the rows of `block_sums (n_blocks, n_terms)`, added
    one block after another in block order (`cumsum` is sequential), so the
    float64 rounding is the same however the blocks were split into chunks."""
    return np.cumsum(np.concatenate([total[None], block_sums]), axis=0)[-1]


def _pad_arrays(init, index, n_particles, d):
    take = np.minimum(index, n_particles - 1)
    return init.x[take].reshape(index.shape + (d,)), init.y[take]


def _result(plan, counts, sums, names, n_recorded, start, record_slice=slice(None)):
    user = tuple(n for n, _ in plan.observables)
    means, errors = _recording.moments(sums, names, plan.bins.center, user)
    steps = plan.record_steps[record_slice]
    devices = plan.devices
    metadata = {
        "landscape": plan.landscape.describe(),
        "schedule": plan.schedule_description,
        "dynamics": plan.dynamics.describe(),
        "init": plan.init.describe(),
        "n_particles": int(min(n_recorded, plan.n_particles)),
        "n_particles_requested": plan.n_particles,
        "n_steps": plan.n_steps,
        "dt": plan.dt,
        "seed": plan.seed,
        "dtype": np.dtype(plan.dtype).name,
        "integrator": plan.integrator,
        "generator": plan.generator,
        "noise": plan.noise,
        "block_size": plan.block_size,
        "chunk_size": plan.chunk_blocks * plan.block_size,
        "observables": list(user),
        "devices": {"count": len(devices), "kind": devices[0].device_kind,
                    "platform": devices[0].platform},
        "versions": _versions(),
        "wall_seconds": _time.perf_counter() - start,
    }
    return SimulationResult(
        steps=steps, times=steps * plan.dt, lr=plan.lr_steps[steps],
        bin_edges=plan.bins.edges, counts=counts[:, 1:-2], underflow=counts[:, 0],
        overflow=counts[:, -2], nonfinite=counts[:, -1], observables=means,
        standard_errors=errors, sums=sums, sum_names=names, metadata=metadata,
        lr_steps=plan.lr_steps,
    )


def _diverged(plan, bad_step, n_bad, counts, sums, names, n_recorded, start):
    r = len(counts)
    partial = _result(plan, counts, sums, names, n_recorded, start, slice(0, r))
    partial.metadata["diverged_at_step"] = bad_step
    t = bad_step * plan.dt
    lr = float(plan.lr_steps[bad_step])
    return SimulationDiverged(
        f"{n_bad} particle(s) became non-finite at step {bad_step} (t={t:g}, lr={lr:g}); "
        f"kept the {r} record(s) taken before it in .partial_result. Reduce dt or the LR.",
        step=bad_step, time=t, lr=lr, n_nonfinite=n_bad, partial_result=partial)


def _versions() -> dict:
    import optax

    from .. import __version__
    return {"mpemba_jax": __version__, "jax": jax.__version__,
            "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
            "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
