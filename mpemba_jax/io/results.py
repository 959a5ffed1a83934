"""`SimulationResult`: the records of a run, saved to and loaded from a directory.

A result directory holds `arrays.npz` (the numbers) and `metadata.json`
(everything needed to reproduce and interpret them, including the SHA-256 of
`arrays.npz`, and of the metadata itself). Directories are written
atomically: into a temporary sibling, flushed, then renamed into place; an
existing directory is never replaced unless `overwrite=True`. `load_result`
verifies both checksums and the array shapes, so a truncated or edited file
fails with an error naming it.
"""

from __future__ import annotations

import dataclasses
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

__all__ = ["SimulationResult", "load_result", "atomic_directory", "jsonable"]

_ARRAYS, _METADATA = "arrays.npz", "metadata.json"


@dataclasses.dataclass(eq=False)
class SimulationResult:
    """Records of a simulation at `R` record steps over `n_bins` river bins.

    Attributes:
      steps: `(R,)` int, the step of each record.
      times: `(R,)` float, `steps * dt` in the run's time convention.
      lr: `(R,)` float, the schedule at each record time.
      bin_edges: `(n_bins + 1,)` float.
      counts: `(R, n_bins)` int64 histogram of `y`.
      underflow, overflow, nonfinite: `(R,)` int64 particles outside the bins
        or not finite (the latter are excluded from every average).
      observables: name -> `(R,)` particle means (`loss`, `valley_energy`,
        `y_mean`, `y_var` and each user observable).
      standard_errors: name -> `(R,)` standard errors of those means.
      sums: `(R, n_terms)` float64 raw power sums (`sum_names` names them),
        kept so that runs can be merged exactly.
      metadata: JSON-able description of the run.
    """

    steps: np.ndarray
    times: np.ndarray
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
    metadata: dict[str, Any]
    lr_steps: np.ndarray | None = None  # (n_steps + 1,) the LR of every step

    @property
    def n_particles(self) -> int:
        return int(self.metadata["n_particles"])

    @property
    def bin_centers(self) -> np.ndarray:
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])

    def density(self) -> np.ndarray:
        """`(R, n_bins)` histogram normalised by all particles and bin widths."""
        return self.counts / (self.n_particles * np.diff(self.bin_edges))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False,
             extra: Callable[[Path], None] | None = None) -> Path:
        """Write the result directory atomically; refuse to replace one unless `overwrite`.

        `extra(tmp_dir)` may write more files (figures, configs) into the
        directory before it is renamed into place.
        """
        arrays = {f: getattr(self, f) for f in
                  ("steps", "times", "lr", "bin_edges", "counts", "underflow",
                   "overflow", "nonfinite", "sums")}
        if self.lr_steps is not None:
            arrays["lr_steps"] = self.lr_steps
        for name, v in self.observables.items():
            arrays[f"observable/{name}"] = v
            arrays[f"standard_error/{name}"] = self.standard_errors[name]
        metadata = dict(self.metadata, sum_names=list(self.sum_names))
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


def load_result(path: str | os.PathLike) -> SimulationResult:
    """Load a result directory written by `SimulationResult.save`.

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
        data = {k: z[k] for k in z.files}
    observables = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("observable/")}
    errors = {k.split("/", 1)[1]: v for k, v in data.items() if k.startswith("standard_error/")}
    sum_names = tuple(metadata.pop("sum_names", ()))
    metadata.pop("arrays_sha256")
    metadata.pop("metadata_sha256")
    _check_shapes(arrays_file, data, observables, errors, sum_names)
    return SimulationResult(
        steps=data["steps"], times=data["times"], lr=data["lr"], bin_edges=data["bin_edges"],
        counts=data["counts"], underflow=data["underflow"], overflow=data["overflow"],
        nonfinite=data["nonfinite"], observables=observables, standard_errors=errors,
        sums=data["sums"], sum_names=sum_names, metadata=metadata, lr_steps=data.get("lr_steps"),
    )


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
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        for f in self.tmp.iterdir():
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


def _check_shapes(arrays_file: Path, data: dict, observables: dict, errors: dict,
                  sum_names: tuple) -> None:
    """Raise `ValueError` naming `arrays_file` unless every array has its documented shape."""
    missing = sorted({"steps", "times", "lr", "bin_edges", "counts", "underflow", "overflow",
                      "nonfinite", "sums"} - set(data))
    if missing:
        raise ValueError(f"{arrays_file} lacks the arrays {missing}")
    n_records = data["steps"].shape[0] if data["steps"].ndim == 1 else -1
    n_bins = data["bin_edges"].shape[0] - 1 if data["bin_edges"].ndim == 1 else -1
    expected = {"steps": (n_records,), "times": (n_records,), "lr": (n_records,),
                "counts": (n_records, n_bins), "underflow": (n_records,),
                "overflow": (n_records,), "nonfinite": (n_records,),
                "sums": (n_records, len(sum_names))}
    expected.update({f"observable/{k}": (n_records,) for k in observables})
    expected.update({f"standard_error/{k}": (n_records,) for k in errors})
    shapes = {"observable/" + k: v.shape for k, v in observables.items()}
    shapes.update({"standard_error/" + k: v.shape for k, v in errors.items()})
    shapes.update({k: data[k].shape for k in expected if k in data})
    bad = {k: shapes[k] for k, shape in expected.items() if shapes.get(k) != shape}
    if n_records < 0 or n_bins < 1 or bad or set(observables) != set(errors):
        raise ValueError(
            f"{arrays_file} has inconsistent arrays (shapes {bad or shapes}); the file is corrupt")
    for k in ("counts", "underflow", "overflow", "nonfinite"):
        if not np.issubdtype(data[k].dtype, np.integer):
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
