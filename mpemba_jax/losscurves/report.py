"""Markdown tables of the loss-curve study, written from its committed JSON.

`write_reports` rewrites the text between `<!-- loss-curves:<name>:begin -->`
and `<!-- loss-curves:<name>:end -->` in README.md and docs/loss_curves.md
with the tables built here from `fits_<size>.json`, `uses_<size>.json` and
`engine_check.json`; nothing in them is typed by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .data import SHARED_FILES, SHARED_SIZES

__all__ = ["tables", "write_reports"]

_NAMES = {"valley_river": "valley–river", "multi_power": "multi-power law",
          "annealing": "LR-annealing law"}
_SHORT = {"constant_24000": "constant", "cosine_24000": "cosine", "wsdcon_9": "wsdcon_9"}


def _load(out: Path, stem: str) -> dict | None:
    path = out / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _error_table(fits: list[dict], key: str) -> str:
    head = "| size | model | " + " | ".join(f"{_SHORT[c]}: MAE / R²" for c in SHARED_FILES) \
        + " | mean MAE |"
    lines = [head, "|" + "---|" * (len(SHARED_FILES) + 3)]
    for s in fits:
        for name, entry in s["models"].items():
            cells = [entry[key].get(c) for c in SHARED_FILES]
            mae = [c["mae"] for c in cells if c]
            row = " | ".join(f"{c['mae']:.5f} / {c['r2']:.5f}" if c else "–" for c in cells)
            lines.append(f"| {s['size']}M | {_NAMES.get(name, name)} | {row} | "
                         f"**{np.mean(mae):.5f}** |")
    return "\n".join(lines)


def _winners(fits: list[dict], key: str) -> str:
    out = []
    for s in fits:
        means = {name: np.mean([e[key][c]["mae"] for c in SHARED_FILES if c in e[key]])
                 for name, e in s["models"].items()}
        order = sorted(means, key=means.get)
        out.append(f"{s['size']}M: " + " < ".join(f"{_NAMES.get(n, n)} ({means[n]:.5f})"
                                                  for n in order))
        if "valley_river" in means and order[0] != "valley_river":
            out[-1] += (f" — the valley–river model loses to the {_NAMES[order[0]]} by "
                        f"{means['valley_river'] - means[order[0]]:.5f}")
    return "Mean MAE, best first: " + "; ".join(out) + "."


def _params_table(fits: list[dict]) -> str:
    rows = [s for s in fits if "valley_river" in s["models"]]
    if not rows:
        return "(no valley–river fit)"
    names = list(rows[0]["models"]["valley_river"]["fit"]["params"])
    lines = ["| size | " + " | ".join(names) + " | g = 2B/d | fastest / slowest valley time "
             "(steps at peak) | objective (MPL) |",
             "|" + "---|" * (len(names) + 4)]
    for s in rows:
        f = s["models"]["valley_river"]["fit"]
        p, e = f["params"], f["stderr"]
        d = f["options"]["valley_dim"]
        u = (np.arange(d) + 0.5) / d
        a = p["a_max"] * u ** (1.0 / p["beta"])
        cells = [f"{p[k]:.4g} ± {e[k]:.2g}" for k in names]
        bound = f["info"]["at_bound"]
        mpl = s["models"].get("multi_power", {}).get("fit", {}).get("info", {}).get("objective")
        lines.append(f"| {s['size']}M | " + " | ".join(cells)
                     + f" | {2 * p['B'] / d:.4g} | {1 / (2 * a.max()):.3g} / {1 / (2 * a.min()):.3g}"
                     + f" | {f['info']['objective']:.1f} ({mpl:.1f})"
                     + (f" (at bound: {', '.join(bound)})" if bound else "") + " |")
    return "\n".join(lines)


def _uses_table(uses: list[dict]) -> str:
    lines = ["| size | strong Mpemba points of a_2 (plateau LR range) | 1/λ₂ (steps) | "
             "best WSD: valley–river | best WSD: multi-power law | at peak 3e-4: valley–river "
             "| at peak 3e-4: multi-power law |", "|---|---|---|---|---|---|---|"]

    def fmt(b):
        return (f"{b['shape']}, peak {b['peak']:g}, decay {b['decay_fraction']:.0%}: "
                f"{b['final_loss']:.4f}") if b else "–"

    for u in uses:
        m = u.get("mpemba", {})
        pts = m.get("strong_points", [])
        rng = f"{min(m['lr_plateaus']):.2g}–{max(m['lr_plateaus']):.2g}" if m else ""
        lines.append(f"| {u['size']}M | {', '.join(f'{x:.3g}' for x in pts) or 'none'} ({rng}) "
                     f"| {m.get('relaxation_steps', float('nan')):.3g} | "
                     f"{fmt(u['best'].get('valley_river'))} | {fmt(u['best'].get('multi_power'))} | "
                     f"{fmt(u['best_at_reference_peak'].get('valley_river'))} | "
                     f"{fmt(u['best_at_reference_peak'].get('multi_power'))} |")
    return "\n".join(lines)


def _engine_table(e: dict | None) -> str:
    if e is None:
        return "(not run)"
    z = np.asarray(e["z"], float)
    z0 = np.asarray(e["river_noise_z"], float)
    return "\n".join([
        "| run | records | particles | max \\|z\\| (model with river noise) | "
        "max \\|z\\| (noise-free river) | largest river-noise term | SE of the mean loss | time |",
        "|---|---|---|---|---|---|---|---|",
        f"| {e['size']}M fit, {e['curve']}, seed {e['seed']} | {len(z)} | {e['n_particles']} | "
        f"{np.abs(z).max():.2f} | {np.abs(z0).max():.2f} | {np.max(np.abs(e['river_noise'])):.5f} | "
        f"{np.min(e['se']):.5f}–{np.max(e['se']):.5f} | {e['seconds']:.0f} s |"])


def tables(out: str | Path) -> dict[str, str]:
    """Every table by marker name, from the JSON files under `out`."""
    out = Path(out)
    fits = [f for f in (_load(out, f"fits_{s}") for s in SHARED_SIZES) if f]
    uses = [u for u in (_load(out, f"uses_{s}") for s in SHARED_SIZES) if u]
    return {
        "in-sample": _error_table(fits, "in_sample") + "\n\n" + _winners(fits, "in_sample"),
        "loo": _error_table(fits, "loo") + "\n\n" + _winners(fits, "loo"),
        "params": _params_table(fits),
        "uses": _uses_table(uses),
        "engine": _engine_table(_load(out, "engine_check")),
    }


def write_reports(out: str | Path, *paths: str | Path) -> list[Path]:
    """Rewrite every `loss-curves:<name>` marker block found in `paths`."""
    blocks = tables(out)
    written = []
    for path in map(Path, paths):
        if not path.exists():
            continue
        text = path.read_text()
        new = text
        for name, body in blocks.items():
            pattern = re.compile(rf"(<!-- loss-curves:{name}:begin -->\n).*?(<!-- loss-curves:{name}:end -->)",
                                 re.S)
            new = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), new)
        if new != text:
            path.write_text(new)
            written.append(path)
    return written
