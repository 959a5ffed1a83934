"""Result directories: a run's record saved to and loaded from disk.

A result directory holds `arrays.npz` (the numbers) and `metadata.json`
(everything needed to reproduce and interpret them, including the SHA-256 of
`arrays.npz`, and of the metadata itself). Directories are written
atomically: into a temporary sibling, flushed, then renamed into place; an
existing directory is never replaced unless `overwrite=True`. `load_result`
verifies both checksums and the array shapes, so a truncated or edited file
fails with an error naming it.

Layout (format 2): the arrays of a `BatchResult` (`steps`, `bin_edges`,
`lr_steps (S, n_steps + 1)`, `counts (S, R, n_bins)`, `underflow`, `overflow`,
`nonfinite (S, R)`, `sums (S, R, n_terms)`, `group_sums (S, R, G, n_terms)`),
plus `observable/<name>` and `standard_error/<name>` `(S, R)` for readers
outside this package (derived from the sums, not read back). `metadata.json`
has `"format": 2` and `"kind"`: `"simulation"` (loads as a `SimulationResult`)
or `"batch"` (loads as a `BatchResult`).

Format 1 (written before the LR table was stored: no `"format"` key, one
schedule, no schedule axis) still loads: the LR table is rebuilt once from the
recorded schedule description (`schedules.from_description`) when a builder
can rebuild it; otherwise the table holds the recorded LRs at the record steps
and NaN elsewhere, and `metadata["lr_table"]` says why, so that anything that
needs the whole table (validation) can say so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..record import BatchResult, SimulationResult

__all__ = ["save_record", "load_result", "atomic_directory", "jsonable"]

_ARRAYS, _METADATA = "arrays.npz", "metadata.json"
FORMAT = 2
_KINDS = ("simulation", "batch")
_RECORD_ARRAYS = ("steps", "bin_edges", "lr_steps", "counts", "underflow", "overflow",
                  "nonfinite", "sums", "group_sums")


def save_record(batch: BatchResult, path: str | os.PathLike, *, kind: str = "batch",
                overwrite: bool = False, extra: Callable[[Path], None] | None = None) -> Path:
    """Write `batch` as a result directory at `path`, atomically.

    `kind` decides what `load_result` returns (`"simulation"`: a
    `SimulationResult`, which needs one schedule). `extra(tmp_dir)` may write
    more files into the directory before it is renamed into place.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    arrays = {f: getattr(batch, f) for f in _RECORD_ARRAYS}
    if batch.group_counts is not None:
        arrays["group_counts"] = batch.group_counts
    for name, v in batch.observables.items():
        arrays[f"observable/{name}"] = v
        arrays[f"standard_error/{name}"] = batch.standard_errors[name]
    metadata = dict(batch.metadata, names=list(batch.names), sum_names=list(batch.sum_names),
                    format=FORMAT, kind=kind)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        np.savez(tmp / _ARRAYS, **arrays)
        metadata["arrays_sha256"] = _sha256(tmp / _ARRAYS)
        # Round-trip through JSON first so the checksum is of what load sees.
        metadata = json.loads(json.dumps(metadata, default=_json_default, allow_nan=True))
        metadata["metadata_sha256"] = _metadata_sha256(metadata)
        _write_json(tmp / _METADATA, metadata)
        if extra is not None:
            extra(tmp)
    return Path(path)


def load_result(path: str | os.PathLike) -> SimulationResult | BatchResult:
    """Load a result directory: a `SimulationResult` if it was saved as one, else a `BatchResult`.

    Raises `ValueError` naming the file if anything is missing, truncated or
    does not match its recorded checksum.
    """
    path = Path(path)
    meta_file, arrays_file = path / _METADATA, path / _ARRAYS
    for f in (meta_file, arrays_file):
        if not f.is_file():
            raise ValueError(f"not a result directory: {f} is missing")
    try:
        metadata = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{meta_file} is not valid JSON ({e}); the file is corrupt") from None
    if not isinstance(metadata, dict) or metadata.get("metadata_sha256") != _metadata_sha256(
            {k: v for k, v in metadata.items() if k != "metadata_sha256"}):
        raise ValueError(
            f"{meta_file} does not match its recorded checksum: the file was edited or "
            "was not written by SimulationResult.save"
        )
    expected = metadata.get("arrays_sha256")
    if expected != _sha256(arrays_file):
        raise ValueError(
            f"{arrays_file} does not match the checksum recorded in {meta_file}: "
            "the file was truncated or edited"
        )
    with np.load(arrays_file) as z:
        data = {k: z[k] for k in z.files if "/" not in k}
    for key in ("arrays_sha256", "metadata_sha256"):
        metadata.pop(key)
    fmt = metadata.pop("format", 1)
    if fmt == 1:
        data, metadata, kind = _from_format_1(arrays_file, data, metadata)
    elif fmt == FORMAT:
        kind = metadata.pop("kind", "batch")
    else:
        raise ValueError(f"{meta_file}: unknown result format {fmt!r} (this version reads 1 and "
                         f"{FORMAT}); it was written by a newer mpemba_jax")
    sum_names = tuple(metadata.pop("sum_names", ()))
    names = tuple(metadata.get("names", ()))
    _check_shapes(arrays_file, data, sum_names, names)
    batch = BatchResult(names=names, sum_names=sum_names, metadata=metadata,
                        group_counts=data.get("group_counts"),
                        **{k: data[k] for k in _RECORD_ARRAYS})
    if kind == "simulation":
        return SimulationResult(batch)
    return batch


def _from_format_1(arrays_file: Path, data: dict, metadata: dict) -> tuple[dict, dict, str]:
    """A format-1 (single schedule, no LR table) result as format-2 arrays and metadata."""
    missing = sorted({"steps", "lr", "bin_edges", "counts", "underflow", "overflow",
                      "nonfinite", "sums"} - set(data))
    if missing:
        raise ValueError(f"{arrays_file} lacks the arrays {missing}")
    out = {k: data[k][None] for k in ("counts", "underflow", "overflow", "nonfinite", "sums")}
    out["steps"], out["bin_edges"] = data["steps"], data["bin_edges"]
    out["group_sums"] = data["sums"][None, :, None, :]
    table, note = _rebuilt_table(metadata, data["steps"], data["lr"])
    out["lr_steps"] = table[None]
    metadata = dict(metadata)
    schedule = metadata.pop("schedule", {})
    metadata.update(names=[metadata.pop("name", "schedule")], schedules=[schedule],
                    n_schedules=1, n_groups=1, lr_table=note)
    return out, metadata, "simulation"


def _rebuilt_table(metadata: dict, steps: np.ndarray, lr_at_records: np.ndarray):
    """The LR of every step of a format-1 run, from its schedule description, and a note."""
    from ..schedules import from_description, lr_table

    n_steps, dt = int(metadata["n_steps"]), float(metadata["dt"])
    steps = np.asarray(steps, int)
    try:
        table = lr_table(from_description(metadata.get("schedule", {})), n_steps, dt)
        why = "the rebuilt schedule does not give the recorded LRs"
        if np.array_equal(table[steps], np.asarray(lr_at_records, np.float64)):
            return table, "rebuilt from the schedule description (format 1)"
    except ValueError as e:
        why = str(e)
    table = np.full(n_steps + 1, np.nan)
    table[steps] = lr_at_records
    return table, (f"missing: only the LRs at the record steps are known ({why}); "
                   "pass schedule= where the whole table is needed")


class atomic_directory:
    """Context manager yielding a temporary directory renamed to `path` on success.

    On failure the temporary directory is removed and `path` is untouched. With
    `overwrite=True` an existing `path` is replaced only after the new one is
    complete.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"{self.path} already exists; choose another directory or pass overwrite=True"
            )

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        self.tmp.chmod(0o755)  # mkdtemp makes it private; a result directory is not
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        for f in self.tmp.rglob("*"):  # every file of the tree, subdirectories too
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
        old = None
        if self.path.exists():
            if not self.overwrite:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise FileExistsError(f"{self.path} appeared while writing; not overwritten")
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def _check_shapes(arrays_file: Path, data: dict, sum_names: tuple, names: tuple) -> None:
    """Raise `ValueError` naming `arrays_file` unless every array has its documented shape."""
    missing = sorted(set(_RECORD_ARRAYS) - set(data))
    if missing:
        raise ValueError(f"{arrays_file} lacks the arrays {missing}")
    S, R = len(names), (data["steps"].shape[0] if data["steps"].ndim == 1 else -1)
    n_bins = data["bin_edges"].shape[0] - 1 if data["bin_edges"].ndim == 1 else -1
    n_terms = len(sum_names)
    groups = data["group_sums"].shape[2] if data["group_sums"].ndim == 4 else -1
    steps_plus_one = data["lr_steps"].shape[-1] if data["lr_steps"].ndim == 2 else -1
    expected = {"steps": (R,), "counts": (S, R, n_bins), "underflow": (S, R),
                "overflow": (S, R), "nonfinite": (S, R), "sums": (S, R, n_terms),
                "group_sums": (S, R, groups, n_terms), "lr_steps": (S, steps_plus_one)}
    if "group_counts" in data:
        expected["group_counts"] = (S, R, groups, n_bins + 3)
    bad = {k: data[k].shape for k, shape in expected.items() if data[k].shape != shape}
    if S < 1 or R < 0 or n_bins < 1 or groups < 1 or steps_plus_one < 1 or bad:
        raise ValueError(f"{arrays_file} has inconsistent arrays (shapes {bad or expected}); "
                         "the file is corrupt")
    for k in ("counts", "underflow", "overflow", "nonfinite", "group_counts"):
        if k in data and not np.issubdtype(data[k].dtype, np.integer):
            raise ValueError(f"{arrays_file}: {k} must hold integers; got {data[k].dtype}")


def _metadata_sha256(metadata: dict) -> str:
    text = json.dumps(metadata, sort_keys=True, default=_json_default, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default, allow_nan=True))


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def jsonable(o: Any) -> Any:
    """`o` with NumPy arrays and scalars as JSON types and non-finite floats as `None`."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, (np.bool_, bool)):
        return bool(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        o = float(o)
        return o if math.isfinite(o) else None
    return o
