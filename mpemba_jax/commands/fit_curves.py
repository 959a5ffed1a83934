"""`mpemba-jax fit-curves`: fit loss-curve models to measured training curves.

Fits the valley–river model and the two anchors (multi-power law, LR-annealing
law) jointly to the curves of one model size, optionally leaving each curve out
in turn, and writes `fits.json` (parameters with errors, in-sample and
leave-one-out errors, predictions) and `fits.png` into `--out`. The study is
`mpemba_jax.losscurves.study`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io.results import jsonable
from ..losscurves import (MODELS, SHARED_SIZES, load_loss_curve, load_shared_curves,
                          shared_lr_table)
from ..losscurves.figures import fits_figure
from ..losscurves.study import fit_curves, prediction_schedules, predictions


def add_parser(sub):
    p = sub.add_parser(
        "fit-curves",
        help="fit the valley–river model and the anchors to measured loss curves",
        description=(
            "Fit each model jointly to the loss curves of one model size (the shared data, "
            "--size, or CSV files, --curve), report in-sample and leave-one-out errors, and "
            "write fits.json and fits.png."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--size", choices=SHARED_SIZES,
                     help="the shared curves of this model size (data/loss_curves/SIZE/)")
    src.add_argument("--curve", action="append", metavar="CSV[=LRS]",
                     help="a step,lr,loss CSV (repeatable); LRS is a shared schedule name "
                          "(e.g. cosine_24000) or a .npy file of the LR of every step; without "
                          "it the file's name must be a shared schedule's")
    p.add_argument("--model", action="append", choices=tuple(MODELS), default=None,
                   help="model to fit (repeatable; default: all three)")
    p.add_argument("--no-loo", action="store_true", help="skip the leave-one-out refits")
    p.add_argument("--n-starts", type=int, default=2, help="polished starts (default 2)")
    p.add_argument("--n-screen", type=int, default=32, help="screened Sobol starts (default 32)")
    p.add_argument("--max-iter", type=int, default=3000,
                   help="Jacobian evaluations per polished start (default 3000)")
    p.add_argument("--out", default="runs/fit_curves", help="output directory")
    p.set_defaults(func=run)


def _curves(args):
    if args.size is not None:
        return load_shared_curves(args.size)
    out = []
    for item in args.curve:
        path, _, lrs = item.partition("=")
        if lrs.endswith(".npy"):
            out.append(load_loss_curve(path, np.load(lrs)))
        elif lrs:
            out.append(load_loss_curve(path, shared_lr_table(lrs)))
        else:
            out.append(load_loss_curve(path))
    return out


def run(args) -> int:
    curves = _curves(args)
    models = args.model or list(MODELS)
    print(f"fitting {', '.join(models)} to {len(curves)} curves: "
          + ", ".join(f"{c.name} ({len(c.steps)} points)" for c in curves))
    summary, fits = fit_curves(curves, models, n_starts=args.n_starts, n_screen=args.n_screen,
                               loo=not args.no_loo, max_iter=args.max_iter)
    if args.size is not None:
        summary["size"] = args.size
    summary["predictions"] = predictions(fits, prediction_schedules())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fits.json").write_text(json.dumps(jsonable(summary), indent=1))
    fits_figure([summary], out / "fits.png", curves=[curves])
    for name, entry in summary["models"].items():
        rows = [f"{c}: MAE {m['mae']:.5f}" for c, m in entry["in_sample"].items()]
        print(f"{name}: in-sample " + ", ".join(rows))
        if entry["loo"]:
            print(" " * len(name) + "  left out  " + ", ".join(
                f"{c}: MAE {m['mae']:.5f}" for c, m in entry["loo"].items()))
    print(f"wrote {out / 'fits.json'} and {out / 'fits.png'}")
    return 0
