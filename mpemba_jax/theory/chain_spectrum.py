"""Spectrum, eigenvectors and stationary states of the discrete chain (THEORY section 8).

The chain's kernel `K` (`chain.kernel_matrix`, row-stochastic, banded) is not
symmetric and in general not reversible, so its left and right eigenvectors
are computed separately, each in the form where it is O(1) or a probability:

- stationary masses `pi` (`pi^T K = pi^T`): one sparse LU solve of
  `(I - K^T) pi = 0` with the equation of the most probable cell replaced by
  `pi_r = 1`, then normalised (no power iteration, so no `1 / lambda_2` steps);
- left eigenfunctions `u_k` (`K u_k = mu_k u_k`, functions of `y`): `K` acts on
  functions by averaging over one step, so every row is a probability vector
  and `u_k` is O(1) wherever the chain can go (like the backward operator of
  the continuum theory, no division by `pi`); shift-invert Arnoldi (ARPACK)
  with a sparse LU of `K - sigma I`, `sigma` just above 1;
- right eigenvectors `V_k` (cell masses, `V_k^T K = mu_k V_k^T`): the same on `K^T`.

Conventions as in the continuum theory: `u_1 = 1`, `V_1 = pi`; `u_k` has
`sum_i pi_i u_k,i^2 = 1` and is positive on its last lobe; `V_k` is scaled to
`sum_i u_j,i V_k,i = delta_jk` (biorthonormal). Rates per unit time
`lambda_k = -ln(mu_k) / h`. The slow eigenvalues of this chain are real
(its Gaussian kernel with an increasing mean map is totally positive); an
imaginary part above 1e-9 raises.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .chain import kernel_matrix, stability_limit, step_moments
from .conventions import positive_lr

__all__ = ["chain_spectrum", "chain_stationary", "orient_downstream", "build_chain", "stationary",
           "check_chain_lr"]

# Shift-invert point: just above the eigenvalue 1, so K - sigma I stays invertible.
_SIGMA = 1.0 + 1e-9
_IMAG_TOL = 1e-9
# Above this fill a kernel is factorised densely (LAPACK), below by SuperLU.
_DENSE_FILL = 0.15


def orient_downstream(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`u` or `-u`, whichever is positive on its last lobe (right of its largest-`y`
    zero), judged by the `weights`-weighted sum there: the package's sign convention."""
    s = np.sign(u)
    last = np.nonzero(s != s[-1])[0]
    lobe = slice(last[-1] + 1 if len(last) else 0, len(u))
    w = weights[lobe] @ u[lobe]
    return -u if w < 0 or (w == 0 and u[-1] < 0) else u


# -- methods of FokkerPlanck (assigned in `operator`, as `mpemba` and `quench` are) ------
def stationary(fp, lr: float) -> np.ndarray:
    """Cell masses of the stationary state at `lr`, `(n_grid,)`: the Boltzmann state
    (`equilibrium`) for the continuum theory, the chain's own for `dt=h` (the state a
    long plateau at `lr` reaches under the engine's integrator)."""
    lr = positive_lr("lr", lr)
    if fp.dt is None:
        return fp.equilibrium(lr)
    check_chain_lr(fp, lr)
    return chain_stationary(fp, lr)


def check_chain_lr(fp, lr: float) -> None:
    """`ValueError` unless the chain's valley is stable at `lr` (`mu h max a < 2`)."""
    limit = stability_limit(fp, lr)
    if not fp.dt < limit:
        raise ValueError(
            f"dt={fp.dt:g} is beyond the valley's stability limit {limit:.4g} "
            f"(= 2 / (mu max a)) at lr={lr:g} ({fp.integrator}); the chain diverges")


def build_chain(fp) -> None:
    """Set the spectral attributes of the chain operator `fp` (its `__init__` calls this):
    checks the valley's stability and that cells resolve the step, then `chain_spectrum`."""
    check_chain_lr(fp, fp.lr_bath)
    _, var = step_moments(fp, fp.lr_bath)
    sd = float(np.sqrt(var.min()))
    if sd < fp.h:
        need = int(math.ceil(fp.n_grid * fp.h / sd))
        raise ValueError(
            f"n_grid={fp.n_grid} cells of width {fp.h:.3g} do not resolve the chain's step "
            f"(standard deviation {sd:.3g} at lr={fp.lr_bath:g}, dt={fp.dt:g}); the kernel "
            f"needs cells no wider than one step sd: use n_grid >= {need} or a larger dt")
    spec = chain_spectrum(fp)
    fp.eigenvalues = spec["eigenvalues"]
    fp.multipliers = spec["multipliers"]
    fp.left_eigenfunctions = spec["left"]
    fp.stationary_masses = pi = spec["stationary"]
    fp.right_eigenfunctions = spec["right_masses"] / fp.h
    fp.mode_ratios = np.where(pi > 0, spec["right_masses"] / np.where(pi > 0, pi, 1.0), 0.0)
    fp.mode_ratios[0] = 1.0


def chain_stationary(fp, lr: float) -> np.ndarray:
    """Stationary cell masses of the chain at LR `lr` on `fp`'s grid, `(n_grid,)`.

    Solves `(I - K^T) pi = 0` with the row of the cell where the Boltzmann state at
    `lr` peaks replaced by `pi_r = 1`; tiny negative round-off is set to 0."""
    k = kernel_matrix(fp, lr)
    return _stationary(k, int(np.argmax(fp.equilibrium(lr))))


def _factor(a: scipy.sparse.spmatrix):
    """`solve(b, trans)` for the square matrix `a`: SuperLU (natural order, keeps the
    band) when sparse, LAPACK's dense LU when its fill exceeds `_DENSE_FILL`."""
    n = a.shape[0]
    if a.nnz > _DENSE_FILL * n * n:
        lu = scipy.linalg.lu_factor(a.toarray(), check_finite=False)
        return lambda b, trans="N": scipy.linalg.lu_solve(lu, b, trans=0 if trans == "N" else 1,
                                                          check_finite=False)
    lu = scipy.sparse.linalg.splu(a.tocsc(), permc_spec="NATURAL")
    return lambda b, trans="N": lu.solve(b, trans=trans)


def _stationary(k: scipy.sparse.csr_matrix, r: int) -> np.ndarray:
    n = k.shape[0]
    keep = np.ones(n)
    keep[r] = 0.0
    a = scipy.sparse.diags(keep) @ (scipy.sparse.identity(n) - k.T)
    a = a + scipy.sparse.csr_matrix(([1.0], ([r], [r])), shape=(n, n))
    rhs = np.zeros(n)
    rhs[r] = 1.0
    pi = np.maximum(_factor(a)(rhs), 0.0)
    return pi / pi.sum()


def _slow_modes(op: scipy.sparse.csr_matrix, solve, trans: str, k: int, one: np.ndarray,
                other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `k - 1` eigenpairs of `op` nearest 1 after the eigenvalue 1, decreasing.

    `op` has the eigenvector `one` (eigenvalue 1) and the dual `other` (`other^T op =
    other^T`, `other @ one = 1`); `solve(b, trans)` solves with `K - sigma I`.
    Shift-invert Arnoldi runs on the invariant subspace `{x: other @ x = 0}`:
    `OPinv b = P (op - sigma I)^-1 P b` with the projection `P x = x - one (other @ x)`.
    Without the projection the near-singular solve amplifies round-off along `one`
    by `1 / (sigma - 1)` and costs the other modes most of their digits."""
    n = op.shape[0]

    def project(x):
        return x - one * (other @ x)

    inv = scipy.sparse.linalg.LinearOperator(
        (n, n), matvec=lambda b: project(solve(project(b), trans)), dtype=np.float64)
    # A fixed, generic start vector: results do not depend on ARPACK's random one.
    v0 = project(np.cos(np.linspace(0.3, 7.1, n)) + 1.7)
    vals, vecs = scipy.sparse.linalg.eigs(op, k=k - 1, sigma=_SIGMA, OPinv=inv, v0=v0, tol=0.0)
    order = np.argsort(-vals.real)
    vals, vecs = vals[order], vecs[:, order]
    if np.any(np.abs(vals.imag) > _IMAG_TOL) or np.any(
            np.abs(vecs.imag).max(0) > 1e-6 * np.abs(vecs.real).max(0)):
        raise np.linalg.LinAlgError(
            f"the chain's slow eigenvalues are not real: {vals!r}; is the step unstable "
            "(mu h F'' >= 1 somewhere), or the grid too coarse for the higher modes?")
    return vals.real, vecs.real


def chain_spectrum(fp) -> dict:
    """Eigenvalues (rates `-ln mu_k / h`), left eigenfunctions, right eigenvectors (cell
    masses) and stationary masses of the chain at `fp.lr_bath`, as a dict of arrays."""
    k = kernel_matrix(fp, fp.lr_bath)
    n_modes = fp.n_modes
    # The stationary state as `chain_stationary` computes it at any LR (so a start
    # "chain" at the bath LR has a_k = 0 to round-off); one LU of K - sigma I
    # serves both eigenproblems (K^T through trans="T").
    pi = _stationary(k, int(np.argmax(fp.equilibrium(fp.lr_bath))))
    solve = _factor(k - _SIGMA * scipy.sparse.identity(fp.n_grid))
    ones = np.ones(fp.n_grid)
    mu_u, u = _slow_modes(k, solve, "N", n_modes, ones, pi)
    mu_v, v = _slow_modes(k.T.tocsr(), solve, "T", n_modes, pi, ones)
    left = np.empty((n_modes, fp.n_grid))
    right = np.empty((n_modes, fp.n_grid))
    mus = np.ones(n_modes)
    left[0], right[0] = 1.0, pi
    for j in range(1, n_modes):
        uj = u[:, j - 1] / np.sqrt(pi @ u[:, j - 1] ** 2)
        left[j] = orient_downstream(uj, pi)
        right[j] = v[:, j - 1] / (left[j] @ v[:, j - 1])
        # Two-sided Rayleigh quotient: error quadratic in the eigenvectors' errors.
        mus[j] = left[j] @ (k.T @ right[j])
    if not (np.allclose(mus[1:], mu_u, rtol=0, atol=1e-9)
            and np.allclose(mus[1:], mu_v, rtol=0, atol=1e-9)):
        raise np.linalg.LinAlgError(
            f"left and right spectra of the chain disagree: {mu_u} vs {mu_v}")
    if np.any(mus[1:] <= 0) or mus[1] >= 1:
        raise np.linalg.LinAlgError(f"the chain's slow eigenvalues leave (0, 1): {mus}")
    rates = np.concatenate([[0.0], -np.log(mus[1:]) / fp.dt])
    return {"eigenvalues": rates, "multipliers": mus, "left": left, "right_masses": right,
            "stationary": pi}
