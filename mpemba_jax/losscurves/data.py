"""Measured loss curves: the LR of every step and the logged losses.

A loss curve is the LR table of a training run, `lrs[s]` for every step `s`
from step 0 (warm-up included), and the losses logged at some steps. The
convention is the engine's (`mj.lr_table`): the loss recorded at step `s` is
the state after steps `0 .. s - 1`, so it has seen `lrs[:s]` and its LR area is

    S(s) = sum_{i < s} lrs[i].

The shared data (`data/loss_curves/`, Luo et al. 2025, MIT licence) are CSV
files `step,lr,loss` whose schedules its README defines step by step;
`shared_lr_table` builds those tables and `load_loss_curve` checks every logged
LR against the table it is given, so a table that disagrees with a file is
refused rather than fitted.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["LossCurve", "load_loss_curve", "shared_lr_table", "load_shared_curves",
           "SHARED_FILES", "SHARED_SIZES", "DATA_ROOT"]

# The published runs: AdamW, peak LR 3e-4, linear warm-up over steps 0..2159.
PEAK_LR = 3e-4
WARMUP_STEPS = 2160
COSINE_FINAL_LR = 3e-5
DROP_STEP = 8000
SHARED_SIZES = ("25", "100", "400")
SHARED_FILES = ("constant_24000", "cosine_24000", "wsdcon_9")
# The repository's copy of the shared data (with its README and LICENSE).
DATA_ROOT = Path(__file__).resolve().parents[2] / "data" / "loss_curves"
# Relative agreement demanded between a file's logged LR and the table.
_LR_RTOL = 1e-6


@dataclasses.dataclass(frozen=True, eq=False)
class LossCurve:
    """A training run's LR table and its logged losses.

    Args:
      lrs: `(n_steps,)` the LR of every step from step 0 (warm-up included), >= 0.
      steps: `(m,)` strictly increasing record steps in `[0, n_steps]`; the loss
        at `s` has seen `lrs[:s]`.
      loss: `(m,)` the losses logged at `steps`, finite and > 0.
      name: a label (the file's stem for loaded curves).

    Example:
      >>> c = LossCurve(np.full(100, 1e-3), [10, 50, 100], [3.0, 2.5, 2.4], name="toy")
      >>> c.n_steps, float(c.lr_area()[-1])
      (100, 0.1)
    """

    lrs: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    name: str = "curve"

    def __post_init__(self):
        lrs = np.asarray(self.lrs, np.float64)
        if lrs.ndim != 1 or lrs.size == 0:
            raise ValueError(f"lrs must be a non-empty 1-D table of the LR of every step; "
                             f"got shape {lrs.shape}")
        if not np.all(np.isfinite(lrs) & (lrs >= 0)):
            i = int(np.nonzero(~(np.isfinite(lrs) & (lrs >= 0)))[0][0])
            raise ValueError(f"lrs must be finite and >= 0; lrs[{i}] = {lrs[i]}")
        steps, loss = check_records(self.steps, self.loss, len(lrs))
        object.__setattr__(self, "lrs", lrs)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "name", str(self.name))

    @property
    def n_steps(self) -> int:
        return len(self.lrs)

    def lr_area(self) -> np.ndarray:
        """`S(s) = sum_{i < s} lrs[i]` at the record steps, `(m,)`."""
        return np.concatenate([[0.0], np.cumsum(self.lrs)])[self.steps]

    def describe(self) -> dict:
        return {"name": self.name, "n_steps": self.n_steps, "n_points": len(self.steps),
                "first_step": int(self.steps[0]), "last_step": int(self.steps[-1])}


def check_records(steps: ArrayLike, loss: ArrayLike | None, n_steps: int):
    """Record steps `(m,)` as int64, strictly increasing in `[0, n_steps]`, and
    (unless `loss` is None) losses `(m,)`, finite and > 0; `ValueError` otherwise."""
    raw = np.asarray(steps)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"steps must be a non-empty 1-D array; got shape {raw.shape}")
    if not np.all(np.isfinite(raw.astype(np.float64))) or np.any(raw != np.round(raw)):
        raise ValueError("steps must be whole numbers")
    steps = raw.astype(np.int64)
    if steps.min() < 0 or steps.max() > n_steps:
        raise ValueError(f"steps must lie in [0, {n_steps}] (the LR table has {n_steps} steps); "
                         f"got [{steps.min()}, {steps.max()}]")
    if np.any(np.diff(steps) <= 0):
        i = int(np.argmax(np.diff(steps) <= 0))
        raise ValueError(f"steps must be strictly increasing; steps[{i}]={steps[i]} >= "
                         f"steps[{i + 1}]={steps[i + 1]}")
    if loss is None:
        return steps, None
    loss = np.asarray(loss, np.float64)
    if loss.shape != steps.shape:
        raise ValueError(f"loss must have the shape of steps {steps.shape}; got {loss.shape}")
    if not np.all(np.isfinite(loss) & (loss > 0)):
        i = int(np.nonzero(~(np.isfinite(loss) & (loss > 0)))[0][0])
        raise ValueError(f"loss must be finite and > 0; loss[{i}] = {loss[i]}")
    return steps, loss


def shared_lr_table(name: str, n_steps: int | None = None) -> np.ndarray:
    """The LR of every step of a shared schedule, as the data README defines it.

    Every schedule warms up linearly over steps 0..2159 (`lr[i] = 3e-4 i / 2159`);
    after it (`s >= 2160`):

      constant_N   3e-4                                                   (N steps)
      cosine_N     3e-5 + (3e-4 - 3e-5)(1 + cos(pi (s - 2160) / (N - 2160))) / 2
      wsdcon_X     3e-4 for s < 8000, then X * 1e-5                       (16000 steps)

    `n_steps` overrides the length (default: `N`, or 16000 for `wsdcon_X`).
    Returns `(n_steps,)` float64.

    Example:
      >>> lr = shared_lr_table("wsdcon_9")
      >>> len(lr), lr[2159], lr[7999], lr[8000]
      (16000, 0.0003, 0.0003, 9e-05)
    """
    m = re.fullmatch(r"(constant|cosine)_(\d+)|wsdcon_(\d+(?:\.\d+)?)", str(name))
    if m is None:
        raise ValueError(f"name must be constant_N, cosine_N or wsdcon_X (the shared "
                         f"schedules); got {name!r}")
    horizon = int(m.group(2)) if m.group(2) else 16000
    if m.group(1) == "cosine" and horizon <= WARMUP_STEPS:
        raise ValueError(f"cosine_N needs N > {WARMUP_STEPS}; got {name!r}")
    n = horizon if n_steps is None else int(n_steps)
    if n < 1:
        raise ValueError(f"n_steps must be >= 1; got {n_steps}")
    s = np.arange(n, dtype=np.float64)
    lr = np.full(n, PEAK_LR)
    if m.group(1) == "cosine":
        lr = COSINE_FINAL_LR + 0.5 * (PEAK_LR - COSINE_FINAL_LR) * (
            1.0 + np.cos(math.pi * (s - WARMUP_STEPS) / (horizon - WARMUP_STEPS)))
    elif m.group(3) is not None:
        lr = np.where(s < DROP_STEP, PEAK_LR, float(m.group(3)) * 1e-5)
    return np.where(s < WARMUP_STEPS, PEAK_LR * s / (WARMUP_STEPS - 1), lr)


def load_loss_curve(path: str | Path, lrs: ArrayLike | Callable | None = None, *,
                    n_steps: int | None = None, name: str | None = None) -> LossCurve:
    """Read a `step,lr,loss` (or `step,loss`) CSV as a `LossCurve`.

    Args:
      path: the CSV file (header row with the column names).
      lrs: the LR of every step, `(n_steps,)`; or a schedule `step -> lr`
        (evaluated at steps `0 .. n_steps - 1`); or None for a shared file,
        whose table `shared_lr_table(stem)` is built from the file name.
      n_steps: the table's length when `lrs` is a callable (default: the last
        logged step + 1).
      name: the curve's label (default: the file's stem).

    Every LR the file logs must equal `lrs[step]` to a relative 1e-6, so a
    table that is not the run's is refused with `ValueError`.

    Example:
      >>> c = load_loss_curve(DATA_ROOT / "25" / "wsdcon_9.csv")
      >>> c.n_steps, c.steps[0]
      (16000, 2176)
    """
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"path {str(path)!r}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    if "step" not in header or "loss" not in header:
        raise ValueError(f"path {str(path)!r}: the header must name the columns step and loss "
                         f"(and optionally lr); got {rows[0]}")
    try:
        table = np.array([[float(v) for v in row] for row in rows[1:] if row], np.float64)
    except ValueError as e:
        raise ValueError(f"path {str(path)!r}: non-numeric entry ({e})") from None
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] != len(header):
        raise ValueError(f"path {str(path)!r}: expected rows of {len(header)} numbers")
    steps = table[:, header.index("step")]
    loss = table[:, header.index("loss")]
    stem = path.stem
    if lrs is None:
        lrs = shared_lr_table(stem)
    elif callable(lrs):
        n = int(steps.max()) + 1 if n_steps is None else int(n_steps)
        lrs = np.array([float(lrs(s)) for s in range(n)], np.float64)
    curve = LossCurve(lrs, steps, loss, name=stem if name is None else name)
    if "lr" in header:
        logged = table[:, header.index("lr")]
        idx = np.minimum(curve.steps, curve.n_steps - 1)
        bad = ~np.isclose(curve.lrs[idx], logged, rtol=_LR_RTOL, atol=0.0)
        if np.any(bad):
            i = int(np.nonzero(bad)[0][0])
            raise ValueError(
                f"lrs: the table gives lr[{idx[i]}] = {curve.lrs[idx[i]]:.9g} but {path.name} "
                f"logs {logged[i]:.9g} at step {int(curve.steps[i])} ({int(bad.sum())} of "
                f"{len(bad)} logged LRs disagree); give the run's own LR table")
    return curve


def load_shared_curves(size: str | int, root: str | Path | None = None,
                       files: tuple[str, ...] = SHARED_FILES) -> list[LossCurve]:
    """The shared curves of one model size (`"25"`, `"100"` or `"400"`, millions of
    parameters) from `root` (default: the repository's `data/loss_curves/`), each
    with its LR table from `shared_lr_table` and checked against the file."""
    size = str(size)
    if size not in SHARED_SIZES:
        raise ValueError(f"size must be one of {SHARED_SIZES}; got {size!r}")
    root = DATA_ROOT if root is None else Path(root)
    folder = root / size
    if not folder.is_dir():
        raise ValueError(f"root: no folder {str(folder)!r}; the shared loss curves live in "
                         f"data/loss_curves/ of the repository")
    return [load_loss_curve(folder / f"{stem}.csv") for stem in files]
