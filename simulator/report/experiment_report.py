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

from simulator.experiments.why import why_lines, why_table
from simulator.folders.experiment import ExperimentFolder
from simulator.format import (
    date,
    days,
    interval,
    is_missing,
    metric_value,
    share,
    signed,
    threshold,
)
from simulator.report.context import DEFAULT_TARGET, Report, Table
from simulator.report.experiment import MAX_LINES, Experiment, Group
from simulator.report.experiment_figures import experiment_figures
from simulator.report.labels import HEADLINE, metric_label, threshold_metrics
from simulator.report.run import run_inputs


def experiment_summary_sentences(ex: Experiment, target: float) -> list[str]:
    out: list[str] = []
    seeds = int(ex.folder.cells["replication"].nunique()) if len(ex.folder.cells) else 0
    what = "policies" if ex.folder.kind == "compare" else "settings"
    out.append(
        f"{len(ex.groups)} {what} were each run on the same {seeds} seeds (the same post "
        "streams), so differences come from the rules; ranges are 95% intervals over seeds. "
        f"A threshold is met when at least {share(target)} of violating posts come down within it."
    )
    th = threshold_metrics(ex.metrics)
    for g in ex.groups[: 3 * MAX_LINES]:
        met: list[str] = []
        missed: list[str] = []
        for m, h in th:
            st = ex.stat(g, m)
            if is_missing(st["mean"]):
                continue
            (met if st["mean"] >= target else missed).append(threshold(h))
        susp = ex.values(g, "suspended")
        after = ex.values(g, "suspended_after_days")
        k = int(np.nansum(susp))
        if k:
            when = float(np.median(after[np.isfinite(after)]))
            start = _start(ex, g)
            on = f" (median {date((start + dt.timedelta(days=when)).isoformat())})" if start else ""
            takedown = f"taken down in {k} of {len(susp)} seeds, after {days(when)} days{on}"
        else:
            takedown = f"never taken down ({len(susp)} seeds)"
        if met or missed:
            verdict = f"meets {', '.join(met) or 'no threshold'}" + (
                f"; misses {', '.join(missed)}" if missed else ""
            )
        else:
            verdict = (
                "no threshold could be measured (no violating post was made long enough "
                "before the end)"
            )
        out.append(
            f"{g.label}: {verdict}"
            + f"; {takedown}; harmful exposure {ex.show(g, 'views_before_removal')} views, "
            f"wrongful removals {ex.show(g, 'wrongful_removals')}."
        )
    diffs = ex.folder.differences
    if diffs is not None and len(diffs) and ex.folder.kind == "compare":
        base = ex.groups[0].labels["policy"]
        for g in ex.groups[1:]:
            pol = g.labels["policy"]
            d = {
                m: diffs[(diffs["policy"].astype(str) == str(pol)) & (diffs["metric"] == m)]
                for m in ("views_before_removal", "wrongful_removals")
            }
            if any(not len(x) for x in d.values()):
                continue
            exp, wrong = d["views_before_removal"].iloc[0], d["wrongful_removals"].iloc[0]
            out.append(
                f"Trade-off, {pol} against {base} (paired by seed): harmful exposure "
                f"{_difference(exp)} views, wrongful removals "
                f"{_difference(wrong)}."
            )
    return out


def _difference(row: Any) -> str:
    """A paired difference with its sign and its 95% interval."""
    return interval(row["mean"], row["ci_low"], row["ci_high"], signed)


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
            "seeds (95% interval).",
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
            note="Mean over seeds (95% interval). 'never in k of n seeds': some seeds never "
            "reached it, so no mean exists.",
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
                    _difference(r),
                ]
            )
        rep.tables.append(
            Table(
                "tab-differences",
                f"Paired differences from {ex.groups[0].labels['policy']}",
                ["policy", "metric", "seed pairs", "difference (95% interval)"],
                rows,
                [False, False, True, True],
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
    cols = [c for c in ex.varying if c in cells] + ["replication", "seed"]
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
                *([False] * (len(cols) - 2)),
                True,
                True,
                False,
                *([True] * len(shown_metrics)),
                False,
            ],
            note="One row per run (cell): its labels, seed, status and main figures.",
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
        out.extend(run_inputs(first)[1:])
    return out
