"""Fokker–Planck theory of the coarse-grained river (THEORY sections 3 and 4).

At the bath LR `eta_f` (temperature `T_f = g eta_f`, mobility `mu_f`) the river
density obeys

    dp/dt = mu_f d/dy [ F_T'(y) p + T_f dp/dy ],   F_T = V + (d T / 2) ln a,

with zero flux at the walls (the grid ends on an unbounded river). The grid is
`n_grid` equal cells of width `h`; probability hops between neighbouring cells
at the detailed-balance rates

    W_{i -> i+1} = mu T / h^2 * exp(-(F_{i+1} - F_i) / (2 T))          (and reverse)

(the "square-root approximation", second order in `h`). The generator `M`
conserves probability exactly, its stationary cell masses are
`pi_i ~ exp(-F_i / T)` exactly, and `S = pi^(-1/2) M pi^(1/2)` is symmetric
tridiagonal with constant off-diagonal `mu T / h^2`.

Spectrum: `eigenvalues[k - 1] = lambda_k`, ascending, `lambda_1 = 0`. Cell
vectors `U_k` (left, dimensionless) and `V_k = pi U_k` (right, cell masses) obey
`sum_i U_j,i V_k,i = delta_jk`, i.e. `integral u_j v_k dy = delta_jk` with the
densities `v_k = V_k / h`.

Well-conditioned left eigenfunctions: `u_k = psi_k / sqrt(pi)` is useless where
`pi` is tiny (far tails of a hot start, barrier tops). Here the eigenvalues and
symmetric eigenvectors are computed on the window where `pi_f` is not negligible
(with the exact zero mode `sqrt(pi)` deflated and a Rayleigh–Ritz step through
the bidiagonal factor `S = -A^T A`, so that `lambda_2` keeps its relative
accuracy behind high barriers), then every `u_k` is obtained on the whole grid
by inverse iteration with the *backward* operator `M^T`, row-normalised so that
all its entries are O(1) and built from local free-energy differences only. A
backward eigenvector is O(1) everywhere (nearly constant where `F` is steep), so
its normwise accuracy is uniform accuracy.

Sign convention: every `u_k` (`k >= 2`) is positive on its last lobe, i.e. to
the right of its largest-`y` zero (downstream). For a harmonic river `u_2 =
(y - c) / sigma_f`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special
from jax.typing import ArrayLike

from ..dynamics import Dynamics
from ..landscape import ValleyRiver
from .distances import DISTANCES, distance_from_ratio, masses_to_bins

__all__ = ["FokkerPlanck", "MpembaSummary", "temperature_of", "mobility_of", "positive_lr"]

# Resolution: the stationary density may change by at most exp(_MAX_STEP) per
# cell where it holds all but exp(-_BULK) of its mass; beyond, the O(h^2) error
# of the rates is no longer small.
_MAX_STEP = 1.0
_BULK = 12.0
# Eigen-window: cells with (F - min F) / T_f above this carry < exp(-_WINDOW)
# weight; cutting them changes the low spectrum by far less than round-off.
_WINDOW = 200.0
# Where psi_k / sqrt(pi_f) is still accurate enough to seed inverse iteration.
_SEED = 30.0
# exp() arguments are clipped here; rates beyond e^300 are instantaneous anyway.
_CLIP = 300.0


class MpembaSummary(NamedTuple):
    """What `FokkerPlanck.mpemba_summary` finds on a plateau-LR range.

    strong_points: ascending LRs with `a_2 = 0` (strong Mpemba points).
    a3_at_points: `a_3` there (the amplitude that then sets the decay).
    optimal_lr, optimal_a2: the plateau LR minimising `|a_2|` and `a_2` there.
    worst_lr, worst_a2: the plateau LR maximising `|a_2|` and `a_2` there.
    index: the Mpemba index, the number of sign changes of `a_2` on the range.
    """

    strong_points: np.ndarray
    a3_at_points: np.ndarray
    optimal_lr: float
    optimal_a2: float
    worst_lr: float
    worst_a2: float
    index: int


class FokkerPlanck:
    """The river's Fokker–Planck operator at the bath LR, its spectrum and predictions.

    Args:
      landscape: the `ValleyRiver`.
      lr_bath: the bath (final) LR `eta_f > 0`.
      time: `"steps"` or `"lr_area"` (THEORY section 2); eigenvalues are rates
        per unit of that time.
      temperature_scale: `g` in `T = g * eta`.
      n_grid: number of grid cells (>= 16).
      n_modes: number of eigenpairs computed (>= 2, <= n_grid).
      lr_max: the hottest LR the grid must hold in equilibrium (unbounded rivers
        only; default `10 * lr_bath`). `amplitude` beyond it raises `ValueError`.
      tail: the grid covers `landscape.support(T, tail)` at `T_f` and `g lr_max`.

    Attributes (NumPy float64): `edges (n_grid + 1,)`, `centres (n_grid,)`, `h`,
    `eigenvalues (n_modes,)`, `stationary_masses (n_grid,)` (cell probabilities
    `pi_i`), `stationary_density (n_grid,)` (`pi_i / h`),
    `left_eigenfunctions (n_modes, n_grid)` (`u_k` at the centres, row `k - 1`),
    `right_eigenfunctions (n_modes, n_grid)` (densities `v_k`),
    `river_values (n_grid,)` (`V` at the centres), `log_curvature (n_grid,)`
    (`ln a` at the centres).

    Example:
      >>> import mpemba_jax as mj
      >>> fp = mj.FokkerPlanck(mj.preset("harmonic", stiffness=2.0), 0.1)
      >>> round(float(fp.eigenvalues[1] / (0.1 * 2.0)), 4)   # lambda_2 = mu k
      1.0
      >>> fp.amplitude([0.2, 0.5], k=3).shape
      (2,)
    """

    def __init__(
        self,
        landscape: ValleyRiver,
        lr_bath: float,
        *,
        time: str = "steps",
        temperature_scale: float = 1.0,
        n_grid: int = 8000,
        n_modes: int = 8,
        lr_max: float | None = None,
        tail: float = 40.0,
    ):
        if not isinstance(landscape, ValleyRiver):
            raise ValueError(f"landscape must be a ValleyRiver; got {type(landscape).__name__}")
        self.landscape = landscape
        self.dynamics = Dynamics(time=time, temperature_scale=temperature_scale)
        self.lr_bath = positive_lr("lr_bath", lr_bath)
        if isinstance(n_grid, bool) or not isinstance(n_grid, (int, np.integer)) or n_grid < 16:
            raise ValueError(f"n_grid must be an integer >= 16; got {n_grid!r}")
        if (
            isinstance(n_modes, bool)
            or not isinstance(n_modes, (int, np.integer))
            or not 2 <= n_modes <= n_grid
        ):
            raise ValueError(f"n_modes must be an integer in [2, n_grid={n_grid}]; got {n_modes!r}")
        self.n_grid, self.n_modes = int(n_grid), int(n_modes)
        self.lr_max = 10.0 * self.lr_bath if lr_max is None else positive_lr("lr_max", lr_max)
        if self.lr_max < self.lr_bath:
            raise ValueError(f"lr_max must be >= lr_bath={self.lr_bath:g}; got {self.lr_max:g}")
        self.temperature = temperature_of(self.dynamics, self.lr_bath)
        self.mobility = mobility_of(self.dynamics, self.lr_bath)

        # -- grid ---------------------------------------------------------
        lo, hi = landscape.support(self.temperature, tail)
        if landscape.domain is None:
            lo2, hi2 = landscape.support(temperature_of(self.dynamics, self.lr_max), tail)
            lo, hi = min(lo, lo2), max(hi, hi2)
            landscape.check_region(lo, hi)
        self.edges = np.linspace(lo, hi, self.n_grid + 1)
        self.centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.h = float(self.edges[1] - self.edges[0])
        with jax.enable_x64(True):
            c = jnp.asarray(self.centres, jnp.float64)
            self.river_values = np.asarray(landscape.river(c))
            self.log_curvature = np.log(np.asarray(landscape.curvature(c)))
        self._beta_f = self.reduced_free_energy(self.lr_bath)  # F_T / T at the centres
        self.check_resolution(self.lr_bath)

        self.stationary_masses = _softmax(-self._beta_f)
        self.stationary_density = self.stationary_masses / self.h
        self._rate = self.mobility * self.temperature / self.h**2
        self._spectrum()

    # -- grid-level helpers ------------------------------------------------
    def reduced_free_energy(self, lr: float) -> np.ndarray:
        """`F_T(y_i) / T = V / T + (d / 2) ln a` at the cell centres, shape `(n_grid,)`."""
        temp = temperature_of(self.dynamics, lr)
        return self.river_values / temp + 0.5 * self.landscape.valley_dim * self.log_curvature

    def equilibrium(self, lr: float) -> np.ndarray:
        """Cell masses of `P_T ~ exp(-F_T / T)` at `T = g lr` on this grid, shape `(n_grid,)`."""
        lr = positive_lr("lr", lr)
        return _softmax(-self.reduced_free_energy(lr))

    def point_mass(self, y0: float) -> np.ndarray:
        """Cell masses of a point mass at `y0` (all in the cell holding it), shape `(n_grid,)`."""
        y0 = float(y0)
        if not self.edges[0] <= y0 <= self.edges[-1]:
            raise ValueError(
                f"y0 must lie on the grid [{self.edges[0]:g}, {self.edges[-1]:g}]; got {y0:g}"
            )
        p = np.zeros(self.n_grid)
        p[min(int((y0 - self.edges[0]) / self.h), self.n_grid - 1)] = 1.0
        return p

    def check_resolution(self, lr: float) -> None:
        beta = self.reduced_free_energy(lr)
        bulk = beta - beta.min() <= _BULK
        bulk_bonds = bulk[1:] | bulk[:-1]
        step = np.abs(np.diff(beta))[bulk_bonds].max(initial=0.0)
        n_bulk = int(bulk.sum())
        if step > _MAX_STEP or n_bulk < 8:
            need = int(math.ceil(self.n_grid * max(step / _MAX_STEP, 8.0 / max(n_bulk, 1))))
            raise ValueError(
                f"n_grid={self.n_grid} is too coarse to resolve {self.landscape.name!r} at "
                f"lr={lr:g} (T={temperature_of(self.dynamics, lr):g}) on [{self.edges[0]:g}, "
                f"{self.edges[-1]:g}]: F_T/T changes by {step:.3g} per cell over the "
                f"bulk ({n_bulk} cells); allowed <= {_MAX_STEP} per cell and >= 8 cells. "
                f"Use n_grid >= {need} (or a smaller lr_max)."
            )

    # -- spectrum ------------------------------------------------------------
    def _spectrum(self) -> None:
        beta = self._beta_f
        excess = beta - beta.min()
        inside = np.nonzero(excess <= _WINDOW)[0]
        w0, w1 = inside[0], inside[-1] + 1
        bw = beta[w0:w1]
        n_w = w1 - w0
        k = min(self.n_modes, n_w)
        if k < self.n_modes:
            raise ValueError(f"n_modes={self.n_modes} exceeds the {n_w} cells holding pi_f")
        db = np.diff(bw)
        # Scaled symmetric H = -S / (mu T / h^2): diag = sum_j exp(-(F_j - F_i)/2T), off = -1.
        diag = np.zeros(n_w)
        diag[:-1] += _exp(-0.5 * db)
        diag[1:] += _exp(0.5 * db)
        off = -np.ones(n_w - 1)
        _, vecs = scipy.linalg.eigh_tridiagonal(
            diag, off, select="i", select_range=(0, k - 1), lapack_driver="stebz"
        )
        # Exact zero mode; Rayleigh–Ritz for the rest through H = A^T A, A bidiagonal,
        # (A x)_i = exp(db_i / 4) x_{i+1} - exp(-db_i / 4) x_i.
        pi_w = _softmax(-bw)
        psi1 = np.sqrt(pi_w)
        q = vecs[:, 1:] - np.outer(psi1, psi1 @ vecs[:, 1:])
        q, _ = np.linalg.qr(q)
        aq = _exp(0.25 * db)[:, None] * q[1:] - _exp(-0.25 * db)[:, None] * q[:-1]
        _, sig, wt = np.linalg.svd(aq, full_matrices=False)
        order = np.argsort(sig)
        lam = np.concatenate([[0.0], sig[order] ** 2]) * self._rate
        psi = np.concatenate([psi1[:, None], q @ wt[order].T], axis=1)

        # Left eigenfunctions on the whole grid by backward inverse iteration.
        n = self.n_grid
        pi = self.stationary_masses
        left = np.ones((k, n))
        trusted = np.zeros(n, bool)
        trusted[w0:w1] = excess[w0:w1] <= _SEED
        for j in range(1, k):
            seed = np.zeros(n)
            seed[w0:w1] = psi[:, j] / np.sqrt(pi_w)
            seed = _fill_untrusted(seed, trusted)
            left[j] = self._backward_eigenvector(lam[j], seed)
        self.eigenvalues = lam
        self.left_eigenfunctions = left
        self.right_eigenfunctions = pi * left / self.h
        self._window = (int(w0), int(w1))

    def _backward_eigenvector(self, lam: float, seed: np.ndarray) -> np.ndarray:
        """Inverse iteration with the row-normalised backward operator `M^T + lam`."""
        beta, pi, n = self._beta_f, self.stationary_masses, self.n_grid
        db = np.diff(beta)
        # log rates / (mu T / h^2): up_i = -db_i / 2 (i -> i+1), down_i = +db_{i-1} / 2.
        log_up = np.full(n, -np.inf)
        log_up[:-1] = -0.5 * db
        log_dn = np.full(n, -np.inf)
        log_dn[1:] = 0.5 * db
        log_tot = np.logaddexp(log_up, log_dn)
        p_up = np.exp(log_up - log_tot)
        p_dn = np.exp(log_dn - log_tot)
        shift = lam / self._rate * np.exp(-np.minimum(log_tot, _CLIP))
        # Row i: p_dn U_{i-1} - (1 - shift) U_i + p_up U_{i+1} = rhs_i.
        ab = np.zeros((3, n))
        ab[0, 1:] = p_up[:-1]
        ab[1] = -1.0 + shift
        ab[2, :-1] = p_dn[1:]
        u = seed
        scale_rhs = np.exp(-np.minimum(log_tot, _CLIP))
        for _ in range(3):
            u = u - pi @ u
            u = u / np.sqrt(pi @ u**2)
            x = _solve_near_singular(ab, shift, u * scale_rhs)
            if not np.all(np.isfinite(x)):
                raise FloatingPointError(f"backward inverse iteration failed at lambda={lam:g}")
            u = x
        u = u - pi @ u
        u = u / np.sqrt(pi @ u**2)
        # Sign: positive on the last lobe (right of the largest-y zero).
        s = np.sign(u)
        last = np.nonzero(s != s[-1])[0]
        lobe = slice(last[-1] + 1 if len(last) else 0, n)
        if pi[lobe] @ u[lobe] < 0 or (pi[lobe] @ u[lobe] == 0 and u[-1] < 0):
            u = -u
        return u

    # -- left eigenfunctions as JAX functions --------------------------------
    def left_eigenfunction(self, k: int = 2) -> Callable[[jax.Array], jax.Array]:
        """`u_k` as a JAX-traceable function `y -> u_k(y)`, elementwise, in `y`'s dtype.

        Linear interpolation between cell centres; outside `[centres[0],
        centres[-1]]` it holds the end value (`u_k` is flat where `F` is steep,
        and the grid ends carry < exp(-tail) of any density it is built for).
        Traceable under `jit` and `vmap`; the table is a constant of the trace.

        Example:
          >>> u2 = fp.left_eigenfunction(2)
          >>> a2_hat = jnp.mean(u2(y_particles))      # estimates a_2 exp(-lambda_2 t)
        """
        k = self.check_k(k)
        xp_np, fp_np = self.centres, self.left_eigenfunctions[k - 1]

        def u_k(y: ArrayLike) -> jax.Array:
            y = jnp.asarray(y)
            dtype = y.dtype if jnp.issubdtype(y.dtype, jnp.floating) else jnp.result_type(float)
            y = y.astype(dtype)
            return jnp.interp(y, jnp.asarray(xp_np, dtype), jnp.asarray(fp_np, dtype))

        return u_k

    def check_k(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.n_modes:
            raise ValueError(f"k must be an integer in [1, n_modes={self.n_modes}]; got {k!r}")
        return int(k)

    # -- amplitudes ------------------------------------------------------------
    def _initial_log_masses(self, lr_init: np.ndarray) -> np.ndarray:
        lr = np.atleast_1d(np.asarray(lr_init, np.float64))
        if not np.all(np.isfinite(lr) & (lr > 0)):
            raise ValueError(f"lr_init must be finite and > 0; got {lr_init!r}")
        if self.landscape.domain is None and np.any(lr > self.lr_max * (1 + 1e-12)):
            raise ValueError(
                f"lr_init up to {lr.max():g} exceeds lr_max={self.lr_max:g}, the hottest LR "
                "whose equilibrium this grid holds; build FokkerPlanck(..., lr_max=...)"
            )
        temps = self.dynamics.temperature_scale * lr
        logw = -(self.river_values[None, :] / temps[:, None]) - 0.5 * self.landscape.valley_dim * self.log_curvature
        return logw - scipy.special.logsumexp(logw, axis=1, keepdims=True)

    def amplitude(self, lr_init: ArrayLike, k: int = 2) -> np.ndarray | float:
        """`a_k(eta_h) = integral u_k P_{T_h} dy = sum_i U_k,i P_h,i`, shape of `lr_init`.

        The quench from equilibrium at `lr_init` to the bath evolves as
        `p = pi_f + sum_k a_k exp(-lambda_k t) v_k`. `a_1 = 1`; `a_k(lr_bath) = 0`.
        Sign: that of `u_k` (positive on its downstream lobe).
        """
        k = self.check_k(k)
        shape = np.shape(lr_init)
        logp = self._initial_log_masses(lr_init)
        out = np.exp(logp) @ self.left_eigenfunctions[k - 1]
        return out.reshape(shape) if shape else float(out[0])

    def amplitudes(self, lr_init: ArrayLike) -> np.ndarray:
        """All `a_k`, shape `lr_init.shape + (n_modes,)`, column `k - 1` is `a_k`."""
        shape = np.shape(lr_init)
        out = np.exp(self._initial_log_masses(lr_init)) @ self.left_eigenfunctions.T
        return out.reshape(shape + (self.n_modes,))

    def amplitude_jax(self, k: int = 2) -> Callable[[jax.Array], jax.Array]:
        """`lr -> a_k(lr)` written in `jnp` (use under `jax.enable_x64`), differentiable."""
        k = self.check_k(k)
        river, log_a, u = self.river_values, self.log_curvature, self.left_eigenfunctions[k - 1]
        d, g = self.landscape.valley_dim, self.dynamics.temperature_scale

        def a_k(lr):
            logw = -jnp.asarray(river) / (g * lr) - 0.5 * d * jnp.asarray(log_a)
            return jnp.sum(jax.nn.softmax(logw) * jnp.asarray(u))

        return a_k

    def amplitude_slope(self, lr_init: ArrayLike, k: int = 2) -> np.ndarray | float:
        """`d a_k / d eta_h` by forward-mode autodiff through the whole amplitude (x64)."""
        lr = np.asarray(lr_init, np.float64)
        self._initial_log_masses(lr)  # validates
        with jax.enable_x64(True):
            f = self.amplitude_jax(k)
            slope = jax.vmap(lambda x: jax.jvp(f, (x,), (jnp.ones_like(x),))[1])(
                jnp.atleast_1d(jnp.asarray(lr, jnp.float64))
            )
            out = np.asarray(slope).reshape(lr.shape)
        return out if lr.shape else float(out)

    def covariance_criterion(self, lr_init: ArrayLike, k: int = 2) -> np.ndarray | float:
        """`Cov_{P_{T_h}}(u_k, V) / T_h^2`, which equals `d a_k / d T_h` (THEORY section 4).

        A sign change of it on a range is necessary for `a_k` to be non-monotonic
        there. Per LR: `d a_k / d eta_h = g * covariance_criterion`.
        """
        k = self.check_k(k)
        shape = np.shape(lr_init)
        p = np.exp(self._initial_log_masses(lr_init))
        temps = self.dynamics.temperature_scale * np.atleast_1d(np.asarray(lr_init, float))
        u, v = self.left_eigenfunctions[k - 1], self.river_values
        cov = p @ (u * v) - (p @ u) * (p @ v)
        out = cov / temps**2
        return out.reshape(shape) if shape else float(out[0])

    # -- Mpemba points --------------------------------------------------------
    def _check_range(self, lr_range) -> tuple[float, float]:
        try:
            lo, hi = (float(v) for v in lr_range)
        except (TypeError, ValueError):
            raise ValueError(f"lr_range must be a pair (lo, hi); got {lr_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and self.lr_bath < lo < hi):
            raise ValueError(
                f"lr_range must satisfy lr_bath={self.lr_bath:g} < lo < hi (finite); "
                f"got ({lo:g}, {hi:g})"
            )
        return lo, hi

    def _scan(self, lr_range, n_scan: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self._check_range(lr_range)
        if isinstance(n_scan, bool) or not isinstance(n_scan, (int, np.integer)) or n_scan < 2:
            raise ValueError(f"n_scan must be an integer >= 2; got {n_scan!r}")
        lrs = np.geomspace(lo, hi, int(n_scan))
        return lrs, self.amplitude(lrs, 2)

    def strong_mpemba_points(self, lr_range, n_scan: int = 400) -> np.ndarray:
        """Every `eta*` in `lr_range` with `a_2(eta*) = 0`, ascending, shape `(n_points,)`.

        Scans `n_scan` log-spaced LRs for sign changes, then refines each with
        Brent's method to `xtol = 1e-12 eta*`. Double roots (a touch without a
        sign change) closer than the scan spacing are not reported.
        """
        lrs, a2 = self._scan(lr_range, n_scan)
        roots = []
        f = lambda x: self.amplitude(x, 2)  # noqa: E731
        for i in np.nonzero(np.sign(a2[:-1]) * np.sign(a2[1:]) <= 0)[0]:
            if a2[i] == 0.0:
                roots.append(lrs[i])
            elif a2[i + 1] != 0.0:
                roots.append(scipy.optimize.brentq(f, lrs[i], lrs[i + 1], xtol=1e-14, rtol=1e-12))
        if a2[-1] == 0.0:
            roots.append(lrs[-1])
        return np.unique(np.asarray(roots, float))

    def mpemba_summary(self, lr_range, n_scan: int = 400) -> MpembaSummary:
        """Strong points, optimal and worst plateau LRs and the Mpemba index on `lr_range`.

        The optimal plateau is a strong Mpemba point when there is one (among
        several, the one with smallest `|a_3|`), else the bounded minimiser of
        `|a_2|`; the worst plateau maximises `|a_2|` (refined from the scan).
        """
        lrs, a2 = self._scan(lr_range, n_scan)
        points = self.strong_mpemba_points(lr_range, n_scan)
        a3 = self.amplitude(points, 3) if len(points) else np.zeros(0)
        if len(points):
            j = int(np.argmin(np.abs(a3)))
            opt_lr, opt_a2 = float(points[j]), float(self.amplitude(points[j], 2))
        else:
            opt_lr, opt_a2 = self._refine_extremum(lrs, np.abs(a2), minimise=True)
        worst_lr, worst_a2 = self._refine_extremum(lrs, np.abs(a2), minimise=False)
        return MpembaSummary(
            strong_points=points,
            a3_at_points=np.asarray(a3, float),
            optimal_lr=opt_lr,
            optimal_a2=opt_a2,
            worst_lr=worst_lr,
            worst_a2=worst_a2,
            index=int(len(points)),
        )

    def _refine_extremum(self, lrs, absa, minimise: bool) -> tuple[float, float]:
        i = int(np.argmin(absa) if minimise else np.argmax(absa))
        lo, hi = lrs[max(i - 1, 0)], lrs[min(i + 1, len(lrs) - 1)]
        sign = 1.0 if minimise else -1.0
        res = scipy.optimize.minimize_scalar(
            lambda x: sign * abs(self.amplitude(x, 2)),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10 * hi},
        )
        best = float(res.x) if sign * abs(self.amplitude(res.x, 2)) <= sign * absa[i] else lrs[i]
        return best, float(self.amplitude(best, 2))

    def hotter_has_advantage(self, lr_a: float, lr_b: float) -> bool:
        """Whether the hotter of two plateau LRs (both > lr_bath) has the smaller `|a_2|`.

        That is the Mpemba effect for this pair: the hotter start ends up closer to
        equilibrium at late times and the distance curves cross.
        """
        a, b = positive_lr("lr_a", lr_a), positive_lr("lr_b", lr_b)
        if min(a, b) <= self.lr_bath or a == b:
            raise ValueError(
                f"lr_a and lr_b must differ and both exceed lr_bath={self.lr_bath:g}; "
                f"got {a:g}, {b:g}"
            )
        hot, cold = max(a, b), min(a, b)
        return bool(abs(self.amplitude(hot, 2)) < abs(self.amplitude(cold, 2)))

    # -- predictions after a quench -------------------------------------------
    def _g(self, lr_init: float, t: ArrayLike) -> np.ndarray:
        """`g(y_i, t) = p / pi_f - 1 = sum_{k>=2} a_k e^{-lambda_k t} u_k`, shape `(n_t, n_grid)`."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        if np.any(~np.isfinite(t) | (t < 0)):
            raise ValueError(f"t must be finite and >= 0; got {t!r}")
        a = self.amplitudes(float(lr_init))
        coef = a[None, 1:] * np.exp(-np.outer(t, self.eigenvalues[1:]))
        return coef @ self.left_eigenfunctions[1:]

    def masses(self, lr_init: float, t: ArrayLike) -> np.ndarray:
        """Predicted cell masses after a quench from equilibrium at `lr_init`, `(n_t, n_grid)`.

        Spectral sum over the `n_modes` computed modes: exact for the modes kept,
        so accurate once the discarded ones have decayed (see `spectral_error`).
        """
        return self.stationary_masses * (1.0 + self._g(lr_init, t))

    def density(self, lr_init: float, t: ArrayLike) -> np.ndarray:
        """`p(y_i, t)` at the cell centres, shape `(n_t, n_grid)` (see `masses`)."""
        return self.masses(lr_init, t) / self.h

    def bin_probabilities(self, lr_init: float, t: ArrayLike, edges: ArrayLike) -> np.ndarray:
        """`integral_bin p(y, t) dy` for bins `edges (n_bins + 1,)`, shape `(n_t, n_bins)`.

        The density is constant on each grid cell; mass outside the grid is zero.
        """
        return masses_to_bins(self.edges, self.masses(lr_init, t), edges)

    def distance(self, lr_init: float, t: ArrayLike, kind: str = "tv") -> np.ndarray:
        """Distance to equilibrium after a quench, shape `(n_t,)`.

        `"tv"`: `0.5 integral |p - pi_f| dy`; `"kl"`: `integral p ln(p / pi_f) dy`;
        `"l2"`: `(integral (p - pi_f)^2 / pi_f dy)^(1/2) = (sum_k a_k^2 e^{-2 lambda_k t})^(1/2)`.
        Computed from `g = p / pi_f - 1`, so no cancellation where `p ~ pi_f`.
        """
        if kind == "l2":
            t = np.atleast_1d(np.asarray(t, np.float64))
            a = self.amplitudes(float(lr_init))[1:]
            return np.sqrt(np.exp(-2 * np.outer(t, self.eigenvalues[1:])) @ a**2)
        return distance_from_ratio(self.stationary_masses, self._g(lr_init, t), kind)

    def spectral_error(self, lr_init: float, t: ArrayLike) -> np.ndarray:
        """Bound on the total-variation error of the `n_modes` spectral sum, shape `(n_t,)`.

        `0.5 ||p - p_K||_{1/pi} <= 0.5 (chi2(P_h, pi_f) - sum_k a_k^2)^(1/2) e^{-lambda_K t}`
        (Cauchy–Schwarz; `lambda_K` stands in for the first discarded rate, so the
        bound is conservative).
        """
        t = np.atleast_1d(np.asarray(t, np.float64))
        logp = self._initial_log_masses(lr_init)[0]
        logpi = np.log(np.maximum(self.stationary_masses, np.finfo(float).tiny))
        log_chi = scipy.special.logsumexp(2 * logp - logpi)
        a = self.amplitudes(float(lr_init))
        kept = np.sum(a**2)
        tail2 = max(math.exp(log_chi) - kept, 0.0) if log_chi < 700 else math.exp(700.0)
        tail2 = max(tail2, 1e-16 * kept)
        return 0.5 * math.sqrt(tail2) * np.exp(-self.eigenvalues[-1] * t)

    def crossing_time(self, lr_a: float, lr_b: float, kind: str = "tv", n_times: int = 600) -> float:
        """Earliest time after which the two quenches' distance curves cross, or `nan`.

        Searches `n_times` log-spaced times from where the spectral sum is
        trustworthy (`spectral_error < 1e-3 * distance` for both) to `60 /
        lambda_2`, then refines the first sign change of `D_a - D_b` by Brent.
        """
        if kind not in DISTANCES:
            raise ValueError(f"kind must be one of {DISTANCES}; got {kind!r}")
        if isinstance(n_times, bool) or not isinstance(n_times, (int, np.integer)) or n_times < 2:
            raise ValueError(f"n_times must be an integer >= 2; got {n_times!r}")
        lam2 = self.eigenvalues[1]
        ts = np.geomspace(1e-4 / lam2, 60.0 / lam2, n_times)
        ok = np.ones_like(ts, bool)
        for lr in (lr_a, lr_b):
            ok &= self.spectral_error(lr, ts) < 1e-3 * self.distance(lr, ts, "tv")
        if not ok.any():
            return float("nan")
        ts = ts[np.argmax(ok):]
        diff = lambda t: float(  # noqa: E731
            self.distance(lr_a, t, kind)[0] - self.distance(lr_b, t, kind)[0]
        )
        d = self.distance(lr_a, ts, kind) - self.distance(lr_b, ts, kind)
        idx = np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]
        if len(idx) == 0:
            return float("nan")
        i = idx[0]
        return float(scipy.optimize.brentq(diff, ts[i], ts[i + 1], xtol=1e-12 * ts[i + 1]))

    def describe(self) -> dict:
        """JSON-able summary: landscape, dynamics, grid and leading eigenvalues."""
        return {
            "landscape": self.landscape.describe(),
            "dynamics": self.dynamics.describe(),
            "lr_bath": self.lr_bath,
            "lr_max": self.lr_max,
            "grid": [float(self.edges[0]), float(self.edges[-1]), self.n_grid],
            "eigenvalues": [float(v) for v in self.eigenvalues],
        }


# -- module-level helpers -------------------------------------------------------
def temperature_of(dynamics: Dynamics, lr: float) -> float:
    """`T = g * lr` in float64 (`Dynamics.temperature` follows JAX's default dtype)."""
    return dynamics.temperature_scale * float(lr)


def mobility_of(dynamics: Dynamics, lr: float) -> float:
    """`mu(lr)` in float64: `lr` for `time="steps"`, `1` for `"lr_area"`."""
    return float(lr) if dynamics.time == "steps" else 1.0


def positive_lr(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0; got {v}")
    return v


def _softmax(logw: np.ndarray) -> np.ndarray:
    w = np.exp(logw - logw.max())
    return w / w.sum()


def _exp(x: np.ndarray) -> np.ndarray:
    return np.exp(np.clip(x, -_CLIP, _CLIP))


def _solve_near_singular(ab: np.ndarray, shift: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the inverse-iteration system; nudge the shift if a pivot is exactly zero."""
    for nudge in (0.0, 1e-12, 1e-9):
        ab_try = ab.copy()
        ab_try[1] = ab[1] + nudge * np.maximum(shift, 1e-300)
        try:
            return scipy.linalg.solve_banded((1, 1), ab_try, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("backward inverse iteration: singular system")


def _fill_untrusted(u: np.ndarray, trusted: np.ndarray) -> np.ndarray:
    """Hold the nearest trusted value outside the trusted cells (a seed only)."""
    idx = np.nonzero(trusted)[0]
    out = u.copy()
    out[: idx[0]] = u[idx[0]]
    out[idx[-1] + 1 :] = u[idx[-1]]
    bad = ~trusted
    bad[: idx[0]] = bad[idx[-1] + 1 :] = False
    if bad.any():  # interior barrier: interpolate across it
        out[bad] = np.interp(np.nonzero(bad)[0], idx, u[idx])
    return out
