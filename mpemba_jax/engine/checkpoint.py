"""Checkpoints of a running simulation: write atomically, resume bit-identically.

A run's state between compiled calls is small and complete:

    (chunk c, step s, x (S, cb, B, d), y (S, cb, B),
     counts (S, R, n_bins + 3) int64, sums (S, R, n_terms) float64,
     group_sums (S, R, G, n_terms) float64)

and the file also carries the run's LR table `(S, n_steps + 1)` (the currency
of a run: what a reader of the checkpoint needs to know what ran).
Nothing else is needed, because the noise of step `s` for block `b` is keyed
by `(seed, s, b)` alone (see `noise`): there is no generator state to save.
Records taken so far are in `counts`/`sums`; the records still due are those
at steps `>= s` (a record at step `s` itself is taken after the checkpoint).

The whole state goes into one file, `checkpoint.npz`, written to a temporary
name in the same directory, flushed to disk and renamed over the old one:
a kill at any moment leaves either the previous checkpoint or the new one.
The file carries a fingerprint of the run (every field of the plan that
changes a number, hashed) and a SHA-256 of its arrays, so resuming a different
run, or from a truncated or edited file, fails with an error naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Checkpoint", "CheckpointStore", "fingerprint", "save_checkpoint", "load_checkpoint",
           "FILENAME"]

FILENAME = "checkpoint.npz"
# Fields of a RunPlan that do not change any number of the result.
_NEUTRAL = {"devices", "schedules", "names"}


@dataclasses.dataclass
class Checkpoint:
    """The state of a run after chunk `chunk` reached step `step`.

    `x`, `y` are `None` at a chunk boundary (`step == 0`: the chunk starts
    from its initial state).
    """

    chunk: int
    step: int
    x: np.ndarray | None
    y: np.ndarray | None
    counts: np.ndarray
    sums: np.ndarray
    group_sums: np.ndarray
    lr_table: np.ndarray


def fingerprint(plan: Any) -> str:
    """SHA-256 over every field of a `RunPlan` that can change a result."""
    h = hashlib.sha256()
    for field in dataclasses.fields(plan):
        if field.name in _NEUTRAL:
            continue
        h.update(field.name.encode())
        _feed(h, getattr(plan, field.name))
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            h.update(f.name.encode())
            _feed(h, getattr(value, f.name))
    elif hasattr(value, "describe"):
        h.update(json.dumps(value.describe(), sort_keys=True, default=str).encode())
    elif isinstance(value, (tuple, list)):
        for v in value:
            _feed(h, v)
    elif callable(value):
        h.update(getattr(value, "__qualname__", type(value).__name__).encode())
    else:
        h.update(repr(value).encode())


def save_checkpoint(directory: str | os.PathLike, run_fingerprint: str, state: Checkpoint) -> Path:
    """Write `state` to `directory/checkpoint.npz` atomically (temp file, fsync, rename)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"counts": state.counts, "sums": state.sums, "group_sums": state.group_sums,
              "lr_table": state.lr_table}
    if state.x is not None:
        arrays.update(x=state.x, y=state.y)
    header = {"fingerprint": run_fingerprint, "chunk": state.chunk, "step": state.step,
              "arrays_sha256": _digest(arrays)}
    for stale in directory.glob(".checkpoint-*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    buf = io.BytesIO()
    np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        target = directory / FILENAME
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return target


def load_checkpoint(directory: str | os.PathLike, run_fingerprint: str) -> Checkpoint | None:
    """The checkpoint in `directory`, or `None` if there is none.

    Raises `ValueError` naming the file if it is unreadable, altered, or
    belongs to a different run (another landscape, schedule, seed, ...).
    """
    path = Path(directory) / FILENAME
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        header = json.loads(bytes(data.pop("header")).decode())
    except Exception as e:  # noqa: BLE001 - any failure to parse is a corrupt file
        raise ValueError(f"checkpoint file {path} is unreadable ({type(e).__name__}: {e}); "
                         "delete it to start the run afresh") from None
    if _digest(data) != header.get("arrays_sha256"):
        raise ValueError(f"checkpoint file {path} fails its checksum (truncated or edited); "
                         "delete it to start the run afresh")
    if header.get("fingerprint") != run_fingerprint:
        raise ValueError(
            f"checkpoint file {path} belongs to a different run (landscape, schedule, seed, "
            "particles, steps, records, bins, dtype, integrator or chunk size differ); "
            "resume with the original arguments or use another checkpoint directory")
    return Checkpoint(chunk=int(header["chunk"]), step=int(header["step"]),
                      x=data.get("x"), y=data.get("y"), counts=data["counts"], sums=data["sums"],
                      group_sums=data["group_sums"], lr_table=data["lr_table"])


@dataclasses.dataclass(frozen=True)
class CheckpointStore:
    """Where and how often a run checkpoints: `directory`, the run's `fingerprint`,
    every `every` steps, and whether an existing checkpoint may be resumed."""

    directory: Path
    fingerprint: str
    every: int
    resume: bool

    def load(self) -> Checkpoint | None:
        """The checkpoint to resume from (`None`: start afresh); refuses to
        start over an existing checkpoint unless `resume`."""
        if (self.directory / FILENAME).exists() and not self.resume:
            raise FileExistsError(
                f"{self.directory / FILENAME} holds a checkpoint of an earlier run; "
                "pass resume=True (CLI: --resume) to continue it, or remove it")
        return load_checkpoint(self.directory, self.fingerprint)

    def save(self, chunk: int, step: int, x, y, totals, lr_table: np.ndarray) -> None:
        """Write the state after `chunk` reached `step` (`x`, `y` `None` at a chunk
        boundary); `totals` has `counts`, `sums`, `group_sums`."""
        save_checkpoint(self.directory, self.fingerprint, Checkpoint(
            chunk, step, None if x is None else np.asarray(x), None if y is None else np.asarray(y),
            totals.counts, totals.sums, totals.group_sums, lr_table))


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
