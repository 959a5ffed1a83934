"""Planning a run: every argument checked, every table computed, before anything compiles.

`make_plan` turns the arguments of `simulate` / `run_batch` into a `RunPlan`:
the LR table `(S, n_steps + 1)` of the `S` schedules (`lr_table`: step `s` at
`schedule(s * dt)`, float64, on the host), the initial state, the record steps,
the bins, the observables, and the layout of particles in noise blocks and
memory chunks. A bad argument raises `ValueError` naming it, its value and the
allowed range (`docs/errors.md` lists them all); the stability of the explicit
valley step, `mu a dt < 2` at the hottest LR, is checked here too.

Chunks. Particles stream through memory in chunks of whole noise blocks
(`chunk_blocks`), a multiple of the device count; `chunk_size` counts the
particles *of each schedule* held at once, so memory is about
`S * chunk_size` particles. Neither changes a number of the result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..dynamics import Dynamics
from ..landscape import ValleyRiver
from ..schedules import describe_schedule, lr_table
from . import initial as _initial
from . import noise as _noise
from . import recording as _recording
from .integrators import EXPLICIT_VALLEY, INTEGRATORS

__all__ = ["RunPlan", "make_plan", "default_chunk_size"]

# Particles of all schedules together per device and chunk on CPU: small enough
# for a laptop's cache hierarchy (accelerators: from their memory, below).
_CHUNK_CPU = 1 << 20


@dataclasses.dataclass(frozen=True, eq=False)
class RunPlan:
    """Everything a run checked and precomputed before compiled work starts.

    `lr_table (S, n_steps + 1)` is the LR of every step of every schedule;
    `names` and `schedules` (JSON descriptions) are for people and metadata.
    """

    landscape: ValleyRiver
    dynamics: Dynamics
    names: tuple[str, ...]
    schedules: tuple[dict, ...]
    lr_table: np.ndarray
    n_particles: int
    n_steps: int
    dt: float
    seed: int
    init: Any
    record_steps: np.ndarray
    bins: _recording.Bins
    observables: tuple[tuple[str, Callable], ...]
    dtype: Any
    integrator: str
    generator: str
    noise: str
    block_size: int
    chunk_blocks: int
    n_groups: int
    group_histograms: bool
    devices: tuple
    on_nonfinite: str

    @property
    def n_schedules(self) -> int:
        return len(self.names)

    @property
    def n_blocks(self) -> int:
        return -(-self.n_particles // self.block_size)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_blocks // self.chunk_blocks)


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """`value` as an int `>= minimum`, else `ValueError` naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _choice(name: str, value: Any, allowed: tuple) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def _named(schedules) -> list[tuple[str, Any]]:
    """`[(name, schedule or table), ...]` from a dict or a list (named `schedule_i`)."""
    if isinstance(schedules, Mapping):
        items = list(schedules.items())
    elif isinstance(schedules, Sequence) and not isinstance(schedules, (str, bytes)):
        items = [(f"schedule_{i}", s) for i, s in enumerate(schedules)]
    else:
        raise ValueError("schedules must be a dict {name: schedule} or a list of schedules")
    if not items:
        raise ValueError("schedules must hold at least one schedule")
    for name, _ in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"schedule names must be non-empty strings; got {name!r}")
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"schedule names must be unique; got {names}")
    return items


def _steps_of_tables(items, n_steps, labels):
    """`n_steps` of the run: LR tables fix it, and must all agree with it."""
    tables = [(label, s) for label, (_, s) in zip(labels, items)
              if not callable(s) and np.ndim(s) == 1]
    if tables:
        first_label, first = tables[0][0], len(tables[0][1])
        for label, s in tables:
            if len(s) != first:
                raise ValueError(
                    f"schedules in a batch must have the same length: {first_label} has "
                    f"{first} LR values (n_steps={first - 1}) but {label} has {len(s)} "
                    f"(n_steps={len(s) - 1}); run them in separate batches or pad them")
        if n_steps is not None and not isinstance(n_steps, bool) and n_steps != first - 1:
            raise ValueError(f"n_steps={n_steps} does not match the LR table of {first_label} "
                             f"({first} values = n_steps + 1)")
        return first - 1
    if n_steps is None:
        raise ValueError("n_steps is required when the schedules are callables")
    return n_steps


def make_plan(landscape, schedules, *, n_particles, n_steps=None, dt, seed=0, init=None,
              record_every=None, record_steps=None, bins=100, bin_range=None,
              observables=None, time="steps", temperature_scale=1.0, dtype="float32",
              integrator="euler_maruyama", generator="threefry2x32", noise="gaussian",
              block_size=1024, chunk_size=None, devices=None, on_nonfinite="raise",
              n_groups=64, group_histograms=False, single=False) -> RunPlan:
    """Check every argument of a run of `schedules` and precompute what it needs.

    `schedules`: `{name: schedule or LR table}` or a list; `single=True` (from
    `simulate`) names the one schedule plainly "schedule" in messages.
    """
    if not isinstance(landscape, ValleyRiver):
        raise ValueError(f"landscape must be a mj.ValleyRiver; got {type(landscape).__name__}")
    items = _named(schedules)
    labels = ["schedule"] if single else [f"schedule {name!r}" for name, _ in items]
    n_particles = positive_int("n_particles", n_particles)
    n_steps = positive_int("n_steps", _steps_of_tables(items, n_steps, labels))
    if n_steps >= 2**31:  # the step index is an int32 in the compiled loop and the noise key
        raise ValueError(f"n_steps must be < 2**31; got {n_steps}")
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a number > 0; got {dt!r}") from None
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0; got {dt}")
    seed = positive_int("seed", seed, minimum=0)
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
    block_size = positive_int("block_size", block_size)
    if -(-n_particles // block_size) >= 2**32:  # block ids are uint32
        raise ValueError(
            f"n_particles={n_particles} needs 2^32 or more noise blocks of block_size="
            f"{block_size}; use a larger block_size")
    n_groups = positive_int("n_groups", n_groups)
    if not isinstance(group_histograms, (bool, np.bool_)):
        raise ValueError(f"group_histograms must be True or False; got {group_histograms!r}")

    tables = np.stack([lr_table(s, n_steps, dt, name=label)
                       for label, (_, s) in zip(labels, items)])
    init = _initial.as_init(
        _initial.equilibrium(tables[0, 0]) if init is None else init,
        n_particles, landscape.valley_dim)
    _initial.in_support(init, landscape)
    region = _region(landscape, dynamics, tables, init, integrator, dt, labels)

    if record_steps is not None and record_every is not None:
        raise ValueError("give record_every or record_steps, not both")
    if record_steps is None:
        every = max(1, n_steps // 50) if record_every is None else positive_int(
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

    if devices is None:  # every device of the run: all processes' under jax.distributed
        devices = jax.devices() if jax.process_count() > 1 else jax.local_devices()
    devices = tuple(devices)
    if not devices:
        raise ValueError("devices must name at least one device")
    if chunk_size is None:
        chunk_size = default_chunk_size(devices, len(items), block_size, landscape.valley_dim)
    chunk_blocks = _chunk_blocks(positive_int("chunk_size", chunk_size), n_particles,
                                 block_size, len(devices))
    return RunPlan(
        landscape=landscape, dynamics=dynamics, names=tuple(n for n, _ in items),
        schedules=tuple(describe_schedule(s) if callable(s) else {"kind": "table"}
                        for _, s in items),
        lr_table=tables, n_particles=n_particles, n_steps=n_steps, dt=dt, seed=seed,
        init=init, record_steps=record_steps.astype(np.int64), bins=bins,
        observables=observables, dtype=dtype, integrator=integrator, generator=generator,
        noise=noise, block_size=block_size, chunk_blocks=chunk_blocks,
        n_groups=min(n_groups, -(-n_particles // block_size)),
        group_histograms=bool(group_histograms), devices=devices,
        on_nonfinite=on_nonfinite,
    )


def default_chunk_size(devices: Sequence, n_schedules: int, block_size: int,
                       valley_dim: int = 1) -> int:
    """Particles of each schedule held in memory at once: the budget of all
    schedules' particles per device, shared among the `n_schedules`.

    On CPU 2^20 per device (measured: the caches, not the memory, limit it).
    On an accelerator a quarter of the device's memory (`memory_stats()`'s
    `bytes_limit`; 16 GiB if it does not say) at about `4 (4 (d + 1) + 16)`
    bytes a particle (state, noise and the reductions' temporaries in float32),
    as a power of two between 2^20 and 2^28.
    """
    if devices[0].platform == "cpu":
        per_device = _CHUNK_CPU
    else:
        try:
            limit = (devices[0].memory_stats() or {}).get("bytes_limit") or 16 << 30
        except Exception:  # noqa: BLE001 - backends without memory statistics
            limit = 16 << 30
        fits = limit // 4 // (4 * (4 * (valley_dim + 1) + 16))
        per_device = 1 << int(np.clip(int(fits).bit_length() - 1, 20, 28))
    return max(block_size, per_device * len(devices) // n_schedules)


def _chunk_blocks(chunk_size: int, n_particles: int, block_size: int, n_devices: int) -> int:
    """Blocks per chunk: whole blocks, a multiple of the device count, spread evenly."""
    n_blocks = -(-n_particles // block_size)
    chunk_blocks = min(max(1, chunk_size // block_size), n_blocks)
    chunk_blocks = -(-chunk_blocks // n_devices) * n_devices  # same blocks on every device
    # A chunk's histogram is counted in int32 on the device (int64 across
    # chunks on the host), so a chunk holds fewer than 2^31 particles.
    if chunk_blocks * block_size >= 2**31:
        chunk_blocks = max(n_devices, (2**31 - 1) // block_size // n_devices * n_devices)
        if chunk_blocks * block_size >= 2**31:
            raise ValueError(
                f"block_size={block_size} x {n_devices} device(s) puts 2^31 or more "
                "particles in one chunk, beyond the int32 per-chunk histogram; use a smaller "
                "block_size")
    # Spread the blocks evenly over the chunks this needs, so that the last
    # chunk is not mostly padding (128 blocks in chunks of 113 would do 77 %
    # extra work); still a multiple of the device count, never larger.
    n_chunks = -(-n_blocks // chunk_blocks)
    return -(-(-(-n_blocks // n_chunks)) // n_devices) * n_devices


def _region(landscape, dynamics, tables, init, integrator, dt, labels):
    """Where particles can go (the support of the run's hottest Boltzmann state, or
    the domain), checked for a finite landscape and a stable explicit valley step."""
    # The hottest temperature any particle sees sets the region to check.
    lr_max = float(tables.max())
    lr_hot = max(lr_max, init.lr if isinstance(init, (_initial.Equilibrium, _initial.ChainState))
                 else 0.0)
    t_hot = dynamics.temperature_scale * lr_hot  # float64: float32 overflows at ~3e38
    if t_hot > 0:
        try:
            region = landscape.support(t_hot)
        except ValueError as e:
            source = "schedule" if lr_max == lr_hot else "init"
            raise ValueError(f"{e} (T = temperature_scale * lr at the run's hottest LR, "
                             f"lr={lr_hot:g} from the {source})") from None
    elif landscape.domain is not None:
        region = landscape.domain
    else:
        return None
    region = _cover(region, init)
    landscape.check_region(*region)
    hottest = int(np.argmax(tables.max(axis=1)))
    try:
        _check_stability(landscape, dynamics, lr_max, dt, region, integrator)
    except ValueError as e:
        raise (e if len(labels) == 1 else ValueError(f"{labels[hottest]}: {e}")) from None
    return region


def _cover(region, init):
    """Widen `region` to hold explicit initial positions."""
    lo, hi = region
    if isinstance(init, _initial.Point):
        lo, hi = min(lo, init.y), max(hi, init.y)
    elif isinstance(init, _initial.Arrays):
        lo, hi = min(lo, float(init.y.min())), max(hi, float(init.y.max()))
    elif isinstance(init, _initial.ChainState):
        lo, hi = min(lo, float(init.edges[0])), max(hi, float(init.edges[-1]))
    return (lo, hi)


def _check_stability(landscape, dynamics, lr_max, dt, region, integrator):
    """An explicit valley step (Euler–Maruyama, Leimkuhler–Matthews) needs
    `mu * a * dt < 2` at the largest LR; the exact valley step of "valley_exact"
    is stable at any `dt`."""
    if integrator not in EXPLICIT_VALLEY:
        return
    y = np.linspace(*region, 4097)
    with jax.enable_x64(True):
        a_max = float(np.max(np.asarray(landscape.curvatures(jnp.asarray(y)))))
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
