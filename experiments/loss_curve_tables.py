"""The tables of docs/loss_curves.md, generated from the committed JSON of the study.

    python experiments/loss_curve_tables.py           # rewrite the generated sections
    python experiments/loss_curve_tables.py --check   # exit 1 if the document is stale

Each table sits between `<!-- BEGIN generated: NAME (experiments/loss_curve_tables.py) -->`
and `<!-- END generated: NAME -->`; it is built here from `docs/loss_curves/fits_<size>.json`,
`uses_<size>.json` and `engine_check.json` (written by `experiments/loss_curves.py`), so
nothing between the markers is typed by hand.

The same sections in README.md (where it has their markers) are rewritten too;
`experiments/make_tables.py` calls `render` for every generated document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mpemba_jax.losscurves import SHARED_FILES, SHARED_SIZES  # noqa: E402

from mpemba_jax.io.markdown import replace_section, table  # noqa: E402

DOC = ROOT / "docs" / "loss_curves.md"
OUT = ROOT / "docs" / "loss_curves"
SCRIPT = "experiments/loss_curve_tables.py"
NAMES = {"valley_river": "valley–river", "multi_power": "multi-power law",
         "annealing": "LR-annealing law"}
SHORT = {"constant_24000": "constant", "cosine_24000": "cosine", "wsdcon_9": "wsdcon_9"}


def _load(out: Path, stem: str) -> dict | None:
    path = out / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _mean(entry: dict, key: str, metric: str) -> float:
    return float(np.mean([entry[key][c][metric] for c in SHARED_FILES if c in entry[key]]))


def error_table(fits: list[dict], key: str) -> str:
    """MAE / R^2 per curve, and their means, per size and model (`key`: in_sample or loo)."""
    header = (["size", "model", "parameters"] + [f"{SHORT[c]}: MAE / R²" for c in SHARED_FILES]
              + ["mean MAE", "mean R²"])
    rows = []
    for s in fits:
        for name, e in s["models"].items():
            cells = [f"{e[key][c]['mae']:.5f} / {e[key][c]['r2']:.5f}" if c in e[key] else "–"
                     for c in SHARED_FILES]
            rows.append([f"{s['size']}M", NAMES.get(name, name), len(e["fit"]["params"]), *cells,
                         f"**{_mean(e, key, 'mae'):.5f}**", f"{_mean(e, key, 'r2'):.5f}"])
    return table(header, rows)


def ranking(fits: list[dict], key: str) -> str:
    """One line per size: the models by mean MAE, best first, and the valley–river gap."""
    lines = []
    for s in fits:
        means = {n: _mean(e, key, "mae") for n, e in s["models"].items()}
        order = sorted(means, key=means.get)
        line = f"- {s['size']}M: " + " < ".join(f"{NAMES.get(n, n)} {means[n]:.5f}" for n in order)
        if "valley_river" in means and order[0] != "valley_river":
            gap = means["valley_river"] - means[order[0]]
            line += (f"; the valley–river model is worse than the {NAMES[order[0]]} by "
                     f"{gap:.5f} ({gap / means[order[0]]:.0%})")
        elif order and order[0] == "valley_river" and len(order) > 1:
            gap = means[order[1]] - means["valley_river"]
            line += f"; the valley–river model is better than the next by {gap:.5f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def summary(fits: list[dict]) -> str:
    """Per model: mean MAE over sizes and curves, in-sample and leave-one-out, and how
    often the valley–river model beats the multi-power law."""
    models = [n for n in NAMES if all(n in s["models"] for s in fits)]
    rows = [[NAMES[n], len(fits[0]["models"][n]["fit"]["params"]),
             f"{np.mean([_mean(s['models'][n], 'in_sample', 'mae') for s in fits]):.5f}",
             f"{np.mean([_mean(s['models'][n], 'loo', 'mae') for s in fits]):.5f}",
             f"{np.mean([_mean(s['models'][n], 'loo', 'r2') for s in fits]):.5f}"]
            for n in models]
    out = table(["model", "parameters", "in-sample MAE", "leave-one-out MAE",
                 "leave-one-out R²"], rows)
    if "valley_river" in models and "multi_power" in models:
        for key, what in (("in_sample", "in sample"), ("loo", "leave-one-out")):
            wins = [s["size"] + "M" for s in fits
                    if _mean(s["models"]["valley_river"], key, "mae")
                    < _mean(s["models"]["multi_power"], key, "mae")]
            out += (f"\n{what.capitalize()}, the valley–river model has the lower mean MAE than "
                    f"the multi-power law at {len(wins)} of {len(fits)} sizes"
                    + (f" ({', '.join(wins)})" if wins else "") + ".")
        out += "\n"
    return out


def _pm(value: float, err: float) -> str:
    return f"{value:.4g} ± {err:.2g}"


def params_table(fits: list[dict], model: str) -> str:
    """Fitted parameters ± standard error per size; parameters at a bound are marked."""
    rows, names = [], None
    for s in fits:
        if model not in s["models"]:
            continue
        f = s["models"][model]["fit"]
        names = list(f["params"])
        bound = set(f["info"]["at_bound"])
        rows.append([f"{s['size']}M"] + [_pm(f["params"][k], f["stderr"][k])
                                         + (" (bound)" if k in bound else "") for k in names]
                    + [f"{f['info']['objective']:.1f}", f"{f['info']['lag1_autocorrelation']:.2f}"])
    if not rows:
        return "(no fit)\n"
    return table(["size", *names, "objective", "residual lag-1 corr."], rows)


def valley_river_meaning(fits: list[dict]) -> str:
    """Derived quantities of the valley–river fits: temperature scale, river exponent,
    valley relaxation times at the peak LR."""
    rows = []
    for s in fits:
        if "valley_river" not in s["models"]:
            continue
        f = s["models"]["valley_river"]["fit"]
        p, d = f["params"], f["options"]["valley_dim"]
        kappa = p.get("kappa", f["options"].get("kappa"))
        u = (np.arange(d) + 0.5) / d
        a = p["a_max"] * u ** (1.0 / p["beta"])
        river_p = 2 * p["alpha"] / (1 - p["alpha"])
        rows.append([f"{s['size']}M", d, f"{2 * p['B'] / d:.3g}", f"{p['B']:.3g}",
                     f"{river_p:.3g}", f"{kappa:.3g}",
                     f"{1 / (2 * a.max()):.3g} – {1 / (2 * a.min()):.3g}",
                     f"{p['L0']:.3f}"])
    return table(["size", "valley directions d", "temperature scale g = 2B/d (per direction)",
                  "valley energy at peak B", "river exponent p (V ~ y^-p)", "kappa (step ~ lr^kappa)",
                  "valley relaxation times 1/(2 a_j) at peak (steps)", "loss floor L0"], rows)


def uses_table(uses: list[dict]) -> str:
    """a_2 scans (two far-wall positions) and the best WSD schedules per size."""
    def fmt(b):
        return (f"{b['shape']}, peak {b['peak']:g}, decay {b['decay_fraction']:.0%}: "
                f"{b['final_loss']:.4f}") if b else "–"

    def scan(m):
        if not m:
            return "–"
        a2 = np.asarray(m["a2"], float)
        pts = ", ".join(f"{x:.3g}" for x in m["strong_points"]) or "none"
        return (f"wall at area {m['area_max']:.0e}: a_2 in [{a2.min():.3g}, {a2.max():.3g}], "
                f"a_2 = 0 at {pts}; 1/λ₂ = {m['relaxation_steps']:.3g} steps")

    rows = [[f"{u['size']}M", scan(u.get("mpemba")), scan(u.get("mpemba_near_wall")),
             fmt(u["best_at_reference_peak"].get("valley_river")),
             fmt(u["best_at_reference_peak"].get("multi_power")),
             fmt(u["best"].get("valley_river")), fmt(u["best"].get("multi_power"))]
            for u in uses]
    lr = uses[0]["mpemba"]["lr_plateaus"] if uses and uses[0].get("mpemba") else [np.nan]
    return table(["size", f"fitted river, plateau LR {min(lr):.2g}–{max(lr):.2g} → bath 3e-5",
                  "same, wall 10× nearer", "best WSD at peak 3e-4: valley–river",
                  "best WSD at peak 3e-4: multi-power law",
                  "best over peaks 1e-4–6e-4 (only 3e-4 in the data): valley–river",
                  "same: multi-power law"], rows)


def engine_table(e: dict | None) -> str:
    if e is None:
        return "(not run)\n"
    z, z0 = np.abs(np.asarray(e["z"], float)), np.abs(np.asarray(e["river_noise_z"], float))
    diff = np.asarray(e["particles"], float) - np.asarray(e["model"], float)
    rows = table(
        ["run", "records", "particles", "max \\|z\\|, model", "max \\|z\\|, noise-free river",
         "threshold z_m", "verdict", "SE of mean loss", "time"],
        [[f"{e['size']}M valley–river fit, {e['curve']}, seed {e['seed']}", len(z),
          e["n_particles"], f"{z.max():.2f}", f"{z0.max():.2f}", f"{e['threshold']:.2f}",
          "model agrees" if e["passed"] else "model rejected",
          f"{min(e['se']):.2g}–{max(e['se']):.2g}", f"{e['seconds']:.0f} s"]])
    i = int(np.argmax(np.abs(diff)))
    return rows + (f"\nLargest particles − model: {diff[i]:+.2g} at step {e['steps'][i]}; "
                   f"largest river-noise term of the model: "
                   f"{np.max(np.abs(e['river_noise'])):.2g}.\n")


def sections(out: Path = OUT) -> dict[str, str]:
    """Every generated section by name, from the JSON under `out`."""
    fits = [f for f in (_load(out, f"fits_{s}") for s in SHARED_SIZES) if f]
    uses = [u for u in (_load(out, f"uses_{s}") for s in SHARED_SIZES) if u]
    return {
        "loss-curves-summary": summary(fits) if fits else "(not run)\n",
        "loss-curves-in-sample": error_table(fits, "in_sample") + "\n" + ranking(fits, "in_sample"),
        "loss-curves-loo": error_table(fits, "loo") + "\n" + ranking(fits, "loo"),
        "loss-curves-params-vr": params_table(fits, "valley_river"),
        "loss-curves-meaning-vr": valley_river_meaning(fits),
        "loss-curves-params-mpl": params_table(fits, "multi_power"),
        "loss-curves-params-annealing": params_table(fits, "annealing"),
        "loss-curves-uses": uses_table(uses) if uses else "(not run)\n",
        "loss-curves-engine": engine_table(_load(out, "engine_check")),
    }


def render(text: str, out: Path = OUT) -> str:
    """`text` with every generated section it has markers for rewritten."""
    for name, body in sections(out).items():
        if f"<!-- BEGIN generated: {name} " in text:
            text = replace_section(text, name, body)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="exit 1 (writing nothing) if a document differs from the JSON's tables")
    p.add_argument("--out", type=Path, default=OUT, help="folder of the study's JSON")
    args = p.parse_args(argv)
    stale = []
    for doc in (DOC, ROOT / "README.md"):
        text = doc.read_text()
        new = render(text, args.out)
        if new != text:
            stale.append(doc)
            if not args.check:
                doc.write_text(new)
    verb = "stale" if args.check else "rewrote"
    print(f"{verb}: {', '.join(str(d.relative_to(ROOT)) for d in stale) or 'nothing'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
