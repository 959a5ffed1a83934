"""Runs over several processes (JAX's multi-controller runtime, `jax.distributed`).

Every process runs the same program; the particles' noise blocks of a chunk
are sharded over the devices of all processes (`make_plan` takes
`jax.devices()` when there is more than one process), each process holds and
advances the blocks of its own devices, and what is reduced (histogram
counts; per-block sums, gathered in block order) is the same in every
process, so the result is bit for bit that of one process (tested with two
local processes). Only process 0 writes results and figures and shows
progress (in particles of the whole run); each process writes its own
checkpoint file (`checkpoint`).

Failure: a process that raises exits; the others stop at their next
collective operation with a coordination error (at most the heartbeat
timeout later) instead of waiting for ever. `describe_failure` turns that
error into a message that says so.

Start: `initialize()` with no arguments detects SLURM, Open MPI and other
cluster environments (`jax.distributed.initialize`'s auto-detection); or give
`coordinator="host:port"`, `num_processes` and `process_id`.
"""

from __future__ import annotations

import jax

__all__ = ["initialize", "is_writer", "process_info", "describe_failure"]


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, heartbeat_timeout: int = 100) -> dict:
    """Join this process to a multi-process run; returns `process_info()`.

    With all of `coordinator`, `num_processes`, `process_id` given they are
    used; with none, the cluster environment is detected. On CPU the
    processes exchange data by Gloo collectives.
    """
    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise ValueError("give all of coordinator (HOST:PORT), num_processes and process_id, "
                         "or none of them (auto-detection); got "
                         f"coordinator={coordinator!r}, num_processes={num_processes!r}, "
                         f"process_id={process_id!r}")
    if all(given):
        if not (isinstance(num_processes, int) and num_processes >= 1):
            raise ValueError(f"num_processes must be an integer >= 1; got {num_processes!r}")
        if not (isinstance(process_id, int) and 0 <= process_id < num_processes):
            raise ValueError(f"process_id must be an integer in [0, num_processes={num_processes}); "
                             f"got {process_id!r}")
        if not (isinstance(coordinator, str) and ":" in coordinator):
            raise ValueError(f"coordinator must be HOST:PORT; got {coordinator!r}")
    if jax.distributed.is_initialized():
        return process_info()
    # CPU devices of different processes need a collectives library (no effect on GPU/TPU).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id,
                                   heartbeat_timeout_seconds=int(heartbeat_timeout))
    except ValueError as e:
        if all(given):
            raise
        raise ValueError(
            "found no cluster environment to detect the processes of the run from (SLURM, "
            "Open MPI, Kubernetes, ...): give coordinator HOST:PORT, num_processes N and "
            f"process_id I (CLI: --coordinator, --num-processes, --process-id); JAX said: {e}"
        ) from None
    return process_info()


def is_writer() -> bool:
    """Whether this process writes results, figures and progress (process 0)."""
    return jax.process_index() == 0


def process_info() -> dict:
    """This process's index, the number of processes and the devices of the run."""
    return {"process_index": jax.process_index(), "process_count": jax.process_count(),
            "local_devices": jax.local_device_count(), "devices": jax.device_count()}


def describe_failure(error: BaseException) -> str:
    """A message for an error raised in one process of a multi-process run."""
    info = process_info()
    where = f"process {info['process_index']} of {info['process_count']}"
    text = f"{type(error).__name__}: {error}"
    if any(k in text for k in ("Coordination", "DEADLINE_EXCEEDED", "heartbeat", "Gloo",
                               "UNAVAILABLE")):
        return (f"{where} stopped: another process of the run failed or stopped answering "
                f"(its own error is in its output); here: {text[:300]}")
    return f"{where} failed: {text}"
