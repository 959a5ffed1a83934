"""Distances between histograms, with their noise (bootstrap)."""

from __future__ import annotations

import numpy as np

__all__ = ["tv_distance", "tv_between"]


def tv_distance(counts: np.ndarray, reference: np.ndarray, *, predicted: np.ndarray | None = None,
                n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Total variation `0.5 sum |c / N - p_ref|` of a histogram and what noise does to it.

    `counts (K,)` and `reference (K,)` over the same cells (include the cells
    below and above the bins so both sum to 1). Returns `tv`; `se` (multinomial
    bootstrap of the histogram); `floor`, the mean TV of an `N`-particle sample
    of the reference itself (the bias of the estimator at zero distance,
    `~ sqrt(K / N)`); and with `predicted` cell probabilities, `expected`: the
    mean TV of `N`-particle samples of the prediction, which is what the
    measured `tv` should equal if the prediction is right.
    """
    counts = np.asarray(counts, np.int64)
    ref = np.clip(np.asarray(reference, np.float64), 0.0, None)
    ref = ref / ref.sum()
    n = int(counts.sum())
    if n == 0:
        raise ValueError("counts must hold at least one particle")
    rng = np.random.default_rng(seed)

    def tv_of(c):
        return 0.5 * np.abs(c / n - ref).sum(-1)

    out = {"tv": float(tv_of(counts)),
           "se": float(np.std(tv_of(rng.multinomial(n, counts / n, size=n_boot)), ddof=1)),
           "floor": float(np.mean(tv_of(rng.multinomial(n, ref, size=n_boot))))}
    if predicted is not None:
        p = np.clip(np.asarray(predicted, np.float64), 0.0, None)
        p = p / p.sum()
        out["expected"] = float(np.mean(tv_of(rng.multinomial(n, p, size=n_boot))))
        out["exact"] = float(0.5 * np.abs(p - ref).sum())
    return out


def tv_between(counts_a: np.ndarray, counts_b: np.ndarray, *, n_boot: int = 200,
               seed: int = 0) -> dict[str, float]:
    """Total variation `0.5 sum |a / N_a - b / N_b|` between two histograms of the same cells.

    Returns `tv`; `se` (multinomial bootstrap of both histograms); and `floor`,
    the mean TV of two samples of the sizes given drawn from the pooled
    histogram (what two samples of one distribution show).

    Example:
      >>> round(tv_between(np.array([50, 50]), np.array([30, 70]))["tv"], 6)
      0.2
    """
    a, b = np.asarray(counts_a, np.int64), np.asarray(counts_b, np.int64)
    if a.shape != b.shape:
        raise ValueError(f"histograms must have the same cells; got {a.shape} and {b.shape}")
    na, nb = int(a.sum()), int(b.sum())
    if na == 0 or nb == 0:
        raise ValueError("both histograms must hold at least one particle")
    rng = np.random.default_rng(seed)

    def tv_of(x, y):
        return 0.5 * np.abs(x / na - y / nb).sum(-1)

    pooled = (a + b) / (na + nb)
    return {"tv": float(tv_of(a, b)),
            "se": float(np.std(tv_of(rng.multinomial(na, a / na, size=n_boot),
                                     rng.multinomial(nb, b / nb, size=n_boot)), ddof=1)),
            "floor": float(np.mean(tv_of(rng.multinomial(na, pooled, size=n_boot),
                                         rng.multinomial(nb, pooled, size=n_boot))))}
