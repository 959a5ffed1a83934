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
import time as _time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .engine import initial as _initial
from .engine import integrators as _integrators
from .engine import noise as _noise
from .engine import recording as _recording
from .engine.integrators import make_step
from .landscape import ValleyRiver
from .io.progress import Progress
from .io.results import SimulationResult
from .schedules import describe_schedule, evaluate_schedule
from .engine.driver import SimulationDiverged, plan_run

__all__ = ["BatchResult", "run_batch"]

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
            sums=self.sums[i], sum_names=self.sum_names, metadata=meta,
            lr_steps=self.lr_steps[i])


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
