"""Histogram statistics: distances with their noise, and the chi-square test.

Two ways to put noise on a histogram's total variation distance
`D = 0.5 sum_i |n_i / n - r_i|` (`theory.total_variation`, the one
implementation of `D`):

- exact (used by `validate`): `expected_tv` is `E[D]` for a multinomial sample
  of given cell probabilities, through the binomial marginals (de Moivre's
  mean absolute deviation); `tv_statistics` adds the noise floor
  (`expected_tv` of the reference itself) and a delta-method standard error;
- bootstrap (used by the schedule-comparison study): `tv_distance` and
  `tv_between` resample the histograms (`n_boot` multinomial draws), so they
  also serve two measured histograms (`tv_between`), where no exact law is
  at hand. Their `floor` and `expected` estimate what `expected_tv` gives
  exactly; they are kept as they are so that the study's numbers do not move.

`pearson_chi2` tests counts against cell probabilities after `merge_cells`;
`binomial_interval` is the exact interval of a rate measured on repeated runs.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike

from ..theory import total_variation

__all__ = ["tv_distance", "tv_between", "merge_cells", "pearson_chi2", "expected_tv",
           "tv_statistics", "tv_null_se", "binomial_interval"]


def tv_distance(counts: np.ndarray, reference: np.ndarray, *, predicted: np.ndarray | None = None,
                n_boot: int = 200, seed: int = 0) -> dict[str, float]:
    """Total variation `0.5 sum |c / N - p_ref|` of a histogram and what noise does to it.

    `counts (K,)` and `reference (K,)` over the same cells (include the cells
    below and above the bins so both sum to 1). Returns `tv`; `se` (multinomial
    bootstrap of the histogram); `floor`, the mean TV of an `N`-particle sample
    of the reference itself (the bias of the estimator at zero distance,
    `~ sqrt(K / N)`; `expected_tv(reference, reference, N)` exactly); and with
    `predicted` cell probabilities, `expected`: the mean TV of `N`-particle
    samples of the prediction, which is what the measured `tv` should equal if
    the prediction is right (`expected_tv(predicted, reference, N)` exactly),
    and `exact`, the noise-free distance of the prediction.
    """
    counts = np.asarray(counts, np.int64)
    ref = np.clip(np.asarray(reference, np.float64), 0.0, None)
    ref = ref / ref.sum()
    n = int(counts.sum())
    if n == 0:
        raise ValueError("counts must hold at least one particle")
    rng = np.random.default_rng(seed)

    def tv_of(c):
        return total_variation(c / n, ref)

    out = {"tv": float(tv_of(counts)),
           "se": float(np.std(tv_of(rng.multinomial(n, counts / n, size=n_boot)), ddof=1)),
           "floor": float(np.mean(tv_of(rng.multinomial(n, ref, size=n_boot))))}
    if predicted is not None:
        p = np.clip(np.asarray(predicted, np.float64), 0.0, None)
        p = p / p.sum()
        out["expected"] = float(np.mean(tv_of(rng.multinomial(n, p, size=n_boot))))
        out["exact"] = float(total_variation(p, ref))
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
        return total_variation(x / na, y / nb)

    pooled = (a + b) / (na + nb)
    return {"tv": float(tv_of(a, b)),
            "se": float(np.std(tv_of(rng.multinomial(na, a / na, size=n_boot),
                                     rng.multinomial(nb, b / nb, size=n_boot)), ddof=1)),
            "floor": float(np.mean(tv_of(rng.multinomial(na, pooled, size=n_boot),
                                         rng.multinomial(nb, pooled, size=n_boot))))}


def merge_cells(expected: np.ndarray, min_expected: float = 5.0) -> np.ndarray:
    """Group labels `(n_cells,)` merging adjacent cells until each group's expected
    count is `>= min_expected` (a short last group joins its left neighbour)."""
    expected = np.asarray(expected, float)
    labels = np.zeros(len(expected), int)
    g, acc = 0, 0.0
    for i, e in enumerate(expected):
        labels[i] = g
        acc += e
        if acc >= min_expected:
            g, acc = g + 1, 0.0
    if g > 0 and np.any(labels == g):  # a leftover group below the threshold
        labels[labels == g] = g - 1
    return labels


def pearson_chi2(observed: ArrayLike, probs: ArrayLike,
                 min_expected: float = 5.0) -> tuple[float, int, float]:
    """Pearson `X^2 = sum (O - E)^2 / E` of counts against probabilities after
    merging cells (`merge_cells`); returns `(X^2, dof, p-value)`, `dof = cells - 1`.

    Probabilities are renormalised to sum 1; a count in a cell with `E = 0`
    (before merging) gives `X^2 = inf`, p-value 0.
    """
    obs = np.asarray(observed, float)
    p = np.clip(np.asarray(probs, float), 0.0, None)
    n = obs.sum()
    p = p / p.sum()
    exp = n * p
    if np.any((exp <= 0) & (obs > 0)):  # impossible under the prediction, merged or not
        return math.inf, max(int(np.sum(exp > 0)) - 1, 1), 0.0
    labels = merge_cells(exp, min_expected)
    o = np.bincount(labels, obs)
    e = np.bincount(labels, exp)
    if np.any((e <= 0) & (o > 0)):
        return math.inf, max(len(e) - 1, 1), 0.0
    keep = e > 0
    x2 = float(np.sum((o[keep] - e[keep]) ** 2 / e[keep]))
    dof = int(keep.sum() - 1)
    if dof < 1:
        return x2, 0, 1.0
    return x2, dof, float(scipy.stats.chi2.sf(x2, dof))


def _binom_cdf(k: np.ndarray, n: int, p: np.ndarray) -> np.ndarray:
    """`P(X <= k)`, `X ~ Binomial(n, p)`, elementwise for integer-valued `k` (any sign):
    `scipy.special.bdtr` inside `[0, n)`, 0 below, 1 above (`scipy.stats.binom.cdf`'s
    values at a fraction of its call overhead, which dominated `validate`)."""
    k = np.asarray(k, float)
    inside = (k >= 0) & (k < n)
    out = np.where(k >= n, 1.0, 0.0)
    return np.where(inside, scipy.special.bdtr(np.clip(k, 0, max(n - 1, 0)), n, p), out)


def _mean_abs_dev(n: int, p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """`E|X - c|` for `X ~ Binomial(n, p)` exactly, elementwise.

    `E|X - c| = (n p - c) + 2 [c F(k; n, p) - n p F(k - 1; n - 1, p)]`, `k = floor(c)`,
    using `sum_{x <= k} x pmf(x; n, p) = n p F(k - 1; n - 1, p)`.
    """
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    c = np.asarray(c, float)
    k = np.floor(c)
    f_k = _binom_cdf(k, n, p)
    f_km1 = np.where(k >= 1, _binom_cdf(k - 1, n - 1, p), 0.0)
    out = (n * p - c) + 2.0 * (c * f_k - n * p * f_km1)
    return np.maximum(out, np.abs(n * p - c))  # Jensen bound guards round-off


def expected_tv(probs: ArrayLike, reference: ArrayLike, n: int) -> np.ndarray:
    """`E[0.5 sum_i |X_i / n - r_i|]` for `X ~ Multinomial(n, probs)`, exactly.

    By linearity only the binomial marginals enter. `probs`, `reference`:
    `(..., n_cells)` (each summing to 1); returns `(...)`. With
    `probs = reference` this is the noise floor of the histogram distance.
    """
    p = np.asarray(probs, float)
    r = np.broadcast_to(np.asarray(reference, float), p.shape)
    return 0.5 * _mean_abs_dev(int(n), p, n * r).sum(-1) / n


def tv_statistics(counts: ArrayLike, reference: ArrayLike) -> dict:
    """Histogram TV distance to `reference` with its noise floor and standard error.

    Args:
      counts: `(..., n_cells)` integer counts (include under/overflow cells).
      reference: `(n_cells,)` reference probabilities (summing to 1).

    Returns dict of `(...)` arrays: `tv`, `floor` (`E[tv]` were the counts a
    sample of `reference`), `se` (standard error of `tv`).

    The variance is the delta method over the multinomial,

        Var(sum_i |X_i - c_i|) ~ sum_i Var|X_i - c_i| - n [(sum_i s_i p_i)^2 - sum_i s_i^2 p_i^2],
        s_i = E sign(X_i - c_i),  Var|X - c| = n p (1 - p) + (n p - c)^2 - (E|X - c|)^2,

    evaluated at de-noised probabilities `p_i = r_i + sign(d_i) sqrt(max(d_i^2 - 2 v_i, 0))`
    with `d_i = X_i / n - r_i`, `v_i = (X_i / n)(1 - X_i / n) / n`. Plugging in
    the raw frequencies would overstate the error by up to
    `(1 - 2 / pi)^(-1/2) = 1.66` near the floor (`E d^2 = (p - r)^2 + v`); the
    factor 2 was chosen so that 95% intervals `tv +- 1.96 se` cover `E[tv]`
    95 +- 1.5% of the time from the floor to far above it (multinomial
    sampling, 30 cells, 2000 draws each; `tests/validation/test_statistics.py`
    checks it).
    """
    x = np.asarray(counts, float)
    n_arr = x.sum(-1)
    r = np.asarray(reference, float)
    out = {"tv": [], "floor": [], "se": []}
    flat = x.reshape(-1, x.shape[-1])
    for row, n in zip(flat, n_arr.reshape(-1)):
        n = int(round(n))
        f = row / n
        d = f - r
        v = f * (1 - f) / n
        p = np.clip(r + np.sign(d) * np.sqrt(np.maximum(d * d - 2.0 * v, 0.0)), 0.0, 1.0)
        out["tv"].append(total_variation(f, r))
        out["floor"].append(expected_tv(r, r, n))
        out["se"].append(_tv_sd(n, p, r))
    shape = n_arr.shape
    return {k: np.asarray(v, float).reshape(shape) for k, v in out.items()}


def _tv_sd(n: int, p: np.ndarray, r: np.ndarray) -> float:
    """Delta-method standard deviation of `tv` for `X ~ Multinomial(n, p)` against `r`
    (the variance formula of `tv_statistics`)."""
    c = n * r
    mad = _mean_abs_dev(n, p, c)
    var_i = n * p * (1 - p) + (n * p - c) ** 2 - mad**2
    # s_i = P(X > c) - P(X < c)
    k = np.floor(c)
    below = np.where(c > k, _binom_cdf(k, n, p), np.where(k >= 1, _binom_cdf(k - 1, n, p), 0.0))
    inside = (k >= 0) & (k < n)
    above = np.where(inside, scipy.special.bdtrc(np.clip(k, 0, max(n - 1, 0)), n, p),
                     np.where(k < 0, 1.0, 0.0))
    s = above - below
    var = np.sum(np.maximum(var_i, 0.0)) - n * ((s @ p) ** 2 - np.sum(s**2 * p**2))
    return 0.5 * math.sqrt(max(var, 0.0)) / n


def tv_null_se(probs: ArrayLike, reference: ArrayLike, n: int) -> np.ndarray:
    """Standard deviation of `tv` to `reference` for `X ~ Multinomial(n, probs)`: the
    error under a hypothesis, not from the data.

    `tv_statistics`' data-based `se` serves intervals; a test of `tv = E[tv]`
    divides by this one instead. The data-based error is smaller when the
    sample's `tv` happens to be small (the two are correlated), which made the
    test reject too often at small `n` (1024 particles in 32 cells: 8.9% at a
    nominal 5% on a single record, 5.6% with this one; 4000 draws).
    `probs`: `(..., n_cells)`; returns `(...)`.
    """
    p = np.asarray(probs, float)
    r = np.asarray(reference, float)
    flat = p.reshape(-1, p.shape[-1])
    return np.asarray([_tv_sd(int(n), np.clip(row, 0.0, 1.0), r) for row in flat]).reshape(
        p.shape[:-1])


def binomial_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval for a rate from `k` events in `n` independent trials:
    `[B(a/2; k, n - k + 1), B(1 - a/2; k + 1, n - k)]` with `a = 1 - confidence`
    (Beta quantiles; 0 and 1 at the ends). Covers the true rate at least `confidence`
    of the time.

    Example:
      >>> [round(x, 4) for x in binomial_interval(3, 100)]
      [0.0062, 0.0852]
    """
    if isinstance(n, bool) or int(n) != n or n < 1 or not (0 <= k <= n) or int(k) != k:
        raise ValueError(f"need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(scipy.stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(scipy.stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi
