"""What a run records: river histograms and particle averages, never trajectories.

At each record step the driver reduces the particle state of a chunk to

- `counts`: integer histogram of `y` over the bin edges, plus underflow,
  overflow and non-finite counts (shape `(n_bins + 3,)`, int32 per chunk;
  accumulated across chunks in int64 on the host, so exact far beyond 2^31);
- `sums`: per-block float sums over valid, finite particles of the power sums
  of the built-in observables and of each user observable `f(x, y)`; the
  host adds them in float64 in block order.

Bin indices are arithmetic for uniform edges (`floor((y - lo) / width)`) and
a binary search otherwise; accumulation is a scatter-add of integer ones.
Means and standard errors are formed on the host in float64 (`moments`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..landscape import ValleyRiver

__all__ = ["Bins", "make_bins", "BUILTIN_OBSERVABLES"]

# Built-in per-particle observables; `y` moments are taken about the bin-range
# centre so that float32 power sums do not cancel.
BUILTIN_OBSERVABLES = ("loss", "valley_energy", "y_mean", "y_var")


@dataclasses.dataclass(frozen=True, eq=False)
class Bins:
    """Histogram bin edges `(n_bins + 1,)`, increasing; `uniform` if equally spaced."""

    edges: np.ndarray
    uniform: bool

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def center(self) -> float:
        return 0.5 * float(self.edges[0] + self.edges[-1])


def make_bins(bins, bin_range, default_range: tuple[float, float]) -> Bins:
    """Bins from a count (with `bin_range` or `default_range`) or explicit edges."""
    if np.ndim(bins) == 0:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be a positive integer or an array of edges; got {bins!r}")
        lo, hi = default_range if bin_range is None else bin_range
        lo, hi = float(lo), float(hi)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"bin_range must be finite with lo < hi; got ({lo}, {hi})")
        return Bins(np.linspace(lo, hi, int(bins) + 1), True)
    if bin_range is not None:
        raise ValueError("give bin_range only with an integer number of bins, not with edges")
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bin edges must be a 1-D array of at least 2 values; got shape {edges.shape}")
    if not np.all(np.isfinite(edges)):
        raise ValueError("bin edges must be finite")
    if not np.all(np.diff(edges) > 0):
        i = int(np.argmax(np.diff(edges) <= 0))
        raise ValueError(
            f"bin edges must be strictly increasing; edges[{i}]={edges[i]:g} >= edges[{i + 1}]={edges[i + 1]:g}"
        )
    widths = np.diff(edges)
    return Bins(edges, bool(np.allclose(widths, widths[0], rtol=1e-9, atol=0)))


def term_names(user_names: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the recorded sums, in order."""
    names = ["n", "loss", "loss^2", "energy", "energy^2", "dy", "dy^2", "dy^3", "dy^4"]
    for name in user_names:
        names += [name, f"{name}^2"]
    return tuple(names)


def make_record(landscape: ValleyRiver, bins: Bins,
                observables: tuple[tuple[str, Callable], ...], n_groups: int = 1) -> Callable:
    """`record(x, y, valid, group_of) -> (counts (n_groups, n_bins + 3) int32,
    sums (n_blocks, n_terms))`.

    `x: (n_blocks, B, d)`, `y: (n_blocks, B)`, `valid: (n_blocks, B)` bool,
    `group_of: (n_blocks,)` int32 in `[0, n_groups)`: each block's histogram
    group (all 0 for one histogram per record). Count layout:
    `[underflow, bin_0 .. bin_{n-1}, overflow, non-finite]`.
    """
    n = bins.n_bins
    lo, hi = float(bins.edges[0]), float(bins.edges[-1])
    width = (hi - lo) / n
    edges = bins.edges
    center = bins.center

    def bin_index(y):
        if bins.uniform:
            idx = jnp.floor((y - lo) / width).astype(jnp.int32)
        else:
            idx = jnp.searchsorted(jnp.asarray(edges, y.dtype), y, side="right").astype(jnp.int32) - 1
        # numpy convention: the last bin includes its right edge; a y inside [lo, hi]
        # whose float32 quotient rounds to n (or -1) still belongs to an edge bin.
        idx = jnp.where((y >= lo) & (y <= hi), jnp.clip(idx, 0, n - 1), idx)
        idx = jnp.clip(idx, -1, n) + 1
        return jnp.where(jnp.isfinite(y), idx, n + 2)

    def record(x, y, valid, group_of):
        finite = jnp.isfinite(y) & jnp.all(jnp.isfinite(x), axis=-1)
        idx = bin_index(jnp.where(finite, y, jnp.nan)) + (n + 3) * group_of[:, None]
        counts = jnp.zeros(n_groups * (n + 3), jnp.int32).at[idx.ravel()].add(
            valid.ravel().astype(jnp.int32)).reshape(n_groups, n + 3)
        use = valid & finite
        zero = jnp.zeros((), y.dtype)
        loss = landscape.loss(x, y)
        energy = landscape.valley_energy(x, y)
        dy = y - center
        terms = [jnp.ones_like(y), loss, loss**2, energy, energy**2, dy, dy**2, dy**3, dy**4]
        for _, f in observables:
            v = jnp.broadcast_to(f(x, y), y.shape).astype(y.dtype)
            terms += [v, v**2]
        # Per-block sums by a fixed pairwise tree (see `block_sum`); the host adds
        # blocks in float64 in block order, so no result depends on the chunking.
        sums = jnp.stack([block_sum(jnp.where(use, t, zero)) for t in terms], axis=-1)
        return counts, sums

    return record


def block_sum(v: jax.Array) -> jax.Array:
    """Sum over the last axis `(..., B) -> (...)` by a fixed pairwise tree.

    A reduction's association order is XLA's choice and depends on the array's
    shape (how many blocks a chunk holds); a tree of elementwise adds of halves
    is the same IEEE computation for every block whatever the leading shape, so
    chunking and sharding leave the float32 sums bit-identical.
    """
    width = 1 << max(0, (v.shape[-1] - 1).bit_length())
    v = jnp.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, width - v.shape[-1])])
    while v.shape[-1] > 1:
        half = v.shape[-1] // 2
        v = v[..., :half] + v[..., half:]
    return v[..., 0]


def moments(sums: np.ndarray, names: tuple[str, ...], center: float,
            user_names: tuple[str, ...]) -> tuple[dict, dict]:
    """Means and standard errors `(R,)` from summed terms `(R, n_terms)` (float64)."""
    # Overflowed float sums (a run that blew up) give inf/nan means, not warnings.
    with np.errstate(invalid="ignore", over="ignore"):
        return _moments(sums, names, center, user_names)


def _moments(sums, names, center, user_names):
    col = {name: sums[:, i] for i, name in enumerate(names)}
    n = np.maximum(col["n"], 1.0)
    means, errors = {}, {}

    def mean_se(s1, s2):
        m = s1 / n
        var = np.maximum(s2 / n - m * m, 0.0) * n / np.maximum(n - 1, 1)
        return m, np.sqrt(var / n)

    means["loss"], errors["loss"] = mean_se(col["loss"], col["loss^2"])
    means["valley_energy"], errors["valley_energy"] = mean_se(col["energy"], col["energy^2"])
    m1, m2, m3, m4 = (col[f"dy^{k}"] / n if k > 1 else col["dy"] / n for k in (1, 2, 3, 4))
    var = np.maximum(m2 - m1**2, 0.0)
    means["y_mean"], errors["y_mean"] = center + m1, np.sqrt(var / np.maximum(n - 1, 1))
    means["y_var"] = var * n / np.maximum(n - 1, 1)
    # Standard error of a sample variance: sqrt((mu_4 - var^2) / n).
    mu4 = m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4
    errors["y_var"] = np.sqrt(np.maximum(mu4 - var**2, 0.0) / n)
    for name in user_names:
        means[name], errors[name] = mean_se(col[name], col[f"{name}^2"])
    return means, errors
