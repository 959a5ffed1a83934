"""Rewrite the generated tables of README.md and docs/ from committed JSON.

Reads `docs/validation/calibration.json` (`mpemba-jax calibrate`),
`docs/validation/crossing/crossing_seed_*.json` (`mpemba-jax validate --results`)
and `docs/bench/doctor-cpu-quick.json` (`mpemba-jax doctor --quick`), and replaces the text between each pair of marker comments

    <!-- BEGIN generated: NAME (experiments/make_tables.py) -->
    <!-- END generated: NAME -->

with the table NAME; and rewrites the wholly generated reports from their JSON
(`docs/chain/report.md` from `docs/chain/discrete_chain.json`,
`experiments/discrete_chain.py`), and the README's chain sections from those
and `docs/chain/crossing_dt0.2.json` (`mpemba-jax validate --theory chain
--results`); the loss-curve sections of README.md and docs/loss_curves.md from
`docs/loss_curves/*.json` (`experiments/loss_curves.py`, rendered by
`experiments/loss_curve_tables.py`). Nothing is pasted by hand: rerun this after
the experiments.

    python experiments/make_tables.py [--check]      # --check: fail if a file would change
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

import discrete_chain
import loss_curve_tables
from doctor_tables import doctor_table
from mpemba_jax.io.markdown import replace_section

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "docs" / "validation" / "calibration.json"
CROSSING = ROOT / "docs" / "validation" / "crossing"
DOCTOR = ROOT / "docs" / "bench" / "doctor-cpu-quick.json"
CHAIN = ROOT / "docs" / "chain" / "discrete_chain.json"
CHAIN_CROSSING = ROOT / "docs" / "chain" / "crossing_dt0.2.json"
TARGETS = {ROOT / "README.md": ("crossing-summary", "chain-summary", "chain-crossing"),
           ROOT / "docs" / "validation.md": ("calibration-size", "calibration-power",
                                             "crossing-summary", "crossing-seeds"),
           ROOT / "docs" / "performance.md": ("doctor-quick",),
           ROOT / "docs" / "loss_curves.md": ()}
# Whole files generated from one JSON: {file: (json, renderer)}.
REPORTS = {ROOT / "docs" / "chain" / "report.md": (CHAIN, discrete_chain.report)}


def _cell(text: str) -> str:
    """Text for a Markdown table cell (pipes escaped)."""
    return text.replace("|", "\\|")


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _rate_cell(row: dict, level: str) -> str:
    if not row["runs"]:
        return "n/a"
    lo, hi = row["interval"][level]
    made = "" if row["made"] == row["runs"] else f" ({row['made']} made)"
    return (f"{row['rejected'][level]}/{row['runs']} = {_pct(row['rate'][level])} "
            f"[{_pct(lo)}, {_pct(hi)}]{made}")


def calibration_size(cal: dict) -> str:
    out = [f"Command: `{cal.get('command', '?')}` ({cal['wall_seconds'] / 60:.0f} min wall on "
           "this 2-core CPU, shared).", ""]
    for case, per_n in cal["size"].items():
        info = cal["cases"][case]
        ns = sorted(per_n, key=int)
        out += [f"**{case}**: {info['description']}; {info['records']} records over "
                f"t in [0, {info['t_end']:g}]; EM-bias noncentrality at "
                f"N = {ns[-1]}: {info['em_bias_at_largest_n']['chi2_noncentrality_mean']:.2g} "
                "per record.", ""]
        for level in cal["settings"]["levels"]:
            key = f"{level:g}"
            out.append(f"| check (level {_pct(level)}) | kind | "
                       + " | ".join(f"N = {n}" for n in ns) + " |")
            out.append("|---|---|" + "---|" * len(ns))
            for check in per_n[ns[0]]:
                rows = [per_n[n][check] for n in ns]
                out.append(f"| {check} | {rows[0]['kind']} | "
                           + " | ".join(_rate_cell(r, key) for r in rows) + " |")
            out.append("")
    return "\n".join(out).rstrip()


def calibration_power(cal: dict) -> str:
    level = f"{cal['settings']['power_level']:g}"
    out = []
    for alt, per_n in cal["power"].items():
        ns = sorted(per_n, key=int)
        a = cal["alternatives"][alt]
        ncp = a.get("noncentrality_per_particle", math.nan)
        out += [f"**{alt}** (case {a['case']}; chi-square noncentrality per record "
                + ", ".join(f"{ncp * int(n):.2g} at N = {n}" for n in ns) + ")", "",
                "| check | " + " | ".join(f"N = {n}" for n in ns) + " |",
                "|---|" + "---|" * len(ns)]
        for check in per_n[ns[0]]:
            out.append(f"| {check} | " + " | ".join(_rate_cell(per_n[n][check], level)
                                                     for n in ns) + " |")
        out.append("")
    return "\n".join(out).rstrip()


def _kind(outcome: str) -> str:
    for k in ("verified", "not verified"):
        if outcome == k or outcome.startswith(k + " "):
            return k
    return "inconclusive"


def crossing_summary(runs: list[dict]) -> str:
    first = runs[0]
    claims = [c["claim"] for c in first["checks"]]
    wall = sum(r["wall_seconds"] for r in runs)
    out = [f"Command: `{first.get('command', '?')}` (each seed triple's record in "
           f"`docs/validation/crossing/`; {len(runs)} seed triples, "
           f"{first['n_particles']:,} particles per start, dt = {first['dt']:g}, "
           f"t = {first['t_end']:g}, {first['records']} records; {wall / 60:.0f} min of "
           "study wall time on this 2-core CPU, shared). Theory: "
           f"{first['discretisation']['theory']['kind']}; step bias "
           f"{first['discretisation']['treatment'].split(':')[0]}.", "",
           "| claim | verified | not verified | inconclusive | outcomes |",
           "|---|---|---|---|---|"]
    for i, claim in enumerate(claims):
        outs = [r["checks"][i]["outcome"] for r in runs]
        kinds = Counter(_kind(o) for o in outs)
        detail = "; ".join(f"{o} ×{n}" for o, n in Counter(outs).most_common())
        out.append(f"| {_cell(claim)} | {kinds['verified']} | {kinds['not verified']} | "
                   f"{kinds['inconclusive']} | {_cell(detail)} |")
    return "\n".join(out)


def _estimate(check: dict) -> tuple[float, float]:
    """`(estimate, SE)` from an equivalence check's detail."""
    m = re.search(r"estimate (\S+) \+- (\S+);", check["detail"])
    return (float(m.group(1)), float(m.group(2))) if m else (math.nan, math.nan)


def _check(run: dict, prefix: str) -> dict:
    return next(c for c in run["checks"] if c["claim"].startswith(prefix))


def crossing_why(runs: list[dict]) -> str:
    """Why the claims came out as they did, from the records' own numbers."""
    first = runs[0]
    n = first["n_particles"]
    margin = first["equivalence_margin"]
    se = sorted(_estimate(_check(r, "a_2 = 0 at lr*"))[1] for r in runs)[len(runs) // 2]
    z = 2.326  # z_{0.99}: the 98% interval of the level-1% equivalence test
    n_possible = n * (z * se / margin) ** 2
    ratios = []
    for r in runs:
        m = re.search(r"largest ([\d.]+) SE against z_B = ([\d.]+)",
                      r["crossings"]["cold_hot"]["detail"])
        if m:
            ratios.append((float(m.group(1)), float(m.group(2))))
    out = [f"Why (median over the seed triples): `A_2`'s standard error at {n:,} particles "
           f"is {se:.2g} against the margin {margin:.2g}, so the 98% interval of the "
           "equivalence test cannot fit inside it; it can only from about "
           f"{n_possible:.1e} particles per start (where it just fits for an estimate of 0)."]
    if ratios:
        best = max(x for x, _ in ratios)
        out.append(f"After the predicted crossing the cold/hot difference of the theory as "
                   f"measured reaches at most {best:.2f} of its standard error, against the "
                   f"detection threshold {ratios[0][1]:.2f}: the crossing cannot be shown at "
                   "this N (and the floor shifts it: its prediction at this N is later than "
                   "the continuum one).")
    return " ".join(out)


def crossing_seeds(runs: list[dict]) -> str:
    out = ["| seeds | crossing cold/hot: measured [95% CI] | predicted (as measured, "
           "continuum) | A_2 at lr* (GLS) | A_2 at the cold plateau (control) | TV rate "
           "difference lr* - cold (theory) | EM noncentrality per record, predicted / "
           "measured (cold, hot, lr*) | wall |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        c = r["crossings"]["cold_hot"]
        star = _estimate(_check(r, "a_2 = 0 at lr*"))
        cold = _estimate(_check(r, "at the cold plateau, relaxation"))
        em = r.get("em_bias") or {}
        ems = ", ".join(
            f"{em[k]['chi2_noncentrality_mean']:.2g} / "
            f"{r['starts'][k]['aggregate']['excess'] / r['starts'][k]['aggregate']['records']:.2g}"
            for k in ("cold", "hot", "star") if k in em)
        d = r["rate_differences"].get("star") or {}
        rate = ("–" if d.get("delta") is None else
                f"{d['delta']:.4f} ± {d['se']:.4f} ({d['predicted']:.4f}), {d['records']} records")
        time_ = "–" if c["time"] is None else f"{c['time']:.1f} [{c['ci'][0]:.1f}, {c['ci'][1]:.1f}]"
        pred = "–" if c["predicted"] is None else f"{c['predicted']:.1f}"
        cont = "–" if c["predicted_continuum"] is None else f"{c['predicted_continuum']:.1f}"
        out.append(f"| {', '.join(map(str, r['seeds']))} | {time_} | {pred}, {cont} | "
                   f"{star[0]:.2g} ± {star[1]:.2g} | {cold[0]:.2g} ± {cold[1]:.2g} | {rate} | "
                   f"{ems or 'n/a'} | {r['wall_seconds'] / 60:.1f} min |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if any file would change")
    args = p.parse_args(argv)
    tables = {}
    if CALIBRATION.exists():
        cal = json.loads(CALIBRATION.read_text())
        tables["calibration-size"] = calibration_size(cal)
        tables["calibration-power"] = calibration_power(cal)
    files = sorted(glob.glob(str(CROSSING / "crossing_seed_*.json")),
                   key=lambda f: int(re.search(r"(\d+)\.json$", f).group(1)))
    if files:
        runs = [json.loads(Path(f).read_text()) for f in files]
        tables["crossing-summary"] = crossing_summary(runs) + "\n\n" + crossing_why(runs)
        tables["crossing-seeds"] = crossing_seeds(runs)
    if DOCTOR.exists():
        tables["doctor-quick"] = doctor_table(json.loads(DOCTOR.read_text()),
                                              str(DOCTOR.relative_to(ROOT)))
    if CHAIN.exists():
        tables["chain-summary"] = discrete_chain.summary(json.loads(CHAIN.read_text()))
    if CHAIN_CROSSING.exists():
        tables["chain-crossing"] = discrete_chain.crossing_on_the_chain(
            json.loads(CHAIN_CROSSING.read_text()))
    changed = []
    for path, names in TARGETS.items():
        text = path.read_text()
        new = text
        for name in names:
            if name in tables:
                try:
                    new = replace_section(new, name, tables[name])
                except ValueError as e:
                    raise SystemExit(f"{path}: {e}") from None
        new = loss_curve_tables.render(new)  # the loss-curve sections, where marked
        if new != text:
            changed.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(new)
    for path, (source, render) in REPORTS.items():
        if source.exists() and path.read_text() != render(json.loads(source.read_text())):
            changed.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(render(json.loads(source.read_text())))
    print(("would change: " if args.check else "rewrote: ") + (", ".join(changed) or "nothing"))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
