"""Distances between probability vectors, and re-binning of grid cell masses.

    total variation  D_1(p, q) = 0.5 sum_i |p_i - q_i|
    KL               sum_i p_i ln(p_i / q_i)
    L2 (chi)         (sum_i (p_i - q_i)^2 / q_i)^(1/2)

`total_variation` is the one implementation of `D_1` in the package; the
histogram statistics of `validation` build on it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DISTANCES", "total_variation", "distances", "distance_from_ratio", "masses_to_bins"]

DISTANCES = ("tv", "kl", "l2")


def total_variation(p: ArrayLike, q: ArrayLike) -> np.ndarray:
    """`0.5 sum_i |p_i - q_i|` over the last axis (broadcast), shape `(...)`.

    Example:
      >>> float(total_variation([0.5, 0.5], [0.3, 0.7]))
      0.2
    """
    return 0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum(-1)


def masses_to_bins(grid_edges: np.ndarray, masses: np.ndarray, edges: ArrayLike, *,
                   tails: bool = False) -> np.ndarray:
    """Re-bin cell masses `(..., n_grid)` on `grid_edges (n_grid + 1,)` onto `edges
    (n_bins + 1,)`, assuming a density constant within each grid cell.

    With `C(z)` the cumulative mass (linear within a cell), bin `j` holds
    `C(edges[j + 1]) - C(edges[j])`. Returns `(..., n_bins)`; with `tails=True`,
    `[below, bins..., above]`, shape `(..., n_bins + 2)`, where `below = C(edges[0])`
    and `above` is the total minus `C(edges[-1])` (a histogram's underflow and
    overflow).

    Example:
      >>> masses_to_bins(np.array([0.0, 1.0, 2.0]), np.array([0.5, 0.5]), [0.5, 1.5])
      array([0.5])
    """
    edges = np.asarray(edges, np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be a strictly increasing 1-D array of >= 2 values; got {edges!r}")
    masses = np.asarray(masses, np.float64)
    cdf = np.concatenate([np.zeros(masses.shape[:-1] + (1,)), np.cumsum(masses, -1)], -1)
    flat = cdf.reshape(-1, cdf.shape[-1])
    at = np.stack([np.interp(edges, grid_edges, row) for row in flat])
    bins = np.diff(at, axis=-1)
    if tails:
        bins = np.concatenate([at[:, :1], bins, flat[:, -1:] - at[:, -1:]], axis=-1)
    return bins.reshape(masses.shape[:-1] + (bins.shape[-1],))


def distance_from_ratio(pi: np.ndarray, g: np.ndarray, kind: str) -> np.ndarray:
    """Distance of `p = pi (1 + g)` from `pi` (cell masses `(n_grid,)`, `g (..., n_grid)`)."""
    if kind == "tv":
        return 0.5 * np.abs(g) @ pi
    if kind == "kl":
        r = np.maximum(1.0 + g, 0.0)
        return np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0) @ pi
    if kind == "l2":
        return np.sqrt(g**2 @ pi)
    raise ValueError(f"kind must be one of {DISTANCES}; got {kind!r}")


def distances(masses: ArrayLike, reference: ArrayLike, kind: str = "tv") -> np.ndarray:
    """Distance of cell masses `(..., n_grid)` from reference masses `(n_grid,)`.

    `"tv"`, `"kl"` (`sum p ln(p / pi)`), `"l2"` (`(sum (p - pi)^2 / pi)^(1/2)`);
    cells where `pi = 0` are skipped. Shape `(...)`.
    """
    p = np.asarray(masses, np.float64)
    pi = np.asarray(reference, np.float64)
    if kind == "tv":
        return total_variation(p, pi)
    pos = pi > 0
    if kind == "kl":
        pp = p[..., pos]
        return np.sum(np.where(pp > 0, pp * np.log(np.where(pp > 0, pp, 1.0) / pi[pos]), 0.0), -1)
    if kind == "l2":
        return np.sqrt(np.sum((p[..., pos] - pi[pos]) ** 2 / pi[pos], -1))
    raise ValueError(f"kind must be one of {DISTANCES}; got {kind!r}")
