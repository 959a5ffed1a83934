"""Verdicts of the schedule study: every sentence of the report comes from these numbers.

Each claim of THEORY section 6 is judged over pairwise comparisons of runs of one
batch at their measurement steps, in three metrics (`METRICS`, lower is
better): the excess loss (paired standard errors, `paired_difference`), the TV
distance to the SGD bath (unpaired bootstrap errors) and the slow-mode distance
`|A_2 - A_2(SGD bath)|`. A difference beyond `z` standard errors is
significant; `rule` turns the tally of significant comparisons for and against
a claim into its verdict.
"""

from __future__ import annotations

import math

import numpy as np

from ...validation import paired_difference

__all__ = ["METRICS", "compare_runs", "rule", "groups", "claim_verdicts", "theory_agreement"]

METRICS = {"loss": "excess loss", "tv": "TV to the SGD bath", "a2": "A_2 distance to the SGD bath"}


def compare_runs(res, a, b, metric, z, ref=None):
    """Run `a` minus run `b` in `metric`, lower being better: `(diff, se, sign)`,
    `sign` -1 / 0 / +1 for `a` significantly better / neither / worse.

    `loss`: paired difference of the mean loss (shared noise, grouped blocks).
    `tv`: TV to the SGD bath reference (`ref`; else to the theory's bath), unpaired
    bootstrap errors. `a2`: `|A_2 - A_2^ref|`; when both runs lie on the same side
    of the reference it is the paired difference of `A_2`, else an unpaired bound.
    """

    batch, runs = res["batch"], res["runs"]
    fa, fb = runs[a]["final"], runs[b]["final"]
    ia, ib = runs[a]["index"], runs[b]["index"]
    ra = batch.record_index(runs[a]["info"]["measure"])
    rb = batch.record_index(runs[b]["info"]["measure"])
    if metric == "loss":
        diff, se = paired_difference(batch, "loss", ia, ib, ra, rb)
    elif metric == "tv":
        key = "tv_sgd" if "tv_sgd" in fa else "tv"
        diff, se = fa[key] - fb[key], math.hypot(fa[f"{key}_se"], fb[f"{key}_se"])
    elif metric == "a2":
        a0, a0_se = (ref["A_2"], ref["A_2_se"]) if ref is not None else (0.0, 0.0)
        da, db = fa["A_2"] - a0, fb["A_2"] - a0
        if np.sign(da) == np.sign(db):
            d, se = paired_difference(batch, "A_2", ia, ib, ra, rb)
            diff = float(np.sign(da)) * d
        else:
            diff = abs(da) - abs(db)
            se = math.sqrt(fa["A_2_se"] ** 2 + fb["A_2_se"] ** 2 + 4 * a0_se**2)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return diff, se, (-1 if diff < -z * se else 1 if diff > z * se else 0)


def rule(n_for: int, n_against: int) -> str:
    """The verdict of a tally of significant comparisons for and against a claim."""
    if n_for and not n_against:
        return "supported"
    if n_for and n_against:
        return "partly supported"
    if n_against:
        return "not supported: the opposite is significant"
    return "not supported: no significant difference"


def claim_verdicts(plan: dict, out: dict) -> dict:
    """The verdict on every claim whose sweep ran, and the theory agreement (`out` as
    `execute` builds it): `{"high_plateau", "lr_star_best", "window", "valley", "lr_sum",
    "theory"}`, each with the comparisons behind it."""
    z = plan["cfg"]["run"]["z"]
    ref = out["bath"]["runs"]["bath"]["final"] if "bath" in out else None
    v = {}
    if "plateau" in out:
        v.update(_plateau_verdicts(out["plateau"], plan["lr_star"], z, ref))
    if "shapes" in out:
        v["window"] = _window_verdict(out["shapes"], z, ref)
    if "valley" in out:
        v["valley"] = _valley_verdict(out["valley"], out.get("shapes"), z)
    if "equal_area" in out:
        v["lr_sum"] = _lr_sum_verdict(out["equal_area"], z)
    v["theory"] = theory_agreement(out)
    return v


def groups(runs: dict) -> dict[str, list[str]]:
    """Run names by their `info["group"]`, in run order."""
    out = {}
    for name, r in runs.items():
        out.setdefault(r["info"]["group"], []).append(name)
    return out


def _tally():
    return {m: {"for": 0, "against": 0, "tie": 0} for m in METRICS}


def _count(tally, metric, sign):
    tally[metric][{-1: "for", 1: "against", 0: "tie"}[sign]] += 1


def _plateau_verdicts(res, lr_star, z, ref):
    runs = res["runs"]
    high_low, star = [], []
    tally = _tally()
    for group, names in groups(runs).items():
        names = sorted(names, key=lambda n: runs[n]["info"]["peak"])
        for a_ in range(len(names)):
            for b_ in range(a_ + 1, len(names)):
                for m in METRICS:  # "for": the higher plateau is better
                    _count(tally, m, compare_runs(res, names[b_], names[a_], m, z, ref)[2])
        lo_, hi_ = names[0], names[-1]
        row = {"group": group, "high": runs[hi_]["info"]["peak"], "low": runs[lo_]["info"]["peak"],
               "best_peak": runs[min(names, key=lambda n: runs[n]["final"]["excess_loss"])]
               ["info"]["peak"]}
        for m in METRICS:
            row[m] = dict(zip(("diff", "se", "sign"), compare_runs(res, hi_, lo_, m, z, ref)))
        high_low.append(row)
        stars = [n for n in names if runs[n]["info"]["is_lr_star"]]
        if stars:
            st = stars[0]
            comps = [{"peak": runs[n]["info"]["peak"],
                      **{m: dict(zip(("diff", "se", "sign"), compare_runs(res, n, st, m, z, ref)))
                         for m in METRICS}} for n in names if n != st]
            status = {m: ("best" if all(c[m]["sign"] == 1 for c in comps) else
                          "beaten" if any(c[m]["sign"] == -1 for c in comps) else "tied")
                      for m in METRICS}
            star.append({"group": group, "lr_star": lr_star, "comparisons": comps,
                         "status": status})
    out = {"high_plateau": {"pairs": tally, "groups": high_low,
                            "verdict": {m: rule(tally[m]["for"], tally[m]["against"])
                                        for m in METRICS}}}
    if star:
        def st_overall(m):
            stat = [s["status"][m] for s in star]
            if all(s == "best" for s in stat):
                return "supported"
            if any(s == "beaten" for s in stat):
                return (f"not supported: another plateau is significantly better in "
                        f"{stat.count('beaten')} of {len(stat)} groups")
            if any(s == "best" for s in stat):
                return ("partly supported: never beaten, significantly best in "
                        f"{stat.count('best')} of {len(stat)} groups")
            return "not supported: no significant difference from the best plateau"
        out["lr_star_best"] = {"groups": star, "verdict": {m: st_overall(m) for m in METRICS}}
    return out


def _window_verdict(res, z, ref):
    runs = res["runs"]
    peaks = []
    tally = _tally()
    for group, names in groups(runs).items():
        inside = [n for n in names if runs[n]["info"]["window"]["class"] == "inside"]
        outside = [n for n in names if runs[n]["info"]["window"]["class"] != "inside"]
        row = {"group": group, "inside": inside, "outside": outside}
        if inside and outside:
            for a_ in inside:
                for b_ in outside:
                    for m in METRICS:  # "for": the one inside the window is better
                        _count(tally, m, compare_runs(res, a_, b_, m, z, ref)[2])
            key = lambda n: runs[n]["final"]["excess_loss"]  # noqa: E731
            row["best_inside"], row["best_outside"] = min(inside, key=key), min(outside, key=key)
            row["loss"] = dict(zip(("diff", "se", "sign"), compare_runs(
                res, row["best_inside"], row["best_outside"], "loss", z, ref)))
        peaks.append(row)
    tested = any("loss" in p for p in peaks)
    verdict = {m: rule(tally[m]["for"], tally[m]["against"]) if tested else
               "not tested (no run inside or no run outside the window)" for m in METRICS}
    return {"peaks": peaks, "pairs": tally, "verdict": verdict}


def _valley_verdict(res, shapes_res, z):

    batch, runs = res["batch"], res["runs"]
    out = {"verdict": "not tested (no greedy run)"}
    if "greedy" not in runs:
        return out
    gi = runs["greedy"]["index"]
    r = batch.record_index(runs["greedy"]["info"]["measure"])
    a, d = runs["greedy"]["info"]["curvature"], batch.metadata["landscape"]["valley_dim"]
    scale = 2.0 / (a * d)
    comps = []
    for name, run_ in runs.items():
        if name == "greedy":
            continue
        diff, se = paired_difference(batch, "valley_energy", run_["index"], gi, r, r)
        comps.append({"shape": name, "diff": scale * diff, "se": scale * se,
                      "sign": -1 if diff < -z * se else 1 if diff > z * se else 0})
    f = runs["greedy"]["final"]
    zc = (f["variance"] - f["closed_form_greedy"]) / f["variance_se"]
    ranking = sorted(runs, key=lambda n: runs[n]["final"]["variance"])
    out = {"comparisons": comps, "ranking": ranking, "closed_form_z": zc,
           # The claim is about the 1/t family: the greedy anneal (halving, then 1/t) and the
           # plain inverse-time shape; it holds if the greedy one beats every other shape.
           "verdict": rule(sum(c["sign"] == 1 for c in comps if c["shape"] != "inverse_time"),
                            sum(c["sign"] == -1 for c in comps if c["shape"] != "inverse_time"))}
    if out["verdict"] == "supported" and any(
            c["sign"] == 0 for c in comps if c["shape"] != "inverse_time"):
        out["verdict"] = "partly supported: tied with " + ", ".join(
            c["shape"] for c in comps if c["sign"] == 0 and c["shape"] != "inverse_time")
    if shapes_res is not None:
        lag = {}
        for name, run_ in shapes_res["runs"].items():
            fin = run_["final"]
            if "decay_end_valley_energy" in fin:
                lag[name] = {"lag": fin["decay_end_valley_energy"] - fin["decay_end_equipartition"],
                             "se": fin["decay_end_valley_energy_se"],
                             "theory": fin["decay_end_valley_energy_theory"]
                             - fin["decay_end_equipartition"]}
        out["decay_end_lag"] = lag
    return out


def _lr_sum_verdict(res, z):
    runs = res["runs"]
    eq, ctl = [], []
    for name, run_ in runs.items():
        if name == "reference":
            continue
        d, se, s = compare_runs(res, name, "reference", "loss", z)
        row = {"name": name, "lr_sum": run_["info"]["lr_sum"], "peak": run_["info"]["peak"],
               "diff": d, "se": se, "sign": s}
        (eq if run_["info"]["group"] == "equal LR sum" else ctl).append(row)
    vals = [runs[n]["final"]["excess_loss"] for n in runs if runs[n]["info"]["group"] != "control"]
    spread_eq = float(max(vals) - min(vals))
    ctl_vals = [runs[n]["final"]["excess_loss"] for n in runs if runs[n]["info"]["group"] != "equal LR sum"]
    spread_ctl = float(max(ctl_vals) - min(ctl_vals)) if len(ctl_vals) > 1 else float("nan")
    n_sig = sum(1 for e in eq if e["sign"] != 0)
    ctl_sig = sum(1 for c in ctl if c["sign"] != 0)
    if n_sig == 0 and ctl_sig > 0:
        verdict = "supported"
    elif n_sig == 0:
        verdict = ("not supported: no significant difference, but the controls with other LR "
                   "sums do not differ significantly either")
    elif spread_eq < spread_ctl / 3:
        verdict = (f"partly supported: {n_sig} equal-sum schedules differ significantly, by "
                   "less than a third of the spread that other LR sums make")
    else:
        verdict = (f"not supported: {n_sig} of {len(eq)} equal-sum schedules differ "
                   "significantly from the reference, by more than a third of the spread that "
                   "other LR sums make")
    return {"equal": eq, "control": ctl, "spread_equal": spread_eq, "spread_control": spread_ctl,
            "n_significant": n_sig, "verdict": verdict}


def theory_agreement(out) -> dict:
    """z = (MC - theory) / SE of the final metrics, raw and after subtracting the SGD
    bath reference's own offset from the theory (its `MC - theory`)."""
    ref = out["bath"]["runs"]["bath"]["final"] if "bath" in out else None
    rows = {}
    for sweep, res in out.items():
        if sweep.startswith("_") or sweep == "valley":
            continue
        zs = {"excess_loss": [], "A_2": [], "A_3": [], "tv": [], "valley_energy": []}
        zc = {"excess_loss": [], "A_2": [], "A_3": []}
        for run_ in res["runs"].values():
            f = run_["final"]
            zs["tv"].append((f["tv"] - f["tv_theory_expected"]) / f["tv_se"])
            for k in ("excess_loss", "valley_energy", "A_2", "A_3"):
                zs[k].append((f[k] - f[f"{k}_theory"]) / f[f"{k}_se"])
            if ref is not None and sweep != "bath":
                for k in zc:
                    off = ref[k] - ref[f"{k}_theory"]
                    zc[k].append((f[k] - f[f"{k}_theory"] - off) / math.hypot(f[f"{k}_se"],
                                                                             ref[f"{k}_se"]))
        rows[sweep] = {}
        for k, v in zs.items():
            row = {"max_abs_z": float(np.max(np.abs(v))), "mean_z": float(np.mean(v)),
                   "n": len(v), "n_beyond_3": int(np.sum(np.abs(v) > 3))}
            if zc.get(k):
                row.update(corrected_max_abs_z=float(np.max(np.abs(zc[k]))),
                           corrected_mean_z=float(np.mean(zc[k])),
                           corrected_n_beyond_3=int(np.sum(np.abs(zc[k]) > 3)))
            rows[sweep][k] = row
    if "valley" in out:
        zv = [(r["final"]["variance"] - r["final"]["variance_theory"]) / r["final"]["variance_se"]
              for r in out["valley"]["runs"].values()]
        rows["valley"] = {"variance": {"max_abs_z": float(np.max(np.abs(zv))),
                                       "mean_z": float(np.mean(zv)), "n": len(zv),
                                       "n_beyond_3": int(np.sum(np.abs(zv) > 3))}}
    return rows
