"""The driver: one chunk loop for every run, from one schedule to a batch.

`execute(plan)` runs a checked `RunPlan` and returns its `BatchResult`.

Layout. Particles live in noise blocks of `block_size` (see `noise`); a chunk
holds `chunk_blocks` whole blocks of every schedule, `x (cb, B, d)`,
`y (cb, B)` per schedule, sharded over `devices` along the block axis. Each
chunk is initialised (the same state for every schedule), run through every
step, schedule after schedule by the same compiled kernels (`kernels`), and
recorded; its integer counts and float64 sums are added on the host: counts in
int64; sums block after block in block order (`cumsum` is sequential), so the
float64 rounding is the same however blocks are split into chunks or devices;
group sums (`n_groups` contiguous groups of blocks) the same way. Neither the
chunk size nor the device count changes any number of the result.

Inside a chunk, steps run in a `lax.fori_loop` between record steps; the
driver returns to Python only to record and, about twice a second
(`seconds_per_call`), to report progress, check for non-finite particles and
checkpoint. Checkpoints (`checkpoint.CheckpointStore`) hold the state between
two compiled calls; no random-number state needs saving, because the noise of
step `s` is a function of `(seed, s, block)` alone.
"""

from __future__ import annotations

import dataclasses
import platform
import time as _time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..io.progress import Progress
from ..record import BatchResult
from . import initial as _initial
from . import kernels as _kernels
from . import noise as _noise
from . import recording as _recording
from .checkpoint import CheckpointStore, local_blocks
from .plan import RunPlan

__all__ = ["execute", "SimulationDiverged", "Totals"]


class SimulationDiverged(RuntimeError):
    """Particles became non-finite. Carries `step`, `time`, `lr` of the first
    offending step, the number of such particles, the names of the schedules
    they belong to, and `partial_result`: the records taken before it
    (possibly of fewer particles, see its metadata)."""

    def __init__(self, message, *, step, time, lr, n_nonfinite, partial_result, schedules=()):
        super().__init__(message)
        self.step, self.time, self.lr = step, time, lr
        self.n_nonfinite = n_nonfinite
        self.partial_result = partial_result
        self.schedules = tuple(schedules)


@dataclasses.dataclass
class Totals:
    """Host accumulators of a run: `counts (S, R, H, n_bins + 3)` int64 (underflow,
    bins, overflow, non-finite; `H` histogram groups: 1, or `G` with group
    histograms), `sums (S, R, n_terms)` and `group_sums (S, R, G, n_terms)` float64."""

    counts: np.ndarray
    sums: np.ndarray
    group_sums: np.ndarray

    @classmethod
    def zeros(cls, n_schedules, n_records, n_bins, n_terms, n_groups, n_histograms) -> Totals:
        return cls(np.zeros((n_schedules, n_records, n_histograms, n_bins + 3), np.int64),
                   np.zeros((n_schedules, n_records, n_terms), np.float64),
                   np.zeros((n_schedules, n_records, n_groups, n_terms), np.float64))

    def add(self, i: int, r: int, counts, block_sums: np.ndarray, group_of: np.ndarray) -> None:
        """Add one chunk's record `r` of schedule `i`: `counts (H, n_bins + 3)`,
        `block_sums (cb, n_terms)`, `group_of (cb,)` the group of each block."""
        self.counts[i, r] += np.asarray(counts, np.int64)
        # One block after another, in block order: `cumsum` is sequential.
        self.sums[i, r] = np.cumsum(np.concatenate([self.sums[i, r][None], block_sums]),
                                    axis=0)[-1]
        np.add.at(self.group_sums[i, r], group_of, block_sums)


# Target wall time of one compiled call between progress updates (a knob for tests).
seconds_per_call = 0.5


def execute(plan: RunPlan, *, progress: bool = True, checkpoint: CheckpointStore | None = None,
            label: str = "simulate") -> BatchResult:
    """Run a checked `RunPlan`; return its `BatchResult` (see the module docstring).

    Raises `SimulationDiverged` (with the records taken before it) when
    particles become non-finite and `plan.on_nonfinite == "raise"`.
    """
    if plan.dtype == jnp.float64:
        with jax.enable_x64(True):
            return _execute(plan, progress, checkpoint, label)
    return _execute(plan, progress, checkpoint, label)


def _execute(plan: RunPlan, progress: bool, store: CheckpointStore | None,
             label: str) -> BatchResult:
    start = _time.perf_counter()
    S, B, cb = plan.n_schedules, plan.block_size, plan.chunk_blocks
    advance, first_bad = _kernels.step_kernels(plan.landscape, plan.dynamics, plan.integrator,
                                               B, plan.dtype, plan.noise)
    n_hist = plan.n_groups if plan.group_histograms else 1
    record = _kernels.record_kernel(plan.landscape, tuple(plan.bins.edges.tolist()),
                                    plan.bins.uniform, plan.observables, n_hist)
    mesh = Mesh(np.array(plan.devices), ("p",))
    by_block = NamedSharding(mesh, PartitionSpec("p"))
    replicated = NamedSharding(mesh, PartitionSpec())
    root = _noise.root_key(plan.seed, plan.generator)
    tables = [jax.device_put(jnp.asarray(t, plan.dtype), replicated) for t in plan.lr_table]
    dt = jnp.asarray(plan.dt, plan.dtype)
    initial_state = _initial_states(plan, root, replicated, by_block)

    names = _recording.term_names(tuple(n for n, _ in plan.observables))
    R = len(plan.record_steps)
    totals = Totals.zeros(S, R, plan.bins.n_bins, len(names), plan.n_groups, n_hist)
    if store is not None:  # what this process holds: its blocks of every chunk
        ids = jax.device_put(jnp.arange(cb, dtype=jnp.uint32), by_block)
        store.layout = {"process_index": jax.process_index(),
                        "process_count": jax.process_count(),
                        "devices": len(plan.devices), "blocks": list(local_blocks(ids)[1])}
    saved = store.load() if store is not None else None
    if saved is not None:
        totals = Totals(saved.counts, saved.sums, saved.group_sums)
    first_chunk = saved.chunk if saved is not None else 0
    # One progress line for the whole run (process 0's), in global particle-steps.
    bar = Progress(S * plan.n_blocks * B * plan.n_steps,
                   enabled=progress and jax.process_index() == 0, label=label)
    done = float(first_chunk * S * cb * B * plan.n_steps)
    steps_per_call = max(1, (1 << 22) // (S * cb * B))

    for c in range(first_chunk, plan.n_chunks):
        ids = np.arange(c * cb, (c + 1) * cb, dtype=np.uint32)
        index = ids[:, None].astype(np.int64) * B + np.arange(B)
        valid = jax.device_put(jnp.asarray(index < plan.n_particles), by_block)
        block_ids = jax.device_put(jnp.asarray(ids), by_block)
        group_of = np.minimum(ids.astype(np.int64) * plan.n_groups // plan.n_blocks,
                              plan.n_groups - 1)
        histogram_of = jax.device_put(jnp.asarray(group_of if n_hist > 1 else 0 * group_of,
                                                  jnp.int32), by_block)
        # Every schedule starts from the same state; each advances by its own
        # calls of the one compiled kernel (see `kernels`).
        xs, ys = (list(v) for v in zip(*[initial_state(block_ids, index)] * S))
        s = 0
        if saved is not None and saved.x is not None and c == first_chunk:
            # Resume inside this chunk: records at steps < s are in the totals.
            xs = [jax.make_array_from_process_local_data(by_block, v, x0.shape)
                  for v, x0 in zip(saved.x, xs)]
            ys = [jax.make_array_from_process_local_data(by_block, v, y0.shape)
                  for v, y0 in zip(saved.y, ys)]
            s = saved.step
            done += s * S * cb * B
        last_saved = s
        for r, target in enumerate(plan.record_steps):
            if target < s:
                continue
            while s < target:
                n = int(min(steps_per_call, target - s))
                t0 = _time.perf_counter()
                moved = [advance(root, xs[i], ys[i], block_ids, tables[i], dt, np.int32(s),
                                 np.int32(n)) for i in range(S)]
                n_bad = np.array([int(m[2]) for m in moved])  # one host sync per call
                if n_bad.any() and plan.on_nonfinite == "raise":
                    bar.close()
                    bad = np.array([int(first_bad(root, xs[i], ys[i], block_ids, tables[i], dt,
                                                  np.int32(s), np.int32(n)))
                                    if n_bad[i] else -1 for i in range(S)])
                    raise _diverged(plan, bad, n_bad, totals, r, (c + 1) * cb * B, start)
                xs, ys = [m[0] for m in moved], [m[1] for m in moved]
                s += n
                done += n * S * cb * B
                bar.update(done)
                elapsed = _time.perf_counter() - t0
                steps_per_call = int(np.clip(n * seconds_per_call / max(elapsed, 1e-4),
                                             1, 4 * max(n, steps_per_call)))
                if store is not None and s - last_saved >= store.every:
                    # Before the record at `s` (if any): resuming takes it.
                    store.save(c, s, np.stack([local_blocks(v)[0] for v in xs]),
                               np.stack([local_blocks(v)[0] for v in ys]), totals, plan.lr_table)
                    last_saved = s
            for i in range(S):
                counts, block_sums = record(xs[i], ys[i], valid, histogram_of)
                totals.add(i, r, counts, _gather(block_sums), group_of)
        if store is not None:
            store.save(c + 1, 0, None, None, totals, plan.lr_table)
    bar.close()
    _warn_nonfinite_sums(totals.sums, names)
    return _records(plan, totals, names, plan.n_particles, start)


def _warn_nonfinite_sums(sums: np.ndarray, names) -> None:
    """Non-finite particles are counted, not summed; a finite particle whose term
    overflowed (an observable returning inf or nan, a float32 power of a far `y`)
    still leaves an inf or nan sum `(S, R, n_terms)`: say which, never silently."""
    bad = ~np.all(np.isfinite(sums), axis=(0, 1))
    if bad.any():
        warnings.warn(f"the sums of {[n for n, b in zip(names, bad) if b]} are not finite: a "
                      "finite particle's term overflowed or an observable returned inf/nan; "
                      "their moments are unusable (histograms are not affected)",
                      RuntimeWarning, stacklevel=3)


def _initial_states(plan: RunPlan, root, replicated, by_block):
    """`state(block_ids, index) -> (x (cb, B, d), y (cb, B))`: a chunk's initial state."""
    init, d = plan.init, plan.landscape.valley_dim
    if isinstance(init, _initial.Arrays):
        def from_arrays(block_ids, index):
            take = np.minimum(index, plan.n_particles - 1)  # padding repeats the last one
            x = init.x[take].reshape(index.shape + (d,))
            return (jax.device_put(jnp.asarray(x, plan.dtype), by_block),
                    jax.device_put(jnp.asarray(init.y[take], plan.dtype), by_block))
        return from_arrays
    kind = ("point" if isinstance(init, _initial.Point) else
            "chain" if isinstance(init, _initial.ChainState) else "equilibrium")
    sample = _kernels.init_kernel(plan.landscape, plan.block_size, plan.dtype, kind)
    params = jax.tree.map(lambda v: jax.device_put(jnp.asarray(v, plan.dtype), replicated),
                          _initial.sampler_params(init, plan.landscape, plan.dynamics))
    return lambda block_ids, index: sample(root, block_ids, params)


def _gather(block_sums: jax.Array) -> np.ndarray:
    """Every block's sums `(cb, n_terms)` on this host, in block order; across
    processes on a multi-host run (`jax.distributed`), where each holds only its blocks."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        block_sums = multihost_utils.process_allgather(block_sums, tiled=True)
    return np.asarray(block_sums, np.float64)


def _records(plan: RunPlan, totals: Totals, names, n_recorded, start, n_records=None):
    """The `BatchResult` of the first `n_records` records of `totals`."""
    R = len(plan.record_steps) if n_records is None else n_records
    group_counts = totals.counts[:, :R]
    counts = group_counts.sum(axis=2)
    devices = plan.devices
    metadata = {
        "names": list(plan.names),
        "schedules": [dict(s) for s in plan.schedules],
        "n_schedules": plan.n_schedules,
        "landscape": plan.landscape.describe(),
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
        "n_groups": plan.n_groups,
        "group_histograms": plan.group_histograms,
        "observables": [n for n, _ in plan.observables],
        "devices": {"count": len(devices), "kind": devices[0].device_kind,
                    "platform": devices[0].platform},
        "versions": versions(),
        "wall_seconds": _time.perf_counter() - start,
    }
    return BatchResult(
        names=plan.names, steps=plan.record_steps[:R], lr_steps=plan.lr_table,
        bin_edges=plan.bins.edges, counts=counts[..., 1:-2], underflow=counts[..., 0],
        overflow=counts[..., -2], nonfinite=counts[..., -1], sums=totals.sums[:, :R],
        sum_names=names, group_sums=totals.group_sums[:, :R], metadata=metadata,
        group_counts=group_counts if plan.group_histograms else None)


def _diverged(plan, first_bad, n_bad, totals, r, n_recorded, start) -> SimulationDiverged:
    names = _recording.term_names(tuple(n for n, _ in plan.observables))
    partial = _records(plan, totals, names, n_recorded, start, n_records=r)
    hit = [i for i in range(plan.n_schedules) if first_bad[i] >= 0]
    i = min(hit, key=lambda j: first_bad[j])
    step = int(first_bad[i])
    partial.metadata["diverged_at_step"] = step
    t, lr = step * plan.dt, float(plan.lr_table[i, step])
    where = "" if plan.n_schedules == 1 else f" in schedule(s) {[plan.names[j] for j in hit]}"
    return SimulationDiverged(
        f"{int(n_bad.sum())} particle(s) became non-finite at step {step} (t={t:g}, "
        f"lr={lr:g}){where}; kept the {r} record(s) taken before it in .partial_result. "
        "Reduce dt or the LR.",
        step=step, time=t, lr=lr, n_nonfinite=int(n_bad.sum()), partial_result=partial,
        schedules=[plan.names[j] for j in hit])


def versions() -> dict:
    """Versions of the package and of what it runs on, for result metadata."""
    import optax

    from .. import __version__
    return {"mpemba_jax": __version__, "jax": jax.__version__,
            "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
            "optax": optax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
