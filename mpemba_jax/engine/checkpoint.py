"""Checkpoints of a running simulation: write atomically, resume bit-identically.

A run's state between compiled calls is small and complete:

    (chunk c, step s, x (S, cb, B, d), y (S, cb, B),
     counts (S, R, H, n_bins + 3) int64, sums (S, R, n_terms) float64,
     group_sums (S, R, G, n_terms) float64)

and the file also carries the run's LR table `(S, n_steps + 1)` (the currency
of a run: what a reader of the checkpoint needs to know what ran).
Nothing else is needed, because the noise of step `s` for block `b` is keyed
by `(seed, s, b)` alone (see `noise`): there is no generator state to save.
Records taken so far are in `counts`/`sums`; the records still due are those
at steps `>= s` (a record at step `s` itself is taken after the checkpoint).

One process: the whole state goes into one file, `checkpoint.npz`, written to
a temporary name in the same directory, flushed to disk and renamed over the
old one: a kill at any moment leaves either the previous checkpoint or the new
one. The file carries a fingerprint of the run (every field of the plan that
changes a number, hashed) and a SHA-256 of its arrays, so resuming a different
run, or from a truncated or edited file, fails with an error naming the file.

Several processes (`jax.distributed`): process `i` of `n` writes only the
blocks it holds, `x`, `y` of its devices, to `checkpoint-i-of-n.npz`, and keeps
its previous checkpoint as `checkpoint-i-of-n.prev.npz` (renamed, atomically,
before the new one is written). Each checkpoint has a generation number. A
process killed between two writes leaves the others one generation ahead, so
on resume the processes exchange the generations they hold and all load the
newest one every process has. Resuming with another number of processes or
another layout of blocks on them is refused, naming what changed.
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

import jax
import numpy as np

__all__ = ["Checkpoint", "CheckpointStore", "fingerprint", "save_checkpoint", "load_checkpoint",
           "checkpoint_file", "FILENAME"]

FILENAME = "checkpoint.npz"
# Fields of a RunPlan that do not change any number of the result.
_NEUTRAL = {"devices", "schedules", "names"}


@dataclasses.dataclass
class Checkpoint:
    """The state of a run after chunk `chunk` reached step `step`.

    `x`, `y` are this process's blocks, `(S, cb_local, B, d)` and
    `(S, cb_local, B)`, or `None` at a chunk boundary (`step == 0`: the chunk
    starts from its initial state). `layout` says which process wrote it, out
    of how many, on how many devices, and which blocks of a chunk it holds.
    """

    chunk: int
    step: int
    x: np.ndarray | None
    y: np.ndarray | None
    counts: np.ndarray
    sums: np.ndarray
    group_sums: np.ndarray
    lr_table: np.ndarray
    generation: int = 0
    layout: dict | None = None


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


def checkpoint_file(process_index: int = 0, process_count: int = 1) -> str:
    """The file name process `process_index` of `process_count` writes."""
    if process_count == 1:
        return FILENAME
    return f"checkpoint-{process_index}-of-{process_count}.npz"


def save_checkpoint(directory: str | os.PathLike, run_fingerprint: str, state: Checkpoint, *,
                    name: str = FILENAME, keep_previous: bool = False) -> Path:
    """Write `state` to `directory/name` atomically (temp file, fsync, rename);
    with `keep_previous`, the file it replaces is first renamed to `*.prev.npz`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"counts": state.counts, "sums": state.sums, "group_sums": state.group_sums,
              "lr_table": state.lr_table}
    if state.x is not None:
        arrays.update(x=state.x, y=state.y)
    header = {"fingerprint": run_fingerprint, "chunk": state.chunk, "step": state.step,
              "generation": state.generation, "layout": state.layout,
              "arrays_sha256": _digest(arrays)}
    for stale in directory.glob(f".{name}-*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    buf = io.BytesIO()
    np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=directory)
    target = directory / name
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and target.exists():
            os.replace(target, _previous(target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return target


def load_checkpoint(path: str | os.PathLike, run_fingerprint: str) -> Checkpoint | None:
    """The checkpoint in the file `path` (or `path/checkpoint.npz` for a directory),
    `None` if there is none.

    Raises `ValueError` naming the file if it is unreadable, altered, or
    belongs to a different run (another landscape, schedule, seed, ...).
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    if not path.exists():
        return None
    header, data = _read(path)
    if header.get("fingerprint") != run_fingerprint:
        raise ValueError(
            f"checkpoint file {path} belongs to a different run (landscape, schedule, seed, "
            "particles, steps, records, bins, dtype, integrator or chunk size differ); "
            "resume with the original arguments or use another checkpoint directory")
    return Checkpoint(chunk=int(header["chunk"]), step=int(header["step"]),
                      x=data.get("x"), y=data.get("y"), counts=data["counts"], sums=data["sums"],
                      group_sums=data["group_sums"], lr_table=data["lr_table"],
                      generation=int(header.get("generation", 0)), layout=header.get("layout"))


def _read(path: Path) -> tuple[dict, dict]:
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
    return header, data


def _previous(path: Path) -> Path:
    return path.with_name(path.name[: -len(".npz")] + ".prev.npz")


@dataclasses.dataclass
class CheckpointStore:
    """Where and how often a run checkpoints: `directory`, the run's `fingerprint`,
    every `every` steps, whether an existing checkpoint may be resumed, and (set
    by the driver) this process's `layout`."""

    directory: Path
    fingerprint: str
    every: int
    resume: bool
    layout: dict = dataclasses.field(default_factory=dict)
    generation: int = 0

    @property
    def _file(self) -> Path:
        return self.directory / checkpoint_file(self.layout.get("process_index", 0),
                                                self.layout.get("process_count", 1))

    def load(self) -> Checkpoint | None:
        """The checkpoint to resume from (`None`: start afresh); refuses to
        start over an existing checkpoint unless `resume`, and a checkpoint
        written by another number of processes or layout of blocks."""
        count = self.layout.get("process_count", 1)
        mine = {checkpoint_file(i, count) for i in range(count)}
        others = sorted(p.name for p in self.directory.glob("checkpoint*.npz")
                        if p.name not in mine and not p.name.endswith(".prev.npz"))
        if others:
            raise ValueError(
                f"{self.directory} holds checkpoints of a run with another number of processes "
                f"({others}); this run has {count}: resume with the same number of processes "
                "and devices, or use another checkpoint directory")
        if self._file.exists() and not self.resume:
            raise FileExistsError(
                f"{self._file} holds a checkpoint of an earlier run; "
                "pass resume=True (CLI: --resume) to continue it, or remove it")
        if count == 1:
            saved = load_checkpoint(self._file, self.fingerprint)
        else:
            saved = self._load_common_generation()
        if saved is not None:
            if saved.layout is not None and saved.layout != self.layout:
                raise ValueError(
                    f"checkpoint file {self._file} was written with the layout {saved.layout}; "
                    f"this run has {self.layout}: resume with the same processes and devices")
            self.generation = saved.generation
        return saved

    def _load_common_generation(self) -> Checkpoint | None:
        """The newest generation every process holds (a process killed between
        two writes leaves the others one ahead)."""
        from jax.experimental import multihost_utils

        mine = {}
        for path in (self._file, _previous(self._file)):
            if path.exists():
                mine[int(_read(path)[0].get("generation", 0))] = path
        held = np.full(2, -1, np.int64)
        held[:len(mine)] = sorted(mine, reverse=True)
        every = np.asarray(multihost_utils.process_allgather(held)).reshape(-1, 2)
        common = set(every[0]) - {-1}
        for row in every[1:]:
            common &= set(row)
        if not common:
            if (every >= 0).any():
                raise ValueError(f"the checkpoints in {self.directory} do not share a "
                                 f"generation across processes ({every.tolist()}); remove them "
                                 "and start the run afresh")
            return None
        return load_checkpoint(mine[max(common)], self.fingerprint)

    def save(self, chunk: int, step: int, x, y, totals, lr_table: np.ndarray) -> None:
        """Write the state after `chunk` reached `step`: `x`, `y` this process's
        blocks (`None` at a chunk boundary); `totals` has `counts`, `sums`,
        `group_sums`."""
        self.generation += 1
        save_checkpoint(self.directory, self.fingerprint, Checkpoint(
            chunk, step, x, y, totals.counts, totals.sums, totals.group_sums, lr_table,
            self.generation, self.layout),
            name=self._file.name, keep_previous=self.layout.get("process_count", 1) > 1)


def local_blocks(a: jax.Array) -> tuple[np.ndarray, tuple[int, int]]:
    """This process's part of `a`, sharded along its first (block) axis, and
    the range of blocks it covers."""
    shards = sorted(a.addressable_shards, key=lambda s: s.index[0].start or 0)
    starts = [s.index[0].start or 0 for s in shards]
    stops = [s.index[0].stop if s.index[0].stop is not None else a.shape[0] for s in shards]
    if starts[1:] != stops[:-1]:
        raise ValueError(f"this process's blocks are not contiguous ({list(zip(starts, stops))})")
    return np.concatenate([np.asarray(s.data) for s in shards]), (starts[0], stops[-1])


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
