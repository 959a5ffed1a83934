"""The river's one-step transition kernel of the discrete chain the engine runs (THEORY section 8).

The engine moves the river by one step `h` of its integrator at mobility
`mu`, temperature `T` (`c = mu h`, `s^2 = 2 mu T h`):

    y' = fold( y - c (V'(y) + 0.5 sum_i a_i'(y) x_i^2) + s n ),

with `x` the valley before the step (Euler–Maruyama, Leimkuhler–Matthews) or
after its exact OU step (`valley_exact`), and `fold` the mirror reflection
at the walls (`engine.integrators.reflect`). Coarse-graining the valley at
its stationary variance per direction at this step, `v_i(y)`
(`valley.valley_variance`: `T / (a_i (1 - c a_i / 2))` for EM, `T / a_i`
otherwise), the displacement has

    mean      m(y) - y = -c (V' + 0.5 sum_i a_i' v_i) = -c F_h'(y),
              F_h = V + (T / 2) sum_i ln(a_i / (1 - c a_i / 2))      (EM; F_T otherwise)
    variance  s^2(y) = 2 c T + c^2 Var(0.5 sum_i a_i' x_i^2) = 2 c T + (c^2 / 2) sum_i a_i'^2 v_i^2,

and is taken Gaussian with these two moments (the chi-square skewness of the
valley's push and the correlation of consecutive valley energies are left
out; THEORY section 8 sizes both).

On the grid (cells of width `dx`, cell `i` standing for a particle at its
centre `y_i`) the kernel is applied in two factors, `K = D G`:

- `D` (deposition): the Gaussian mass `N(fold(m_i), tau_i)` of every cell,
  folded at the walls, with `tau_i = s_i^2 - s_c^2 - dx^2 / 12`. Lumping a
  landing point to its cell adds `dx^2 / 12` of variance (Sheppard), which the
  `- dx^2 / 12` takes back, so the lattice step has the chain's mean and
  variance up to the aliasing terms of Poisson's sum, `~ 4 sd^2 exp(-2 pi^2
  sd^2 / dx^2)` for the deposited Gaussian's `sd^2 = tau_i`; `tau_i + dx^2 / 12
  >= dx^2` keeps them below ~6e-8 of `dx` and `dx^2` (a test measures 5e-8).
- `G` (convolution): the sampled Gaussian of variance
  `s_c^2 = min_i s_i^2 - dx^2`, the same for every cell, folded at the
  walls: a circular convolution of the mirror-extended masses (period
  `2 n`), by FFT in `propagate` and as a sparse Toeplitz + Hankel matrix in
  `kernel_matrix`. When `s_c < dx` the sampled Gaussian's variance would be
  off, and `G` is dropped (`D` takes the whole variance).

Folding the mean first is exact: the law of `fold(m + n)` is that of
`fold(fold(m) + n)` for symmetric `n`. An unbounded river is folded at the
grid ends, which carry `< exp(-tail)` of any density the grid is built for:
the chain conserves probability exactly. The grid must resolve the step:
`s >= dx` (checked at the bath LR; `evolve` warns for colder steps).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import jax.scipy.special
import numpy as np
import scipy.sparse
import scipy.special

from .conventions import mobility_of, temperature_of
from .valley import valley_moment_update, valley_variance

__all__ = ["CHAIN_INTEGRATORS", "step_moments", "effective_free_energy", "kernel_matrix",
           "propagate", "stencil_radius", "stability_limit"]

CHAIN_INTEGRATORS = ("euler_maruyama", "valley_exact", "leimkuhler_matthews")
# Deposition variance floor (in dx^2): the lumped step's mean and variance are then
# exact to ~ 4 exp(-2 pi^2 (1 - 1/12)) ~ 6e-8 of dx and dx^2 (module docstring).
_TAU_MIN = 1.0
# The convolution's smallest useful width (in dx): its sampled Gaussian's variance is
# then exact to exp(-2 pi^2) ~ 3e-9 relative.
_SC_MIN = 1.0
# Gaussian tails kept: 8 standard deviations (mass beyond ~1e-15).
_TAIL = 8.0


def _moments(y, vp, a, ap, mu, temp, h, integrator, v=None):
    """`(m, s^2)` of one river step from the centres `y (n,)`, `V' (n,)`, `a, a' (n, d)`,
    with the valley at its stationary variance, or at `v (n, d)` when given.

    Plain arithmetic: NumPy or JAX arrays (the same formula in `kernel_matrix`
    and inside `propagate`'s `jit`)."""
    c = mu * h
    if v is None:
        v = valley_variance(integrator, mu, temp, a, h)  # (n, d)
    mean = y - c * (vp + 0.5 * (ap * v).sum(-1))
    var = 2.0 * c * temp + 0.5 * c * c * (ap * ap * v * v).sum(-1)
    return mean, var


def step_moments(fp, lr: float, dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean landing point `m(y_i)` (unfolded) and variance `s^2(y_i)` of one step of the
    chain from every cell centre at LR `lr`, each `(n_grid,)` float64 (module docstring).
    The step is `fp.dt`, or `dt` when given (a continuum operator's grid and integrator
    at another step, as `em_bias` uses it)."""
    mu, temp = _mu_temp(fp, lr)
    return _moments(fp.centres, fp.river_slope_values, fp.curvature_values,
                    fp.curvature_slope_values, mu, temp, fp.dt if dt is None else float(dt),
                    fp.integrator)


def effective_free_energy(fp, lr: float) -> np.ndarray:
    """`F_h(y_i)` at the centres, `(n_grid,)`: the potential of the chain's mean step,
    `m - y = -mu h F_h'`. EM: `V + (T / 2) sum_i ln(a_i / (1 - mu h a_i / 2))`; the other
    integrators keep the valley at `T / a`, so `F_h = F_T`."""
    mu, temp = _mu_temp(fp, lr)
    a = fp.curvature_values
    if fp.integrator == "euler_maruyama":
        a = a / (1.0 - mu * fp.dt * a / 2.0)
    return fp.river_values + 0.5 * temp * np.log(a).sum(-1)


def stability_limit(fp, lr: float) -> float:
    """The largest step `h` with a stable valley everywhere on the grid at `lr`:
    `2 / (mu max a)` for the explicit valley schemes, `inf` for `valley_exact`."""
    if fp.integrator == "valley_exact":
        return math.inf
    mu, _ = _mu_temp(fp, lr)
    return 2.0 / (mu * float(fp.curvature_values.max()))


def _mu_temp(fp, lr: float) -> tuple[float, float]:
    return mobility_of(fp.dynamics, lr), temperature_of(fp.dynamics, lr)


# -- the two factors ------------------------------------------------------------
# The kernel's formulas below take the array namespace `xp` (NumPy for the sparse
# matrix, `jax.numpy` inside `propagate`'s jit): one formula, two array types.
def _split(xp, var, dx):
    """`(s_c^2, tau)`: the convolution's variance and each cell's deposition variance."""
    sc2 = var.min() - _TAU_MIN * dx * dx
    sc2 = xp.where(sc2 >= (_SC_MIN * dx) ** 2, sc2, 0.0)
    return sc2, var - sc2


def stencil_radius(var: np.ndarray, dx: float) -> int:
    """Cells each side of the landing cell that the deposition `D` needs, for step
    variances `var (..., n)` (the largest over the leading axes)."""
    var = np.atleast_2d(np.asarray(var, np.float64))
    radius = 0
    for row in var:
        sc2, tau = _split(np, row, dx)
        radius = max(radius, int(math.ceil(_TAIL * math.sqrt(float(tau.max())) / dx)) + 1)
    return radius


def _deposit(xp, mean, var, lo, dx, n, sc2, radius):
    """Deposition `D`: target cells `(n, 2 R + 1)` (folded) and their masses (rows sum to 1)."""
    erfc = jax.scipy.special.erfc if xp is jnp else scipy.special.erfc
    length = n * dx
    z = xp.mod(mean - lo, 2.0 * length)
    mf = lo + length - xp.abs(length - z)  # fold(m), as engine.integrators.reflect
    sd = xp.sqrt(xp.maximum(var - sc2 - dx * dx / 12.0, 1e-300))
    k0 = xp.clip(xp.floor((mf - lo) / dx), 0, n - 1).astype(xp.int64)
    k = k0[:, None] + xp.arange(-radius, radius + 2)[None, :]  # cell k runs from edge k to k + 1
    ze = (lo + k * dx - mf[:, None]) / sd[:, None]
    # One tail per edge, from the near side: `t = Phi(-|z|)` keeps its relative
    # accuracy where the kernel is tiny. Cell mass between edges a < b:
    # t_a - t_b right of the mean, t_b - t_a left of it, 1 - t_a - t_b across it.
    t = 0.5 * erfc(xp.abs(ze) / math.sqrt(2.0))
    ta, tb, za, zb = t[:, :-1], t[:, 1:], ze[:, :-1], ze[:, 1:]
    w = xp.where(za >= 0, ta - tb, xp.where(zb <= 0, tb - ta, 1.0 - ta - tb))
    k = k[:, :-1]
    w = w / w.sum(1, keepdims=True)
    r = xp.mod(k, 2 * n)
    return xp.where(r < n, r, 2 * n - 1 - r), w


def _taps(xp, sc2, dx, n):
    """The convolution `G`'s sampled Gaussian on the wrapped distances of period `2 n`, `(2 n,)`."""
    r = xp.arange(2 * n)
    d = xp.minimum(r, 2 * n - r) * dx
    g = xp.where(sc2 > 0, xp.exp(-0.5 * d * d / xp.where(sc2 > 0, sc2, 1.0)), (r == 0) * 1.0)
    return g / g.sum()


# -- the kernel as a sparse matrix (spectra, stationary states) ---------------------
def kernel_matrix(fp, lr: float, dt: float | None = None) -> scipy.sparse.csr_matrix:
    """The chain's row-stochastic kernel `K_ij = P(cell j after one step | cell i)` at `lr`,
    `(n_grid, n_grid)` CSR: `K = D G` (module docstring); `p' = K^T p`, `(K u)_i = E[u(y') | y_i]`.
    Step `fp.dt`, or `dt` when given (see `step_moments`)."""
    mean, var = step_moments(fp, lr, dt)
    n, dx, lo = fp.n_grid, fp.h, float(fp.edges[0])
    sc2, _ = _split(np, var, dx)
    sc2 = float(sc2)
    cols, w = _deposit(np, mean, var, lo, dx, n, sc2, stencil_radius(var, dx))
    taps = _taps(np, sc2, dx, n)
    rows = np.repeat(np.arange(n), cols.shape[1])
    dep = scipy.sparse.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(n, n))
    if sc2 == 0.0:
        return dep
    # G_mj = g(|j - m|) + g(min(j + m + 1, 2n - 1 - j - m)): Toeplitz plus the wall folds.
    width = min(int(math.ceil(_TAIL * math.sqrt(sc2) / dx)), n - 1)
    if width > n // 4:  # a wide step: G is nearly full, a dense product is far faster
        m, j = np.ogrid[:n, :n]
        conv = taps[np.abs(j - m)] + taps[np.minimum(j + m + 1, 2 * n - 1 - j - m)]
        k = scipy.sparse.csr_matrix(dep @ conv)
    else:
        offs = np.arange(-width, width + 1)
        toeplitz = scipy.sparse.diags([np.full(n - abs(o), taps[abs(o)]) for o in offs], offs,
                                      shape=(n, n), format="csr")
        m = np.arange(n)
        fold_rows, fold_cols, fold_w = [], [], []
        for s in np.concatenate([np.arange(0, width), np.arange(2 * n - 1 - width, 2 * n - 1)]):
            # pairs (m, j) with m + j = s on the grid; distance min(s + 1, 2n - 1 - s)
            mm = m[(s - m >= 0) & (s - m < n)]
            fold_rows.append(mm)
            fold_cols.append(s - mm)
            fold_w.append(np.full(len(mm), taps[min(s + 1, 2 * n - 1 - s)]))
        fold = scipy.sparse.csr_matrix(
            (np.concatenate(fold_w), (np.concatenate(fold_rows), np.concatenate(fold_cols))),
            shape=(n, n))
        k = (dep @ (toeplitz + fold)).tocsr()
    k.eliminate_zeros()
    # Rows sum to 1 up to the tails cut at 8.5 sd (~1e-17); make it exact.
    return scipy.sparse.diags(1.0 / np.asarray(k.sum(1)).ravel()) @ k


# -- the kernel applied step after step (evolve) --------------------------------------
def propagate(fp, vectors: np.ndarray, lrs: np.ndarray, slot: np.ndarray, n_rec: int,
              clip: bool, valley_moment: np.ndarray | None = None) -> np.ndarray:
    """`p_{s+1} = K(lr_s)^T p_s` for `s < len(lrs)`, recording `p_s` in `slot[s]`.

    Args: `vectors (b, n_grid)` start vectors (masses, or signed residuals);
    `lrs (S,)` the LR of each step; `slot (S + 1,)` the record slot of each step
    index (`n_rec` for "not recorded"); `clip` sets negative round-off of the
    FFT to 0 after each step (for masses); `valley_moment (n_grid, d)`, when
    given, is the valley's second moment per coordinate at step 0 in every
    river cell: it then follows `valley.valley_moment_update` cell by cell and
    the push uses it (EM and LM push with `x_s`, before the valley's update;
    `valley_exact` with `x_{s+1}`, after it) instead of the stationary
    variance: the valley's lag after a decay, to leading order (THEORY section 8).
    Returns `(n_rec, b, n_grid)`.
    """
    lrs = np.asarray(lrs, np.float64)
    mu = lrs if fp.dynamics.time == "steps" else np.ones_like(lrs)
    temps = fp.dynamics.temperature_scale * lrs
    track = valley_moment is not None
    if track:
        v0 = np.broadcast_to(np.asarray(valley_moment, np.float64), fp.curvature_values.shape)
        radius = _tracked_radius(fp, v0, mu, temps)
    else:
        v0 = np.zeros((1, 1))
        # The stencil's static width: the widest any step of the table needs.
        distinct = np.unique(lrs)
        var = np.stack([step_moments(fp, x)[1] for x in distinct]) if len(distinct) else \
            np.zeros((1, fp.n_grid))
        radius = stencil_radius(var, fp.h)
    # Static shapes padded to a few sizes, so that runs with other record counts or
    # slightly wider steps reuse one compiled program.
    n_buf = 1 << max(3, int(n_rec - 1).bit_length())
    slot = np.where(np.asarray(slot) >= n_rec, n_buf, slot)
    radius = 4 * math.ceil(radius / 4)
    with jax.enable_x64(True):
        out = _run(jnp.asarray(vectors, jnp.float64), jnp.asarray(v0), jnp.asarray(mu),
                   jnp.asarray(temps), jnp.asarray(slot), jnp.asarray(fp.centres),
                   jnp.asarray(fp.river_slope_values), jnp.asarray(fp.curvature_values),
                   jnp.asarray(fp.curvature_slope_values), float(fp.dt), fp.integrator,
                   float(fp.edges[0]), float(fp.h), int(radius), int(n_buf), bool(clip), track)
        return np.asarray(out[:n_rec])


def _tracked_radius(fp, v0, mu, temps) -> int:
    """The stencil's width for `propagate` with the valley tracked: the same recursion
    on the host, step by step, and the widest stencil any step needs."""
    v, w, radius = v0.copy(), np.zeros_like(v0), 0
    for m, t in zip(mu, temps):
        v_next, w = valley_moment_update(fp.integrator, v, w, m, t, fp.curvature_values, fp.dt)
        v_push = v_next if fp.integrator == "valley_exact" else v
        _, var = _moments(fp.centres, fp.river_slope_values, fp.curvature_values,
                          fp.curvature_slope_values, m, t, fp.dt, fp.integrator, v_push)
        radius = max(radius, stencil_radius(var, fp.h))
        v = v_next
    return radius


@functools.partial(jax.jit, static_argnums=(9, 10, 11, 12, 13, 14, 15, 16))
def _run(p0, v0, mus, temps, slot, y, vp, a, ap, h, integrator, lo, dx, radius, n_rec, clip, track):
    b, n = p0.shape

    def step(carry, inputs):
        p, v, w, buf = carry
        mu, temp, s = inputs
        buf = buf.at[s].set(p)
        if track:
            v_next, w_next = valley_moment_update(integrator, v, w, mu, temp, a, h, jnp)
            v_push = v_next if integrator == "valley_exact" else v
            mean, var = _moments(y, vp, a, ap, mu, temp, h, integrator, v_push)
            v, w = v_next, w_next
        else:
            mean, var = _moments(y, vp, a, ap, mu, temp, h, integrator)
        sc2, _ = _split(jnp, var, dx)
        cols, wts = _deposit(jnp, mean, var, lo, dx, n, sc2, radius)
        q = jax.vmap(lambda pr: jax.ops.segment_sum((pr[:, None] * wts).ravel(), cols.ravel(),
                                                    num_segments=n))(p)
        ghat = jnp.fft.rfft(_taps(jnp, sc2, dx, n))
        ext = jnp.concatenate([q, q[:, ::-1]], axis=1)
        p = jnp.fft.irfft(jnp.fft.rfft(ext, axis=1) * ghat, 2 * n, axis=1)[:, :n]
        if clip:
            p = jnp.maximum(p, 0.0)
        return (p, v, w, buf), None

    buf = jnp.zeros((n_rec + 1, b, n), p0.dtype)
    v = v0 if track else jnp.zeros((1, 1))
    (p, v, w, buf), _ = jax.lax.scan(step, (p0, v, jnp.zeros_like(v), buf), (mus, temps, slot[:-1]))
    buf = buf.at[slot[-1]].set(p)
    return buf[:n_rec]
