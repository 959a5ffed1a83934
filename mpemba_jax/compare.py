"""Schedule comparison: a batch of LR schedules in one compiled program, and its metrics.

`run_batch` runs `S` schedules on the same `N` particles' worth of noise: the
batch is an LR table `(S, n_steps + 1)` (each schedule evaluated on the host
in float64 at `s * dt`, as `simulate` does), and one jitted `fori_loop` over
steps advances the state `x: (S, n_blocks, B, d)`, `y: (S, n_blocks, B)` with
the engine's step function mapped (`lax.map`) over the schedule axis. Every
schedule draws the noise of step `s` with the engine's keying
(`noise.block_normals`: seed, step, block), so all schedules see the same
numbers, and

- schedule `i` of a batch gives *bit for bit* what `mj.simulate` gives for it
  alone with the same seed, block size and dtype (same normals, same
  arithmetic, same per-block float32 sums, same float64 host order; a test
  checks it, since it rests on XLA compiling the mapped step like
  `simulate`'s own loop body);
- the schedules are compared under common random numbers: differences
  between schedules are far less noisy than either run. `BatchResult` keeps
  the sums of `n_groups` contiguous groups of noise blocks (independent
  replicates) so that `paired_difference` can give the standard error of a
  difference of means with that correlation taken into account.

The driver streams chunks of whole blocks (per schedule `chunk_size`
particles, so memory is `S * chunk_size` particles) and returns to Python only
to record, report progress and check for non-finite particles. Recording uses
the engine's `recording.make_record`, mapped over schedules.

Theory for the same schedules: `schedule_theory` evolves the river's cell
masses with `mj.evolve` (Fokker–Planck, THEORY sections 3 and 6) and the
valley's second moment with the Euler–Maruyama recursion of each river cell,

    v <- (1 - mu a(y) h)^2 v + 2 mu T h       (per valley coordinate)

whose fixed point `T / (a (1 - mu a h / 2))` is equipartition `T / a` up to the
O(mu a h) step bias; the loss prediction is `sum_i p_i (V_i + d a_i v_i / 2)`.

Special schedules of THEORY section 6: `greedy_anneal` (the optimal anneal of
a harmonic valley under discrete SGD, `eta_t = eta / (2 + a eta t)`),
`window_decay` (a decay inside the window `1/tau_y <~ |d ln eta/dt| <~ 1/tau_x`),
and `match_lr_sum` (the plateau that gives a schedule a required LR sum).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time as _time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import initial as _initial
from . import integrators as _integrators
from . import noise as _noise
from . import recording as _recording
from .fokker_planck import FokkerPlanck
from .fp_evolve import evolve
from .integrators import make_step
from .landscape import ValleyRiver
from .progress import Progress
from .result import SimulationResult
from .schedules import describe_schedule, evaluate_schedule
from .simulate import SimulationDiverged, plan_run
from .timescales import DecayWindow

__all__ = [
    "BatchResult",
    "run_batch",
    "paired_difference",
    "schedule_theory",
    "tv_distance",
    "tv_between",
    "greedy_anneal",
    "window_decay",
    "match_lr_sum",
    "lr_sum",
]

# Particles of all schedules together in one chunk, by backend.
_CHUNK_CPU, _CHUNK_ACCELERATOR = 1 << 21, 1 << 27
_SECONDS_PER_CALL = 0.5


# ---------------------------------------------------------------------------
# The batch result
# ---------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class BatchResult:
    """Records of `S` schedules at `R` common record steps.

    Attributes:
      names: `(S,)` schedule names.
      steps, times: `(R,)` record steps and `steps * dt`.
      lr_steps: `(S, n_steps + 1)` the LR of every step (`schedule(s * dt)`).
      lr: `(S, R)` the LR at the record steps.
      bin_edges: `(n_bins + 1,)`.
      counts: `(S, R, n_bins)` int64 river histograms; `underflow`, `overflow`,
        `nonfinite`: `(S, R)`.
      observables, standard_errors: name -> `(S, R)` particle means and their
        standard errors (`loss`, `valley_energy`, `y_mean`, `y_var`, user ones).
      sums: `(S, R, n_terms)` float64 power sums (`sum_names`).
      group_sums: `(S, R, n_groups, n_terms)` the same sums over contiguous
        groups of noise blocks, for paired standard errors.
      metadata: JSON-able description (schedules, run parameters, wall time).
    """

    names: tuple[str, ...]
    steps: np.ndarray
    times: np.ndarray
    lr_steps: np.ndarray
    lr: np.ndarray
    bin_edges: np.ndarray
    counts: np.ndarray
    underflow: np.ndarray
    overflow: np.ndarray
    nonfinite: np.ndarray
    observables: dict[str, np.ndarray]
    standard_errors: dict[str, np.ndarray]
    sums: np.ndarray
    sum_names: tuple[str, ...]
    group_sums: np.ndarray
    metadata: dict[str, Any]

    @property
    def n_particles(self) -> int:
        return int(self.metadata["n_particles"])

    def index(self, name: str) -> int:
        """Position of schedule `name` in the batch."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"no schedule named {name!r}; have {list(self.names)}") from None

    def record_index(self, step: int) -> int:
        """Position of record step `step`."""
        hit = np.nonzero(self.steps == int(step))[0]
        if len(hit) == 0:
            raise ValueError(f"step {step} was not recorded")
        return int(hit[0])

    def result(self, i: int | str) -> SimulationResult:
        """Schedule `i` (index or name) as a `SimulationResult`, as `simulate` returns it."""
        i = self.index(i) if isinstance(i, str) else int(i)
        meta = {k: v for k, v in self.metadata.items() if k not in ("schedules", "names")}
        meta.update(schedule=self.metadata["schedules"][i], name=self.names[i])
        return SimulationResult(
            steps=self.steps, times=self.times, lr=self.lr[i], bin_edges=self.bin_edges,
            counts=self.counts[i], underflow=self.underflow[i], overflow=self.overflow[i],
            nonfinite=self.nonfinite[i],
            observables={k: v[i] for k, v in self.observables.items()},
            standard_errors={k: v[i] for k, v in self.standard_errors.items()},
            sums=self.sums[i], sum_names=self.sum_names, metadata=meta)


# ---------------------------------------------------------------------------
# Checking the batch (pure Python, before compiled work)
# ---------------------------------------------------------------------------
def _as_named(schedules) -> list[tuple[str, Any]]:
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
    return items


def _table_lengths(items, n_steps):
    """`n_steps` of the batch: LR arrays fix it, and must all agree with it."""
    lengths = {name: len(np.ravel(s)) for name, s in items if not callable(s)}
    for name, s in items:
        if not callable(s) and np.ndim(s) != 1:
            raise ValueError(f"schedule {name!r}: an LR table must be 1-D (n_steps + 1,); "
                             f"got shape {np.shape(s)}")
    if lengths:
        first_name, first = next(iter(lengths.items()))
        for name, n in lengths.items():
            if n != first:
                raise ValueError(
                    f"schedules in a batch must have the same length: schedule {first_name!r} "
                    f"has {first} LR values (n_steps={first - 1}) but {name!r} has {n} "
                    f"(n_steps={n - 1}); run them in separate batches or pad them")
        if n_steps is not None and int(n_steps) + 1 != first:
            raise ValueError(
                f"n_steps={n_steps} does not match the LR table of schedule {first_name!r} "
                f"({first} values = n_steps + 1)")
        n_steps = first - 1
    if n_steps is None:
        raise ValueError("n_steps is required when the schedules are callables")
    return n_steps


def _table_schedule(table: np.ndarray, dt: float) -> Callable:
    """A callable `t -> table[round(t / dt)]` (for the checks of `plan_run`)."""
    table = np.asarray(table, np.float64)

    def schedule(t):
        i = jnp.clip(jnp.rint(jnp.asarray(t) / dt).astype(jnp.int32), 0, len(table) - 1)
        return jnp.asarray(table)[i]

    schedule.description = {"kind": "table", "n_values": int(len(table)),
                            "first": float(table[0]), "last": float(table[-1])}
    return schedule


def _common_bins(landscape, dynamics, tables, init, bins, bin_range):
    """One set of bin edges for the whole batch (hottest LR of any schedule)."""
    if np.ndim(bins) != 0 or bin_range is not None:
        return _recording.make_bins(bins, bin_range, (0.0, 1.0))
    lr_hot = float(np.max(tables))
    if isinstance(init, _initial.Equilibrium):
        lr_hot = max(lr_hot, init.lr)
    t_hot = float(dynamics.temperature(lr_hot))
    if t_hot > 0:
        lo, hi = landscape.support(t_hot)
    elif landscape.domain is not None:
        lo, hi = landscape.domain
    else:
        raise ValueError("bin_range is needed: the batch is at LR 0 on an unbounded river")
    if isinstance(init, _initial.Point):
        lo, hi = min(lo, init.y), max(hi, init.y)
    elif isinstance(init, _initial.Arrays):
        lo, hi = min(lo, float(init.y.min())), max(hi, float(init.y.max()))
    return _recording.make_bins(bins, None, (lo, hi))


# ---------------------------------------------------------------------------
# Compiled kernels
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _kernels(landscape, dynamics, integrator, block_size, dtype, edges, uniform, observables):
    step = make_step(landscape, dynamics, integrator)
    width = landscape.valley_dim + 1

    def one_step(root, block_ids, lr_table, dt, s, x, y):
        # Every schedule draws the same noise (common random numbers) inside its
        # own step, and the schedules are mapped (`lax.map`), not vmapped: the body
        # is then the very computation `simulate` runs for one schedule, so XLA
        # fuses and rounds it the same way. (A vmapped step, or one draw shared
        # by all schedules, is cheaper but changes the fusion, and the float32
        # states drift from `simulate`'s in the last bit.)
        def one(c):
            noise = _noise.block_normals(root, s, block_ids, block_size, width, dtype)
            return step(c[0], c[1], noise, c[2], dt)

        return jax.lax.map(one, (x, y, lr_table[:, s]))

    @jax.jit
    def advance(root, x, y, block_ids, lr_table, dt, s0, n):
        body = lambda s, c: one_step(root, block_ids, lr_table, dt, s, *c)  # noqa: E731
        x, y = jax.lax.fori_loop(s0, s0 + n, body, (x, y))
        finite = jnp.isfinite(y) & jnp.all(jnp.isfinite(x), axis=-1)
        return x, y, jnp.sum(~finite, axis=(1, 2))

    bins = _recording.Bins(np.asarray(edges), uniform)
    record_one = _recording.make_record(landscape, bins, observables)
    record = jax.jit(lambda x, y, valid: jax.lax.map(lambda c: record_one(c[0], c[1], valid),
                                                      (x, y)))
    return advance, record


@functools.lru_cache(maxsize=16)
def _init_kernel(landscape, block_size, dtype, kind):
    @jax.jit
    def init_state(root, block_ids, params):
        keys = _noise.block_init_keys(root, block_ids)
        return _initial.sample_blocks(kind, landscape, keys, block_size, dtype, params)

    return init_state


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------
def run_batch(
    landscape: ValleyRiver,
    schedules,
    *,
    n_particles: int,
    dt: float,
    n_steps: int | None = None,
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
    block_size: int = 1024,
    chunk_size: int | None = None,
    devices=None,
    n_groups: int = 64,
    progress: bool = True,
    label: str = "compare",
) -> BatchResult:
    """Run a batch of schedules, `n_particles` each, in one compiled program.

    Every schedule is checked exactly as `simulate` checks it (`simulate.plan_run`:
    stability `mu a dt < 2`, finite LRs, support of the landscape) before any
    compilation. Arguments are those of `simulate`, except:

    Args:
      schedules: `{name: schedule}` or a list; a schedule is a callable `t -> lr`
        (optax schedules unwrapped) or an LR table `(n_steps + 1,)` of the LR of
        every step. All tables of a batch must have the same length.
      n_steps: steps of the batch (implied by LR tables).
      init: one initial state for every schedule (default: equilibrium at the
        first schedule's `schedule(0)`).
      bins, bin_range: common to the batch; default range: the support at the
        hottest LR of any schedule (or the domain).
      chunk_size: particles *of each schedule* held at once (whole blocks);
        memory is about `S * chunk_size` particles. Does not change results.
      n_groups: contiguous groups of noise blocks whose sums are kept for
        paired standard errors (`paired_difference`).

    Returns:
      `BatchResult`; `result.result(i)` is schedule `i` as `simulate` returns it.

    Example:
      >>> land = mj.preset("box_wells")
      >>> batch = mj.run_batch(land, {"low": mj.wsd(0.015, 0.01, 50, 500, 100),
      ...                             "high": mj.wsd(0.05, 0.01, 50, 500, 100)},
      ...                      n_particles=4096, n_steps=1000, dt=1.0, init=mj.point(-0.28),
      ...                      progress=False)
      >>> batch.observables["loss"].shape
      (2, 51)
    """
    if not isinstance(landscape, ValleyRiver):
        raise ValueError(f"landscape must be a mj.ValleyRiver; got {type(landscape).__name__}")
    items = _as_named(schedules)
    names = tuple(n for n, _ in items)
    if len(set(names)) != len(names):
        raise ValueError(f"schedule names must be unique; got {list(names)}")
    n_steps = _table_lengths(items, n_steps)
    dt_f = float(dt)
    callables = [(n, s if callable(s) else _table_schedule(s, dt_f)) for n, s in items]
    if not (isinstance(n_groups, (int, np.integer)) and n_groups >= 1):
        raise ValueError(f"n_groups must be an integer >= 1; got {n_groups!r}")

    # The first plan checks the arguments common to the batch; the common bins
    # need every schedule's LRs; then each schedule is checked as `simulate`
    # would check it, with those bins.
    first = plan_run(landscape, callables[0][1], n_particles=n_particles, n_steps=n_steps,
                     dt=dt, seed=seed, init=init, record_every=record_every,
                     record_steps=record_steps, bins=2, bin_range=(0.0, 1.0),
                     observables=observables, time=time, temperature_scale=temperature_scale,
                     dtype=dtype, integrator=integrator, generator=generator,
                     block_size=block_size, devices=devices)
    # Schemes driven by averaged consecutive noise need the driver to carry the
    # previous step's draw; this driver does not (yet), so it refuses them.
    if getattr(_integrators, "averages_noise", lambda name: False)(first.integrator):
        raise ValueError(f"integrator {first.integrator!r} is not supported by run_batch; "
                         "use 'euler_maruyama' or another scheme with per-step noise")
    times = np.arange(n_steps + 1) * first.dt
    tables = np.stack([evaluate_schedule(s, times, name=f"schedule {name!r}")
                       for name, s in callables])
    bins_obj = _common_bins(landscape, first.dynamics, tables, first.init, bins, bin_range)
    tables = np.stack([_plan(landscape, s, first, name, observables, bins_obj.edges).lr_steps
                       for name, s in callables])
    descriptions = [describe_schedule(s) if callable(s) else {"kind": "table"} for _, s in items]
    if first.dtype == jnp.float64:
        with jax.enable_x64(True):
            return _run(first, names, tables, bins_obj, descriptions, chunk_size, n_groups,
                        progress, label)
    return _run(first, names, tables, bins_obj, descriptions, chunk_size, n_groups, progress,
                label)


def _plan(landscape, schedule, first, name, observables, edges):
    try:
        return plan_run(
            landscape, schedule, n_particles=first.n_particles, n_steps=first.n_steps,
            dt=first.dt, seed=first.seed, init=first.init, record_steps=first.record_steps,
            bins=edges,
            observables=observables, time=first.dynamics.time,
            temperature_scale=first.dynamics.temperature_scale,
            dtype=np.dtype(first.dtype).name, integrator=first.integrator,
            generator=first.generator, block_size=first.block_size, devices=first.devices)
    except ValueError as e:
        raise ValueError(f"schedule {name!r}: {e}") from None


def _run(plan, names, tables, bins, descriptions, chunk_size, n_groups, progress, label):
    start = _time.perf_counter()
    S, B = len(names), plan.block_size
    land, d = plan.landscape, plan.landscape.valley_dim
    advance, record = _kernels(land, plan.dynamics, plan.integrator, B, plan.dtype,
                               tuple(bins.edges.tolist()), bins.uniform, plan.observables)
    devices = plan.devices
    n_dev = len(devices)
    if chunk_size is None:
        total = _CHUNK_CPU if devices[0].platform == "cpu" else _CHUNK_ACCELERATOR * n_dev
        chunk_size = max(B, total // S)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
    n_blocks = -(-plan.n_particles // B)
    # Equal chunks of at most `chunk_size` particles, whole blocks, a multiple of
    # the device count each (no chunk mostly made of padding).
    n_chunks = -(-n_blocks // max(1, int(chunk_size) // B))
    cb = -(-n_blocks // n_chunks)
    cb = -(-cb // n_dev) * n_dev
    n_chunks = -(-n_blocks // cb)
    n_groups = min(int(n_groups), n_blocks)

    mesh = Mesh(np.array(devices), ("p",))
    state_sharding = NamedSharding(mesh, PartitionSpec(None, "p"))
    block_sharding = NamedSharding(mesh, PartitionSpec("p"))
    replicated = NamedSharding(mesh, PartitionSpec())
    root = _noise.root_key(plan.seed, plan.generator)
    lr_table = jax.device_put(jnp.asarray(tables, plan.dtype), replicated)
    dt = jnp.asarray(plan.dt, plan.dtype)
    init = plan.init
    if not isinstance(init, _initial.Arrays):
        kind = "point" if isinstance(init, _initial.Point) else "equilibrium"
        init_state = _init_kernel(land, B, plan.dtype, kind)
        params = jax.tree.map(lambda v: jax.device_put(jnp.asarray(v, plan.dtype), replicated),
                              _initial.sampler_params(init, land, plan.dynamics))

    user = tuple(n for n, _ in plan.observables)
    sum_names = _recording.term_names(user)
    R, n_bins, n_terms = len(plan.record_steps), bins.n_bins, len(sum_names)
    counts = np.zeros((S, R, n_bins + 3), np.int64)
    sums = np.zeros((S, R, n_terms), np.float64)
    group_sums = np.zeros((S, R, n_groups, n_terms), np.float64)
    bar = Progress(S * n_chunks * cb * B * plan.n_steps, enabled=progress, label=label)
    done = 0.0
    steps_per_call = max(1, (1 << 22) // (S * cb * B))

    for c in range(n_chunks):
        ids = np.arange(c * cb, (c + 1) * cb, dtype=np.uint32)
        index = ids[:, None].astype(np.int64) * B + np.arange(B)
        valid = jax.device_put(jnp.asarray(index < plan.n_particles), block_sharding)
        block_ids = jax.device_put(jnp.asarray(ids), block_sharding)
        if isinstance(init, _initial.Arrays):
            take = np.minimum(index, plan.n_particles - 1)
            x0 = jnp.asarray(init.x[take].reshape(index.shape + (d,)), plan.dtype)
            y0 = jnp.asarray(init.y[take], plan.dtype)
        else:
            x0, y0 = init_state(root, block_ids, params)
        x = jax.device_put(jnp.broadcast_to(x0, (S,) + x0.shape), state_sharding)
        y = jax.device_put(jnp.broadcast_to(y0, (S,) + y0.shape), state_sharding)
        group_of = np.minimum(ids.astype(np.int64) * n_groups // n_blocks, n_groups - 1)
        s = 0
        for r, target in enumerate(plan.record_steps):
            while s < target:
                n = int(min(steps_per_call, target - s))
                t0 = _time.perf_counter()
                x_new, y_new, n_bad = advance(root, x, y, block_ids, lr_table, dt,
                                              np.int32(s), np.int32(n))
                n_bad = np.asarray(n_bad)
                if n_bad.any():
                    bar.close()
                    bad = [names[i] for i in np.nonzero(n_bad)[0]]
                    raise SimulationDiverged(
                        f"{int(n_bad.sum())} particle(s) became non-finite between steps {s} "
                        f"and {s + n} in schedule(s) {bad}; reduce dt or the LR.",
                        step=s, time=s * plan.dt, lr=float(tables[int(np.argmax(n_bad)), s]),
                        n_nonfinite=int(n_bad.sum()), partial_result=None)
                x, y = x_new, y_new
                s += n
                done += n * S * cb * B
                bar.update(done)
                elapsed = _time.perf_counter() - t0
                steps_per_call = int(np.clip(n * _SECONDS_PER_CALL / max(elapsed, 1e-4),
                                             1, 4 * max(n, steps_per_call)))
            chunk_counts, block_sums = record(x, y, valid)
            counts[:, r] += np.asarray(chunk_counts, np.int64)
            block_sums = np.asarray(block_sums, np.float64)  # (S, cb, n_terms)
            for i in range(S):
                sums[i, r] = _add_blocks(sums[i, r], block_sums[i])
            np.add.at(group_sums[:, r], (slice(None), group_of), block_sums)
    bar.close()

    center = bins.center
    observables, errors = {}, {}
    for i in range(S):
        m, e = _recording.moments(sums[i], sum_names, center, user)
        for k in m:
            observables.setdefault(k, np.zeros((S, R)))[i] = m[k]
            errors.setdefault(k, np.zeros((S, R)))[i] = e[k]
    steps = plan.record_steps
    metadata = {
        "names": list(names),
        "schedules": descriptions,
        "landscape": land.describe(),
        "dynamics": plan.dynamics.describe(),
        "init": plan.init.describe(),
        "n_particles": plan.n_particles,
        "n_schedules": S,
        "n_steps": plan.n_steps,
        "dt": plan.dt,
        "seed": plan.seed,
        "dtype": np.dtype(plan.dtype).name,
        "integrator": plan.integrator,
        "generator": plan.generator,
        "block_size": B,
        "chunk_size": cb * B,
        "n_groups": n_groups,
        "observables": list(user),
        "devices": {"count": n_dev, "kind": devices[0].device_kind,
                    "platform": devices[0].platform},
        "wall_seconds": _time.perf_counter() - start,
    }
    return BatchResult(
        names=names, steps=steps, times=steps * plan.dt, lr_steps=tables, lr=tables[:, steps],
        bin_edges=bins.edges, counts=counts[:, :, 1:-2], underflow=counts[:, :, 0],
        overflow=counts[:, :, -2], nonfinite=counts[:, :, -1], observables=observables,
        standard_errors=errors, sums=sums, sum_names=sum_names, group_sums=group_sums,
        metadata=metadata)


def _add_blocks(total: np.ndarray, block_sums: np.ndarray) -> np.ndarray:
    """`total` plus the rows of `block_sums`, one block after another in block order
    (the host order `recording` documents; `cumsum` is sequential)."""
    return np.cumsum(np.concatenate([total[None], block_sums]), axis=0)[-1]


# ---------------------------------------------------------------------------
# Paired statistics
# ---------------------------------------------------------------------------
def paired_difference(batch: BatchResult, name: str, i: int, j: int, r_i: int,
                      r_j: int | None = None) -> tuple[float, float]:
    """`(mean_i - mean_j, standard error)` of observable `name` between schedule `i`
    at record `r_i` and schedule `j` at record `r_j` (default `r_i`).

    The schedules share their noise, so the two means are correlated; the
    error comes from the `n_groups` independent groups of noise blocks
    (delta method for the ratio `sum / n` of each group), which accounts for
    that correlation. Observable names as in `BatchResult.observables`
    (`loss`, `valley_energy` or a user observable).
    """
    r_j = r_i if r_j is None else r_j
    col = {"loss": "loss", "valley_energy": "energy"}.get(name, name)
    if col not in batch.sum_names:
        raise ValueError(f"no recorded sum for observable {name!r}; have {batch.sum_names}")
    k, kn = batch.sum_names.index(col), batch.sum_names.index("n")
    gi, gj = batch.group_sums[i, r_i], batch.group_sums[j, r_j]
    n_i, n_j = gi[:, kn].sum(), gj[:, kn].sum()
    m_i, m_j = gi[:, k].sum() / n_i, gj[:, k].sum() / n_j
    resid = (gi[:, k] - m_i * gi[:, kn]) / n_i - (gj[:, k] - m_j * gj[:, kn]) / n_j
    g = len(resid)
    se = math.sqrt(g / max(g - 1, 1) * float(np.sum(resid**2)))
    return float(m_i - m_j), se


# ---------------------------------------------------------------------------
# Theory for the same schedules
# ---------------------------------------------------------------------------
def extended_bin_masses(fp: FokkerPlanck, masses: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cell masses `(..., n_grid)` as `[below, bins..., above]` masses `(..., n_bins + 2)`
    of the histogram `edges` (density constant within a grid cell)."""
    masses = np.asarray(masses, np.float64)
    cdf = np.concatenate([np.zeros(masses.shape[:-1] + (1,)), np.cumsum(masses, -1)], -1)
    flat = cdf.reshape(-1, cdf.shape[-1])
    at = np.stack([np.interp(edges, fp.edges, row) for row in flat])
    total = flat[:, -1:]
    out = np.concatenate([at[:, :1], np.diff(at, axis=-1), total - at[:, -1:]], axis=-1)
    return out.reshape(masses.shape[:-1] + (len(edges) + 1,))


def schedule_theory(fp: FokkerPlanck, lr_steps: np.ndarray, dt: float, initial_masses,
                    record_steps, *, valley_moment: float | np.ndarray = 0.0,
                    edges: np.ndarray | None = None, ks: Sequence[int] = (2, 3),
                    substeps: int = 1) -> dict[str, np.ndarray]:
    """Fokker–Planck prediction for one schedule given as its LR table.

    The river's cell masses come from `mj.evolve` (`fp` supplies grid and time
    convention; the LR of step `s` is `lr_steps[s]`, exactly the simulator's).
    The valley's second moment per coordinate follows, in every river cell,
    the Euler–Maruyama recursion `v <- (1 - mu a h)^2 v + 2 mu T h` from
    `valley_moment` (0 for particles started at `x = 0`). Shapes `(R,)` unless noted:

      river_loss  sum_i p_i V(y_i)
      valley_energy  sum_i p_i d a_i v_i / 2      (-> d T / 2 (1 - mu a h / 2)^-1)
      loss        their sum
      A_k         sum_i p_i u_k(y_i)  for k in `ks`
      masses      (R, n_grid) cell masses
      bin_masses  (R, n_bins + 2) `[below, bins..., above]` when `edges` is given

    Example:
      >>> th = schedule_theory(fp, batch.lr_steps[0], 1.0, fp.point_mass(-0.28), batch.steps)
    """
    lr_steps = np.asarray(lr_steps, np.float64)
    n_steps = len(lr_steps) - 1
    record_steps = np.asarray(record_steps, np.int64)
    table = lr_steps

    def schedule(t):
        return table[np.clip(np.rint(np.asarray(t, np.float64) / dt).astype(np.int64), 0, n_steps)]

    with warnings.catch_warnings():
        # Warm-ups from LR ~ 0 are below the grid's resolution for a few steps;
        # `evolve` warns about that, and it does not matter for what follows.
        warnings.simplefilter("ignore")
        ev = evolve(fp, initial_masses, schedule, dt, n_steps=n_steps, record_steps=record_steps,
                    substeps=substeps)
    land = fp.landscape
    with jax.enable_x64(True):
        c = jnp.asarray(fp.centres, jnp.float64)
        river = np.asarray(land.river(c))
        a = np.asarray(land.curvature(c))
    g = fp.dynamics.temperature_scale
    mu = lr_steps if fp.dynamics.time == "steps" else np.ones_like(lr_steps)
    v = np.broadcast_to(np.asarray(valley_moment, np.float64), a.shape).copy()
    v_rec = np.zeros((len(record_steps), len(a)))
    want = {int(s): k for k, s in enumerate(record_steps)}
    for s in range(n_steps + 1):
        if s in want:
            v_rec[want[s]] = v
        if s < n_steps:
            v = (1.0 - mu[s] * a * dt) ** 2 * v + 2.0 * mu[s] * g * lr_steps[s] * dt
    masses = ev.masses
    out = {
        "river_loss": masses @ river,
        "valley_energy": np.sum(masses * 0.5 * land.valley_dim * a * v_rec, axis=-1),
        "masses": masses,
    }
    out["loss"] = out["river_loss"] + out["valley_energy"]
    for k in ks:
        out[f"A_{k}"] = masses @ fp.left_eigenfunctions[k - 1]
    if edges is not None:
        out["bin_masses"] = extended_bin_masses(fp, masses, np.asarray(edges, np.float64))
    return out


def bath_equilibrium(fp: FokkerPlanck) -> dict[str, Any]:
    """The bath state of `fp`: loss `<V>_pi + d T_f / 2` (equipartition), `<V>_pi`, masses."""
    with jax.enable_x64(True):
        river = np.asarray(fp.landscape.river(jnp.asarray(fp.centres, jnp.float64)))
    pi = fp.stationary_masses
    river_loss = float(pi @ river)
    valley = 0.5 * fp.landscape.valley_dim * fp.temperature
    return {"loss": river_loss + valley, "river_loss": river_loss, "valley_energy": valley,
            "masses": pi}


def theory_observables(fp: FokkerPlanck, ks: Sequence[int] = (2, 3)) -> dict[str, Callable]:
    """Per-particle observables for `run_batch`: `A_k = u_k(y)` and `river_loss = V(y)`."""
    out = {}
    for k in ks:
        u = fp.left_eigenfunction(k)
        out[f"A_{k}"] = (lambda u_k: lambda x, y: u_k(y))(u)
    river = fp.landscape.river
    out["river_loss"] = lambda x, y: river(y)
    return out


# ---------------------------------------------------------------------------
# Distances of histograms
# ---------------------------------------------------------------------------
def tv_distance(counts: np.ndarray, reference: np.ndarray, *, predicted: np.ndarray | None = None,
                n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Total variation `0.5 sum |c / N - p_ref|` of a histogram and what noise does to it.

    `counts (K,)` and `reference (K,)` over the same cells (include the cells
    below and above the bins so both sum to 1). Returns `tv`; `se` (multinomial
    bootstrap of the histogram); `floor`, the mean TV of an `N`-particle sample
    of the reference itself (the bias of the estimator at zero distance,
    `~ sqrt(K / N)`); and with `predicted` cell probabilities, `expected`: the
    mean TV of `N`-particle samples of the prediction, which is what the
    measured `tv` should equal if the prediction is right.
    """
    counts = np.asarray(counts, np.int64)
    ref = np.clip(np.asarray(reference, np.float64), 0.0, None)
    ref = ref / ref.sum()
    n = int(counts.sum())
    if n == 0:
        raise ValueError("counts must hold at least one particle")
    rng = np.random.default_rng(seed)

    def tv_of(c):
        return 0.5 * np.abs(c / n - ref).sum(-1)

    out = {"tv": float(tv_of(counts)),
           "se": float(np.std(tv_of(rng.multinomial(n, counts / n, size=n_boot)), ddof=1)),
           "floor": float(np.mean(tv_of(rng.multinomial(n, ref, size=n_boot))))}
    if predicted is not None:
        p = np.clip(np.asarray(predicted, np.float64), 0.0, None)
        p = p / p.sum()
        out["expected"] = float(np.mean(tv_of(rng.multinomial(n, p, size=n_boot))))
        out["exact"] = float(0.5 * np.abs(p - ref).sum())
    return out


def tv_between(counts_a: np.ndarray, counts_b: np.ndarray, *, n_boot: int = 200,
               seed: int = 0) -> dict[str, float]:
    """Total variation `0.5 sum |a / N_a - b / N_b|` between two histograms of the same cells.

    Returns `tv`; `se` (multinomial bootstrap of both histograms); and `floor`,
    the mean TV of two samples of the sizes given drawn from the pooled
    histogram (what two samples of one distribution show).

    Example:
      >>> round(tv_between(np.array([50, 50]), np.array([30, 70]))["tv"], 6)
      0.2
    """
    a, b = np.asarray(counts_a, np.int64), np.asarray(counts_b, np.int64)
    if a.shape != b.shape:
        raise ValueError(f"histograms must have the same cells; got {a.shape} and {b.shape}")
    na, nb = int(a.sum()), int(b.sum())
    if na == 0 or nb == 0:
        raise ValueError("both histograms must hold at least one particle")
    rng = np.random.default_rng(seed)

    def tv_of(x, y):
        return 0.5 * np.abs(x / na - y / nb).sum(-1)

    pooled = (a + b) / (na + nb)
    return {"tv": float(tv_of(a, b)),
            "se": float(np.std(tv_of(rng.multinomial(na, a / na, size=n_boot),
                                     rng.multinomial(nb, b / nb, size=n_boot)), ddof=1)),
            "floor": float(np.mean(tv_of(rng.multinomial(na, pooled, size=n_boot),
                                         rng.multinomial(nb, pooled, size=n_boot))))}


# ---------------------------------------------------------------------------
# Special schedules of THEORY section 6
# ---------------------------------------------------------------------------
def _warm_stable(t, peak, warmup, stable, initial):
    warm = initial + (peak - initial) * jnp.clip(t / max(warmup, 1e-30), 0.0, 1.0)
    return jnp.where(t < warmup, warm, peak), warmup + stable


def _check_lr(name, value, positive=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}; got {v}")
    return v


def greedy_anneal(peak: float, curvature: float, *, warmup: float = 0.0, stable: float = 0.0,
                  final: float = 0.0, initial: float = 0.0) -> Callable:
    """Warm-up, stable at `peak`, then the greedy anneal of a harmonic valley.

    For discrete SGD on `0.5 a x^2` with gradient noise `sigma^2 = 2 g` per
    coordinate (`time="steps"`, step `dt`), the second moment obeys
    `v_{t+1} = (1 - a eta_t dt)^2 v_t + (2 g / dt) (eta_t dt)^2`; choosing each
    `eta_t` to minimise `v_{t+1}` gives `1 / v_{t+1} = 1 / v_t + a^2 dt / (2 g)`
    and, from the stationary `v_0` at `peak`, `eta(tau) = peak / (2 + a peak tau)`
    with `tau` the time since the anneal began: an immediate halving, then
    `1 / t`. The LR is floored at `final`. Each step minimises the next
    variance and the minimum is increasing in the current one, so no
    schedule of the same length ends with a smaller valley variance.

    Example:
      >>> s = greedy_anneal(0.05, 10.0, stable=100)
      >>> [round(float(s(t)), 6) for t in (99.0, 100.0, 102.0)]
      [0.05, 0.025, 0.016667]
    """
    peak = _check_lr("peak", peak)
    a = _check_lr("curvature", curvature)
    final, initial = _check_lr("final", final, False), _check_lr("initial", initial, False)
    if final > peak:
        raise ValueError(f"final must be <= peak; got final={final}, peak={peak}")
    warmup, stable = _check_lr("warmup", warmup, False), _check_lr("stable", stable, False)

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        before, t0 = _warm_stable(t, peak, warmup, stable, initial)
        anneal = jnp.maximum(peak / (2.0 + a * peak * (t - t0)), final)
        return jnp.where(t < t0, before, anneal)

    schedule.description = {"kind": "greedy_anneal", "peak": peak, "curvature": a,
                            "warmup": warmup, "stable": stable, "final": final,
                            "initial": initial}
    return schedule


def window_decay(window: DecayWindow, *, warmup: float = 0.0, stable: float = 0.0,
                 position: float = 0.5, initial: float = 0.0, n_points: int = 512) -> Callable:
    """Warm-up, stable, then a decay inside the window of THEORY section 6.

    The decay runs at `|d ln eta / dt| = r_min(eta)^(1 - position) r_max(eta)^position`
    between the window's bounds (`position = 0.5`: their geometric middle at
    every LR), from the window's peak to its bath LR, which it reaches after
    `D = integral d ln eta / r(eta)`; `.description["decay"]` holds `D`.

    Example:
      >>> w = mj.decay_window(mj.preset("box_wells"), 0.05, 0.01)
      >>> s = window_decay(w, warmup=100, stable=1000)
      >>> s.description["decay"] > 0
      True
    """
    position = float(position)
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"position must lie in [0, 1]; got {position}")
    peak, bath = float(window.lrs[0]), float(window.lrs[-1])
    initial = _check_lr("initial", initial, False)
    warmup, stable = _check_lr("warmup", warmup, False), _check_lr("stable", stable, False)
    log_lr = np.log(window.lrs[::-1])  # ascending
    log_rate = ((1 - position) * np.log(window.rate_min) + position * np.log(window.rate_max))[::-1]
    grid = np.linspace(np.log(peak), np.log(bath), n_points)  # descending in ln eta
    inv_rate = np.exp(-np.interp(grid, log_lr, log_rate))
    # t(ln eta) = integral from ln peak down to ln eta of d ln eta' / r.
    t_grid = np.concatenate([[0.0], np.cumsum(0.5 * (inv_rate[1:] + inv_rate[:-1]) * -np.diff(grid))])
    duration = float(t_grid[-1])
    t_tab, log_tab = jnp.asarray(t_grid), jnp.asarray(grid)

    def schedule(t):
        t = jnp.asarray(t, jnp.result_type(float, t))
        before, t0 = _warm_stable(t, peak, warmup, stable, initial)
        decay = jnp.exp(jnp.interp(t - t0, t_tab.astype(t.dtype), log_tab.astype(t.dtype)))
        return jnp.where(t < t0, before, jnp.where(t - t0 >= duration, bath, decay))

    schedule.description = {"kind": "window_decay", "peak": peak, "final": bath,
                            "warmup": warmup, "stable": stable, "decay": duration,
                            "position": position, "initial": initial}
    return schedule


def lr_sum(schedule, n_steps: int, dt: float) -> float:
    """`dt * sum_{s < n_steps} schedule(s dt)`: the area under the piecewise-constant LR
    (the elapsed time of the `lr_area` convention; for `dt = 1`, the sum of step LRs)."""
    table = (np.asarray(schedule, np.float64) if not callable(schedule)
             else evaluate_schedule(schedule, np.arange(n_steps) * dt))
    return float(dt * np.sum(table[:n_steps]))


def match_lr_sum(build: Callable[[float], Callable], target: float, n_steps: int, dt: float,
                 bracket: tuple[float, float]) -> tuple[float, Callable]:
    """The parameter `p` in `bracket` with `lr_sum(build(p)) = target`, and `build(p)`.

    `build` maps a parameter (typically the plateau LR) to a schedule; its LR
    sum must be monotone in it on the bracket.
    """
    import scipy.optimize

    lo, hi = (float(v) for v in bracket)
    f = lambda p: lr_sum(build(p), n_steps, dt) - target  # noqa: E731
    f_lo, f_hi = f(lo), f(hi)
    if f_lo * f_hi > 0:
        raise ValueError(
            f"no parameter in [{lo:g}, {hi:g}] gives LR sum {target:g}: the sums there are "
            f"{f_lo + target:g} and {f_hi + target:g}")
    p = float(scipy.optimize.brentq(f, lo, hi, xtol=1e-12 * hi, rtol=1e-12))
    return p, build(p)
