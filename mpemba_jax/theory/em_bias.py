"""Euler–Maruyama bias of the coarse-grained river at a finite step."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import scipy.special

from .evolve import evolve
from .distances import masses_to_bins
from .operator import FokkerPlanck

__all__ = ["em_bias"]


def em_bias(fp: FokkerPlanck, dt: float, steps: np.ndarray, lr_inits: dict, edges,
            n_particles: int | None = None) -> dict:
    """Euler–Maruyama bias of the river, by the exact EM transition kernel of the 1D
    river on `fp`'s grid against `mj.evolve` at the same `dt`.

    The valley enters through its EM-stationary variance `T / (a (1 - mu a dt / 2))`
    (a proxy valid for `tau_x << tau_y`; the valley's lag is the coarse-graining
    error, measured separately). Returns, per start, the largest differences over
    the record steps in `A_2`, `A_3` and the binned TV distance, and (given
    `n_particles`) the chi-square noncentrality `N sum_i (p_EM - p_FP)^2 / p_FP`
    the bias adds to a histogram of N particles (mean and max over the records).
    """
    import jax
    import jax.numpy as jnp

    land, lr = fp.landscape, fp.lr_bath
    temp, mu = fp.temperature, fp.mobility
    y = fp.centres
    with jax.enable_x64(True):
        yj = jnp.asarray(y, jnp.float64)
        vp = np.asarray(land.river_slope(yj))
        a = np.asarray(land.curvature(yj))
        ap = np.asarray(land.curvature_slope(yj))
    x2 = land.valley_dim * temp / (a * (1.0 - mu * a * dt / 2.0))
    mean = y - mu * dt * (vp + 0.5 * ap * x2)
    sd = math.sqrt(2.0 * mu * temp * dt)
    e = fp.edges
    n = len(y)
    width = int(math.ceil(9 * sd / fp.h)) + 2
    offs = np.arange(-width, width + 1)
    i = np.repeat(np.arange(n), len(offs))
    j = i + np.tile(offs, n)
    keep = (j >= 0) & (j < n)
    i, j = i[keep], j[keep]
    m = mean[i]
    w = scipy.special.ndtr((e[j + 1] - m) / sd) - scipy.special.ndtr((e[j] - m) / sd)
    if land.domain is not None:
        # A step to z beyond a wall lands at its mirror image: cell j receives the
        # mass of [2 wall - e_{j+1}, 2 wall - e_j].
        for wall in land.domain:
            w += (scipy.special.ndtr((2 * wall - e[j] - m) / sd)
                  - scipy.special.ndtr((2 * wall - e[j + 1] - m) / sd))
    k = scipy.sparse.csr_matrix((w, (i, j)), shape=(n, n))
    # Mass a step sends beyond the grid ends of an unbounded river (< e^-40) is dropped.
    k = scipy.sparse.diags(1.0 / np.asarray(k.sum(1)).ravel()) @ k
    kt = k.T.tocsr()
    ref = masses_to_bins(e, fp.stationary_masses, edges)
    u2, u3 = fp.left_eigenfunctions[1], fp.left_eigenfunctions[2]
    out = {}
    steps = np.asarray(steps, int)
    substeps = max(1, int(math.ceil(fp.eigenvalues[2] * dt / 1e-3)))
    for name, lr0 in lr_inits.items():
        p0 = fp.equilibrium(lr0)
        ev = evolve(fp, p0, lr, dt, n_steps=int(steps.max()), record_steps=steps, substeps=substeps)
        p = p0.copy()
        em = []
        rec = set(steps.tolist())
        for s in range(int(steps.max()) + 1):
            if s in rec:
                em.append(p.copy())
            p = kt @ p
        em = np.asarray(em)
        q = ev.masses
        tv = lambda m: 0.5 * np.abs(masses_to_bins(e, m, edges) - ref).sum(-1)  # noqa: E731
        out[name] = {
            "A2": float(np.max(np.abs(em @ u2 - q @ u2))),
            "A3": float(np.max(np.abs(em @ u3 - q @ u3))),
            "tv": float(np.max(np.abs(tv(em) - tv(q)))),
        }
        if n_particles is not None:
            pe, pf = masses_to_bins(e, em, edges), masses_to_bins(e, q, edges)
            nc = n_particles * np.sum((pe - pf) ** 2 / np.where(pf > 0, pf, np.inf), axis=-1)
            out[name]["chi2_noncentrality_mean"] = float(nc.mean())
            out[name]["chi2_noncentrality_max"] = float(nc.max())
    return out
