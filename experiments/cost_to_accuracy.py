"""Cost to accuracy: wall time to reach a TV error of 0.01 in the stationary river histogram.

Work: the `double_well` preset at `lr = 0.2` (`time="lr_area"`, so `mu = 1`,
`T = 0.2`, the barrier height; `lambda_2 = 0.150`, `lambda_3 = 1.20`),
`N = 200_000` particles started together at `y = -1, x = 0` and run for
`t = 40` time units (`exp(-lambda_2 t) = 0.0025`: the start is forgotten),
then a 50-bin histogram of `y` on `[-2.5, 2.5]` compared with the
Fokker–Planck stationary bin probabilities (`FokkerPlanck(...).stationary_masses`
re-binned). The error is the total variation `0.5 sum |p_hat - p|`; its
sampling floor at this `N` is printed (independent multinomial draws from
`p`), about 0.0055, so a TV of 0.01 needs a step bias below roughly 0.006.

For every integrator x noise, step sizes `h` from a ladder are tried from the
largest (that the stability check accepts) down; the cost of a configuration
is the wall time of the run at the largest `h` whose TV is <= 0.01 (timed on
a second run, compilation excluded; the compile time is reported too).
Plain NumPy Euler–Maruyama of the same update (float32) is run on the same
ladder starting at the step Euler–Maruyama needed.

    python experiments/cost_to_accuracy.py [--n-particles 200000] [--out runs/cost_to_accuracy]

Writes `cost_to_accuracy.json` and `cost_to_accuracy.png` under `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import mpemba_jax as mj
from mpemba_jax.studies import double_well_numbers, numpy_double_well_step
from mpemba_jax.theory import masses_to_bins

LADDER = (0.2, 0.14, 0.1, 0.07, 0.05, 0.035, 0.025, 0.018, 0.0125)
TARGET = 0.01
CONFIGS = tuple((i, n) for i in ("euler_maruyama", "valley_exact", "leimkuhler_matthews")
                for n in ("gaussian", "rademacher", "three_point"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-particles", type=int, default=200_000)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--t-end", type=float, default=40.0)
    p.add_argument("--bins", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy baseline")
    p.add_argument("--out", default="runs/cost_to_accuracy")
    return p.parse_args(argv)


def tv(counts: np.ndarray, outside: int, p: np.ndarray) -> float:
    n = counts.sum() + outside
    return 0.5 * (np.abs(counts / n - p).sum() + outside / n)


def engine_run(land, args, edges, p, integrator, noise, h):
    steps = int(round(args.t_end / h))
    kw = dict(n_particles=args.n_particles, n_steps=steps, dt=h, time="lr_area",
              init=mj.point(-1.0), record_steps=[steps], bins=edges, seed=args.seed,
              integrator=integrator, noise=noise, progress=False)
    t0 = time.perf_counter()
    mj.simulate(land, mj.constant(args.lr), **dict(kw, record_steps=[0, 1]))  # compile
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = mj.simulate(land, mj.constant(args.lr), **kw)
    run_s = time.perf_counter() - t0
    outside = int(res.underflow[-1] + res.overflow[-1] + res.nonfinite[-1])
    return dict(h=h, steps=steps, tv=tv(res.counts[-1], outside, p), seconds=run_s,
                compile_seconds=compile_s)


def numpy_run(land, args, edges, p, h):
    """Plain NumPy float32 Euler–Maruyama of the same update, `mu = 1`, `T = lr`."""
    numbers = double_well_numbers(land)
    steps = int(round(args.t_end / h))
    n = args.n_particles
    hh, amp = np.float32(h), np.float32(np.sqrt(2.0 * args.lr * h))
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x = np.zeros(n, np.float32)
    y = np.full(n, -1.0, np.float32)
    for _ in range(steps):
        noise = rng.standard_normal((2, n), dtype=np.float32)
        x, y = numpy_double_well_step(x, y, noise, numbers, hh, amp)
    counts, _ = np.histogram(y, bins=edges)
    run_s = time.perf_counter() - t0
    return dict(h=h, steps=steps, tv=tv(counts, int(n - counts.sum()), p), seconds=run_s)


def sampling_floor(p, n, rng, draws=200):
    """Mean TV of an exact sample of `n` particles (multinomial draws from `p`)."""
    return float(np.mean([tv(rng.multinomial(n, p / p.sum()), 0, p) for _ in range(draws)]))


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    land = mj.preset("double_well")
    fp = mj.FokkerPlanck(land, args.lr, time="lr_area")
    edges = np.linspace(-2.5, 2.5, args.bins + 1)
    p = masses_to_bins(fp.edges, fp.stationary_masses, edges)
    floor = sampling_floor(p, args.n_particles, np.random.default_rng(0))
    print(f"lambda_2 = {fp.eigenvalues[1]:.4g}, lambda_3 = {fp.eigenvalues[2]:.4g}; "
          f"TV sampling floor at N = {args.n_particles}: {floor:.4f}", flush=True)

    results = {}
    for integrator, noise in CONFIGS:
        name = f"{integrator}/{noise}"
        tried = []
        for h in LADDER:
            try:
                run = engine_run(land, args, edges, p, integrator, noise, h)
            except ValueError as e:  # the explicit valley step's stability limit
                tried.append(dict(h=h, refused=str(e).split(";")[0]))
                continue
            tried.append(run)
            print(f"{name:34s} h={h:<7g} TV={run['tv']:.4f} {run['seconds']:.2f} s", flush=True)
            if run["tv"] <= TARGET:
                break
        ok = [r for r in tried if r.get("tv", 1.0) <= TARGET]
        results[name] = dict(runs=tried, reached=bool(ok),
                             seconds=ok[0]["seconds"] if ok else None,
                             h=ok[0]["h"] if ok else None)

    numpy_result = None
    if not args.no_numpy:
        em_h = results["euler_maruyama/gaussian"]["h"] or LADDER[-1]
        tried = []
        for h in [v for v in LADDER if v <= em_h]:
            run = numpy_run(land, args, edges, p, h)
            tried.append(run)
            print(f"{'numpy euler_maruyama':34s} h={h:<7g} TV={run['tv']:.4f} "
                  f"{run['seconds']:.2f} s", flush=True)
            if run["tv"] <= TARGET:
                break
        ok = [r for r in tried if r["tv"] <= TARGET]
        numpy_result = dict(runs=tried, reached=bool(ok),
                            seconds=ok[0]["seconds"] if ok else None,
                            h=ok[0]["h"] if ok else None)

    reached = {k: v for k, v in results.items() if v["reached"]}
    best = min(reached, key=lambda k: reached[k]["seconds"]) if reached else None
    summary = {
        "target_tv": TARGET, "tv_sampling_floor": floor,
        "best": best, "best_seconds": reached[best]["seconds"] if best else None,
        "numpy_seconds": numpy_result["seconds"] if numpy_result else None,
    }
    if best and numpy_result and numpy_result["seconds"]:
        summary["numpy_over_best"] = numpy_result["seconds"] / reached[best]["seconds"]
    if reached.get("euler_maruyama/gaussian") and numpy_result and numpy_result["seconds"]:
        summary["numpy_over_engine_em_gaussian"] = (
            numpy_result["seconds"] / results["euler_maruyama/gaussian"]["seconds"])
    report = {
        "workload": {"preset": "double_well", "lr": args.lr, "time": "lr_area",
                     "t_end": args.t_end, "n_particles": args.n_particles, "init": "y=-1, x=0",
                     "bins": args.bins, "bin_range": [-2.5, 2.5], "seed": args.seed,
                     "ladder": list(LADDER), "lambda_2": float(fp.eigenvalues[1]),
                     "lambda_3": float(fp.eigenvalues[2])},
        "engine": results, "numpy": numpy_result, "summary": summary,
        "versions": {"jax": __import__("jax").__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "command": "python experiments/cost_to_accuracy.py " + " ".join(sys.argv[1:]),
        "wall_seconds": time.perf_counter() - start,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cost_to_accuracy.json"), "w") as f:
        json.dump(report, f, indent=2)
    plot(report, os.path.join(args.out, "cost_to_accuracy.png"))
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}/cost_to_accuracy.json and .png "
          f"({time.perf_counter() - start:.0f} s)")


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = {"euler_maruyama": "C0", "valley_exact": "C1", "leimkuhler_matthews": "C2"}
    styles = {"gaussian": "-o", "rademacher": "--s", "three_point": ":^"}
    for name, r in report["engine"].items():
        integrator, noise = name.split("/")
        runs = [x for x in r["runs"] if "tv" in x]
        ax1.plot([x["h"] for x in runs], [x["tv"] for x in runs], styles[noise],
                 color=colors[integrator], label=name, ms=4)
    if report["numpy"]:
        runs = report["numpy"]["runs"]
        ax1.plot([x["h"] for x in runs], [x["tv"] for x in runs], "-x", color="k",
                 label="numpy EM")
    ax1.axhline(report["summary"]["target_tv"], color="grey", lw=0.8)
    ax1.axhline(report["summary"]["tv_sampling_floor"], color="grey", lw=0.8, ls=":")
    ax1.set(xscale="log", yscale="log", xlabel="step h (lr_area time)",
            ylabel="TV error of the stationary histogram",
            title=f"N = {report['workload']['n_particles']}, t = {report['workload']['t_end']}")
    ax1.legend(fontsize=6, ncol=2)
    names = [k for k, v in report["engine"].items() if v["reached"]]
    seconds = [report["engine"][k]["seconds"] for k in names]
    if report["numpy"] and report["numpy"]["reached"]:
        names.append("numpy EM")
        seconds.append(report["numpy"]["seconds"])
    order = np.argsort(seconds)
    ax2.barh([names[i] for i in order], [seconds[i] for i in order], color="C0")
    ax2.set(xscale="log", xlabel=f"wall seconds to TV <= {report['summary']['target_tv']}",
            title="cost to accuracy (compile excluded)")
    ax2.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
