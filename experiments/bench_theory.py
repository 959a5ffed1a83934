"""Benchmark the Fokker–Planck theory against SciPy's dense `eigh` of the same operator.

Times, in one run: the spectrum at `n_grid = 2000` (construction of
`FokkerPlanck`, i.e. tridiagonal eigensolve, Ritz step and backward inverse
iteration for `n_modes` left eigenfunctions), an amplitude curve `a_2` over 200
plateau LRs, and `scipy.linalg.eigh` of the same symmetric operator as a dense
matrix (all eigenpairs, and the lowest `n_modes` by index). Prints JSON.

    python experiments/bench_theory.py [--preset box_wells] [--n-grid 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import scipy
import scipy.linalg

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="box_wells")
    ap.add_argument("--lr-bath", type=float, default=0.01)
    ap.add_argument("--n-grid", type=int, default=2000)
    ap.add_argument("--n-modes", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    land = mj.preset(args.preset)
    lo, hi = 1.05 * args.lr_bath, 10 * args.lr_bath

    def build():
        return FokkerPlanck(land, args.lr_bath, n_grid=args.n_grid, n_modes=args.n_modes, lr_max=hi)

    build()  # warm-up: JAX traces the landscape once
    t_spec, fp = best_of(build, args.repeat)
    lrs = np.geomspace(lo, hi, 200)
    t_amp, a2 = best_of(lambda: fp.amplitude(lrs, 2), args.repeat)

    # the same operator, dense: H = -S, S the symmetrised generator
    beta = fp.reduced_free_energy(fp.lr_bath)
    db = np.diff(beta)
    diag = np.zeros(fp.n_grid)
    diag[:-1] += np.exp(np.clip(-0.5 * db, -300, 300))
    diag[1:] += np.exp(np.clip(0.5 * db, -300, 300))
    dense = fp.hop_rate * (np.diag(diag) - np.diag(np.ones(fp.n_grid - 1), 1) - np.diag(np.ones(fp.n_grid - 1), -1))
    t_dense_all, (w_all, _) = best_of(lambda: scipy.linalg.eigh(dense), max(1, args.repeat // 2))
    t_dense_sub, w_sub = best_of(
        lambda: scipy.linalg.eigh(dense, eigvals_only=True, subset_by_index=(0, args.n_modes - 1)),
        max(1, args.repeat // 2),
    )
    lam = fp.eigenvalues
    rel = np.abs(w_all[1 : args.n_modes] - lam[1:]) / lam[1:]
    print(json.dumps({
        "preset": args.preset,
        "lr_bath": args.lr_bath,
        "n_grid": args.n_grid,
        "n_modes": args.n_modes,
        "spectrum_s": t_spec,
        "amplitude_curve_200_s": t_amp,
        "dense_eigh_all_s": t_dense_all,
        "dense_eigh_lowest_s": t_dense_sub,
        "speedup_vs_dense_all": t_dense_all / t_spec,
        "max_rel_diff_lambda_vs_dense": float(rel.max()),
        "dense_lambda_1": float(w_all[0]),
        "lambda_2": float(lam[1]),
        "strong_points": fp.strong_mpemba_points((lo, hi)).tolist(),
        "machine": platform.processor() or platform.machine(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "repeat": f"best of {args.repeat}",
    }, indent=2))


if __name__ == "__main__":
    main()
