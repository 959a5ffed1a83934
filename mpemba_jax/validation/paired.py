"""Paired statistics of schedules run on common random numbers."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["paired_difference"]


def paired_difference(batch, name: str, i: int, j: int, r_i: int,
                      r_j: int | None = None) -> tuple[float, float]:
    """`(mean_i - mean_j, standard error)` of observable `name` between schedule `i`
    at record `r_i` and schedule `j` at record `r_j` (default `r_i`).

    The schedules share their noise, so the two means are correlated; the
    error comes from the `n_groups` independent groups of noise blocks
    (delta method for the ratio `sum / n` of each group), which accounts for
    that correlation. Observable names as in `BatchResult.observables`
    (`loss`, `valley_energy` or a user observable).
    """
    r_j = r_i if r_j is None else r_j
    col = {"loss": "loss", "valley_energy": "energy"}.get(name, name)
    if col not in batch.sum_names:
        raise ValueError(f"no recorded sum for observable {name!r}; have {batch.sum_names}")
    k, kn = batch.sum_names.index(col), batch.sum_names.index("n")
    gi, gj = batch.group_sums[i, r_i], batch.group_sums[j, r_j]
    n_i, n_j = gi[:, kn].sum(), gj[:, kn].sum()
    m_i, m_j = gi[:, k].sum() / n_i, gj[:, k].sum() / n_j
    resid = (gi[:, k] - m_i * gi[:, kn]) / n_i - (gj[:, k] - m_j * gj[:, kn]) / n_j
    g = len(resid)
    se = math.sqrt(g / max(g - 1, 1) * float(np.sum(resid**2)))
    return float(m_i - m_j), se
