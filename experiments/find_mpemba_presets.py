"""Search two parametric valley–river families for a strong Mpemba point.

Criteria (issue 3), at the bath LR `lr_bath = 0.01`, `time="steps"`, `g = 1`,
plateau range `[1.05, 10] * lr_bath`:
  - a strong Mpemba point `a_2(lr*) = 0` inside `[1.5, 8] * lr_bath`;
  - `lambda_3 / lambda_2 >= 3` (the slow mode stands apart);
  - `5 / lambda_2 <= 1e4` steps, and the hottest start's total-variation
    distance after 1e4 steps at the bath LR (`evolve`, implicit Euler with
    10-step substeps) <= 0.02 (relaxation observable by Monte Carlo; this
    catches far tails that a hot start fills and that drain slowly);
  - `max |a_2|` on the range >= 0.03 (a slow mode worth removing) and
    `|a_3(lr*)| <= 10` (the next mode, which then sets the decay, is not a
    far-tail mode with a huge amplitude);
  - `mu a dt <= 0.5` at the hottest LR with `dt = 1` step over the bulk of the
    river density (Euler–Maruyama stable, `< 2`, and fairly accurate).
Candidates passing all are ranked by `max |a_2|` times the spectral ratio
(capped at 10). Prints one line per passing candidate (best first) and the
keyword arguments of the best, ready for `mj.preset(name, **kwargs)`.

    python experiments/find_mpemba_presets.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck, distances, evolve

LR_BATH = 0.01
RANGE = (1.05 * LR_BATH, 10 * LR_BATH)
INSIDE = (1.5 * LR_BATH, 8 * LR_BATH)

GRIDS = {
    "kinked_double_well": dict(
        barrier=[0.025, 0.03],
        width_left=[0.2, 0.3],
        width_right=[0.15],
        tilt=[0.01, 0.02, 0.03],
        slope_right=[0.2, 0.3, 0.4, 0.6],
        slope_left=[2.0],
        valley_dim=[1],
    ),
    "box_wells": dict(
        depth_left=[0.02, 0.025, 0.03],
        depth_right=[0.03, 0.035],
        sigma_left=[0.06, 0.1],
        sigma_right=[0.04],
        centre_left=[-0.15],
        centre_right=[0.15],
        box_left=[0.3],
        box_right=[0.3, 0.35, 0.4, 0.45],
        a0=[3.0],
        valley_dim=[2],
    ),
}
QUICK = {
    "kinked_double_well": dict(tilt=[0.02], slope_right=[0.3], width_left=[0.3], barrier=[0.03]),
    "box_wells": dict(depth_left=[0.025], depth_right=[0.03], box_right=[0.3, 0.35]),
}


def evaluate(name: str, params: dict) -> dict | None:
    land = mj.preset(name, **params)
    try:
        fp = FokkerPlanck(land, LR_BATH, n_grid=3000, n_modes=3, lr_max=RANGE[1])
    except ValueError:
        return None
    lam = fp.eigenvalues
    summary = fp.mpemba_summary(RANGE, n_scan=200)
    a2 = fp.amplitude(np.geomspace(*RANGE, 200), 2)
    hot = fp.equilibrium(RANGE[1])
    bulk = hot > 1e-6 * hot.max()
    a_max = float(fp.curvature_values[bulk].max())
    ev = evolve(fp, hot, LR_BATH, 10.0, n_steps=1000, record_steps=[1000])
    tv_1e4 = float(distances(ev.masses[-1], fp.stationary_masses, "tv"))
    return dict(
        preset=name,
        params=params,
        lambda_2=float(lam[1]),
        ratio=float(lam[2] / lam[1]),
        relax_steps=float(5 / lam[1]),
        strong_points=[float(x) for x in summary.strong_points],
        a3_at_points=[float(x) for x in summary.a3_at_points],
        a2_range=[float(a2.min()), float(a2.max())],
        mu_a_dt=float(RANGE[1] * a_max),
        tv_hottest_at_1e4=tv_1e4,
    )


def passes(r: dict) -> bool:
    pts = [p for p in r["strong_points"] if INSIDE[0] <= p <= INSIDE[1]]
    return (
        bool(pts)
        and r["ratio"] >= 3
        and r["relax_steps"] <= 1e4
        and r["tv_hottest_at_1e4"] <= 0.02
        and max(abs(v) for v in r["a2_range"]) >= 0.03
        and all(abs(a) <= 10 for p, a in zip(r["strong_points"], r["a3_at_points"]) if p in pts)
        and r["mu_a_dt"] <= 0.5
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few candidates only")
    args = ap.parse_args()
    t0 = time.perf_counter()
    for name, grid in GRIDS.items():
        grid = {**grid, **(QUICK[name] if args.quick else {})}
        keys = list(grid)
        found = []
        n = 0
        for values in itertools.product(*(grid[k] for k in keys)):
            n += 1
            r = evaluate(name, dict(zip(keys, values)))
            if r is not None and passes(r):
                found.append(r)
        found.sort(key=lambda r: -max(abs(v) for v in r["a2_range"]) * min(r["ratio"], 10))
        print(f"== {name}: {len(found)} of {n} candidates pass")
        for r in found[:8]:
            print(json.dumps(r))
        if found:
            print(f"best {name}: mj.preset({name!r}, **{found[0]['params']})")
    print(f"search took {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
