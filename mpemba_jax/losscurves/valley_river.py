"""The valley–river model of a loss curve, and the landscape it stands for.

The landscape (THEORY section 1, one curvature per valley direction):

    L(x, y) = V(y) + sum_j a_j x_j^2 / 2,     V(y) = L0 + c y^(-p),   y > 0,

run by the engine's Euler–Maruyama dynamics in the `time="steps"` convention
with `dt = 1`, one engine step per training step, at the effective LR

    eta = (lr / lr_ref)^kappa          (mu = eta, T = g eta)

and particles starting at `y = y0`, `x = 0`. AdamW's step is not SGD's: its
scale is absorbed in the curvatures `a_j` (relaxation rates per step at
`lr_ref`), and its dependence on the LR in `kappa`. Adam divides the gradient
by its running RMS; where gradient noise dominates that RMS the step grows as
`lr` (`kappa = 1`), where the valley's own gradient `~ sqrt(a T)` does, as
`sqrt(lr)` (`kappa = 1/2`). `kappa = 1` is SGD's Langevin limit.

River. Its drift down `V` gives the slow decrease with the effective LR area
`S = sum eta`. In the continuum the noise-free flow is `y^(p+2) = c p (p+2)
(S0 + S)`, i.e. `V = L0 + A (S0 + S)^(-alpha)` with `alpha = p / (p + 2)`;
the fitted `(A, alpha, S0)` fix `c`, `p` and `y0`. The model iterates the
discrete flow itself, in units `z = y / y0` (where it depends on `alpha` and
`S0` only),

    z <- z + eta z^(-p-1) / ((p + 2) S0),      V(ybar) - L0 = A S0^-alpha z^-p,

and the river's own noise to first order in `T` (the linear-noise expansion
about the mean path `ybar`, with `k = V''(ybar)`):

    P <- (1 - eta k)^2 P + 2 eta T                (theory.valley eq. 1, curvature k)
    m <- (1 - eta k) m - eta V'''(ybar) P / 2     (the noise-induced shift of the mean)
    <V(y)> = V(ybar) + V'(ybar) m + k P / 2 + O(T^2).

Valley. `d` directions with curvatures `a_j = a_max u_j^(1/beta)`,
`u_j = (j - 1/2) / d`: equal-weight quantiles of the spectrum whose fraction
of directions below `a` is `(a / a_max)^beta`. Each holds the exact
Euler–Maruyama second moment (`theory.valley` eq. 1)

    v_j <- (1 - eta a_j)^2 v_j + 2 eta T,     valley energy sum_j a_j v_j / 2,

which relaxes after every LR change at the rates `2 eta a_j` toward
`T / 2 (1 - eta a_j / 2)^-1` per direction: the loss drop of a decay. Its
size is set by `B = d g / 2`, the valley energy at `lr_ref` (the heat
capacity), so `g = 2 B / d`. In the continuum, at `kappa = 1`, the valley
term is the multi-power law's decay term with `gamma = 0` and `G` the
Laplace transform of the curvature spectrum.

Parameters: `L0, A, alpha, S0, B, a_max, beta, kappa` (8; 7 with `kappa`
fixed). River and valley are exactly decoupled (the curvatures do not depend
on `y`), so the loss is the river's mean plus the valley's energy with no
closure; the river's noise is the only approximation, `O(T^2)`, and a test
checks the whole prediction against particles run by the engine. All curves
of a fit run as one batch (tables padded with `eta = 0`, which takes no step).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..dynamics import Dynamics
from ..engine import point
from ..landscape import ValleyRiver
from ..theory import valley_moment_step
from .models import CurveModel, Parameter
from .recursion import affine_recursion

__all__ = ["ValleyRiverModel", "river_constants", "valley_curvatures", "river_paths",
           "effective_lr"]

# The river scan is a chain of scalar steps. Unrolling it (tried: 4, 16) made the
# Jacobian program slower to compile and to run on a CPU, so it is not unrolled.
_UNROLL = 1


def effective_lr(eta, kappa):
    """`eta^kappa` with `0^kappa = 0` (and a finite derivative in `kappa` there)."""
    positive = eta > 0
    return jnp.where(positive, jnp.exp(kappa * jnp.log(jnp.where(positive, eta, 1.0))), 0.0)


def river_constants(theta) -> dict:
    """`p`, `ln c` and `ln y0` of the river from the fitted `(A, alpha, S0)` (traceable).

    `p = 2 alpha / (1 - alpha)`; `c^(2/(p+2)) = A (p (p+2))^alpha`;
    `y0^(p+2) = c p (p+2) S0`. Logs keep `c` finite for any `alpha < 1`.
    """
    a, alpha, s0 = theta[1], theta[2], theta[3]
    p = 2.0 * alpha / (1.0 - alpha)
    log_c = 0.5 * (p + 2.0) * (jnp.log(a) + alpha * jnp.log(p * (p + 2.0)))
    log_y0 = (log_c + jnp.log(p * (p + 2.0) * s0)) / (p + 2.0)
    return {"p": p, "log_c": log_c, "log_y0": log_y0}


def valley_curvatures(a_max, beta, valley_dim: int):
    """`a_j = a_max u_j^(1/beta)`, `u_j = (j - 1/2) / d`, ascending, `(d,)` (traceable)."""
    u = (jnp.arange(valley_dim) + 0.5) / valley_dim
    return a_max * u ** (1.0 / beta)


def river_paths(alpha, s0, eta):
    """The river in units `z = y / y0`, after every step, `(n + 1,)` each (JAX).

    `eta` is the effective LR table. Returns `(f, noise)`: `f = z^-p` on the
    noise-free path, and `noise = f'(z) m + f''(z) P / 2` for the noise moments
    `m`, `P` driven by the unit source `2 eta^2` (they scale with `g / y0^2`).
    The river's loss is `L0 + A S0^-alpha f + g noise / (p (p+2) S0)`.
    """
    p = 2.0 * alpha / (1.0 - alpha)
    scale = 1.0 / (p * (p + 2.0) * s0)          # A S0^-alpha / y0^2

    def step(state, lr):
        z, m, var = state
        f = jnp.exp(-p * jnp.log(z))
        f1, f2, f3 = -p * f / z, p * (p + 1.0) * f / z**2, -p * (p + 1.0) * (p + 2.0) * f / z**3
        k = f2 * scale                         # V''(ybar) in the engine's units
        new = (z - lr * f1 * scale, (1.0 - lr * k) * m - 0.5 * lr * f3 * scale * var,
               valley_moment_step(var, lr, lr, k, 1.0))
        return new, (f, f1 * m + 0.5 * f2 * var)

    one = jnp.ones_like(s0)
    last, (f, noise) = jax.lax.scan(step, (one, 0.0 * one, 0.0 * one), eta, unroll=_UNROLL)
    _, (f_end, noise_end) = step(last, eta[-1])
    return jnp.concatenate([f, f_end[None]]), jnp.concatenate([noise, noise_end[None]])


def _components(theta, eta, valley_dim: int) -> dict:
    """`ValleyRiverModel.components` for the 8 parameters (module level, so that one
    compiled program serves every model instance of the same `valley_dim`)."""
    l0, a, alpha, s0, b = theta[0], theta[1], theta[2], theta[3], theta[4]
    lr = effective_lr(eta, theta[7])
    p = 2.0 * alpha / (1.0 - alpha)
    g = 2.0 * b / valley_dim
    f, noise = river_paths(alpha, s0, lr)
    mean_path = l0 + a * s0 ** (-alpha) * f
    curv = valley_curvatures(theta[5], theta[6], valley_dim)
    # The valley recursion is affine in v: rho = step(1, T = 0), q = step(0, T).
    rho = valley_moment_step(1.0, lr[:, None], 0.0, curv, 1.0)
    q = valley_moment_step(0.0, lr[:, None], g * lr[:, None], curv, 1.0)
    v = affine_recursion(rho, q, jnp.zeros_like(curv))
    return {"river": mean_path + g * noise / (p * (p + 2.0) * s0),
            "river_mean_path": mean_path, "valley": 0.5 * jnp.sum(curv * v, axis=1)}


_components_jit = jax.jit(_components, static_argnums=2)


_PARAMETERS = (
    Parameter("L0", "identity", (0.0, 20.0), None, "loss floor of the river (infinite LR area)"),
    Parameter("A", "log", (1e-3, 1e4), (1.0, 100.0),
              "river amplitude: V(ybar) - L0 = A (S0 + S)^-alpha along the noise-free flow"),
    Parameter("alpha", "logit", (0.01, 0.99), (0.2, 0.7),
              "river exponent; V ~ y^-p with p = 2 alpha / (1 - alpha)"),
    Parameter("S0", "log", (1.0, 1e5), (1.0, 3000.0),
              "effective LR area (steps at lr_ref) of the river's start y0"),
    Parameter("B", "log", (1e-5, 10.0), (0.02, 0.5),
              "valley heat capacity: equilibrium valley energy at lr = lr_ref (d g / 2)"),
    Parameter("a_max", "log", (1e-6, 1.0), (0.003, 0.3),
              "largest valley curvature = relaxation rate per step at lr_ref"),
    Parameter("beta", "log", (0.05, 20.0), (0.2, 3.0),
              "spectrum exponent: fraction of valley directions with curvature < a is "
              "(a / a_max)^beta"),
    Parameter("kappa", "identity", (0.25, 2.0), (0.5, 1.0),
              "effective-step exponent: the engine runs at (lr / lr_ref)^kappa"),
)


class ValleyRiverModel(CurveModel):
    """The valley–river loss-curve model (see the module docstring).

    Args:
      valley_dim: `d`, the number of valley directions (quantiles of the
        curvature spectrum). The valley's heat `B` is shared among them, so the
        temperature per direction, and with it the river's own noise, is `~ 1/d`.
      kappa: None (default) fits the effective-step exponent; a number fixes it
        (`1.0`: SGD's Langevin limit, 7 parameters).

    Example:
      >>> ValleyRiverModel(valley_dim=32, kappa=1.0).param_names
      ('L0', 'A', 'alpha', 'S0', 'B', 'a_max', 'beta')
    """

    name = "valley_river"

    def __init__(self, valley_dim: int = 32, kappa: float | None = None):
        if isinstance(valley_dim, bool) or not isinstance(valley_dim, (int, np.integer)) \
                or valley_dim < 1:
            raise ValueError(f"valley_dim must be an integer >= 1; got {valley_dim!r}")
        self.valley_dim = int(valley_dim)
        if kappa is not None:
            lo, hi = _PARAMETERS[-1].bounds
            kappa = float(kappa)
            if not lo <= kappa <= hi:
                raise ValueError(f"kappa must be None (fitted) or in [{lo}, {hi}]; got {kappa}")
        self.kappa = kappa
        self.parameters = _PARAMETERS if kappa is None else _PARAMETERS[:-1]

    def options(self) -> dict:
        return {"valley_dim": self.valley_dim, "kappa": self.kappa}

    def full_theta(self, theta):
        """The 8 parameters, with a fixed `kappa` appended (traceable)."""
        theta = jnp.asarray(theta)
        if self.kappa is None:
            return theta
        return jnp.concatenate([theta, jnp.full((1,), self.kappa, theta.dtype)])

    def _full_np(self, theta) -> np.ndarray:
        theta = np.asarray(theta, np.float64)
        return theta if self.kappa is None else np.append(theta, self.kappa)

    def prepare(self, eta: np.ndarray, record_steps: np.ndarray) -> dict:
        return {"eta": np.asarray(eta, np.float64), "records": np.asarray(record_steps, np.int64)}

    def losses(self, theta, data):
        return self.losses_many(theta, [data])[0]

    def losses_many(self, theta, datas) -> list:
        # One program for all curves: tables padded with eta = 0 (no step).
        n = max(d["eta"].shape[0] for d in datas)
        etas = jnp.stack([jnp.pad(d["eta"], (0, n - d["eta"].shape[0])) for d in datas])
        parts = jax.vmap(lambda e: self.components(theta, e))(etas)
        total = parts["river"] + parts["valley"]
        return [total[i][d["records"]] for i, d in enumerate(datas)]

    def predict(self, theta, eta, record_steps):
        eta = np.asarray(eta, np.float64)
        full = self._full_np(theta)
        top = float(full[5]) * eta.max() ** float(full[7])
        if top >= 2.0:
            raise ValueError(f"lrs: the largest LR is {eta.max():g} x lr_ref, where the fitted "
                             f"valley's stiffest direction is unstable (a_max eta^kappa = "
                             f"{top:.3g} >= 2)")
        parts = _components_jit(self.full_theta(theta), jnp.asarray(eta), self.valley_dim)
        return (parts["river"] + parts["valley"])[jnp.asarray(record_steps)]

    def components(self, theta, eta) -> dict:
        """River and valley parts of the loss after every step, `(n + 1,)` each (JAX),
        for the normalised LR table `eta = lr / lr_ref`.

        `river` is `<V(y)>` to first order in `T` and `river_mean_path` is
        `V(ybar)` (the noise-free flow); `valley` is `sum_j a_j v_j / 2`.
        """
        return _components_jit(self.full_theta(theta), jnp.asarray(eta), self.valley_dim)

    # -- the fitted model as a landscape the engine and the theory run ---------
    def landscape(self, theta, *, area_max: float = 1e6) -> ValleyRiver:
        """The `ValleyRiver` of parameters `theta` (natural, `(8,)`, or `(7,)` with `kappa` fixed).

        The river lives on `y > 0`; the domain `[y0 / 2, y(area_max)]` puts
        reflecting walls where particles do not go within a training run
        (`y(S)` is the noise-free flow after effective LR area `S`, in
        steps at `lr_ref`). The walls decide the river's (never reached)
        equilibrium, so a Fokker–Planck spectrum of this landscape depends on
        `area_max`.
        """
        theta = self._full_np(theta)
        with jax.enable_x64(True):
            riv = {k: float(v) for k, v in river_constants(jnp.asarray(theta)).items()}
            a = np.asarray(valley_curvatures(theta[5], theta[6], self.valley_dim))
        p, c, y0 = riv["p"], math.exp(riv["log_c"]), math.exp(riv["log_y0"])
        l0, s0 = float(theta[0]), float(theta[3])
        y_hi = y0 * ((s0 + float(area_max)) / s0) ** (1.0 / (p + 2.0))
        a_j = jnp.asarray(a)
        d = self.valley_dim

        log_c = riv["log_c"]

        def river(y):
            return l0 + jnp.exp(log_c - p * jnp.log(y))

        def curvature(y):
            return jnp.broadcast_to(a_j.astype(jnp.result_type(y)), jnp.shape(y) + (d,))

        return ValleyRiver(river, curvature, valley_dim=d, domain=(0.5 * y0, y_hi),
                           name="fitted_valley_river",
                           params={"L0": l0, "c": c, "p": p, "y0": y0,
                                   "a_max": float(theta[5]), "beta": float(theta[6])})

    def engine_lr(self, theta, eta) -> np.ndarray:
        """The engine's LR table: the effective LR `(lr / lr_ref)^kappa` of a normalised table."""
        kappa = float(self._full_np(theta)[7])
        eta = np.asarray(eta, np.float64)
        return np.where(eta > 0, eta, 0.0) ** kappa

    def dynamics(self, theta) -> Dynamics:
        """`time="steps"`, `temperature_scale = g = 2 B / d` (for the effective LR)."""
        return Dynamics(time="steps", temperature_scale=2.0 * float(theta[4]) / self.valley_dim)

    def initial(self, theta):
        """The engine's initial state: every particle at `y0`, valley at `x = 0`."""
        with jax.enable_x64(True):
            log_y0 = float(river_constants(jnp.asarray(self._full_np(theta)))["log_y0"])
        return point(math.exp(log_y0), 0.0)
