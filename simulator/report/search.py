"""What the report of a policy search, or of a robustness study, says.

One :class:`~simulator.report.context.Report` is built from a search's
results (and its robustness study, when there is one) and rendered twice,
like every other report: HTML with the figures inline as SVG, and its
Markdown twin with the same sentences and tables. Nothing here re-runs a
simulation. The words are for the people who decide: what was asked, what
is recommended and at what cost, how sure we are, and whether the answer
still holds when the assumptions are wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from simulator.config.search import parse_constraint
from simulator.folders.robustness import RobustnessResult
from simulator.folders.search import ASK_LIMIT, EXHAUSTED, Proposals, SearchResult
from simulator.format import (
    MISSING,
    as_written,
    confidence_level,
    decimal,
    metric_value,
    ratio,
    share,
    span,
)
from simulator.report.context import Figure, Report, Table
from simulator.report.labels import metric_label
from simulator.report.search_figures import Drawn, draw, pareto_figure, sensitivity_figure

VERDICT = {"holds": "holds", "fails": "fails", "undecided": "undecided at the seed cap"}


# --- formatting -----------------------------------------------------------------


def _interval(row: dict[str, Any] | Any, metric: str, currency: str = "") -> str:
    lo, hi = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return MISSING
    return span(metric_value(lo, metric, currency), metric_value(hi, metric, currency))


def constraint_metric(text: str) -> str:
    return parse_constraint(text)[0]


def _bound_value(x: Any, text: str) -> str:
    return metric_value(x, constraint_metric(text))


def _seed_use(seeds: Any) -> str:
    if seeds is None:
        return ""
    lo, hi, total = int(seeds.min()), int(seeds.max()), int(seeds.sum())
    each = f"{lo} seeds each" if lo == hi else f"{lo} to {hi} seeds"
    return f" ({each}, {total} runs in all)"


def _n(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def proposals_sentence(p: Proposals) -> str:
    """What the sampler proposed and what became of it, in one sentence."""
    parts = [_n(p.distinct, "distinct candidate"), f"{p.evaluated} evaluated"]
    if p.failed:
        parts.append(f"{p.failed} failed in a run")
    if p.refused:
        reasons = "; ".join(
            text if len(p.refusals) == 1 else f"{n}: {text}" for text, n in p.refusals.items()
        )
        parts.append(f"{p.refused} refused by the policy's rules ({reasons})")
    parts.append(_n(p.duplicates, "duplicate") + " (not run again)")
    return f"{_n(p.asked, 'proposal')} asked: " + ", ".join(parts) + "."


def shortfall(p: Proposals, budget: int) -> str | None:
    """Why fewer candidates than the trial budget were evaluated, or ``None``."""
    if p.evaluated >= budget:
        return None
    why = []
    if p.stopped == EXHAUSTED:
        space = "" if p.space is None else f" holds {_n(p.space, 'candidate')} and"
        refused = f" ({p.refused} refused by the policy's rules)" if p.refused else ""
        why.append(f"the search space{space} every one was proposed{refused}")
    elif p.stopped == ASK_LIMIT:
        why.append(
            f"the sampler made {p.asked} proposals, the limit for this budget, without "
            "finding more new candidates the policy allows (widen the search or change "
            "the sampler)"
        )
    if p.failed:
        why.append(f"{p.failed} failed in a run (see the table of every candidate)")
    return (
        f"Only {p.evaluated} of a budget of {budget} candidates were evaluated"
        + (": " + "; ".join(why) if why else "")
        + "."
    )


def _changes(changes: Sequence[str]) -> str:
    return "; ".join(changes) if len(changes) else "no change to the base policy"


# --- the search report ----------------------------------------------------------


def search_report(
    result: SearchResult,
    robustness: RobustnessResult | None = None,
    figures: dict[str, Drawn] | None = None,
) -> Report:
    """The report of a search (and of its robustness study, if given).
    ``figures`` are already drawn ones by name (``pareto``, ``sensitivity``)."""
    figures = dict(figures or {})
    spec = result.spec
    currency = result.base.costs.currency
    level = confidence_level(spec.seeds.confidence)
    t = result.trials
    done = t[t["state"] == "COMPLETE"] if len(t) else t
    feasible = int(done["feasible"].astype(bool).sum()) if len(done) else 0
    rec = result.recommendation
    rep = Report(kind="optimization", title=f"modsim optimize: {spec.name}", summary=[])
    if spec.description:
        rep.summary.append(spec.description.strip())
    asked = ", ".join(f"{metric_label(o.metric)} ({o.direction})" for o in spec.objectives)
    rep.summary.append(
        f"The question: starting from the policy '{result.base.name}', which values of "
        f"{', '.join(spec.search)} give the best {asked}"
        + (f", while {' and '.join(spec.constraints)}?" if spec.constraints else "?")
    )
    if rec is not None:
        first = spec.objectives[0].metric
        rep.summary.append(
            f"Recommended: {_changes(rec['changes'])}. It is the feasible candidate with the "
            f"best {metric_label(first)}: {metric_value(rec[first], first, currency)} "
            f"(95% interval {_interval(rec, first, currency)}), over {rec['seeds']} seeds."
        )
        for o in spec.objectives[1:]:
            rep.summary.append(
                f"With it, {metric_label(o.metric)} is "
                f"{metric_value(rec[o.metric], o.metric, currency)} "
                f"(95% interval {_interval(rec, o.metric, currency)})."
            )
        used = [o.metric for o in spec.objectives] + [m for m, _, _ in spec.parsed_constraints()]
        weighed = any(m.startswith("wrongful_removals") for m in used) or (
            result.base.costs.per_wrongful_removal > 0 and any(m.startswith("cost_") for m in used)
        )
        if not weighed and "wrongful_removals" in rec:
            rep.summary.append(
                f"It also removed {metric_value(rec['wrongful_removals'], 'wrongful_removals')} "
                "legitimate posts per run (mean over seeds), which this search did not weigh: "
                "to weigh them, make wrongful_removals an objective or constraint, or give "
                "costs.per_wrongful_removal a price."
            )
        for c in spec.constraints:
            rep.summary.append(
                f"'{c}': the estimate is {_bound_value(rec[f'{c} | estimate'], c)}; with "
                f"{level} confidence the true value is "
                f"{'at most' if parse_constraint(c)[1] == '<=' else 'at least'} "
                f"{_bound_value(rec[f'{c} | bound'], c)}, so the constraint "
                f"{VERDICT.get(rec[f'{c} | status'], rec[f'{c} | status'])}."
            )
        for name, (lo, hi) in (rec.get("raw_thresholds") or {}).items():
            raw = (
                ratio(lo)
                if lo == hi
                else f"{span(ratio(lo), ratio(hi))} (each seed trains its own classifier)"
            )
            rep.summary.append(
                f"The prefilter's {name} threshold is a target (met on the stream's class mix "
                f"unless it says `mix: validation`), so it survives a retrained model; in these "
                f"runs it became a raw score of {raw}."
            )
    else:
        rep.summary.append(
            "No candidate was shown to meet every constraint. Widen the search ranges, raise "
            "`trials`, or raise `seeds.max` if candidates ended undecided (see the table of "
            "every candidate)."
        )
    seeds = done["seeds"] if len(done) else None
    rep.summary.append(
        f"How it was answered: {len(done)} candidates were simulated on the same seeds "
        "(common random numbers), so they differ only by their rules. Each ran at least "
        f"{spec.seeds.min} seeds; {spec.seeds.step} more were added at a time, up to "
        f"{spec.seeds.max}, until every constraint was decided at {level} one-sided confidence"
        + _seed_use(seeds)
        + f". Feasible: {feasible} of {len(done)}."
    )
    if result.proposals is not None:
        rep.summary.append(proposals_sentence(result.proposals))
        short = shortfall(result.proposals, spec.trials)
        if short:
            rep.summary.append(short)
    if robustness is not None:
        rep.summary.extend(robustness_sentences(robustness))
    rep.notes.append(
        "A candidate is feasible only if every constraint holds by its one-sided interval: a "
        "yes/no outcome (such as suspended) is a share of runs with an exact binomial bound, "
        "any other metric a mean with a Student-t bound. One still undecided at the seed cap "
        "counts as infeasible."
    )
    if result.recommended is not None:
        rep.notes.append(
            "The recommended policy is written out as recommended.yaml, ready for "
            "`modsim run` or `modsim compare`; the trial history is trials.csv."
        )
    if "pareto" in figures:
        rep.figures.append(
            Figure(
                "fig-pareto",
                "The trade-off (Pareto front)",
                "Every evaluated candidate: feasible ones as circles, the others as crosses; "
                "the dashed line joins the feasible candidates no other feasible one beats on "
                "every objective; the star is the recommendation with its 95% intervals.",
                figures["pareto"].svg,
                file="pareto.png",
            )
        )
    if robustness is not None and "sensitivity" in figures:
        rep.figures.append(_sensitivity_figure(robustness, figures["sensitivity"]))
    if rec is not None:
        rep.tables.extend(_recommendation_tables(result, rec, level))
    rep.tables.append(_pareto_table(result, level))
    rep.tables.append(_trials_table(result))
    if robustness is not None:
        rep.tables.extend(robustness_tables(robustness))
        rep.notes.extend(robustness.notes)
    rep.inputs = _search_inputs(result) + (
        robustness_inputs(robustness) if robustness is not None else []
    )
    return rep


def _recommendation_tables(result: SearchResult, rec: dict[str, Any], level: str) -> list[Table]:
    spec = result.spec
    currency = result.base.costs.currency
    objectives = [o.metric for o in spec.objectives]
    rows = [
        [
            metric_label(m) + (" (objective)" if m in objectives else ""),
            metric_value(rec[m], m, currency),
            _interval(rec, m, currency),
        ]
        for m in dict.fromkeys([*objectives, *ALSO_SHOWN, "suspended"])
        if m in rec
    ]
    figures = Table(
        "tbl-recommended",
        "The recommended policy: its figures",
        ["figure", "mean over seeds", "95% interval"],
        rows,
        [False, True, False],
        note="Intervals are computed for the objectives; other figures are means over the "
        f"candidate's {rec['seeds']} seeds.",
    )
    constraints = Table(
        "tbl-constraints",
        "The recommended policy: constraints",
        ["constraint", "estimate", f"{level} one-sided bound", "verdict"],
        [
            [
                c,
                _bound_value(rec[f"{c} | estimate"], c),
                _bound_value(rec[f"{c} | bound"], c),
                VERDICT.get(rec[f"{c} | status"], str(rec[f"{c} | status"])),
            ]
            for c in spec.constraints
        ],
        [False, True, True, False],
        note="" if spec.constraints else "The search had no constraint.",
    )
    changed = []
    for line in rec["changes"]:
        path, _, values = line.partition(": ")
        old, _, new = values.partition(" -> ")
        changed.append([path, old, new])
    changes = Table(
        "tbl-changes",
        "The recommended policy: changes from the base",
        ["field", "base", "recommended"],
        changed,
        [False, False, False],
        note="" if changed else "The base policy already meets every constraint.",
    )
    return [figures, constraints, changes]


def _pareto_table(result: SearchResult, level: str) -> Table:
    spec = result.spec
    currency = result.base.costs.currency
    header = ["trial"]
    header += [f"{metric_label(o.metric)} (95% interval)" for o in spec.objectives]
    header += [f"{c} (estimate, {level} bound)" for c in spec.constraints]
    header += ["seeds", "changes from the base"]
    rows = []
    for _, row in result.pareto.iterrows():
        cells = [str(int(row["trial"]))]
        cells += [
            f"{metric_value(row[o.metric], o.metric, currency)} "
            f"({_interval(row, o.metric, currency)})"
            for o in spec.objectives
        ]
        cells += [
            f"{_bound_value(row[f'{c} | estimate'], c)} ({_bound_value(row[f'{c} | bound'], c)})"
            for c in spec.constraints
        ]
        cells += [str(int(row["seeds"])), _changes(row["changes"])]
        rows.append(cells)
    numeric = [True] + [True] * (len(spec.objectives) + len(spec.constraints)) + [True, False]
    return Table(
        "tbl-pareto",
        "The Pareto front: feasible candidates no other feasible one beats on every objective",
        header,
        rows,
        numeric,
        note="" if rows else "No feasible candidate, so no front.",
    )


ALSO_SHOWN = ("cost_per_day", "views_before_removal", "wrongful_removals")
"""Figures every candidate is shown with, objectives or not: what it costs,
what harm it leaves up, and what legitimate speech it takes down."""


def _shown_metrics(result: SearchResult) -> list[str]:
    wanted = [o.metric for o in result.spec.objectives] + list(ALSO_SHOWN)
    return [m for m in dict.fromkeys(wanted) if m in result.trials]


def _trials_table(result: SearchResult) -> Table:
    spec = result.spec
    currency = result.base.costs.currency
    shown = _shown_metrics(result)
    header = ["trial", "state", "seeds", "feasible"]
    header += [metric_label(m) for m in shown]
    header += [*spec.constraints, "changes from the base"]
    rows = []
    for _, row in result.trials.iterrows():
        cells = [str(int(row["trial"])), str(row["state"]).lower(), str(int(row["seeds"]))]
        cells.append("yes" if bool(row["feasible"]) else "no")
        cells += [metric_value(row.get(m), m, currency) for m in shown]
        cells += [VERDICT.get(str(row.get(f"{c} | status")), "n/a") for c in spec.constraints]
        error = row.get("error")
        text = _changes(row["changes"])
        cells.append(f"{text} (failed: {error})" if isinstance(error, str) and error else text)
        rows.append(cells)
    numeric = [True, False, True, False] + [True] * len(shown)
    numeric += [False] * len(spec.constraints) + [False]
    return Table(
        "tbl-trials",
        "Every candidate evaluated",
        header,
        rows,
        numeric,
        note="" if rows else "No trial finished.",
    )


def _search_inputs(result: SearchResult) -> list[str]:
    spec = result.spec
    out = [
        f"Scenario: {spec.scenario}; base policy: {spec.policy} ('{result.base.name}'); "
        f"hosts: {', '.join(spec.hosts) or 'none'}."
    ]
    # JSON values: the same text whether the spec was just parsed or read back.
    for path, value in spec.model_dump(mode="json")["overrides"].items():
        out.append(f"Fixed before searching: {path} = {json.dumps(value)}.")
    for path, p in spec.search.items():
        if p.choices is not None:
            space = "one of " + ", ".join(map(str, p.choices))
        else:
            assert p.low is not None and p.high is not None  # a range when not choices
            space = span(as_written(p.low), as_written(p.high))
            space += f" in steps of {as_written(p.step)}" if p.step else ""
            space += " (whole numbers)" if p.integer else ""
            space += " (log scale)" if p.log else ""
        out.append(f"Searched {path}: {space}.")
    out.append(
        f"Trial budget {spec.trials}; optuna sampler {spec.sampler}; base seed {spec.seed}; "
        f"seeds per candidate {spec.seeds.min} to {spec.seeds.max} in steps of "
        f"{spec.seeds.step}; confidence {confidence_level(spec.seeds.confidence)}."
    )
    return out


# --- robustness -----------------------------------------------------------------


def robustness_sentences(rob: RobustnessResult) -> list[str]:
    out = [
        f"Robustness: each policy was run in {rob.points} scenarios drawn from the ranges of "
        f"{len(rob.ranges)} uncertain inputs ({rob.method} design, {rob.seeds} seed(s) each, the "
        "same seeds in every scenario)."
    ]
    for _, row in rob.table.iterrows():
        text = (
            f"'{row['policy']}' met every constraint in {int(row['meeting_all'])} of "
            f"{int(row['scenarios'])} scenarios "
            f"({metric_value(row['share_meeting_all'], 'suspended')})"
        )
        worst = [
            f"worst {constraint_metric(c).replace('_', ' ')} {_bound_value(row[f'worst: {c}'], c)}"
            for c in rob.constraints
            if f"worst: {c}" in row
        ]
        out.append(text + (f"; {', '.join(worst)}." if worst else "."))
    s = rob.sensitivity
    if len(s):
        for (metric, policy), g in s.sort_values("rank").groupby(["metric", "policy"], sort=False):
            top = g.iloc[0]
            out.append(
                f"{metric_label(metric).capitalize()} under '{policy}' depends most on "
                f"{top['input']} ({share(top['share'], 0)} of the sensitivity)."
            )
    return out


def _sensitivity_figure(rob: RobustnessResult, drawn: Drawn) -> Figure:
    what = "mean absolute elementary effect (Morris mu*)"
    if rob.method == "sobol":
        what = "total-order Sobol index"
    return Figure(
        "fig-sensitivity",
        "Which assumptions matter most",
        f"Each uncertain input's share of the sensitivity ({what}, normalised to sum to one), "
        "per headline metric and policy; the longest bar moves the metric most.",
        drawn.svg,
        file="sensitivity.png",
    )


def robustness_tables(rob: RobustnessResult) -> list[Table]:
    header = ["policy", "scenarios", "meets every constraint"]
    header += [f"worst {c}" for c in rob.constraints]
    rows = []
    for _, row in rob.table.iterrows():
        cells = [
            str(row["policy"]),
            str(int(row["scenarios"])),
            f"{metric_value(row['share_meeting_all'], 'suspended')} "
            f"({int(row['meeting_all'])} of {int(row['scenarios'])})",
        ]
        cells += [_bound_value(row.get(f"worst: {c}"), c) for c in rob.constraints]
        rows.append(cells)
    table = Table(
        "tbl-robustness",
        "Robustness: the share of scenarios in which each policy meets every constraint",
        header,
        rows,
        [False, True, True] + [True] * len(rob.constraints),
        note="'Worst' is the least favourable value of the constraint's metric over the "
        "scenarios (its mean over the seeds of that scenario); robustness_runs.csv names the "
        "inputs of each scenario.",
    )
    ranges = Table(
        "tbl-uncertain",
        "The uncertain inputs and their ranges",
        ["input", "from", "to"],
        [[path, str(lo), str(hi)] for path, (lo, hi) in rob.ranges.items()],
        [False, False, False],
    )
    s = rob.sensitivity
    ranking = [
        [
            metric_label(r["metric"]),
            str(r["policy"]),
            str(int(r["rank"])),
            str(r["input"]),
            decimal(r["share"], 2),
        ]
        for _, r in (s.sort_values(["metric", "policy", "rank"]) if len(s) else s).iterrows()
    ]
    sens = Table(
        "tbl-sensitivity",
        "Sensitivity ranking: which inputs each headline metric depends on",
        ["metric", "policy", "rank", "input", "share"],
        ranking,
        [False, False, True, False, True],
        note="Rank 1 moves the metric most; shares sum to one per metric and policy."
        if ranking
        else "No sensitivity could be computed (see the notes).",
    )
    return [table, ranges, sens]


def robustness_inputs(rob: RobustnessResult) -> list[str]:
    return [
        f"Robustness study '{rob.name}': {rob.method} design, {rob.points} scenarios, "
        f"{rob.seeds} seed(s) per scenario; constraints: "
        f"{', '.join(rob.constraints) or 'none'}."
    ]


def robustness_report(rob: RobustnessResult, figures: dict[str, Drawn] | None = None) -> Report:
    figures = dict(figures or {})
    rep = Report(
        kind="robustness",
        title=f"modsim robustness: {rob.name}",
        summary=robustness_sentences(rob),
        notes=list(rob.notes),
    )
    if "sensitivity" in figures:
        rep.figures.append(_sensitivity_figure(rob, figures["sensitivity"]))
    rep.tables = robustness_tables(rob)
    rep.inputs = robustness_inputs(rob)
    return rep


def search_figures(result: SearchResult, robustness: RobustnessResult | None) -> dict[str, Drawn]:
    out = {"pareto": draw(lambda: pareto_figure(result), "Pareto front of the policy search")}
    if robustness is not None:
        out |= robustness_figures(robustness)
    return out


def robustness_figures(rob: RobustnessResult) -> dict[str, Drawn]:
    return {
        "sensitivity": draw(
            lambda: sensitivity_figure(rob), "Sensitivity of the headline metrics to each input"
        )
    }
