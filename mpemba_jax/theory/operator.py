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

The Mpemba amplitudes and strong points (`mpemba`) and the predictions after a
quench (`quench`) are functions of the operator, `f(fp, ...)`, in modules of
their own; the class assigns them as attributes, so `fp.amplitude(lr)` is
`mpemba.amplitude(fp, lr)`. Why not thin wrapper methods: they would repeat
every signature and docstring. Why not a mixin: a reader of `FokkerPlanck`
would not see which file a method lives in, and the mixin would use attributes
it does not define; the assignments below list both in one place.

The discrete chain (`dt=h`, THEORY section 8): the same class, the same
interface, built on the kernel of the engine's integrator at step `h`
(`chain`, `chain_spectrum`) instead of the generator: `eigenvalues` are
`-ln(mu_k) / h`, `stationary_masses` is the chain's own stationary state,
`right_eigenfunctions` are no longer `pi u_k` (the chain is not reversible),
and `equilibrium(lr)` is still the Boltzmann state (what `mj.equilibrium`
samples) while `stationary(lr)` is the chain's own state at `lr`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from ..dynamics import Dynamics
from ..landscape import ValleyRiver
from . import chain, chain_spectrum, mpemba, quench
from .chain_spectrum import orient_downstream
from .conventions import mobility_of, positive_lr, temperature_of
from .mpemba import MpembaSummary

# MpembaSummary and the LR conventions are re-exported: `operator` was their home.
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
      dt: `None` (default) for the continuum Fokker–Planck theory; a step `h > 0`
        for the theory of the chain the engine's `integrator` runs at step `h`
        (THEORY section 8; same interface, rates per unit time).
      integrator: the engine's integrator whose chain `dt` describes
        (`"euler_maruyama"`, `"valley_exact"`, `"leimkuhler_matthews"`; the last only
        on a river with walls, where the river takes plain EM steps). Sets the
        valley's variance at finite step also for `schedule_theory`.

    Attributes (NumPy float64): `edges (n_grid + 1,)`, `centres (n_grid,)`, `h`,
    `eigenvalues (n_modes,)`, `stationary_masses (n_grid,)` (cell probabilities
    `pi_i`), `stationary_density (n_grid,)` (`pi_i / h`),
    `left_eigenfunctions (n_modes, n_grid)` (`u_k` at the centres, row `k - 1`),
    `right_eigenfunctions (n_modes, n_grid)` (densities `v_k`),
    `river_values (n_grid,)` (`V` at the centres), `curvature_values (n_grid, d)`
    (`a_i` of every valley direction at the centres), `log_det_curvature (n_grid,)`
    (`sum_i ln a_i` at the centres, the valley's entropy term),
    `hop_rate` (`mu_f T_f / h^2`, the off-diagonal of the symmetrised generator),
    `mode_ratios (n_modes, n_grid)` (`v_k / pi_f`: `u_k` itself for the reversible
    continuum operator), `river_slope_values (n_grid,)`, `curvature_slope_values
    (n_grid, d)`. Also `temperature` (`T_f`), `mobility` (`mu_f`), `dynamics`,
    `landscape`, `dt`, `integrator`, and for the chain `multipliers (n_modes,)`
    (`mu_k`, the kernel's eigenvalues).

    Methods: the grid and spectrum here (`equilibrium`, `point_mass`,
    `reduced_free_energy`, `left_eigenfunction`, `check_resolution`,
    `check_k`, `describe`); the stationary state at any LR and the chain's
    stability check from `theory.chain_spectrum` (`stationary`, `check_chain_lr`);
    the Mpemba amplitudes and strong points from `theory.mpemba`; the
    predictions after a quench from `theory.quench`.

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
        dt: float | None = None,
        integrator: str = "euler_maruyama",
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
        self.dt = None if dt is None else positive_lr("dt", dt)
        if integrator not in chain.CHAIN_INTEGRATORS:
            raise ValueError(f"integrator must be one of {chain.CHAIN_INTEGRATORS}; got {integrator!r}")
        if integrator == "leimkuhler_matthews" and self.dt is not None and landscape.domain is None:
            raise ValueError(
                'integrator="leimkuhler_matthews" with dt: on a river without walls the river '
                "takes averaged noise and its chain is not Markov in y; only rivers with walls "
                "(where it takes plain EM steps) have a chain theory here")
        self.integrator = integrator

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
            self.curvature_values = np.asarray(landscape.curvatures(c))
            self.log_det_curvature = np.asarray(landscape.log_det_curvature(c))
            self.river_slope_values = np.asarray(landscape.river_slope(c))
            ap = np.asarray(landscape.curvature_slope(c))
            self.curvature_slope_values = ap if landscape.per_direction else np.repeat(
                ap[:, None], landscape.valley_dim, axis=1)
        self._beta_f = self.reduced_free_energy(self.lr_bath)  # F_T / T at the centres
        self.check_resolution(self.lr_bath)

        self.hop_rate = self.mobility * self.temperature / self.h**2
        if self.dt is None:
            self.stationary_masses = _softmax(-self._beta_f)
            self._spectrum()
            self.mode_ratios = self.left_eigenfunctions
        else:
            chain_spectrum.build_chain(self)
        self.stationary_density = self.stationary_masses / self.h

    # -- grid-level helpers ------------------------------------------------
    def reduced_free_energy(self, lr: float) -> np.ndarray:
        """`F_T(y_i) / T = V / T + (1 / 2) sum_j ln a_j` at the cell centres, shape `(n_grid,)`."""
        temp = temperature_of(self.dynamics, lr)
        return self.river_values / temp + 0.5 * self.log_det_curvature

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
        """Raise `ValueError` (naming the `n_grid` needed) unless the grid resolves
        the equilibrium at `lr`: where `F_T / T` is within 12 of its minimum it may
        change by at most 1 per cell, over at least 8 cells, so that the rates'
        O(h^2) error stays small. `evolve` checks a schedule's coldest LR with it."""
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
        lam = np.concatenate([[0.0], sig[order] ** 2]) * self.hop_rate
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
        shift = lam / self.hop_rate * np.exp(-np.minimum(log_tot, _CLIP))
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
        return orient_downstream(u, pi)

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
            # A continuum mode's far tail can exceed float32's range: it becomes
            # +-inf there (no particle holds those cells in practice; one that did
            # would make the run's sums non-finite, and the engine says so).
            with np.errstate(over="ignore"):
                table = np.asarray(fp_np).astype(dtype)
            return jnp.interp(y, jnp.asarray(xp_np, dtype), jnp.asarray(table))

        return u_k

    def check_k(self, k: int) -> int:
        """`k` as an int, or `ValueError` unless it is a mode index in `[1, n_modes]`."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.n_modes:
            raise ValueError(f"k must be an integer in [1, n_modes={self.n_modes}]; got {k!r}")
        return int(k)

    # -- the chain's own states: functions of `chain_spectrum` ------------------
    stationary = chain_spectrum.stationary
    check_chain_lr = chain_spectrum.check_chain_lr

    # -- Mpemba amplitudes and strong points: functions of `mpemba` ------------
    amplitude = mpemba.amplitude
    amplitudes = mpemba.amplitudes
    amplitude_jax = mpemba.amplitude_jax
    amplitude_slope = mpemba.amplitude_slope
    covariance_criterion = mpemba.covariance_criterion
    strong_mpemba_points = mpemba.strong_mpemba_points
    mpemba_summary = mpemba.mpemba_summary
    hotter_has_advantage = mpemba.hotter_has_advantage

    # -- predictions after a quench: functions of `quench` -----------------------
    masses = quench.masses
    density = quench.density
    bin_probabilities = quench.bin_probabilities
    distance = quench.distance
    spectral_error = quench.spectral_error
    crossing_time = quench.crossing_time

    def describe(self) -> dict:
        """JSON-able summary: landscape, dynamics, grid and leading eigenvalues."""
        return {
            "landscape": self.landscape.describe(),
            "dynamics": self.dynamics.describe(),
            "lr_bath": self.lr_bath,
            "lr_max": self.lr_max,
            "dt": self.dt,
            "integrator": self.integrator,
            "grid": [float(self.edges[0]), float(self.edges[-1]), self.n_grid],
            "eigenvalues": [float(v) for v in self.eigenvalues],
        }


# -- module-level helpers -------------------------------------------------------
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
