"""Euler–Maruyama bias of the coarse-grained river at a finite step (THEORY sections 2, 3).

The simulator moves the river by Euler–Maruyama steps of size `h = dt`; the
Fokker–Planck theory (`evolve`) is the `h -> 0` limit. `em_bias` measures the
gap at the run's `dt` by iterating the exact transition kernel of the 1-D
Euler–Maruyama river chain on `fp`'s grid,

    y' = y - mu h (V'(y) + a'(y) <|x|^2> / 2) + sqrt(2 mu T h) n,
    <|x|^2> = d T / (a (1 - mu a h / 2))          (`valley.valley_moment_fixed_point`),

    K_ij = Phi((e_{j+1} - m_i) / s) - Phi((e_j - m_i) / s),   m_i = E[y' | y_i], s = sqrt(2 mu T h),

plus, on a bounded river, the mass of the mirror images beyond each wall,
with each row renormalised (an unbounded river's grid ends lose < e^-40 per
step). The valley enters only through its EM-stationary second moment, a
proxy valid for `tau_x << tau_y`; the valley's lag is the coarse-graining
error and is measured separately.

Note: this is a stand-in. The theory of the discrete SGD chain (valley and
river together, at finite `h`) will supersede it; until then `validate` uses
it to size the step bias against the statistical error.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.special

from .distances import masses_to_bins, total_variation
from .evolve import evolve
from .operator import FokkerPlanck
from .valley import valley_moment_fixed_point

__all__ = ["em_bias"]


def em_bias(fp: FokkerPlanck, dt: float, steps: np.ndarray, lr_inits: dict, edges,
            n_particles: int | None = None) -> dict:
    """Euler–Maruyama bias of the river: the exact EM chain on `fp`'s grid against
    `mj.evolve` at the same `dt`, for quenches to `fp.lr_bath`.

    Args:
      fp: the operator at the bath LR (grid, landscape, time convention).
      dt: the simulator's step.
      steps: `(n_rec,)` record steps at which the two are compared.
      lr_inits: `{name: plateau LR}`; each start is the equilibrium there.
      edges: `(n_bins + 1,)` histogram edges for the binned TV distance.
      n_particles: if given, also the chi-square noncentrality the bias adds to
        a histogram of that many particles.

    Returns: `{name: {"A2", "A3", "tv"}}`, the largest differences over the
    records in `A_k = sum_i p_i u_k(y_i)` and in the binned TV distance to
    `pi_f`; with `n_particles`, also `chi2_noncentrality_mean` / `_max`, the
    mean and max over the records of `N sum_j (p_EM,j - p_FP,j)^2 / p_FP,j`.

    Example:
      >>> bias = em_bias(fp, 1.0, [0, 100, 300], {"hot": 0.05}, np.linspace(-1, 1, 21))
      >>> bias["hot"]["A2"]        # |A_2^EM - A_2^FP| at worst over the records
    """
    kt = _em_kernel(fp, dt).T.tocsr()
    e, lr = fp.edges, fp.lr_bath
    ref = masses_to_bins(e, fp.stationary_masses, edges)
    u2, u3 = fp.left_eigenfunctions[1], fp.left_eigenfunctions[2]
    out = {}
    steps = np.asarray(steps, int)
    # Substeps so that evolve's own first-order time error (~ lambda dt' / 2 per
    # unit time) is far below the EM bias being measured, up to lambda_3.
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
        pe, pf = masses_to_bins(e, em, edges), masses_to_bins(e, q, edges)
        out[name] = {
            "A2": float(np.max(np.abs(em @ u2 - q @ u2))),
            "A3": float(np.max(np.abs(em @ u3 - q @ u3))),
            "tv": float(np.max(np.abs(total_variation(pe, ref) - total_variation(pf, ref)))),
        }
        if n_particles is not None:
            nc = n_particles * np.sum((pe - pf) ** 2 / np.where(pf > 0, pf, np.inf), axis=-1)
            out[name]["chi2_noncentrality_mean"] = float(nc.mean())
            out[name]["chi2_noncentrality_max"] = float(nc.max())
    return out


def _em_kernel(fp: FokkerPlanck, dt: float) -> scipy.sparse.csr_matrix:
    """Row-stochastic EM transition matrix `K_ij` between grid cells, `(n_grid, n_grid)`,
    banded to `+-9` step standard deviations (beyond, the Gaussian mass is < 1e-18)."""
    land = fp.landscape
    temp, mu = fp.temperature, fp.mobility
    y = fp.centres
    with jax.enable_x64(True):
        yj = jnp.asarray(y, jnp.float64)
        vp = np.asarray(land.river_slope(yj))
        a = np.asarray(land.curvatures(yj))  # (n_grid, d)
        ap = np.asarray(land.curvature_slope(yj))
    if not land.per_direction:
        ap = np.repeat(ap[:, None], land.valley_dim, axis=1)
    # The valley's push 0.5 sum_i a_i' <x_i^2> at each direction's EM-stationary variance.
    push = 0.5 * np.sum(ap * valley_moment_fixed_point(mu, temp, a, dt), axis=-1)
    mean = y - mu * dt * (vp + push)
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
    return scipy.sparse.diags(1.0 / np.asarray(k.sum(1)).ravel()) @ k
