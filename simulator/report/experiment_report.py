"""What the report of a comparison or batch says: the plain-words summary
per setting, its tables (thresholds, headline metrics, paired differences,
cells) and inputs; the figures come from
:mod:`~simulator.report.experiment_figures`."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from simulator.experiments.stats import SCALE_WORDS
from simulator.experiments.why import why_lines, why_table
from simulator.folders.experiment import ExperimentFolder
from simulator.format import (
    change,
    date,
    days,
    is_missing,
    metric_value,
    share,
    threshold,
)
from simulator.report.context import DEFAULT_TARGET, Report, Table
from simulator.report.experiment import MAX_LINES, Experiment, Group
from simulator.report.experiment_figures import experiment_figures
from simulator.report.labels import HEADLINE, metric_label, threshold_metrics
from simulator.report.run import classifier_line, run_inputs


def experiment_summary_sentences(ex: Experiment, target: float) -> list[str]:
    out: list[str] = []
    seeds = int(ex.folder.cells["replication"].nunique()) if len(ex.folder.cells) else 0
    what = "policies" if ex.folder.kind == "compare" else "settings"
    out.append(
        f"{len(ex.groups)} {what} were each run on the same {seeds} seeds (the same post "
        f"streams), so differences come from the rules; ranges are {SCALE_WORDS}. "
        f"A threshold is met when at least {share(target)} of violating posts come down within it."
    )
    th = threshold_metrics(ex.metrics)
    for g in ex.groups[: 3 * MAX_LINES]:
        out.append(
            f"{g.label}: {_removal_words(ex, g, th, target)}; {_takedown_words(ex, g)}; harmful "
            f"exposure {ex.show(g, 'views_before_removal', short=True)} views, wrongful removals "
            f"{ex.show(g, 'wrongful_removals', short=True)}."
        )
    diffs = ex.folder.differences
    if diffs is not None and len(diffs) and ex.folder.kind == "compare":
        base = ex.groups[0]
        pol0 = base.labels["policy"]
        for g in ex.groups[1:]:
            pol = g.labels["policy"]
            d = {
                m: diffs[(diffs["policy"].astype(str) == str(pol)) & (diffs["metric"] == m)]
                for m in ("views_before_removal", "wrongful_removals")
            }
            if any(not len(x) for x in d.values()):
                continue
            out.append(
                f"Trade-off, {pol} against {pol0} (paired by seed): "
                f"{_difference(ex, base, d['views_before_removal'].iloc[0], 'harmful views')}, "
                f"{_difference(ex, base, d['wrongful_removals'].iloc[0], 'wrongful removals')}."
            )
    return out


def _removal_words(ex: Experiment, g: Group, th: list[tuple[str, float]], target: float) -> str:
    """How much came down within each threshold, and which thresholds that meets."""
    shares: list[str] = []
    met: list[str] = []
    for m, h in th:
        st = ex.stat(g, m)
        if is_missing(st["mean"]):
            continue
        of = "" if shares else " of violating posts"
        shares.append(f"{share(st['mean'])}{of} within {threshold(h)}")
        if st["mean"] >= target:
            met.append(threshold(h))
    if not shares:
        return (
            "no threshold could be measured (no violating post was made long enough before the end)"
        )
    verdict = f"meets {', '.join(met)}" if met else "meets no threshold"
    return f"removes {', '.join(shares)} ({verdict} at {share(target)})"


def _takedown_words(ex: Experiment, g: Group) -> str:
    susp = ex.values(g, "suspended")
    after = ex.values(g, "suspended_after_days")
    k = int(np.nansum(susp))
    if not k:
        return f"never taken down ({len(susp)} seeds)"
    when = float(np.median(after[np.isfinite(after)]))
    start = _start(ex, g)
    on = f" (median {date((start + dt.timedelta(days=when)).isoformat())})" if start else ""
    return f"taken down in {k} of {len(susp)} seeds, after {days(when)} days{on}"


def _difference(ex: Experiment, base: Group, row: Any, noun: str = "") -> str:
    """A paired difference in plain words, relative to the baseline's mean."""
    metric = str(row["metric"])
    return change(
        metric, row["mean"], row["ci_low"], row["ci_high"], ex.stat(base, metric)["mean"], noun
    )


def _start(ex: Experiment, g: Group) -> dt.datetime | None:
    for s in ex.summaries(g):
        return dt.datetime.fromisoformat(s["run"]["start"])
    return None


def experiment_report(folder: ExperimentFolder, target: float = DEFAULT_TARGET) -> Report:
    ex = Experiment(folder)
    name = folder.manifest.get("name") or folder.path.name
    rep = Report(
        kind=folder.kind,
        title=f"modsim {folder.kind}: {name}",
        summary=experiment_summary_sentences(ex, target),
        target=target,
    )
    shown = ex.groups[:MAX_LINES]
    if len(ex.groups) > MAX_LINES:
        rep.notes.append(
            f"Latency and time figures show the first {MAX_LINES} of {len(ex.groups)} settings; "
            "the tables show all."
        )
    experiment_figures(ex, shown, rep)
    _experiment_tables(ex, rep, target)
    rep.inputs = _experiment_inputs(ex)
    return rep


def _experiment_tables(ex: Experiment, rep: Report, target: float) -> None:
    th = threshold_metrics(ex.metrics)
    rep.tables.append(
        Table(
            "tab-thresholds",
            "Thresholds compliance",
            ["setting", *(f"within {threshold(h)}" for _, h in th), f"meets {share(target)}"],
            [
                [
                    g.label,
                    *(ex.show(g, m) for m, _ in th),
                    ", ".join(
                        threshold(h)
                        for m, h in th
                        if not is_missing(ex.stat(g, m)["mean"]) and ex.stat(g, m)["mean"] >= target
                    )
                    or "none",
                ]
                for g in ex.groups
            ],
            [False, *([True] * len(th)), False],
            note="Share of eligible violating posts removed within each threshold: mean over "
            f"seeds ({SCALE_WORDS}).",
        )
    )
    metrics = [m for m, _ in HEADLINE if m in ex.metrics]
    metrics += [m for m in ex.metrics if m.endswith(("_backlog_max", "_utilisation"))]
    rep.tables.append(
        Table(
            "tab-metrics",
            "Headline metrics",
            ["metric", *(g.label for g in ex.groups)],
            [[metric_label(m), *(ex.show(g, m) for g in ex.groups)] for m in metrics],
            [False, *([True] * len(ex.groups))],
            note=f"Mean over seeds ({SCALE_WORDS}). 'never in k of n seeds': some seeds "
            "never reached it, so no mean exists.",
        )
    )
    diffs = ex.folder.differences
    if diffs is not None and len(diffs):
        rows = []
        for r in diffs.to_dict("records"):
            if r["metric"] not in metrics or not r.get("pairs"):
                continue
            rows.append(
                [
                    str(r["policy"]),
                    metric_label(str(r["metric"])),
                    str(int(r["pairs"])),
                    _difference(ex, ex.groups[0], r),
                ]
            )
        rep.tables.append(
            Table(
                "tab-differences",
                f"Paired differences from {ex.groups[0].labels['policy']}",
                ["policy", "metric", "seed pairs", "difference (95% interval)"],
                rows,
                [False, False, True, False],
                note="Seed by seed, on the same post streams: tighter than comparing two "
                "intervals.",
            )
        )
    rep.tables.append(why_section(ex))
    cells = ex.folder.cells
    table = ex.folder.table
    wide = (
        table.pivot_table(index="cell_id", columns="metric", values="value", aggfunc="first")
        if len(table)
        else pd.DataFrame()
    )
    # seeds are 20 digits long: they are in cells.csv and the inputs, not in this table
    cols = [c for c in ex.varying if c in cells] + ["replication"]
    shown_metrics = [
        m
        for m in (
            "removed_within_24h",
            "latency_p90_hours",
            "views_before_removal",
            "wrongful_removals",
            "suspended_after_days",
        )
        if m in wide
    ]
    rows = []
    for r in cells.to_dict("records"):
        vals = []
        for m in shown_metrics:
            x = wide.at[str(r["cell_id"]), m] if str(r["cell_id"]) in wide.index else math.nan
            vals.append(metric_value(float(x), m))
        rows.append(
            [
                str(r["cell_id"]),
                *(str(r[c]) for c in cols),
                str(r["status"]),
                *vals,
                "" if is_missing(r.get("error")) else str(r["error"]),
            ]
        )
    rep.tables.append(
        Table(
            "tab-cells",
            "Cells",
            ["cell", *cols, "status", *(metric_label(m) for m in shown_metrics), "error"],
            rows,
            [
                False,
                *([False] * (len(cols) - 1)),
                True,
                False,
                *([True] * len(shown_metrics)),
                False,
            ],
            note="One row per run (cell): its labels, replication, status and main figures; "
            "each replication's seed is in the inputs below and in cells.csv.",
        )
    )


def why_section(ex: Experiment) -> Table:
    """Per setting and enforcer: the outcome, and each rule tripped or avoided."""
    f = ex.folder
    why = why_table(f.cells, f.run_summaries, ex.columns)
    rows = [
        [
            ", ".join(str(line[c]) for c in ex.varying),
            str(line["enforcer"]),
            line["outcome"],
            "; ".join(line["rules"]),
        ]
        for line in why_lines(why, ex.columns)
    ]
    return Table(
        "tab-why",
        "Why the enforcers acted, or did not",
        ["setting", "enforcer", "outcome", "rules: tripped, or how close they came"],
        rows,
        [False, False, False, False],
        note="Over the seeds: when a rule reached a removal (median moment), and for the "
        "seeds where it did not, its highest score (a rule fires at 1) with each signal "
        "against its threshold at that moment."
        if rows
        else "No enforcer watched these runs.",
    )


def _experiment_inputs(ex: Experiment) -> list[str]:
    f = ex.folder
    out = [
        f"Results folder: {f.path}; kind: {f.kind}; cells: {len(f.cells)} "
        f"({int((f.cells['status'] == 'ok').sum())} ok)."
    ]
    for c in ("scenario", "policy", "host"):
        if c in f.cells:
            out.append(f"{c.capitalize()}: {', '.join(map(str, dict.fromkeys(f.cells[c])))}.")
    for p in f.parameters:
        out.append(f"Swept {p}: {', '.join(map(str, dict.fromkeys(f.cells[p])))}.")
    if "seed" in f.cells:
        out.append(f"Seeds: {', '.join(map(str, dict.fromkeys(f.cells['seed'])))}.")
    first = next(iter(f.run_summaries.values()), None)
    if first is not None:
        out.extend(line for line in run_inputs(first)[1:] if not line.startswith("Classifier"))
    # each policy's own prefilter: the first run's would speak for all of them
    by_policy: dict[str, str] = {}
    for g in ex.groups:
        summary = next(iter(ex.summaries(g)), None)
        line = classifier_line(summary) if summary is not None else ""
        if line:
            by_policy.setdefault(str(g.labels["policy"]), line)
    for policy, line in by_policy.items():
        out.append(f"{policy}: {line[0].lower()}{line[1:]}")
    return out
