"""The schedule study's batches: every schedule of every sweep, built and checked, none run.

`build_plan(cfg)` turns a checked config into the landscape, the theory at
the bath LR, the strong Mpemba point `lr*`, and one `Sweep` per batch (each
becomes one `run_batch` call). The theory is the discrete chain the runs
execute (`FokkerPlanck(..., dt=run.dt)`, THEORY section 8: Euler–Maruyama at
the run's step, `dt = 1` is SGD), and `lr*` is the chain's strong Mpemba
point for the state a plateau reaches, its own stationary state
(`start="chain"`); the continuum theory's `lr*` is kept for comparison. The
decay window (`decay_window`, `tau_y`) stays the continuum's: it classifies
decays by rates, where the chain's differ by a few per cent.

- `bath`: the SGD's own stationary state at the bath LR (the reference every
  distance is measured to), from the continuum Boltzmann state;
- `plateau`: plateau LRs x stable lengths x decay lengths (`wsd`);
- `shapes`: decay shapes at a fixed budget from each peak, plus the step
  quench, the window decay (THEORY section 6) and the greedy valley anneal;
  each run classified inside / outside the decay window (`window_class`);
- `equal_area`: the LR sum and final LR of a reference with other shapes,
  plus controls with other LR sums;
- `valley`: a harmonic valley as discrete SGD, greedy `eta / (2 + a eta t)`
  against the other shapes.

Every schedule is checked as the driver will check it (`make_plan`), so a bad
config fails before anything is compiled.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ...engine import equilibrium, make_plan, point
from ...presets import preset
from ...schedules import (constant, evaluate_schedule, greedy_anneal, lr_sum, match_lr_sum, quench,
                          window_decay, wsd)
from ...theory import FokkerPlanck, MpembaSummary, decay_window, tau_x, tau_y

__all__ = ["Sweep", "build_plan", "window_class"]

# Plateau LRs scanned for the chain's strong point: each needs the chain's own
# stationary state (one linear solve); Brent's method refines between them.
_N_SCAN_CHAIN = 40


class Sweep:
    """One batch: landscape, schedules `{name: schedule}`, per-run `info`, steps."""

    def __init__(self, name, landscape, schedules, info, n_steps, record_steps, *, dt, time,
                 temperature_scale, init_y, n_particles, fp=None, valley_only=False,
                 init_lr=None):
        self.name, self.landscape, self.schedules, self.info = name, landscape, schedules, info
        self.n_steps, self.record_steps = n_steps, record_steps
        self.dt, self.time, self.temperature_scale = dt, time, temperature_scale
        self.init_y, self.n_particles, self.fp, self.valley_only = init_y, n_particles, fp, valley_only
        # Upstream point start, or (the bath reference) the continuum Boltzmann state.
        self.init_lr = init_lr
        self.init = point(init_y) if init_lr is None else equilibrium(init_lr)

    def initial_masses(self):
        return self.fp.point_mass(self.init_y) if self.init_lr is None else self.fp.equilibrium(self.init_lr)

    def initial_valley_moment(self):
        """The valley's second moment per coordinate at the start, `(n_grid, d)`: 0 at the
        upstream point (`x = 0`), `T / a` in the Boltzmann state that `mj.equilibrium` samples."""
        a = self.fp.curvature_values
        if self.init_lr is None:
            return np.zeros_like(a)
        return self.temperature_scale * self.init_lr / a


def _label(x: float) -> str:
    return f"{x:.4g}"


def build_plan(cfg: dict) -> dict[str, Any]:
    """Landscape, theory objects, `lr*`, and the `Sweep`s of `cfg` (checked, not run).

    Returns `{"cfg", "landscape", "fp", "lr_star", "summary", "sweeps", "timescales",
    "theory"}`; `theory` compares the chain with the continuum (`lr*` and `lambda_k` of
    both, the chain's Mpemba summary for the Boltzmann start).
    """
    run_ = cfg["run"]
    try:
        land = preset(cfg["landscape"]["preset"], **cfg["landscape"]["params"])
    except ValueError as e:
        raise ValueError(f"config key 'landscape.preset': {e}") from None
    bath, dt, time = run_["lr_bath"], float(run_["dt"]), run_["time"]
    g = float(run_["temperature_scale"])
    lo, hi = run_["lr_range"]
    key = (land, bath, dt, time, g, int(run_["fp_grid"]))
    fp_star, summary, theory = _theory(*key, float(lo), float(hi))
    lr_star = float(summary.optimal_lr) if len(summary.strong_points) else None
    sweeps_wanted = run_["sweeps"]

    def resolve(key, v):
        if v != "lr*":
            return float(v)
        if lr_star is None:
            raise ValueError(f"config key '{key}' asks for \"lr*\" but {land.name!r} has no strong "
                             f"Mpemba point in run.lr_range = [{lo:g}, {hi:g}] at lr_bath={bath:g}")
        return lr_star

    def records(n_steps, extra):
        grid = np.unique(np.round(np.linspace(0, n_steps, run_["n_records"] + 1)).astype(np.int64))
        return np.unique(np.concatenate([grid, np.asarray(extra, np.int64)]))

    common = dict(dt=dt, time=time, temperature_scale=g, init_y=float(run_["init_y"]),
                  n_particles=run_["n_particles"])

    def fp_for(max_lr):
        return _operator(*key, float(max(max_lr, hi)))

    sweeps = []
    if any(s in sweeps_wanted for s in ("plateau", "shapes", "equal_area")):
        # The SGD's own stationary state at the bath LR: from the continuum Boltzmann
        # state, `bath_steps` at the bath LR. Distances are measured to it.
        nb = run_["bath_steps"]
        sweeps.append(Sweep("bath", land, {"bath": constant(bath)},
                            {"bath": {"group": "bath", "peak": bath, "measure": nb}}, nb,
                            records(nb, []), fp=fp_star, init_lr=bath, **common))
    if "plateau" in sweeps_wanted:
        sweeps.append(_plateau_sweep(cfg["plateau"], land, bath, dt, lr_star, resolve, records,
                                     fp_for, common))
    if "shapes" in sweeps_wanted:
        sweeps.append(_shapes_sweep(cfg["shapes"], land, run_, lr_star, resolve, records,
                                    fp_for, common))
    if "equal_area" in sweeps_wanted:
        sweeps.append(_equal_area_sweep(cfg["equal_area"], land, bath, dt, resolve, records,
                                        fp_for, common))
    if "valley" in sweeps_wanted:
        sweeps.append(_valley_sweep(cfg, records))

    if not sweeps:
        raise ValueError("config key 'run.sweeps' selects no sweep")
    # Check every batch as `run_batch` will, still before any compilation.
    for sw in sweeps:
        _check_batch(sw, run_)
    timescales = {
        "tau_x": {str(x): float(tau_x(fp_star, x)) for x in (bath, lr_star or lo, hi)},
        "tau_y": {str(x): float(tau_y(land, x, time=time, temperature_scale=g,
                                      n_grid=run_["fp_grid"])) for x in (bath, lr_star or lo, hi)},
    }
    return {"cfg": cfg, "landscape": land, "fp": fp_star, "lr_star": lr_star,
            "summary": summary, "sweeps": sweeps, "timescales": timescales, "theory": theory}


@functools.lru_cache(maxsize=16)
def _operator(land, bath, dt, time, g, n_grid, lr_max) -> FokkerPlanck:
    """The chain's operator at the run's step (cached: configs that differ only in their
    sweeps share it, and building one solves its spectrum)."""
    return FokkerPlanck(land, bath, time=time, temperature_scale=g, n_grid=n_grid, n_modes=4,
                        lr_max=lr_max, dt=dt)


@functools.lru_cache(maxsize=4)
def _theory(land, bath, dt, time, g, n_grid, lo, hi):
    """`(fp, summary, theory)`: the chain at the bath LR, the `MpembaSummary` of its
    strong points for the plateau's own state (`start="chain"`; `worst_*` left out,
    each LR tried costs a linear solve), and the chain against the continuum."""
    fp = _operator(land, bath, dt, time, g, n_grid, hi)
    points = fp.strong_mpemba_points((lo, hi), n_scan=_N_SCAN_CHAIN, start="chain")
    a3 = fp.amplitude(points, 3, start="chain") if len(points) else np.zeros(0)
    if len(points):
        j = int(np.argmin(np.abs(a3)))
        opt, opt_a2 = float(points[j]), float(fp.amplitude(points[j], 2, start="chain"))
    else:
        opt, opt_a2 = math.nan, math.nan
    summary = MpembaSummary(strong_points=points, a3_at_points=np.asarray(a3, float),
                            optimal_lr=opt, optimal_a2=opt_a2, worst_lr=math.nan,
                            worst_a2=math.nan, index=int(len(points)))
    cont_fp = FokkerPlanck(land, bath, time=time, temperature_scale=g, n_grid=n_grid, n_modes=4,
                           lr_max=hi)
    cont = cont_fp.mpemba_summary((lo, hi))
    theory = {"chain": {"dt": dt, "integrator": fp.integrator, "eigenvalues": fp.eigenvalues,
                        "lr_star": opt if len(points) else None, "strong_points": points,
                        "boltzmann_start": fp.mpemba_summary((lo, hi))._asdict()},
              "continuum": {"eigenvalues": cont_fp.eigenvalues,
                            "lr_star": float(cont.optimal_lr) if cont.index else None,
                            "strong_points": cont.strong_points}}
    return fp, summary, theory


def _plateau_sweep(pl, land, bath, dt, lr_star, resolve, records, fp_for, common) -> Sweep:
    """Plateau LR x stable length x decay length; measured `hold` steps after the decay."""
    lrs = sorted({resolve(f"plateau.lrs[{i}]", v) for i, v in enumerate(pl["lrs"])})
    scheds, info, extra = {}, {}, []
    for stable in pl["stable"]:
        for decay in pl["decay"]:
            t_end = pl["warmup"] + stable + decay
            for lr in lrs:
                name = f"p{_label(lr)}_s{stable}_d{decay}"
                scheds[name] = wsd(lr, bath, pl["warmup"] * dt, stable * dt, decay * dt,
                                   pl["shape"])
                info[name] = {"group": f"stable {stable}, decay {decay}", "peak": lr,
                              "stable": stable, "decay": decay, "shape": pl["shape"],
                              "is_lr_star": lr_star is not None and lr == lr_star,
                              "decay_start": pl["warmup"] + stable, "decay_end": t_end,
                              "measure": t_end + pl["hold"]}
                extra += [pl["warmup"] + stable, t_end, t_end + pl["hold"]]
    n_steps = max(v["measure"] for v in info.values())
    return Sweep("plateau", land, scheds, info, n_steps, records(n_steps, extra),
                 fp=fp_for(max(lrs)), **common)


def _shapes_sweep(sh, land, run_, lr_star, resolve, records, fp_for, common) -> Sweep:
    """Decay shapes from each peak at a fixed budget, measured at `n_steps`."""
    import jax

    bath, dt, time = run_["lr_bath"], float(run_["dt"]), run_["time"]
    g = float(run_["temperature_scale"])
    peaks = sorted({resolve(f"shapes.peaks[{i}]", v) for i, v in enumerate(sh["peaks"])})
    t0 = sh["warmup"] + sh["stable"]
    scheds, info = {}, {}
    n_steps = sh["n_steps"]
    fp = fp_for(max(peaks))
    with jax.enable_x64(True):
        a_centres = np.asarray(land.curvature(fp.centres))
    for peak in peaks:
        window = decay_window(land, peak, bath, time=time, temperature_scale=g,
                              n_grid=run_["fp_grid"])
        a_eff = float(fp.equilibrium(peak) @ a_centres)
        entries = [(s, sh["decay"]) for s in sh["shapes"]] + [
            ("exponential", d) for d in sh["exponential_decays"] if d != sh["decay"]
            or "exponential" not in sh["shapes"]]
        for shape, decay in entries:
            name = f"peak{_label(peak)}_{shape}" + (
                f"_d{decay}" if shape == "exponential" and decay != sh["decay"] else "")
            if shape == "quench":
                s, decay = wsd(peak, bath, sh["warmup"] * dt, sh["stable"] * dt, 0.0), 1
            elif shape == "window":
                s = window_decay(window, warmup=sh["warmup"] * dt, stable=sh["stable"] * dt)
                decay = int(math.ceil(s.description["decay"] / dt))
                if t0 + decay > n_steps:
                    raise ValueError(
                        f"config key 'shapes.n_steps': the window decay from {peak:g} lasts "
                        f"{decay} steps, longer than the run (warmup + stable + decay = "
                        f"{t0 + decay} > {n_steps})")
            elif shape == "greedy":
                s = greedy_anneal(peak, a_eff, warmup=sh["warmup"] * dt,
                                  stable=sh["stable"] * dt, final=bath)
                k = max(0.0, (peak / bath - 2.0) / (a_eff * peak * dt))
                decay = max(1, int(math.ceil(k)) + 1)
            else:
                s = wsd(peak, bath, sh["warmup"] * dt, sh["stable"] * dt, decay * dt, shape)
            scheds[name] = s
            info[name] = {"group": f"peak {_label(peak)}", "peak": peak, "shape": shape,
                          "decay": decay, "decay_start": t0, "decay_end": t0 + decay,
                          "measure": n_steps, "window": window_class(window, s, t0, decay, dt),
                          "is_lr_star": lr_star is not None and peak == lr_star}
            if shape == "greedy":
                info[name]["curvature"] = a_eff
    extra = [t0 + d for d in range(0, 200, 4)] + [v["decay_end"] for v in info.values()]
    return Sweep("shapes", land, scheds, info, n_steps,
                 records(n_steps, [e for e in extra if e <= n_steps]), fp=fp, **common)


def _equal_area_sweep(ea, land, bath, dt, resolve, records, fp_for, common) -> Sweep:
    """Schedules with the reference's LR sum and final LR, and controls with other sums.

    Every decay ends at `n_steps`, where all runs are measured: WSD at a fixed
    budget, the stable phase filling what warm-up and decay leave.
    """
    n_steps, w = ea["n_steps"], ea["warmup"] * dt

    def wsd_at_end(p, shape, decay):
        return wsd(p, bath, w, (n_steps - ea["warmup"] - decay) * dt, decay * dt, shape)

    ref_peak = resolve("equal_area.peak", ea["peak"])
    ref = wsd_at_end(ref_peak, ea["shape"], ea["decay"])
    target = lr_sum(ref, n_steps, dt)
    scheds = {"reference": ref}
    info = {"reference": {"group": "reference", "peak": ref_peak, "shape": ea["shape"],
                          "decay": ea["decay"], "lr_sum": target}}
    for i, decay in enumerate(ea["decays"]):
        for shape in ea["shapes"]:
            try:
                peak, s = match_lr_sum(
                    lambda p, shape=shape, decay=decay: wsd_at_end(p, shape, decay),
                    target, n_steps, dt, (bath * (1 + 1e-6), 20 * ref_peak))
            except ValueError as e:
                raise ValueError(f"config key 'equal_area.decays[{i}]': {e}") from None
            name = f"{shape}_d{decay}"
            scheds[name] = s
            info[name] = {"group": "equal LR sum", "peak": peak, "shape": shape,
                          "decay": decay, "lr_sum": lr_sum(s, n_steps, dt)}
    for i, p in enumerate(ea["control_peaks"]):
        p = resolve(f"equal_area.control_peaks[{i}]", p)
        name = f"control_peak{_label(p)}"
        s = wsd_at_end(p, ea["shape"], ea["decay"])
        scheds[name] = s
        info[name] = {"group": "control", "peak": p, "shape": ea["shape"],
                      "decay": ea["decay"], "lr_sum": lr_sum(s, n_steps, dt)}
    for v in info.values():
        v.update(measure=n_steps, decay_start=n_steps - v["decay"], decay_end=n_steps)
    return Sweep("equal_area", land, scheds, info, n_steps, records(n_steps, []),
                 fp=fp_for(max(v["peak"] for v in info.values())), **common)


def window_class(window, schedule, t0: int, decay: int, dt: float) -> dict:
    """Where the decay's steps fall in the window of THEORY section 6.

    Every step `s` on which the LR falls (from `t0 - 1` to the end of the
    decay) has the rate `|ln(eta_{s+1} / eta_s)| / dt`; it is inside when it lies
    between `window.rate_min` and `window.rate_max` at the step's LR
    (geometric mean of both ends), too slow below, too fast above. A step
    quench is one step, far too fast. Returns the fractions `inside`,
    `too_slow`, `too_fast`, the `class` ("inside" if >= 90 %, else the larger
    of the other two) and the number of `falling_steps`.
    """
    t = (t0 - 1 + np.arange(decay + 2)) * dt
    lr = evaluate_schedule(schedule, t)
    falling = lr[1:] < lr[:-1] * (1 - 1e-12)
    rate = np.abs(np.log(lr[1:] / lr[:-1]))[falling] / dt
    eta = np.sqrt(lr[1:] * lr[:-1])[falling]
    lo = np.interp(eta, window.lrs[::-1], window.rate_min[::-1])
    hi = np.interp(eta, window.lrs[::-1], window.rate_max[::-1])
    n = max(len(rate), 1)
    inside = float(np.sum((rate >= lo) & (rate <= hi)) / n)
    slow, fast = float(np.sum(rate < lo) / n), float(np.sum(rate > hi) / n)
    label = ("inside" if inside >= 0.9 else "too fast" if fast >= slow else "too slow")
    return {"inside": inside, "too_slow": slow, "too_fast": fast, "class": label,
            "falling_steps": int(len(rate))}


def _valley_sweep(cfg, records) -> Sweep:
    """A harmonic valley as discrete SGD (`dt = 1`, `time="steps"`): the greedy anneal
    `eta / (2 + a eta t)` against the other shapes over the same anneal, to its final LR."""
    import jax

    va, g = cfg["valley"], float(cfg["run"]["temperature_scale"])
    try:
        land = preset(va["preset"], **va["params"])
    except ValueError as e:
        raise ValueError(f"config key 'valley.preset': {e}") from None
    with jax.enable_x64(True):
        lo, hi = land.support(va["peak"] * g)
        a_vals = np.asarray(land.curvature(np.linspace(lo, hi, 257)))
    if np.ptp(a_vals) > 1e-12 * a_vals.max():
        raise ValueError(f"config key 'valley.preset': {va['preset']!r} has a y-dependent valley "
                         "curvature; the greedy anneal is derived for a constant one")
    a = float(a_vals[0])
    peak, n0, K = float(va["peak"]), va["stable"], va["anneal"]
    if not 0 < a * peak < 2:
        raise ValueError(f"config key 'valley.peak': a * peak = {a * peak:g} must lie in (0, 2) "
                         "for discrete SGD on the valley to be stable")
    if abs(1 - a * peak) ** (2 * n0) > 1e-9:
        raise ValueError(f"config key 'valley.stable': {n0} steps at peak leave the valley "
                         f"{abs(1 - a * peak) ** (2 * n0):.2g} away from its stationary variance; "
                         "the greedy anneal assumes it is stationary")
    n_steps = n0 + K
    greedy = greedy_anneal(peak, a, stable=float(n0))
    final = float(greedy(float(n_steps - 1)))
    scheds, info = {}, {}
    for shape in va["shapes"]:
        if shape == "greedy":
            s = greedy
        elif shape == "quench":
            s = quench(peak, final, at=float(n0))
        else:
            s = wsd(peak, final, 0.0, float(n0), float(K - 1), shape)
        scheds[shape] = s
        info[shape] = {"group": "valley", "shape": shape, "peak": peak, "final": final,
                       "decay_start": n0, "decay_end": n_steps, "measure": n_steps,
                       "curvature": a, "anneal": K}
    return Sweep("valley", land, scheds, info, n_steps, records(n_steps, [n0]), dt=1.0,
                 time="steps", temperature_scale=g, init_y=0.5 * (lo + hi),
                 n_particles=va["n_particles"], valley_only=True)


def _check_batch(sw: Sweep, run_) -> None:
    """The per-schedule checks of `run_batch` (stability, support), no compilation."""
    for name, s in sw.schedules.items():
        try:
            make_plan(sw.landscape, {"schedule": s}, single=True, n_particles=sw.n_particles,
                      n_steps=sw.n_steps, dt=sw.dt, seed=run_["seed"], init=sw.init,
                      record_steps=sw.record_steps, bins=2, bin_range=(0.0, 1.0),
                      time=sw.time, temperature_scale=sw.temperature_scale,
                      dtype=run_["dtype"], block_size=run_["block_size"])
        except ValueError as e:
            raise ValueError(f"config [{sw.name}], schedule {name!r}: {e}") from None
