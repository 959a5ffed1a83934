"""The record of a run: histograms and power sums at the record steps, per schedule.

One type holds what every run produces. A run advances the same particles'
noise under `S` LR schedules (`S = 1` for `simulate`) and, at `R` common
record steps, reduces each schedule's particles to

    counts      (S, R, n_bins)   int64 river histogram over `bin_edges`
    underflow, overflow, nonfinite   (S, R)  particles outside the bins / not finite
    sums        (S, R, n_terms)  float64 power sums (`sum_names`) over finite particles
    group_sums  (S, R, G, n_terms)  the same sums over `G` contiguous groups of noise
                                 blocks: independent replicates for paired errors
    group_counts (S, R, G, n_bins + 3)  each group's histogram [underflow, bins,
                                 overflow, non-finite], when the run kept them
                                 (`group_histograms=True`): `G` independent runs

together with the LR of every step, `lr_steps (S, n_steps + 1)`: the table the
particles ran on, which theory and validation read instead of rebuilding a
schedule. Particle means and standard errors (`observables`,
`standard_errors`) are derived from the sums (`engine.recording.moments`).

`BatchResult` is that record; `SimulationResult` is its single-schedule view
(what `simulate` returns and `BatchResult.result(name)` gives), with the
schedule axis dropped from every array. Both save to and load from a result
directory (`io.results`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .engine.recording import moments

__all__ = ["BatchResult", "SimulationResult"]

# Metadata keys that describe the schedules one by one (lists over the batch).
_PER_SCHEDULE_META = ("names", "schedules")


@dataclasses.dataclass(eq=False)
class BatchResult:
    """Records of `S` schedules at `R` common record steps.

    Attributes:
      names: `(S,)` schedule names.
      steps: `(R,)` record steps.
      lr_steps: `(S, n_steps + 1)` the LR of every step (`schedule(s * dt)`), float64.
      bin_edges: `(n_bins + 1,)`.
      counts: `(S, R, n_bins)` int64 river histograms; `underflow`, `overflow`,
        `nonfinite`: `(S, R)`.
      sums: `(S, R, n_terms)` float64 power sums (`sum_names`).
      group_sums: `(S, R, n_groups, n_terms)` the sums over contiguous groups of
        noise blocks (`paired_difference`).
      group_counts: `(S, R, n_groups, n_bins + 3)` int64 each group's histogram
        with `[underflow, bins..., overflow, non-finite]`, or `None` (kept only
        with `group_histograms=True`; then `replicates()` gives the groups as
        independent runs).
      metadata: JSON-able description of the run (`names`, `schedules` list the
        schedules' descriptions; landscape, dynamics, init, dt, seed, ...).

    Derived: `times (R,)`, `lr (S, R)`, `observables` / `standard_errors`
    (name -> `(S, R)`: `loss`, `valley_energy`, `y_mean`, `y_var` and each user
    observable), `n_particles`, `n_schedules`.
    """

    names: tuple[str, ...]
    steps: np.ndarray
    lr_steps: np.ndarray
    bin_edges: np.ndarray
    counts: np.ndarray
    underflow: np.ndarray
    overflow: np.ndarray
    nonfinite: np.ndarray
    sums: np.ndarray
    sum_names: tuple[str, ...]
    group_sums: np.ndarray
    metadata: dict[str, Any]
    group_counts: np.ndarray | None = None

    @property
    def n_schedules(self) -> int:
        return len(self.names)

    @property
    def n_particles(self) -> int:
        return int(self.metadata["n_particles"])

    @property
    def times(self) -> np.ndarray:
        """`(R,)` record times `steps * dt` in the run's time convention."""
        return self.steps * float(self.metadata["dt"])

    @property
    def lr(self) -> np.ndarray:
        """`(S, R)` the LR at the record steps."""
        return self.lr_steps[:, self.steps]

    @property
    def bin_centers(self) -> np.ndarray:
        return 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])

    @functools.cached_property
    def _moments(self) -> tuple[dict, dict]:
        user = tuple(self.metadata.get("observables", ()))
        center = 0.5 * float(self.bin_edges[0] + self.bin_edges[-1])
        per = [moments(self.sums[i], self.sum_names, center, user)
               for i in range(self.n_schedules)]
        means = {k: np.stack([m[k] for m, _ in per]) for k in per[0][0]}
        errors = {k: np.stack([e[k] for _, e in per]) for k in per[0][1]}
        return means, errors

    @property
    def observables(self) -> dict[str, np.ndarray]:
        """name -> `(S, R)` particle means."""
        return self._moments[0]

    @property
    def standard_errors(self) -> dict[str, np.ndarray]:
        """name -> `(S, R)` standard errors of the particle means."""
        return self._moments[1]

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

    def select(self, which) -> BatchResult:
        """The batch of the schedules `which` (indices or names), in that order."""
        idx = [self.index(i) if isinstance(i, str) else int(i) for i in which]
        for i in idx:
            if not 0 <= i < self.n_schedules:
                raise ValueError(f"schedule index must lie in [0, {self.n_schedules}); got {i}")
        meta = dict(self.metadata)
        for key in _PER_SCHEDULE_META:
            if key in meta:
                meta[key] = [meta[key][i] for i in idx]
        meta["n_schedules"] = len(idx)
        take = lambda a: None if a is None else a[idx]  # noqa: E731
        return dataclasses.replace(
            self, names=tuple(self.names[i] for i in idx), lr_steps=take(self.lr_steps),
            counts=take(self.counts), underflow=take(self.underflow),
            overflow=take(self.overflow), nonfinite=take(self.nonfinite), sums=take(self.sums),
            group_sums=take(self.group_sums), group_counts=take(self.group_counts),
            metadata=meta)

    def replicates(self) -> list[BatchResult]:
        """The `n_groups` groups of noise blocks as independent runs (one
        `BatchResult` each, of the group's particles), from a run with
        `group_histograms=True`. Groups hold whole contiguous noise blocks, so
        their noise is independent; sizes differ by at most one block."""
        if self.group_counts is None:
            raise ValueError("this run kept no per-group histograms; run it with "
                             "group_histograms=True (and n_groups = the replicates wanted)")
        out = []
        for g in range(self.group_counts.shape[2]):
            counts = self.group_counts[:, :, g]
            meta = dict(self.metadata, replicate=g,
                        n_particles=int(counts[0, 0].sum()), n_groups=1,
                        group_histograms=False)
            out.append(dataclasses.replace(
                self, counts=counts[..., 1:-2], underflow=counts[..., 0],
                overflow=counts[..., -2], nonfinite=counts[..., -1],
                sums=self.group_sums[:, :, g], group_sums=self.group_sums[:, :, g:g + 1],
                group_counts=None, metadata=meta))
        return out

    def result(self, i: int | str) -> SimulationResult:
        """Schedule `i` (index or name) as a `SimulationResult`, as `simulate` returns it."""
        return SimulationResult(self.select([i]))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False,
             extra: Callable[[Path], None] | None = None) -> Path:
        """Write the result directory atomically (see `io.results`); refuse to
        replace one unless `overwrite`. `extra(tmp_dir)` may add files first."""
        from .io.results import save_record

        return save_record(self, path, kind="batch", overwrite=overwrite, extra=extra)


def _shared(name: str) -> property:
    return property(lambda self: getattr(self.batch, name),
                    doc=f"`{name}` of the run (shared by its schedules).")


def _own(name: str) -> property:
    return property(lambda self: getattr(self.batch, name)[0],
                    doc=f"`{name}` of this schedule (the batch's, schedule axis dropped).")


class SimulationResult:
    """Records of one schedule at `R` record steps over `n_bins` river bins.

    A view of a one-schedule `BatchResult` (`.batch`) with the schedule axis
    dropped. Attributes:

      steps `(R,)`, times `(R,)` (`steps * dt`), lr `(R,)`, lr_steps
      `(n_steps + 1,)` (the LR of every step), bin_edges `(n_bins + 1,)`,
      counts `(R, n_bins)` int64, underflow / overflow / nonfinite `(R,)`,
      sums `(R, n_terms)` float64 (`sum_names`), group_sums
      `(R, n_groups, n_terms)`, group_counts `(R, n_groups, n_bins + 3)` or
      `None`, observables / standard_errors (name -> `(R,)`),
      metadata (the run's description; `schedule` describes the schedule).
    """

    def __init__(self, batch: BatchResult):
        if batch.n_schedules != 1:
            raise ValueError(f"a SimulationResult views one schedule; got a batch of "
                             f"{batch.n_schedules} (use batch.result(name))")
        self.batch = batch
        meta = {k: v for k, v in batch.metadata.items()
                if k not in _PER_SCHEDULE_META and k != "n_schedules"}
        meta["schedule"] = batch.metadata["schedules"][0]
        meta["name"] = batch.names[0]
        self.metadata = meta

    steps = _shared("steps")
    times = _shared("times")
    bin_edges = _shared("bin_edges")
    bin_centers = _shared("bin_centers")
    sum_names = _shared("sum_names")
    lr_steps = _own("lr_steps")
    lr = _own("lr")
    counts = _own("counts")
    underflow = _own("underflow")
    overflow = _own("overflow")
    nonfinite = _own("nonfinite")
    sums = _own("sums")
    group_sums = _own("group_sums")

    @property
    def group_counts(self) -> np.ndarray | None:
        """`(R, n_groups, n_bins + 3)` each group's histogram, or `None`."""
        return None if self.batch.group_counts is None else self.batch.group_counts[0]

    def replicates(self) -> list[SimulationResult]:
        """The groups of noise blocks as independent runs (`BatchResult.replicates`)."""
        return [SimulationResult(b) for b in self.as_batch().replicates()]

    @property
    def observables(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.batch.observables.items()}

    @property
    def standard_errors(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.batch.standard_errors.items()}

    @property
    def n_particles(self) -> int:
        return int(self.metadata["n_particles"])

    def density(self) -> np.ndarray:
        """`(R, n_bins)` histogram normalised by all particles and bin widths."""
        return self.counts / (self.n_particles * np.diff(self.bin_edges))

    def as_batch(self) -> BatchResult:
        """The one-schedule `BatchResult`, carrying this view's metadata."""
        meta = {k: v for k, v in self.metadata.items() if k not in ("schedule", "name")}
        meta.update(names=[self.metadata.get("name", self.batch.names[0])],
                    schedules=[self.metadata["schedule"]], n_schedules=1)
        return dataclasses.replace(self.batch, metadata=meta)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False,
             extra: Callable[[Path], None] | None = None) -> Path:
        """Write the result directory atomically; refuse to replace one unless `overwrite`.

        `extra(tmp_dir)` may write more files (figures, configs) into the
        directory before it is renamed into place.
        """
        from .io.results import save_record

        return save_record(self.as_batch(), path, kind="simulation", overwrite=overwrite,
                           extra=extra)

    def __repr__(self) -> str:
        return (f"SimulationResult({self.metadata.get('landscape', {}).get('name')!r}, "
                f"{self.n_particles} particles, {len(self.steps)} records)")
