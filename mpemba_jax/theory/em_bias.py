"""Step bias of the coarse-grained river at a finite step (THEORY sections 2, 3, 8).

The simulator moves the river by steps of size `h = dt` of its integrator; the
Fokker–Planck theory (`evolve` on a continuum operator) is the `h -> 0` limit.
`em_bias` measures the gap at the run's `dt` by iterating the discrete chain's
kernel (`chain.kernel_matrix` of `fp`'s grid and integrator at step `dt`,
THEORY section 8: the river's Gaussian step with the valley at its stationary
variance at that step, folded at the walls) against `evolve`.

It sizes the bias of a continuum theory; a theory of the chain itself is
`FokkerPlanck(..., dt=h)`, which `validate` accepts in place of the continuum.
"""

from __future__ import annotations

import math

import numpy as np

from .chain import kernel_matrix
from .distances import masses_to_bins, total_variation
from .evolve import evolve
from .operator import FokkerPlanck

__all__ = ["em_bias"]


def em_bias(fp: FokkerPlanck, dt: float, steps: np.ndarray, lr_inits: dict, edges,
            n_particles: int | None = None) -> dict:
    """Step bias of the river: the chain of `fp.integrator` at step `dt` on `fp`'s grid
    against `mj.evolve` on the continuum operator `fp`, for quenches to `fp.lr_bath`.

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
    if fp.dt is not None:
        raise ValueError(f"em_bias sizes the step bias of a continuum theory; fp is already the "
                         f"chain at dt={fp.dt:g} (build it with dt=None)")
    kt = kernel_matrix(fp, fp.lr_bath, dt).T.tocsr()
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
