"""Named valley–river landscapes with parameters.

`preset(name, **params)` builds a `ValleyRiver`; `list_presets()` lists every
name with its parameters, defaults and a one-line description. A preset is a
plain factory function registered with `@_register`; its keyword defaults are
the documented defaults.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from .landscape import ValleyRiver

__all__ = ["preset", "list_presets"]

_PRESETS: dict[str, Callable[..., ValleyRiver]] = {}


def _register(fn: Callable[..., ValleyRiver]) -> Callable[..., ValleyRiver]:
    _PRESETS[fn.__name__] = fn
    return fn


def preset(name: str, **params: Any) -> ValleyRiver:
    """Build the preset landscape `name` with `params` overriding its defaults.

    Example:
      >>> import mpemba_jax as mj
      >>> land = mj.preset("harmonic", stiffness=2.0, valley_curvature=20.0)
      >>> land.valley_dim
      1
    """
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {sorted(_PRESETS)}")
    factory = _PRESETS[name]
    allowed = list(inspect.signature(factory).parameters)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for preset {name!r}; allowed: {allowed}"
        )
    land = factory(**params)
    # The same preset with the same (checked, normalised) parameters is the same
    # landscape: equal and equally hashed, so it reuses compiled kernels.
    land._identity = ("preset", name, tuple(sorted(land.params.items())))
    return land


def list_presets() -> dict[str, dict[str, Any]]:
    """`{name: {"description": str, "defaults": {param: value}}}` for every preset."""
    out = {}
    for name, factory in _PRESETS.items():
        sig = inspect.signature(factory)
        out[name] = {
            "description": (factory.__doc__ or "").strip().splitlines()[0],
            "defaults": {k: p.default for k, p in sig.parameters.items()},
        }
    return out


def _number(name: str, value: float) -> float:
    """A finite real parameter, or `ValueError` naming it."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number; got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    return value


def _positive(name: str, value: float) -> float:
    value = _number(name, value)
    if not value > 0:
        raise ValueError(f"{name} must be finite and > 0; got {value}")
    return value


@_register
def harmonic(
    stiffness: float = 1.0,
    center: float = 0.0,
    valley_curvature: float = 10.0,
    valley_dim: int = 1,
) -> ValleyRiver:
    """Harmonic river `V = k (y - c)^2 / 2`, constant curvature `a`: the closed-form case.

    At temperature `T`: `y ~ N(c, T / k)`, `x ~ N(0, T / a)`, the river relaxes at
    rate `mu k` and the Fokker–Planck spectrum is `lambda_n = (n - 1) mu k`.
    """
    k = _positive("stiffness", stiffness)
    a = _positive("valley_curvature", valley_curvature)
    c = _number("center", center)
    return ValleyRiver(
        river=lambda y: 0.5 * k * (y - c) ** 2,
        curvature=lambda y: a + 0.0 * y,
        valley_dim=valley_dim,
        name="harmonic",
        params=dict(stiffness=k, center=c, valley_curvature=a, valley_dim=valley_dim),
    )


@_register
def double_well(
    barrier: float = 0.2,
    width: float = 1.0,
    tilt: float = 0.05,
    a0: float = 4.0,
    growth: float = 0.5,
    valley_dim: int = 1,
) -> ValleyRiver:
    """Tilted double-well river with the valley sharpening downstream.

    `V(y) = barrier * ((y / width)^2 - 1)^2 - tilt * y` (the deeper well at
    `y ~ +width`), `a(y) = a0 * exp(growth * y / width)`: the valley is sharper
    where the loss is lower, as conjectured for LLM training.
    """
    h = _positive("barrier", barrier)
    w = _positive("width", width)
    a0 = _positive("a0", a0)
    s, g = _number("tilt", tilt), _number("growth", growth)
    return ValleyRiver(
        river=lambda y: h * ((y / w) ** 2 - 1.0) ** 2 - s * y,
        curvature=lambda y: a0 * jnp.exp(g * y / w),
        valley_dim=valley_dim,
        name="double_well",
        params=dict(barrier=h, width=w, tilt=s, a0=a0, growth=g, valley_dim=valley_dim),
    )


@_register
def flat(length: float = 10.0, valley_curvature: float = 10.0, valley_dim: int = 1) -> ValleyRiver:
    """Flat river `V = 0` between reflecting walls at `+-length / 2`: free diffusion."""
    half = 0.5 * _positive("length", length)
    a = _positive("valley_curvature", valley_curvature)
    return ValleyRiver(
        river=lambda y: 0.0 * y,
        curvature=lambda y: a + 0.0 * y,
        valley_dim=valley_dim,
        domain=(-half, half),
        name="flat",
        params=dict(length=2 * half, valley_curvature=a, valley_dim=valley_dim),
    )


# -- Mpemba families (found by experiments/find_mpemba_presets.py) --------------
def _cubic_root(c3: float, c1: float, c0: float, beyond: float, side: int) -> float:
    """The real root of `c3 y^3 + c1 y + c0` beyond `beyond` (side=+1: above, -1: below)."""
    import numpy as np

    roots = np.roots([c3, 0.0, c1, c0])
    real = roots[np.abs(roots.imag) < 1e-9].real
    real = real[side * (real - beyond) >= 0]
    if len(real) == 0:
        raise ValueError("no kink point: the slope never reaches the maximum slope")
    return float(real.min() if side > 0 else real.max())


@_register
def kinked_double_well(
    barrier: float = 0.025,
    width_left: float = 0.3,
    width_right: float = 0.15,
    tilt: float = 0.01,
    slope_left: float = 2.0,
    slope_right: float = 0.2,
    a0: float = 4.0,
    growth: float = 0.0,
    valley_dim: int = 1,
) -> ValleyRiver:
    """Asymmetric double well continued linearly beyond a maximum slope (strong Mpemba point).

    `V0(y) = barrier ((y / w)^2 - 1)^2 - tilt y` with `w = width_left` for `y < 0`
    and `width_right` for `y > 0` (wells at `-width_left`, `+width_right`, the
    right one deeper); beyond the point where `|V0'|` reaches `slope_left`
    (left) or `slope_right` (right) the river continues linearly, as an
    optical trap with a force limit imposes. `a(y) = a0 exp(growth y)`. Unbounded
    domain; the linear tails confine.

    Mechanism: warming first moves probability into the wide left well (a_2 < 0),
    much hotter starts spill into the gentle right tail (a_2 > 0), so `a_2`
    vanishes in between. With the defaults at `lr_bath = 0.01` (`time="steps"`,
    `temperature_scale = 1`) the search script
    (`python experiments/find_mpemba_presets.py`, best of its grid, computed at
    `n_grid = 3000`) printed: strong Mpemba point `lr* = 0.01859` in the range
    `[0.0105, 0.1]`, `a_3(lr*) = -0.174`, `lambda_2 = 6.39e-4` per step
    (`5 / lambda_2 = 7.8e3` steps), `lambda_3 / lambda_2 = 15.7`, `a_2` spanning
    `[-0.011, 0.352]` on the range; `mu a dt = 0.4` at `lr = 0.1`, `dt = 1`.
    """
    h = _positive("barrier", barrier)
    wl = _positive("width_left", width_left)
    wr = _positive("width_right", width_right)
    sl = _positive("slope_left", slope_left)
    sr = _positive("slope_right", slope_right)
    a0 = _positive("a0", a0)
    s, g = _number("tilt", tilt), _number("growth", growth)
    # V0' = -tilt at both wells: the linear tails start beyond them only if the
    # maximum slopes exceed that.
    if not sr > -s:
        raise ValueError(
            f"slope_right must be > -tilt = {-s:g} (the river's slope at the right well); "
            f"got slope_right={sr:g}")
    if not sl > s:
        raise ValueError(
            f"slope_left must be > tilt = {s:g} (minus the river's slope at the left well); "
            f"got slope_left={sl:g}")
    # V0' = 4 h (y^2 / w^2 - 1) y / w^2 - tilt; solve V0' = +sr (right), -sl (left).
    yr = _cubic_root(4 * h / wr**4, -4 * h / wr**2, -s - sr, wr, +1)
    yl = _cubic_root(4 * h / wl**4, -4 * h / wl**2, -s + sl, -wl, -1)

    def v0(y):
        w = jnp.where(y < 0, wl, wr)
        return h * ((y / w) ** 2 - 1.0) ** 2 - s * y

    vr, vl = float(h * ((yr / wr) ** 2 - 1) ** 2 - s * yr), float(h * ((yl / wl) ** 2 - 1) ** 2 - s * yl)

    def river(y):
        inner = v0(jnp.clip(y, yl, yr))
        return jnp.where(y > yr, vr + sr * (y - yr), jnp.where(y < yl, vl - sl * (y - yl), inner))

    return ValleyRiver(
        river=river,
        curvature=lambda y: a0 * jnp.exp(g * y),
        valley_dim=valley_dim,
        name="kinked_double_well",
        params=dict(
            barrier=h, width_left=wl, width_right=wr, tilt=s, slope_left=sl,
            slope_right=sr, a0=a0, growth=g, valley_dim=valley_dim,
        ),
    )


@_register
def box_wells(
    depth_left: float = 0.03,
    depth_right: float = 0.035,
    sigma_left: float = 0.1,
    sigma_right: float = 0.04,
    centre_left: float = -0.15,
    centre_right: float = 0.15,
    box_left: float = 0.3,
    box_right: float = 0.35,
    a0: float = 3.0,
    growth: float = 1.0,
    valley_dim: int = 2,
) -> ValleyRiver:
    """Two Gaussian wells in a box with a sharpening valley (strong Mpemba point).

    `V(y) = -depth_left exp(-(y - c_l)^2 / 2 s_l^2) - depth_right exp(-(y - c_r)^2 / 2 s_r^2)`
    on `[-box_left, box_right]` with reflecting walls, `a(y) = a0 exp(growth y)`.
    Kumar & Bechhoefer's design: a deep narrow well, a shallow wide one, and more
    flat room on the deep well's side, which the hot start fills. With the
    defaults at `lr_bath = 0.01` (`time="steps"`, `temperature_scale = 1`) the
    search script (`python experiments/find_mpemba_presets.py`, best of its grid,
    `n_grid = 3000`) printed: strong Mpemba point `lr* = 0.01820` in the range
    `[0.0105, 0.1]`, `a_3(lr*) = 0.239`, `lambda_2 = 1.14e-3` per step
    (`5 / lambda_2 = 4.4e3` steps), `lambda_3 / lambda_2 = 14.1`, `a_2` spanning
    `[-0.012, 0.112]`; `mu a dt = 0.43` at `lr = 0.1`, `dt = 1`.
    """
    dl = _positive("depth_left", depth_left)
    dr = _positive("depth_right", depth_right)
    sl = _positive("sigma_left", sigma_left)
    sr = _positive("sigma_right", sigma_right)
    bl = _positive("box_left", box_left)
    br = _positive("box_right", box_right)
    a0 = _positive("a0", a0)
    cl, cr = _number("centre_left", centre_left), _number("centre_right", centre_right)
    g = _number("growth", growth)
    return ValleyRiver(
        river=lambda y: -dl * jnp.exp(-0.5 * ((y - cl) / sl) ** 2)
        - dr * jnp.exp(-0.5 * ((y - cr) / sr) ** 2),
        curvature=lambda y: a0 * jnp.exp(g * y),
        valley_dim=valley_dim,
        domain=(-bl, br),
        name="box_wells",
        params=dict(
            depth_left=dl, depth_right=dr, sigma_left=sl, sigma_right=sr,
            centre_left=cl, centre_right=cr, box_left=bl, box_right=br, a0=a0,
            growth=g, valley_dim=valley_dim,
        ),
    )
