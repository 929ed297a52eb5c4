"""The figures of a comparison's or batch's report: latency and time curves
as means over seeds with 95% bands, the exposure against wrongful removals
trade-off, reviewer utilisation, and each headline metric against every
swept parameter."""

from __future__ import annotations

import math

import numpy as np

from simulator.experiments.stats import mean_band
from simulator.format import is_missing, metric_unit
from simulator.report import plots
from simulator.report.context import Figure, Report
from simulator.report.curves import cdf_xy, padded, surge_bands
from simulator.report.experiment import MAX_LINES, Experiment, Group
from simulator.report.labels import metric_label, threshold_metrics


def experiment_figures(ex: Experiment, shown: list[Group], rep: Report) -> None:
    with_curves = [(g, [s["curves"] for s in ex.summaries(g) if "curves" in s]) for g in shown]
    with_curves = [(g, c) for g, c in with_curves if c]
    th = [h for _, h in threshold_metrics(ex.metrics)]
    if with_curves:
        series = []
        for g, cs in with_curves:
            rows = np.vstack([cdf_xy(c["latency_cdf"])[1] for c in cs])
            mean, lo, hi = mean_band(rows)
            series.append(plots.Series(g.label, cs[0]["latency_cdf"]["hours"], mean, lo, hi))
        rep.figures.append(
            Figure(
                "fig-latency",
                "How fast violating posts came down",
                "Share of violating posts removed within each time (log scale), mean over "
                "seeds with its 95% band; dashed vertical lines are the thresholds under test.",
                plots.latency_cdf(series, th),
            )
        )
        exposure, backlog = [], []
        longest = max(
            (c for _, cs in with_curves for c in cs), key=lambda c: len(c["daily"]["day"])
        )
        n_days = len(longest["daily"]["day"])
        for g, cs in with_curves:
            x = np.arange(n_days) + 0.5
            rows = np.vstack([padded(c["daily"]["harmful_views"], n_days) for c in cs])
            mean, lo, hi = mean_band(rows)
            exposure.append(plots.Series(g.label, x, mean, lo, hi))
            teams = [k[: -len("_backlog")] for k in cs[0]["daily"] if k.endswith("_backlog")]
            for team in teams:
                rows = np.vstack(
                    [padded(c["daily"].get(f"{team}_backlog", []), n_days) for c in cs]
                )
                mean, lo, hi = mean_band(rows)
                label = g.label if len(teams) == 1 else f"{g.label}: {team}"
                backlog.append(plots.Series(label, x, mean, lo, hi))
        marks = []
        for i, (g, _) in enumerate(with_curves):
            after = ex.values(g, "suspended_after_days")
            after = after[np.isfinite(after)]
            if len(after):
                marks.append(
                    plots.Mark(
                        f"{g.label}: suspended ({len(after)}/{len(g.cell_ids)} seeds)",
                        float(np.median(after)),
                        i,
                    )
                )
        waited = any(np.nanmax(np.asarray(b.y, dtype=np.float64), initial=0) > 0 for b in backlog)
        bottom = (
            "Bottom: cases waiting for review at the end of each day."
            if waited
            else "No case was waiting for review at any day's end, so there is no backlog panel."
        )
        rep.figures.append(
            Figure(
                "fig-time",
                "Harmful exposure and backlog over time"
                if waited
                else "Harmful exposure over time",
                f"Top: views of violating posts per day while they were up. {bottom} Means "
                "over seeds with 95% bands. Hatched grey: surges. Vertical lines: median "
                "suspension day, where seeds were suspended.",
                plots.over_time(
                    exposure,
                    backlog[: 2 * MAX_LINES] if waited else [],
                    surge_bands(longest),
                    marks,
                    longest["daily"]["date"],
                ),
            )
        )
    points = []
    for g in ex.groups:
        sx, sy = ex.stat(g, "views_before_removal"), ex.stat(g, "wrongful_removals")
        if is_missing(sx["mean"]) or is_missing(sy["mean"]) or math.isinf(sx["mean"]):
            continue
        points.append(
            plots.Point(
                g.label,
                sx["mean"],
                sy["mean"],
                None if is_missing(sx["ci_low"]) else (sx["ci_low"], sx["ci_high"]),
                None if is_missing(sy["ci_low"]) else (sy["ci_low"], sy["ci_high"]),
            )
        )
    if points:
        rep.figures.append(
            Figure(
                "fig-frontier",
                "Trade-off: harmful exposure against wrongful removals",
                "Each point is a policy or setting: mean over seeds, with 95% intervals. Lower "
                "left is better on both; the dotted line joins them in order of exposure.",
                plots.frontier(
                    points, "harmful exposure (views before removal)", "wrongful removals"
                ),
            )
        )
    util = []
    for g in ex.groups:
        for m in ex.metrics:
            if m.endswith("_utilisation"):
                st = ex.stat(g, m)
                if not is_missing(st["mean"]):
                    ci = None if is_missing(st["ci_low"]) else (st["ci_low"], st["ci_high"])
                    util.append(
                        plots.Point(f"{g.label}: {m[: -len('_utilisation')]}", st["mean"], 0, ci)
                    )
    if len(util) > 1:  # one bar compares nothing: the headline table has it
        rep.figures.append(
            Figure(
                "fig-utilisation",
                "Reviewer utilisation",
                "Share of the reviewers' available hours spent reviewing, mean over seeds with "
                "95% intervals.",
                plots.bars(util, "busy share of available hours", "Reviewer utilisation"),
            )
        )
    for p in ex.folder.parameters:
        _sweep_figures(ex, p, rep)


SWEEP_METRICS = (
    "removed_within_24h",
    "latency_p90_hours",
    "views_before_removal",
    "wrongful_removals",
    "suspended",
)


def _sweep_figures(ex: Experiment, parameter: str, rep: Report) -> None:
    others = [c for c in ex.varying if c != parameter]
    for metric in SWEEP_METRICS:
        if metric not in ex.metrics:
            continue
        lines: dict[str, list[tuple[float, dict[str, float]]]] = {}
        for g in ex.groups:
            try:
                xval = float(g.labels[parameter])
            except (TypeError, ValueError):
                continue
            key = (
                ", ".join(
                    str(g.labels[c])
                    if c in ("scenario", "policy", "host")
                    else f"{c}={g.labels[c]}"
                    for c in others
                )
                or metric
            )
            lines.setdefault(key, []).append((xval, ex.stat(g, metric)))
        series = []
        for label, pts in list(lines.items())[:MAX_LINES]:
            pts.sort(key=lambda p: p[0])
            ys = [p[1]["mean"] if math.isfinite(p[1]["mean"]) else math.nan for p in pts]
            series.append(
                plots.Series(
                    label,
                    [p[0] for p in pts],
                    ys,
                    [p[1]["ci_low"] for p in pts],
                    [p[1]["ci_high"] for p in pts],
                )
            )
        if not series:
            continue
        label = metric_label(metric)
        slug = "".join(ch if ch.isalnum() else "-" for ch in f"{parameter}-{metric}")
        rep.figures.append(
            Figure(
                f"fig-sweep-{slug}",
                f"{label} against {parameter}",
                f"Mean over seeds with 95% intervals (bars and band), one line per "
                f"{' x '.join(others) or 'setting'}; gaps mean 'never' in some seed.",
                plots.sweep(series, parameter, label, percent=metric_unit(metric) == "share"),
            )
        )
