"""Real loss curves: fit the valley–river model and the two anchors to measured LLM
training, test them by leaving one curve out, and use the fitted model.

    python experiments/loss_curves.py                      # every stage, every size
    python experiments/loss_curves.py --stage report       # tables from the committed JSON

Stages (each reads what the previous ones wrote under --out):
  fit      per size: joint fits of every model, in-sample errors, leave-one-out
           refits, predictions for schedules outside the data  -> fits_<size>.json
  uses     per size: a_2 of the fitted river against the plateau LR, final losses
           of WSD schedules for a fixed budget                 -> uses_<size>.json
  engine   particles run by the engine from the 25M valley–river fit against the
           model's prediction of wsdcon_9                      -> engine_check.json
  figures  docs/loss_curves/fits.png (data, fits, residuals, leave-one-out predictions,
           other schedules) and docs/loss_curves/uses.png
  report   the tables of docs/loss_curves.md between their markers
           (experiments/loss_curve_tables.py; `--check` there tells a stale document)

Data: data/loss_curves/ (Luo et al. 2025, MIT licence; see its README).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))

from mpemba_jax.io.results import jsonable  # noqa: E402
from mpemba_jax.losscurves import LossCurveFit, SHARED_SIZES, load_shared_curves  # noqa: E402
from mpemba_jax.losscurves.engine_check import simulate_fit  # noqa: E402
from mpemba_jax.losscurves.figures import fits_figure, uses_figure  # noqa: E402
from loss_curve_tables import main as write_tables  # noqa: E402
from mpemba_jax.losscurves.study import fit_size, prediction_schedules, predictions  # noqa: E402
from mpemba_jax.losscurves.uses import best_wsd, mpemba_scan, wsd_grid  # noqa: E402

MODELS = ("valley_river", "multi_power", "annealing")
STAGES = ("fit", "uses", "engine", "figures", "report")
PEAKS = (1e-4, 2e-4, 3e-4, 4.5e-4, 6e-4)
FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0)


def _write(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(jsonable(obj), indent=1))
    tmp.replace(path)
    print(f"wrote {path}")


def _read(path: Path) -> dict:
    if not path.exists():
        raise SystemExit(f"{path} is missing: run the stage that writes it first")
    return json.loads(path.read_text())


def stage_fit(args, size: str) -> None:
    print(f"[fit] {size}M")
    summary, fits = fit_size(size, args.models, n_starts=args.n_starts, n_screen=args.n_screen,
                             loo_starts=args.loo_starts, max_iter=args.max_iter)
    summary["predictions"] = predictions(fits, prediction_schedules())
    summary["command"] = " ".join(sys.argv)
    _write(args.out / f"fits_{size}.json", summary)


def stage_uses(args, size: str) -> None:
    print(f"[uses] {size}M")
    summary = _read(args.out / f"fits_{size}.json")
    fits = {k: LossCurveFit.from_json(v["fit"]) for k, v in summary["models"].items()}
    out = {"size": size, "budget": args.budget, "reference_peak": 3e-4, "wsd": {}, "best": {},
           "best_at_reference_peak": {}}
    if "valley_river" in fits:
        plateaus = np.geomspace(3.3e-5, 3e-3, 60)
        out["mpemba"] = mpemba_scan(fits["valley_river"], 3e-5, plateaus, area_max=args.area_max)
        # The fitted river falls for ever: its equilibrium is made by the far wall. The same
        # scan with the wall 10 times nearer shows what of a_2 is the wall's.
        out["mpemba_near_wall"] = mpemba_scan(fits["valley_river"], 3e-5, plateaus,
                                              area_max=args.area_max / 10)
        print(f"  a_2 sign changes (strong points): {out['mpemba']['strong_points']}; "
              f"1/lambda_2 = {out['mpemba']['relaxation_steps']:.3g} steps")
    for name in ("valley_river", "multi_power"):
        if name not in fits:
            continue
        grid = wsd_grid(fits[name], args.budget, PEAKS, FRACTIONS)
        out["wsd"][name] = grid
        out["best"][name] = best_wsd(grid)
        j = PEAKS.index(3e-4)
        ref = {**grid, "peaks": [3e-4], "final_loss": grid["final_loss"][:, j:j + 1]}
        out["best_at_reference_peak"][name] = best_wsd(ref)
        print(f"  {name}: best {out['best'][name]}; at 3e-4 {out['best_at_reference_peak'][name]}")
    _write(args.out / f"uses_{size}.json", out)


def stage_engine(args) -> None:
    size = "25"
    print(f"[engine] {size}M valley_river, wsdcon_9, {args.particles} particles")
    fit = LossCurveFit.from_json(_read(args.out / f"fits_{size}.json")["models"]["valley_river"]["fit"])
    curve = load_shared_curves(size)[2]
    steps = np.r_[np.arange(1000, curve.n_steps, 1000), curve.n_steps]
    out = simulate_fit(fit, curve.lrs, steps, n_particles=args.particles, seed=args.seed)
    # Family level 0.27 % over the records (tests/conftest.py's z_threshold).
    threshold = float(norm.isf(0.0027 / (2 * len(steps))))
    out.update(size=size, curve=curve.name, seed=args.seed, threshold=threshold,
               passed=bool(np.abs(out["z"]).max() < threshold),
               max_abs_z=float(np.abs(out["z"]).max()),
               max_abs_z_no_river_noise=float(np.abs(out["river_noise_z"]).max()))
    print(f"  max |z| {out['max_abs_z']:.2f} over {len(steps)} records "
          f"(noise-free river: {out['max_abs_z_no_river_noise']:.2f}); {out['seconds']:.0f} s")
    _write(args.out / "engine_check.json", out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=STAGES + ("all",), default="all")
    p.add_argument("--sizes", nargs="+", default=list(SHARED_SIZES), choices=SHARED_SIZES)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--n-starts", type=int, default=2, help="polished starts of each full fit")
    p.add_argument("--loo-starts", type=int, default=1,
                   help="polished starts of each leave-one-out refit")
    p.add_argument("--max-iter", type=int, default=3000,
                   help="Jacobian evaluations per polished start (trust-region least squares)")
    p.add_argument("--n-screen", type=int, default=32, help="Sobol starts screened per fit")
    p.add_argument("--budget", type=int, default=24000, help="steps of the WSD comparison")
    p.add_argument("--area-max", type=float, default=1e6,
                   help="effective LR area at which the fitted river's far wall stands")
    p.add_argument("--particles", type=int, default=32768, help="engine check particles")
    p.add_argument("--seed", type=int, default=0, help="engine check seed")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "loss_curves")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stages = STAGES if args.stage == "all" else (args.stage,)
    t0 = time.perf_counter()
    for stage in stages:
        if stage == "fit":
            for size in args.sizes:
                stage_fit(args, size)
        elif stage == "uses":
            for size in args.sizes:
                stage_uses(args, size)
        elif stage == "engine":
            stage_engine(args)
        elif stage == "figures":
            fits = [_read(args.out / f"fits_{s}.json") for s in args.sizes]
            uses = [_read(args.out / f"uses_{s}.json") for s in args.sizes]
            print(f"wrote {fits_figure(fits, args.out / 'fits.png')}")
            print(f"wrote {uses_figure(uses, args.out / 'uses.png')}")
        else:
            write_tables(["--out", str(args.out)])
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
