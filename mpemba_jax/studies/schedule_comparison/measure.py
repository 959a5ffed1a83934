"""Running the schedule study's batches and measuring every run against the theory.

`execute(plan)` runs each `Sweep` as one `run_batch` (the SGD bath reference
first), computes the time-dependent theory of every schedule
(`schedule_theory`) and the final metrics at each run's measurement step, and
returns `{sweep: {"batch", "runs", "seconds"}}` plus `"_seconds"` and
`"_verdicts"`. A run is `{"index", "info", "final", "curves", ...}`: `final`
holds scalars with their standard errors (`key_se`) and theory
(`key_theory`), `curves` the `(R,)` records.
"""

from __future__ import annotations

import math
import time as _time

import numpy as np

# The one place the study reaches the engine's batch driver (`mj.run_batch`).
from ...engine import run_batch
from ...theory import (bath_equilibrium, extended_bin_masses, schedule_theory,
                       theory_observables, valley_moments)
from ...validation import tv_between, tv_distance
from .sweeps import Sweep
from .verdicts import claim_verdicts

__all__ = ["execute", "measure_runs", "measure_valley"]


def execute(plan: dict, progress: bool = True) -> dict:
    """Run every sweep (the SGD bath reference first), its theory and its metrics."""

    run_ = plan["cfg"]["run"]
    out, ref = {}, None
    t_all = _time.perf_counter()
    for k, sw in enumerate(plan["sweeps"], 1):
        what = "SGD bath reference" if sw.name == "bath" else sw.name
        print(f"[{k}/{len(plan['sweeps'])}] {what}: {len(sw.schedules)} schedule(s) x "
              f"{sw.n_particles:,} particles x {sw.n_steps} steps", flush=True)
        t0 = _time.perf_counter()
        observables = None if sw.valley_only else theory_observables(sw.fp)
        batch = run_batch(
            sw.landscape, sw.schedules, n_particles=sw.n_particles, n_steps=sw.n_steps,
            dt=sw.dt, seed=run_["seed"], init=sw.init, record_steps=sw.record_steps,
            bins=run_["bins"], bin_range=None if sw.valley_only else _bin_range(sw),
            observables=observables, time=sw.time, temperature_scale=sw.temperature_scale,
            dtype=run_["dtype"], block_size=run_["block_size"],
            chunk_size=run_.get("chunk_size"), n_groups=run_["n_groups"], progress=progress,
            label=sw.name)
        t_mc = _time.perf_counter() - t0
        t1 = _time.perf_counter()
        if sw.valley_only:
            runs = measure_valley(sw, batch)
        else:
            runs = measure_runs(sw, batch, run_, ref)
        if sw.name == "bath":
            ref = runs["bath"]
        t_th = _time.perf_counter() - t1
        print(f"    Monte Carlo {t_mc:.1f} s, theory + metrics {t_th:.1f} s", flush=True)
        out[sw.name] = {"batch": batch, "runs": runs, "seconds": {"monte_carlo": t_mc,
                                                                   "theory": t_th}}
    out["_seconds"] = _time.perf_counter() - t_all
    out["_verdicts"] = claim_verdicts(plan, out)
    return out


def _bin_range(sw: Sweep):
    """Histogram range: the bath's support (and the start), so every run shares it."""
    lo, hi = sw.landscape.support(sw.fp.temperature, 20.0)
    return (min(lo, sw.init_y), max(hi, sw.init_y))


def measure_runs(sw: Sweep, batch, run_: dict, ref: dict | None = None) -> dict:
    """Final metrics of every run against the theory's bath (`bath_equilibrium(sw.fp)`: for
    the chain at the run's step, its stationary river density and the valley at its
    stationary variance) and, given the SGD bath reference run `ref`, against that run.

    Histograms are extended by the cells outside the bins (`n_bins + 2` cells);
    TV errors come from a multinomial bootstrap (`tv_distance`, `tv_between`).
    """

    fp = sw.fp
    bath = bath_equilibrium(fp)
    ref_bins = extended_bin_masses(fp, bath["masses"], batch.bin_edges)
    d = sw.landscape.valley_dim
    g = sw.temperature_scale
    runs = {}
    for i, name in enumerate(batch.names):
        info = sw.info[name]
        th = schedule_theory(fp, batch.lr_steps[i], sw.dt, sw.initial_masses(),
                             batch.steps, edges=batch.bin_edges,
                             valley_moment=sw.initial_valley_moment())
        r = batch.record_index(info["measure"])
        obs, se = batch.observables, batch.standard_errors
        counts = np.concatenate([[batch.underflow[i, r]], batch.counts[i, r],
                                 [batch.overflow[i, r]]])
        tv = tv_distance(counts, ref_bins, predicted=th["bin_masses"][r], seed=run_["seed"] + i)
        lr_now = float(batch.lr_steps[i, info["measure"]])
        final = {
            "measure_step": int(info["measure"]), "lr": lr_now,
            "excess_loss": float(obs["loss"][i, r] - bath["loss"]),
            "excess_loss_se": float(se["loss"][i, r]),
            "excess_loss_theory": float(th["loss"][r] - bath["loss"]),
            "excess_river_loss": float(obs["river_loss"][i, r] - bath["river_loss"]),
            "excess_river_loss_se": float(se["river_loss"][i, r]),
            "excess_river_loss_theory": float(th["river_loss"][r] - bath["river_loss"]),
            "valley_energy": float(obs["valley_energy"][i, r]),
            "valley_energy_se": float(se["valley_energy"][i, r]),
            "valley_energy_theory": float(th["valley_energy"][r]),
            "equipartition": 0.5 * d * g * lr_now,
            "tv": tv["tv"], "tv_se": tv["se"], "tv_floor": tv["floor"],
            "tv_theory_expected": tv["expected"], "tv_theory": tv["exact"],
        }
        for k in (2, 3):
            final[f"A_{k}"] = float(obs[f"A_{k}"][i, r])
            final[f"A_{k}_se"] = float(se[f"A_{k}"][i, r])
            final[f"A_{k}_theory"] = float(th[f"A_{k}"][r])
        if ref is not None:
            # Against the SGD's own bath state (the reference run): unpaired errors.
            rf = ref["final"]
            tvs = tv_between(counts, ref["histogram"]["ext_counts"], seed=run_["seed"] + i)
            final.update(tv_sgd=tvs["tv"], tv_sgd_se=tvs["se"], tv_sgd_floor=tvs["floor"])
            for key in ("excess_loss", "A_2", "A_3"):
                final[f"{key}_sgd"] = final[key] - rf[key]
                final[f"{key}_sgd_se"] = math.hypot(final[f"{key}_se"], rf[f"{key}_se"])
        if "decay_end" in info and info["decay_end"] in set(batch.steps.tolist()):
            re_ = batch.record_index(info["decay_end"])
            lr_end = float(batch.lr_steps[i, info["decay_end"]])
            final["decay_end_valley_energy"] = float(obs["valley_energy"][i, re_])
            final["decay_end_valley_energy_se"] = float(se["valley_energy"][i, re_])
            final["decay_end_valley_energy_theory"] = float(th["valley_energy"][re_])
            final["decay_end_equipartition"] = 0.5 * d * g * lr_end
        curves = {"steps": batch.steps, "lr": batch.lr[i]}
        for key in ("loss", "valley_energy", "river_loss", "A_2", "A_3", "y_mean"):
            curves[key] = obs[key][i]
            curves[f"{key}_se"] = se[key][i]
            if key in th:
                curves[f"{key}_theory"] = th[key]
        curves["equipartition"] = 0.5 * d * g * batch.lr[i]
        runs[name] = {"index": i, "info": info, "final": final, "curves": curves,
                      "histogram": {"edges": batch.bin_edges, "counts": batch.counts[i, r],
                                    "ext_counts": counts,
                                    "underflow": int(batch.underflow[i, r]),
                                    "overflow": int(batch.overflow[i, r]),
                                    "theory_bin_masses": th["bin_masses"][r]},
                      "reference": {"loss": bath["loss"], "river_loss": bath["river_loss"]}}
    return runs


def measure_valley(sw: Sweep, batch) -> dict:
    """Final valley second moment per coordinate, `v = 2 <E> / (a d)`, against the
    exact Euler–Maruyama recursion `theory.valley_moments` (discrete SGD, `dt = 1`:
    `v <- (1 - a eta)^2 v + 2 g eta^2`) and, for the greedy anneal, the closed form `1 / (1/v0 + a^2 K / (2 g))`."""
    d, g = sw.landscape.valley_dim, sw.temperature_scale
    runs = {}
    for i, name in enumerate(batch.names):
        info = sw.info[name]
        a, n0, K = info["curvature"], info["decay_start"], info["anneal"]
        scale = 2.0 / (a * d)
        v_path = valley_moments(batch.lr_steps[i], a, sw.dt, np.arange(sw.n_steps + 1),
                                time=sw.time, temperature_scale=g)
        v0 = v_path[n0]
        r = batch.record_index(info["measure"])
        final = {
            "measure_step": int(info["measure"]),
            "variance": float(scale * batch.observables["valley_energy"][i, r]),
            "variance_se": float(scale * batch.standard_errors["valley_energy"][i, r]),
            "variance_theory": float(v_path[-1]),
            "v0": float(v0), "anneal_steps": int(K), "sigma2": 2 * g,
            "closed_form_greedy": float(1.0 / (1.0 / v0 + a * a * K / (2 * g))),
        }
        curves = {"steps": batch.steps, "lr": batch.lr[i],
                  "variance": scale * batch.observables["valley_energy"][i],
                  "variance_se": scale * batch.standard_errors["valley_energy"][i],
                  "variance_theory": v_path[batch.steps]}
        runs[name] = {"index": i, "info": info, "final": final, "curves": curves}
    return runs
