"""The schedule study's Markdown report: every verdict and number from `execute`'s outcome."""

from __future__ import annotations

import numpy as np

from .verdicts import METRICS, groups

__all__ = ["render_report", "fmt"]


def fmt(x, se=None, digits=3) -> str:
    """`x` to `digits` significant digits, with `± se` (2 digits) when given."""
    if se is None:
        return f"{x:.{digits}g}"
    return f"{x:.{digits}g} ± {se:.2g}"


def render_report(plan: dict, outcome: dict, figs: dict[str, str], data_dir: str | None = None) -> str:
    """The Markdown report: settings, the SGD bath, a verdict table, one section per
    sweep, Monte Carlo against theory, and the figures `figs` (`{name: file}`, linked
    relative to the report). `data_dir`: where the per-run JSON and `summary.json`
    lie when the report is written elsewhere (e.g. into docs/); by default beside it."""
    run_ = plan["cfg"]["run"]
    z = run_["z"]
    land = plan["landscape"]
    lam = plan["fp"].eigenvalues
    L = []
    L.append("# Schedule comparison: what the simulation supports\n")
    devices = next(r["batch"].metadata["devices"] for k, r in outcome.items() if not k.startswith("_"))
    th = plan["theory"]
    cont = th["continuum"]
    bz = th["chain"]["boltzmann_start"]
    L.append(
        f"Landscape `{land.name}` ({', '.join(f'{k}={x:g}' for k, x in land.params.items())}), "
        f"bath LR {run_['lr_bath']:g}, time convention `{run_['time']}`, dt = {run_['dt']:g}, "
        f"`T = {run_['temperature_scale']:g} * lr`. Particles start upstream at "
        f"y = {run_['init_y']:g}, x = 0. Theory: the discrete chain the runs execute "
        f"(`FokkerPlanck(..., dt={run_['dt']:g})`, {th['chain']['integrator']}; THEORY section 8), "
        f"not the continuum Fokker–Planck limit. Strong Mpemba point of the chain lr* = "
        + (f"{plan['lr_star']:.5g}" if plan["lr_star"] else "none") +
        f" in [{run_['lr_range'][0]:g}, {run_['lr_range'][1]:g}], for a start in the chain's own "
        f"stationary state at the plateau LR (what a plateau reaches); the continuum theory's is "
        + (f"{cont['lr_star']:.5g}" if cont["lr_star"] else "none") +
        "; from the continuum Boltzmann state (what `mj.equilibrium` samples) the chain has "
        + (f"strong points {', '.join(f'{x:.5g}' for x in bz['strong_points'])}"
           if len(bz["strong_points"]) else
           f"none (smallest |a_2| = {abs(bz['optimal_a2']):.2g} at {bz['optimal_lr']:.4g})")
        + f". Chain: lambda_2 = {lam[1]:.4g}, lambda_3 = {lam[2]:.4g} per unit time at the bath "
        f"(continuum {cont['eigenvalues'][1]:.4g}, {cont['eigenvalues'][2]:.4g}). "
        f"tau_x / tau_y (continuum, equilibrium averages): "
        + ", ".join(f"{float(k):.4g}: {plan['timescales']['tau_x'][k]:.3g} / "
                    f"{plan['timescales']['tau_y'][k]:.3g}" for k in plan["timescales"]["tau_x"])
        + f". Total wall time {outcome['_seconds']:.0f} s on {devices['count']} "
        f"{devices['platform']} device(s).\n")
    L.append(
        f"All comparisons are of one run against another in the same batch at its "
        f"measurement step. Runs of a batch share their noise (common random numbers), so "
        f"differences of means carry paired standard errors from {run_['n_groups']} independent "
        f"groups of noise blocks; TV distances carry multinomial-bootstrap errors (unpaired). "
        f"\"Significant\" means |difference| > {z:g} SE. \"Excess loss\" is the mean loss minus the "
        f"loss of the chain's stationary state at the bath LR (`<V>` over its river density plus "
        f"the valley at its stationary variance at this step): the state SGD itself settles in.\n")
    if "bath" in outcome:
        b = outcome["bath"]["runs"]["bath"]["final"]
        nb = outcome["bath"]["batch"]
        L.append(
            f"**The SGD bath.** A reference run of {nb.n_particles:,} particles started in the "
            f"continuum Boltzmann state at the bath LR and held there for "
            f"{nb.metadata['n_steps']} steps (about {nb.metadata['n_steps'] * lam[1] * run_['dt']:.1f}"
            f" / lambda_2) ends at excess loss {fmt(b['excess_loss'], b['excess_loss_se'])} "
            f"(chain theory {fmt(b['excess_loss_theory'])}; river part "
            f"{fmt(b['excess_river_loss'], b['excess_river_loss_se'])}, theory "
            f"{fmt(b['excess_river_loss_theory'])}; valley energy "
            f"{fmt(b['valley_energy'], b['valley_energy_se'])} against d T / 2 = "
            f"{fmt(b['equipartition'])}, theory {fmt(b['valley_energy_theory'])}), A_2 = "
            f"{fmt(b['A_2'], b['A_2_se'])} (theory {fmt(b['A_2_theory'])}), TV to the chain's "
            f"bath {fmt(b['tv'], b['tv_se'])} (expected at this N {fmt(b['tv_theory_expected'])}, "
            f"noise floor {fmt(b['tv_floor'])}). \"TV to the SGD bath\" below is the distance to "
            f"this reference histogram (two-sample noise floor about "
            f"{fmt(np.mean([r['final'].get('tv_sgd_floor', np.nan) for k, x in outcome.items() if not k.startswith('_') and k not in ('bath', 'valley') for r in x['runs'].values()]))}).\n")
    L += _verdict_table(plan, outcome)
    L += _plateau_section(plan, outcome)
    L += _shapes_section(plan, outcome)
    L += _valley_section(plan, outcome)
    L += _lr_sum_section(plan, outcome)
    L += _theory_section(plan, outcome)
    if figs:
        L.append("## Figures\n")
        for k, f in figs.items():
            L.append(f"![{k}]({f})\n")
    where = "" if data_dir is None else (
        f" (in the output directory `{data_dir}` of the run that wrote this report; generated, "
        "not kept in git)")
    L.append("Every run's curves, theory and final metrics: `runs/<sweep>/<run>.json`; all final "
             f"metrics and verdicts: `summary.json`{where}.\n")
    return "\n".join(L)


def _verdict_table(plan: dict, outcome: dict) -> list[str]:
    """The table of verdicts, one row per claim tested, and the rules behind them."""
    cfg, v = plan["cfg"], outcome["_verdicts"]
    z = cfg["run"]["z"]
    L = []
    L.append("## Verdicts\n")
    L.append("| claim | verdict | evidence |")
    L.append("|---|---|---|")

    def verdict_cell(verdicts):
        first, *rest = METRICS
        return (f"**{verdicts[first]}** ({METRICS[first]}); "
                + "; ".join(f"{verdicts[m]} ({METRICS[m]})" for m in rest))

    def tally_text(t):
        return "; ".join(f"{METRICS[m]}: {t[m]['for']} / {t[m]['against']} / {t[m]['tie']}"
                         for m in METRICS)

    if "high_plateau" in v:
        hp = v["high_plateau"]
        L.append(f"| A high plateau beats a low one | {verdict_cell(hp['verdict'])} | pairs of "
                 "plateaus within a (stable, decay) group, the higher plateau significantly "
                 f"better / worse / tied: {tally_text(hp['pairs'])} |")
    if "lr_star_best" in v:
        sb = v["lr_star_best"]
        L.append(f"| The strong Mpemba plateau is the best plateau | {verdict_cell(sb['verdict'])} | "
                 "groups where lr* is significantly best / beaten / tied with the best: " + "; ".join(
                     f"{METRICS[m]}: " + " / ".join(
                         str([g['status'][m] for g in sb['groups']].count(k))
                         for k in ("best", "beaten", "tied")) for m in METRICS) + " |")
    if "window" in v:
        w = v["window"]
        L.append(f"| Decays inside the window beat decays outside it | {verdict_cell(w['verdict'])} | "
                 "pairs (inside, outside) at the same peak, the one inside significantly better / "
                 f"worse / tied: {tally_text(w['pairs'])} |")
    if "valley" in v and "comparisons" in v["valley"]:
        va = v["valley"]
        non = [c for c in va["comparisons"] if c["shape"] != "inverse_time"]
        worst = min(non, key=lambda c: c["diff"] / c["se"]) if non else None
        inv = next((c for c in va["comparisons"] if c["shape"] == "inverse_time"), None)
        L.append(f"| 1/t decay is optimal for the valley | **{va['verdict']}** | harmonic valley, "
                 f"discrete SGD, same budget and final LR: lowest final variance: "
                 f"`{va['ranking'][0]}`, then `{va['ranking'][1]}`"
                 + (f"; closest shape outside the 1/t family, `{worst['shape']}`, is higher than "
                    f"the greedy 1/t anneal by {fmt(worst['diff'], worst['se'])} "
                    f"({worst['diff'] / worst['se']:.0f} SE)" if worst else "")
                 + (f"; plain inverse-time (1/t without the initial halving) is higher by "
                    f"{fmt(inv['diff'], inv['se'])} ({inv['diff'] / inv['se']:.1f} SE)" if inv else "")
                 + f"; greedy vs 1/(1/v0 + a^2 K/sigma^2): {va['closed_form_z']:+.2f} SE |")
    if "lr_sum" in v:
        ls = v["lr_sum"]
        L.append(f"| Final loss depends mainly on LR sum and final LR | **{ls['verdict']}** | "
                 f"{len(ls['equal'])} schedules with the reference's LR sum: "
                 f"{ls['n_significant']} differ significantly from it; spread of their excess "
                 f"loss {fmt(ls['spread_equal'])} vs {fmt(ls['spread_control'])} across the "
                 f"controls with other LR sums |")
    L.append("")
    L.append("Each claim is judged by three metrics (lower is better): the excess loss (paired "
             "errors), the TV distance of the river histogram to the SGD bath state (unpaired "
             "bootstrap errors) and the slow-mode distance abs(A_2 - A_2 of the SGD bath) (paired errors "
             "where both runs lie on one side of the bath value). ")
    L.append("Verdict rules, over the pairwise comparisons each claim names: *supported* = "
             "at least one is significant in the claimed direction and none against it; "
             "*partly supported* = significant ones both ways (or, for lr*, never beaten but not "
             "always better); *not supported* = significant only against the claim, or nothing "
             "significant at all. The LR-sum claim is supported when no equal-sum schedule "
             "differs significantly from the reference while schedules with other LR sums do. "
             f"With many comparisons at {z:g} SE a stray significant one is possible "
             "(0.27 % each).\n")
    return L


def _plateau_section(plan: dict, outcome: dict) -> list[str]:
    """Every plateau run, and the comparisons behind the two plateau claims."""
    cfg, v = plan["cfg"], outcome["_verdicts"]
    L = []
    if "high_plateau" in v:
        L.append("## Plateau sweep\n")
        res = outcome["plateau"]
        L.append(f"{len(res['runs'])} runs, {res['batch'].n_particles:,} particles each, "
                 f"{cfg['plateau']['shape']} decay, measured {cfg['plateau']['hold']} steps after "
                 "the decay ends. Excess loss (MC ± SE / theory), TV (MC ± SE / theory incl. "
                 "noise), A_2 (MC ± SE / theory):\n")
        L.append("| group | plateau | excess loss | theory | river part | theory | TV to SGD bath | TV to chain bath | theory | A_2 | theory |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for group, names in groups(res["runs"]).items():
            for n in sorted(names, key=lambda n: res["runs"][n]["info"]["peak"]):
                f, i = res["runs"][n]["final"], res["runs"][n]["info"]
                star = " (lr*)" if i["is_lr_star"] else ""
                L.append(f"| {group} | {i['peak']:.4g}{star} | {fmt(f['excess_loss'], f['excess_loss_se'])} | "
                         f"{fmt(f['excess_loss_theory'])} | "
                         f"{fmt(f['excess_river_loss'], f['excess_river_loss_se'])} | "
                         f"{fmt(f['excess_river_loss_theory'])} | {fmt(f['tv_sgd'], f['tv_sgd_se'])} | "
                         f"{fmt(f['tv'], f['tv_se'])} | "
                         f"{fmt(f['tv_theory_expected'])} | {fmt(f['A_2'], f['A_2_se'])} | "
                         f"{fmt(f['A_2_theory'])} |")
        L.append(f"\nTV noise floors: one sample of the chain's bath "
                 f"{fmt(np.mean([r['final']['tv_floor'] for r in res['runs'].values()]))}; two "
                 f"samples of one state (TV to the SGD bath) "
                 f"{fmt(np.mean([r['final']['tv_sgd_floor'] for r in res['runs'].values()]))}.\n")
        L.append("Highest minus lowest plateau per group (negative = the higher plateau is "
                 "better), by " + ", ".join(METRICS.values()) + ":\n")
        for g in v["high_plateau"]["groups"]:
            L.append(f"- {g['group']}: " + ", ".join(
                fmt(g[m]["diff"], g[m]["se"]) for m in METRICS)
                + f" (lowest excess loss at plateau {g['best_peak']:.4g})")
        L.append("")
        if "lr_star_best" in v:
            L.append("Each plateau minus lr* (positive = lr* is better), by "
                     + ", ".join(METRICS.values()) + ":\n")
            for g in v["lr_star_best"]["groups"]:
                L.append(f"- {g['group']}: lr* " + ", ".join(
                    f"**{g['status'][m]}**" for m in METRICS) + "; " + "; ".join(
                        f"{c['peak']:.4g}: " + ", ".join(
                            fmt(c[m]["diff"], c[m]["se"], 2) for m in METRICS)
                        for c in g["comparisons"]))
            L.append("")
    return L


def _shapes_section(plan: dict, outcome: dict) -> list[str]:
    """Every decay-shape run with its window class and valley lag."""
    cfg, v = plan["cfg"], outcome["_verdicts"]
    L = []
    if "window" in v:
        L.append("## Decay shapes at a fixed budget\n")
        res = outcome["shapes"]
        L.append(f"Budget {cfg['shapes']['n_steps']} steps, warm-up {cfg['shapes']['warmup']}, "
                 f"stable {cfg['shapes']['stable']}, decays of {cfg['shapes']['decay']} steps "
                 "unless named; measured at the end. Window class: the fraction of the decay's "
                 "falling steps whose |d ln eta / dt| lies between 1 / tau_y(eta) and "
                 "1 / tau_x(eta) (`mj.decay_window`); inside if >= 90 %.\n")
        L.append("| run | decay steps | window (inside fraction) | excess loss | theory | river part | TV to SGD bath | A_2 | valley lag at decay end |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for n, r in sorted(res["runs"].items(), key=lambda kv: (kv[1]["info"]["peak"], kv[1]["final"]["excess_loss"])):
            f, i = r["final"], r["info"]
            lag = (fmt(f["decay_end_valley_energy"] - f["decay_end_equipartition"],
                        f["decay_end_valley_energy_se"]) if "decay_end_valley_energy" in f else "")
            L.append(f"| {n} | {i['decay']} | {i['window']['class']} ({i['window']['inside']:.2f}) | "
                     f"{fmt(f['excess_loss'], f['excess_loss_se'])} | {fmt(f['excess_loss_theory'])} | "
                     f"{fmt(f['excess_river_loss'], f['excess_river_loss_se'])} | "
                     f"{fmt(f['tv_sgd'], f['tv_sgd_se'])} | {fmt(f['A_2'], f['A_2_se'])} | {lag} |")
        L.append("")
    return L


def _valley_section(plan: dict, outcome: dict) -> list[str]:
    """The harmonic valley under discrete SGD, best shape first."""
    cfg, v = plan["cfg"], outcome["_verdicts"]
    L = []
    if "valley" in v and "comparisons" in v["valley"]:
        L.append("## Harmonic valley under discrete SGD\n")
        res = outcome["valley"]
        g = res["runs"]["greedy"]
        L.append(f"`{cfg['valley']['preset']}` ({cfg['valley']['params']}), peak "
                 f"{cfg['valley']['peak']:g}, {g['final']['anneal_steps']} anneal steps after "
                 f"{cfg['valley']['stable']} at the peak; every shape ends at the greedy "
                 f"anneal's last LR {g['info']['final']:.3g}. v0 = {g['final']['v0']:.4g}, "
                 f"closed form {g['final']['closed_form_greedy']:.4g}.\n")
        L.append("| shape | final variance | exact recursion | minus greedy (paired) |")
        L.append("|---|---|---|---|")
        comps = {c["shape"]: c for c in v["valley"]["comparisons"]}
        for n in v["valley"]["ranking"]:
            f = res["runs"][n]["final"]
            c = comps.get(n)
            L.append(f"| {n} | {fmt(f['variance'], f['variance_se'], 4)} | "
                     f"{fmt(f['variance_theory'], digits=4)} | "
                     f"{fmt(c['diff'], c['se']) if c else '-'} |")
        L.append("")
    return L


def _lr_sum_section(plan: dict, outcome: dict) -> list[str]:
    """The runs with the reference's LR sum and the controls."""
    v = outcome["_verdicts"]
    L = []
    if "lr_sum" in v:
        L.append("## Equal LR sum\n")
        res = outcome["equal_area"]
        L.append("| run | peak | LR sum | excess loss | theory | minus reference (paired) |")
        L.append("|---|---|---|---|---|---|")
        rows = {r["name"]: r for r in v["lr_sum"]["equal"] + v["lr_sum"]["control"]}
        for n, r in res["runs"].items():
            f, i = r["final"], r["info"]
            c = rows.get(n)
            L.append(f"| {n} | {i['peak']:.4g} | {i['lr_sum']:.4g} | "
                     f"{fmt(f['excess_loss'], f['excess_loss_se'])} | {fmt(f['excess_loss_theory'])} | "
                     f"{fmt(c['diff'], c['se']) if c else '-'} |")
        L.append("")
    return L


def _theory_section(plan: dict, outcome: dict) -> list[str]:
    """z-scores of Monte Carlo against the theory, per sweep and metric."""
    v = outcome["_verdicts"]
    L = []
    L.append("## Monte Carlo against the time-dependent theory\n")
    L.append("z = (MC - theory) / SE of every final metric (TV against the theory's expected "
             "sampled TV). The theory is the river's discrete chain at the run's step "
             "(`mj.evolve` on `FokkerPlanck(..., dt)`, THEORY section 8) with the valley's "
             "Euler–Maruyama moment recursion per river cell, whose current moment pushes the "
             "river (the valley's lag after a decay, to leading order); it neglects the valley "
             "state that particles carry from cell to cell and the correlation of consecutive "
             "valley energies, so |z| > 3 marks where those are resolved.\n")
    L.append("Columns \"after offset\" subtract the SGD bath reference's own MC - theory "
             "offset (errors of both combined): with the chain's theory there should be no "
             "common offset left to remove, and these columns check that.\n")
    L.append("| sweep | metric | runs | max abs z | mean z | beyond 3 SE | after offset: max abs z | mean z | beyond 3 SE |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for sweep, rows in v["theory"].items():
        for k, r in rows.items():
            corr = (f"{r['corrected_max_abs_z']:.2f} | {r['corrected_mean_z']:+.2f} | "
                    f"{r['corrected_n_beyond_3']}" if "corrected_max_abs_z" in r else "- | - | -")
            L.append(f"| {sweep} | {k} | {r['n']} | {r['max_abs_z']:.2f} | {r['mean_z']:+.2f} | "
                     f"{r['n_beyond_3']} | {corr} |")
    L.append("")
    return L
