"""`--distributed` and friends for the subcommands that run simulations.

`add_arguments(parser)` adds the flags; `start(args)` joins the run before any
JAX computation (`engine.distributed.initialize`); `quiet_outputs(args)`
points a non-writing process's output paths at a scratch directory and mutes
its standard output, so that only process 0 writes results, figures and
reports while every process runs the same code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..engine import distributed

__all__ = ["add_arguments", "start", "quiet_outputs", "requested"]

# Output paths of the subcommands that a non-writing process must not touch.
_OUTPUTS = ("out", "figure", "report_dir")


def add_arguments(parser) -> None:
    g = parser.add_argument_group(
        "multi-process runs (jax.distributed: one process per host or GPU)")
    g.add_argument("--distributed", action="store_true",
                   help="join a multi-process run, detecting SLURM / Open MPI / Kubernetes "
                        "(or use --coordinator, --num-processes, --process-id)")
    g.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                   help="address of process 0's coordinator (implies --distributed)")
    g.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help="number of processes of the run")
    g.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="this process's index, 0 .. N-1")
    g.add_argument("--heartbeat-timeout", type=int, default=100, metavar="SECONDS",
                   help="how long the others wait for a silent process before stopping "
                        "(default 100)")


def requested(args, section: dict | None = None) -> bool:
    """Whether the flags (or a config's `[distributed]` section) ask for a multi-process run."""
    section = section or {}
    return bool(getattr(args, "distributed", False) or getattr(args, "coordinator", None)
                or section.get("enabled", False) or section.get("coordinator"))


def start(args, section: dict | None = None) -> dict | None:
    """Join the multi-process run the flags (over the config's `[distributed]`
    section) describe; `None` for a single-process run."""
    if not requested(args, section):
        return None
    section = section or {}
    pick = lambda flag, key: flag if flag is not None else section.get(key)  # noqa: E731
    return distributed.initialize(
        pick(getattr(args, "coordinator", None), "coordinator"),
        pick(getattr(args, "num_processes", None), "num_processes"),
        pick(getattr(args, "process_id", None), "process_id"),
        heartbeat_timeout=pick(getattr(args, "heartbeat_timeout", None), "heartbeat_timeout")
        or 100)


@contextlib.contextmanager
def quiet_outputs(args):
    """On a process other than 0: output paths into a scratch directory removed
    afterwards, standard output muted. On process 0 (or alone): nothing."""
    if distributed.is_writer():
        yield
        return
    scratch = Path(tempfile.mkdtemp(prefix="mpemba-jax-process-"))
    for name in _OUTPUTS:
        if getattr(args, name, None) is not None:
            setattr(args, name, scratch / name)
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        try:
            yield
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def fail(command: str, error: BaseException) -> int:
    """Report an error of a multi-process run on standard error; the exit status."""
    print(f"mpemba-jax {command}: error: {distributed.describe_failure(error)}", file=sys.stderr)
    return 2 if isinstance(error, (ValueError, FileExistsError)) else 1
