"""`simulate` and `run_batch`: one engine, one schedule or many.

Both plan the run (`plan.make_plan`: every check before anything compiles),
then execute it with the one driver (`driver.execute`). `simulate` is the
batch of one schedule, returned as a `SimulationResult` (the record's view
with the schedule axis dropped).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..landscape import ValleyRiver
from ..record import BatchResult, SimulationResult
from .checkpoint import CheckpointStore, fingerprint
from .driver import SimulationDiverged, execute
from .plan import make_plan, positive_int

__all__ = ["simulate", "run_batch"]


def simulate(
    landscape: ValleyRiver,
    schedule,
    *,
    n_particles: int,
    n_steps: int | None = None,
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
    n_groups: int = 64,
    group_histograms: bool = False,
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
        time in the `time` convention. Step `s` uses `schedule(s * dt)`. Or an
        LR table `(n_steps + 1,)`: the LR of every step.
      n_particles, n_steps, dt: ensemble size, number of steps (implied by an
        LR table), step size.
      seed: integer seed; see `noise` for what it keys.
      init: `mj.equilibrium(lr)`, `mj.point(y, x)`, or arrays `(x (N, d), y (N,))`;
        default: equilibrium at the LR of step 0.
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
        (A finite particle's overflowing term, e.g. an observable returning
        inf, is summed: the run warns, naming the non-finite sums.)
      n_groups: contiguous groups of noise blocks whose sums are kept
        (`group_sums`) as independent replicates.
      group_histograms: also keep each group's histogram (`group_counts`), so
        that the run is `n_groups` independent replicate runs
        (`result.replicates()`): many null runs in one compiled run.
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
    plan = make_plan(
        landscape, {"schedule": schedule}, n_particles=n_particles, n_steps=n_steps, dt=dt,
        seed=seed, init=init, record_every=record_every, record_steps=record_steps, bins=bins,
        bin_range=bin_range, observables=observables, time=time,
        temperature_scale=temperature_scale, dtype=dtype, integrator=integrator,
        generator=generator, noise=noise, block_size=block_size, chunk_size=chunk_size,
        devices=devices, on_nonfinite=on_nonfinite, n_groups=n_groups,
        group_histograms=group_histograms, single=True)
    store = _store(plan, checkpoint, checkpoint_every, resume)
    try:
        batch = execute(plan, progress=progress, checkpoint=store, label="simulate")
    except SimulationDiverged as e:
        e.partial_result = SimulationResult(e.partial_result)
        raise
    return SimulationResult(batch)


def run_batch(
    landscape: ValleyRiver,
    schedules,
    *,
    n_particles: int,
    n_steps: int | None = None,
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
    n_groups: int = 64,
    group_histograms: bool = False,
    progress: bool = True,
    label: str = "compare",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
) -> BatchResult:
    """Run a batch of schedules, `n_particles` each, in one compiled program.

    Every schedule draws the same noise (common random numbers), so schedule
    `i` of a batch gives bit for bit what `simulate` gives for it alone with
    the same seed, and differences between schedules are far less noisy than
    either run (`paired_difference`). Every argument is checked as `simulate`
    checks it, before any compilation, and every option of `simulate` works
    here. Arguments are those of `simulate`, except:

    Args:
      schedules: `{name: schedule}` or a list; a schedule is a callable `t -> lr`
        (optax schedules unwrapped) or an LR table `(n_steps + 1,)` of the LR of
        every step. All tables of a batch must have the same length.
      n_steps: steps of the batch (implied by LR tables).
      init: one initial state for every schedule (default: equilibrium at the
        first schedule's LR of step 0).
      bins, bin_range: common to the batch; default range: the support at the
        hottest LR of any schedule (or the domain).
      chunk_size: particles *of each schedule* held at once (whole blocks);
        memory is about `S * chunk_size` particles. Does not change results.
      n_groups: contiguous groups of noise blocks whose sums are kept for
        paired standard errors (`paired_difference`).
      label: the progress line's label.

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
    plan = make_plan(
        landscape, schedules, n_particles=n_particles, n_steps=n_steps, dt=dt, seed=seed,
        init=init, record_every=record_every, record_steps=record_steps, bins=bins,
        bin_range=bin_range, observables=observables, time=time,
        temperature_scale=temperature_scale, dtype=dtype, integrator=integrator,
        generator=generator, noise=noise, block_size=block_size, chunk_size=chunk_size,
        devices=devices, on_nonfinite=on_nonfinite, n_groups=n_groups,
        group_histograms=group_histograms)
    store = _store(plan, checkpoint, checkpoint_every, resume)
    return execute(plan, progress=progress, checkpoint=store, label=label)


def _store(plan, checkpoint, every, resume) -> CheckpointStore | None:
    if checkpoint is None:
        return None
    return CheckpointStore(Path(checkpoint), fingerprint(plan),
                           positive_int("checkpoint_every", every), bool(resume))
