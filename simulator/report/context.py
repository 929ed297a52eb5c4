"""What a report says, built once from a results folder and rendered twice.

The HTML report and its Markdown twin render the same context, so they
carry the same numbers: every figure is formatted here (or by the shared
filters of :mod:`simulator.report.markdown`), never in a template. A
context holds the plain-words summary (sentences), tables (headers and rows
of formatted strings) and figures (inline SVG with a caption).

A policy *meets* a time threshold when at least ``target`` (90% unless
stated) of its eligible violating posts came down within it; the report
states the target it used.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from simulator.report import plots
from simulator.report.folders import ExperimentFolder, RunFolder
from simulator.report.markdown import date, hours, number, share

DEFAULT_TARGET = 0.9
MAX_LINES = 7
"""Series one figure draws at most; more would not be readable without colour."""

MARKED_EVENTS = {
    "strike": "strike",
    "emergency": "emergency",
    "suspension_notice": "suspension notice",
    "suspension": "suspension",
}


@dataclass(frozen=True)
class Table:
    """A table of formatted strings; ``numeric`` columns align right."""

    id: str
    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    svg: str
    file: str = ""
    """A PNG of the same figure beside the report, which the Markdown twin shows."""


@dataclass
class Report:
    """Everything a report shows, in reading order."""

    kind: str
    title: str
    summary: list[str]
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: float = DEFAULT_TARGET


# --- formatting -----------------------------------------------------------


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def with_ci(mean: float, lo: float, hi: float, fmt: str) -> str:
    """``mean (95% CI lo to hi)`` in a unit: ``share``, ``hours``, ``number`` or ``days``."""
    f = {"share": share, "hours": hours, "number": number, "days": _days}[fmt]
    if _nan(mean):
        return "n/a"
    if math.isinf(mean):
        return "never"
    if _nan(lo) or _nan(hi):
        return f(mean)
    return f"{f(mean)} ({f(lo)} to {f(hi)})"


def _days(x: float | None) -> str:
    return "never" if x is None or not math.isfinite(x) else f"day {x:.1f}"


def threshold_label(h: float) -> str:
    if h >= 24 and math.isclose(h % 24, 0):
        d = int(h // 24)
        return f"{d} day" + ("s" if d > 1 else "")
    return f"{h:g} h"


def _mean_band(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point-wise mean and 95% Student-t interval over rows (replications)."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # a grid point no replication reaches is NaN, which is what we want
        warnings.simplefilter("ignore", RuntimeWarning)
        n = np.sum(np.isfinite(rows), axis=0)
        mean = np.nanmean(np.where(np.isfinite(rows), rows, np.nan), axis=0)
        std = np.nanstd(np.where(np.isfinite(rows), rows, np.nan), axis=0, ddof=1)
        t = sps.t.ppf(0.975, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * std / np.sqrt(np.maximum(n, 1)), np.nan)
    return mean, mean - half, mean + half


def _fixed(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _cdf_xy(cdf: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The latency CDF where at least half the violating posts are old enough."""
    x = np.asarray(cdf["hours"], dtype=np.float64)
    y = _fixed(cdf["share"])
    eligible = np.asarray(cdf.get("eligible", [cdf.get("posts", 0)] * len(x)), dtype=np.float64)
    y[eligible < 0.5 * max(float(cdf.get("posts", 0)), 1.0)] = np.nan
    return x, y


# --- one run --------------------------------------------------------------


def run_summary_sentences(s: dict[str, Any], target: float = DEFAULT_TARGET) -> list[str]:
    """The plain-words summary of one run (also the Markdown report's opening)."""
    v, e = s["violating"], s["enforcement"]
    out = []
    met = [w for w in v["within"] if not _nan(w["share"]) and w["share"] >= target]
    missed = [w for w in v["within"] if not _nan(w["share"]) and w["share"] < target]
    parts = [
        f"{share(w['share'])} within {threshold_label(w['threshold_hours'])}" for w in v["within"]
    ]
    verdict = (
        "meets "
        + ", ".join(threshold_label(w["threshold_hours"]) for w in met)
        + (" but misses " if missed else "")
        if met
        else "misses "
    )
    verdict += ", ".join(threshold_label(w["threshold_hours"]) for w in missed) if missed else ""
    out.append(
        f"Thresholds: {s['run']['policy']} {verdict.strip()} (a threshold is met when at least "
        f"{share(target)} of violating posts come down within it). Removed: {'; '.join(parts)}."
    )
    if e["suspended"]:
        out.append(
            f"Takedown: yes. {e['suspended_by']} suspended the platform on "
            f"{date(e['suspended_at'])}; {number(e['legitimate_posts_up_at_suspension'])} "
            "legitimate posts went dark with it."
        )
    else:
        notices = sum(h["notices"] for h in e["enforcers"])
        out.append(
            "Takedown: no. The platform was not suspended"
            + (f" ({notices} notices were sent)." if e["enforcers"] else " (no enforcer).")
        )
    out.append(
        f"Trade-off: violating posts were seen {number(v['views_before_removal']['total'])} "
        f"times before they came down, {number(v['never_removed'])} of "
        f"{number(v['count'])} were never removed, and {number(s['legitimate']['wrongly_removed'])}"
        " legitimate posts were removed by mistake."
    )
    return out


def _inputs(s: dict[str, Any]) -> list[str]:
    r = s["run"]
    out = [
        f"Scenario: {r['scenario']}; policy: {r['policy']}; enforcers: "
        f"{', '.join(r['hosts']) or 'none'}; seed {r['seed']}; text mode: {r['text_mode']}; "
        f"{date(r['start'])} to {date(r['end'])} ({r['days_simulated']} days).",
    ]
    inputs = s.get("inputs") or {}
    for f in inputs.get("files", []):
        if f.get("file"):
            out.append(f"{f['kind']} file {f['file']} (sha256 {str(f.get('sha256', ''))[:16]})")
    if inputs.get("versions"):
        out.append("Versions: " + ", ".join(f"{k} {ver}" for k, ver in inputs["versions"].items()))
    c = s.get("classifier") or {}
    if c.get("enabled"):
        val = c.get("validation", {})
        out.append(
            f"Classifier ({c.get('score_mode')} scores): ROC-AUC {val.get('roc_auc', 0):.3f}, "
            f"average precision {val.get('average_precision', 0):.3f} on "
            f"{number(val.get('n_validation'))} validation texts; precision in this run "
            f"{share((c.get('in_run') or {}).get('precision'))}."
        )
    elif c:
        out.append("Classifier: none (this policy has no AI prefilter).")
    return out


def _marks_from_events(
    events: Sequence[dict[str, Any]], first_notice: bool = True
) -> list[plots.Mark]:
    marks: list[plots.Mark] = []
    noticed: set[str] = set()
    for e in events:
        kind = str(e["event"])
        if kind == "notice" and first_notice and e["enforcer"] not in noticed:
            noticed.add(str(e["enforcer"]))
            marks.append(plots.Mark(f"first notice ({e['enforcer']})", float(e["hour"]) / 24, 0))
        elif kind in MARKED_EVENTS:
            style = 1 if kind == "strike" else 3
            marks.append(plots.Mark(MARKED_EVENTS[kind], float(e["hour"]) / 24, style))
    return marks


def _bands(curves: dict[str, Any]) -> list[plots.Band]:
    return [
        plots.Band(b["name"], b["start_hour"] / 24, (b["start_hour"] + b["hours"]) / 24)
        for b in curves.get("surges", [])
    ]


def _thresholds(within: Sequence[dict[str, Any]]) -> list[float]:
    return [float(w["threshold_hours"]) for w in within]


def run_report(folder: RunFolder, target: float = DEFAULT_TARGET) -> Report:
    s = folder.summary
    v = s["violating"]
    rep = Report(
        kind="run",
        title=f"{s['run']['policy']} on {s['run']['scenario']}",
        summary=run_summary_sentences(s, target),
        inputs=_inputs(s),
        target=target,
    )
    curves = s.get("curves")
    if curves:
        x, y = _cdf_xy(curves["latency_cdf"])
        rep.figures.append(
            Figure(
                "fig-latency",
                "How fast violating posts came down",
                "Share of violating posts removed within each time (log scale), among posts "
                "old enough; dashed vertical lines are the thresholds under test.",
                plots.latency_cdf(
                    [plots.Series(s["run"]["policy"], x, y)], _thresholds(v["within"])
                ),
            )
        )
        daily = curves["daily"]
        days = np.asarray(daily["day"], dtype=np.float64) + 0.5
        exposure = [plots.Series("harmful views", days, _fixed(daily["harmful_views"]))]
        backlog = [
            plots.Series(
                team,
                folder.backlog.loc[folder.backlog["team"] == team, "hour"].to_numpy() / 24,
                folder.backlog.loc[folder.backlog["team"] == team, "waiting"].to_numpy(),
            )
            for team in folder.teams
        ]
        rep.figures.append(
            Figure(
                "fig-time",
                "Harmful exposure and backlog over time",
                "Top: views of violating posts per day while they were up. Bottom: cases "
                "waiting for review, hour by hour. Hatched grey: surges. Vertical lines: "
                "first notice, strikes, emergency and suspension.",
                plots.over_time(
                    exposure,
                    backlog,
                    _bands(curves),
                    _marks_from_events(folder.timeline.to_dict("records")),
                    daily["date"],
                ),
            )
        )
    else:
        rep.notes.append(
            "This results folder predates latency curves in summary.json: re-run it for the "
            "latency and time figures."
        )
    if s["review"]:
        rep.figures.append(
            Figure(
                "fig-utilisation",
                "Reviewer utilisation",
                "Share of the reviewers' available hours spent reviewing, per team.",
                plots.bars(
                    [
                        plots.Point(team, float(r["utilisation"] or 0), 0)
                        for team, r in s["review"].items()
                    ],
                    "busy share of available hours",
                    "Reviewer utilisation per team",
                ),
            )
        )
    rep.tables.append(_run_thresholds_table(v["within"], target))
    rep.tables.append(
        Table(
            "tab-channels",
            "Violating posts: how they came down",
            ["channel", "posts"],
            [[ch, number(n)] for ch, n in v["removed_by"].items()]
            + [["never removed", number(v["never_removed"])]],
            [False, True],
        )
    )
    rep.tables.append(
        Table(
            "tab-review",
            "Review teams",
            ["team", "cases", "backlog peak", "peak at", "expired", "utilisation", "accuracy"],
            [
                [
                    team,
                    number(r["cases"]),
                    number(r["backlog_max"]),
                    date(r["backlog_max_at"]),
                    number(r["expired"]),
                    share(r["utilisation"]),
                    share(r["decision_accuracy"]),
                ]
                for team, r in s["review"].items()
            ],
            [False, True, True, False, True, True, True],
        )
    )
    tl = folder.timeline
    rep.tables.append(
        Table(
            "tab-timeline",
            "Enforcement timeline",
            ["when", "enforcer", "event", "posts", "detail"],
            [
                [
                    date(str(t["time"])),
                    str(t["enforcer"]),
                    str(t["event"]),
                    str(t["posts"]),
                    "" if _nan(t["detail"]) else str(t["detail"]),
                ]
                for t in tl.to_dict("records")
            ],
            [False, False, False, True, False],
            note="" if len(tl) else "No enforcement events.",
        )
    )
    return rep


def _run_thresholds_table(within: Sequence[dict[str, Any]], target: float) -> Table:
    return Table(
        "tab-thresholds",
        "Thresholds compliance",
        [
            "threshold",
            "eligible posts",
            "removed within",
            "breaches",
            "share",
            f"meets {share(target)}",
        ],
        [
            [
                threshold_label(w["threshold_hours"]),
                number(w["eligible"]),
                number(w["removed_within"]),
                number(w["breaches"]),
                share(w["share"]),
                "n/a" if _nan(w["share"]) else ("yes" if w["share"] >= target else "no"),
            ]
            for w in within
        ],
        [False, True, True, True, True, False],
        note="Among violating posts created at least that long before the run ended.",
    )


# --- comparisons and batches ----------------------------------------------

HEADLINE = (
    ("violating_posts", "violating posts", "number"),
    ("latency_p50_hours", "latency p50", "hours"),
    ("latency_p90_hours", "latency p90", "hours"),
    ("views_before_removal", "harmful exposure (views)", "number"),
    ("violating_never_removed", "never removed", "number"),
    ("wrongful_removals", "wrongful removals", "number"),
    ("suspended", "suspended (share of seeds)", "share"),
    ("suspended_after_days", "suspended after (days)", "number"),
)


def _unit(metric: str) -> str:
    if (
        metric.startswith("removed_within_")
        or metric.endswith("_utilisation")
        or metric == "suspended"
    ):
        return "share"
    if metric.endswith("_hours"):
        return "hours"
    return "number"


def metric_label(metric: str) -> str:
    for key, label, _ in HEADLINE:
        if key == metric:
            return label
    if metric.startswith("removed_within_"):
        return "removed within " + threshold_label(float(metric[len("removed_within_") : -1]))
    return metric.replace("_", " ")


@dataclass(frozen=True)
class Group:
    """One scenario x policy x host x sweep point, over its replications."""

    key: tuple[Any, ...]
    label: str
    labels: dict[str, Any]
    cell_ids: list[str]


class Experiment:
    """Lookups over an experiment folder's tables."""

    def __init__(self, folder: ExperimentFolder) -> None:
        self.folder = folder
        self.columns = ["scenario", "policy", "host", *folder.parameters]
        cells = folder.cells
        varying = [c for c in self.columns if c in cells and cells[c].nunique(dropna=False) > 1]
        # a compare varies only the policy; keep at least the policy in labels
        self.varying = varying or ["policy"]
        self.groups: list[Group] = []
        for key, frame in cells.groupby(self.columns, sort=False, dropna=False):
            labels = dict(zip(self.columns, key, strict=True))
            label = ", ".join(
                str(labels[c]) if c in ("scenario", "policy", "host") else f"{c}={labels[c]}"
                for c in self.varying
            )
            ok = frame[frame["status"] == "ok"]["cell_id"].astype(str).tolist()
            self.groups.append(Group(tuple(key), label, labels, ok))
        self.metrics = list(dict.fromkeys(folder.summary["metric"])) if len(folder.summary) else []

    def stat(self, group: Group, metric: str) -> dict[str, float]:
        s = self.folder.summary
        if "metric" not in s:  # no cell finished
            return {"n": 0, "n_never": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        mask = s["metric"] == metric
        for c in self.columns:
            mask &= s[c].astype(str) == str(group.labels[c])
        rows = s[mask]
        if not len(rows):
            return {"n": 0, "n_never": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        return {k: float(rows.iloc[0][k]) for k in ("n", "n_never", "mean", "ci_low", "ci_high")}

    def values(self, group: Group, metric: str) -> np.ndarray:
        t = self.folder.table
        if "metric" not in t:
            return np.empty(0)
        sel = t[(t["metric"] == metric) & t["cell_id"].astype(str).isin(group.cell_ids)]
        return sel["value"].to_numpy(dtype=np.float64)

    def show(self, group: Group, metric: str) -> str:
        st = self.stat(group, metric)
        n, never = int(st["n"]), int(st["n_never"])
        if n == 0:
            return "n/a"
        if never and never < n:
            return f"never in {never} of {n} seeds"
        return with_ci(st["mean"], st["ci_low"], st["ci_high"], _unit(metric))

    def summaries(self, group: Group) -> list[dict[str, Any]]:
        return [
            self.folder.run_summaries[c] for c in group.cell_ids if c in self.folder.run_summaries
        ]


def _threshold_metrics(metrics: Sequence[str]) -> list[tuple[str, float]]:
    out = [
        (m, float(m[len("removed_within_") : -1]))
        for m in metrics
        if m.startswith("removed_within_")
    ]
    return sorted(out, key=lambda x: x[1])


def experiment_summary_sentences(ex: Experiment, target: float) -> list[str]:
    out: list[str] = []
    seeds = int(ex.folder.cells["replication"].nunique()) if len(ex.folder.cells) else 0
    what = "policies" if ex.folder.kind == "compare" else "settings"
    out.append(
        f"{len(ex.groups)} {what} were each run on the same {seeds} seeds (the same post "
        "streams), so differences come from the rules; ranges are 95% intervals over seeds. "
        f"A threshold is met when at least {share(target)} of violating posts come down within it."
    )
    th = _threshold_metrics(ex.metrics)
    for g in ex.groups[: 3 * MAX_LINES]:
        met: list[str] = []
        missed: list[str] = []
        for m, h in th:
            st = ex.stat(g, m)
            if _nan(st["mean"]):
                continue
            (met if st["mean"] >= target else missed).append(threshold_label(h))
        susp = ex.values(g, "suspended")
        after = ex.values(g, "suspended_after_days")
        k = int(np.nansum(susp))
        if k:
            when = float(np.median(after[np.isfinite(after)]))
            start = _start(ex, g)
            on = f" (median {date((start + dt.timedelta(days=when)).isoformat())})" if start else ""
            takedown = f"taken down in {k} of {len(susp)} seeds, after {when:.1f} days{on}"
        else:
            takedown = f"never taken down ({len(susp)} seeds)"
        out.append(
            f"{g.label}: meets {', '.join(met) or 'no threshold'}"
            + (f"; misses {', '.join(missed)}" if missed else "")
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
                f"{_signed(exp['mean'], exp['ci_low'], exp['ci_high'])} views, wrongful removals "
                f"{_signed(wrong['mean'], wrong['ci_low'], wrong['ci_high'])}."
            )
    return out


def _signed(mean: float, lo: float, hi: float) -> str:
    if _nan(mean):
        return "n/a"

    def f(x: float) -> str:
        return ("+" if x > 0 else "") + number(float(round(x, 1)))

    if _nan(lo) or _nan(hi):
        return f(mean)
    return f"{f(mean)} ({f(lo)} to {f(hi)})"


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
    _experiment_figures(ex, shown, rep)
    _experiment_tables(ex, rep, target)
    rep.inputs = _experiment_inputs(ex)
    return rep


def _experiment_figures(ex: Experiment, shown: list[Group], rep: Report) -> None:
    with_curves = [(g, [s["curves"] for s in ex.summaries(g) if "curves" in s]) for g in shown]
    with_curves = [(g, c) for g, c in with_curves if c]
    th = [h for _, h in _threshold_metrics(ex.metrics)]
    if with_curves:
        series = []
        for g, cs in with_curves:
            rows = np.vstack([_cdf_xy(c["latency_cdf"])[1] for c in cs])
            mean, lo, hi = _mean_band(rows)
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
            rows = np.vstack([_pad(c["daily"]["harmful_views"], n_days) for c in cs])
            mean, lo, hi = _mean_band(rows)
            exposure.append(plots.Series(g.label, x, mean, lo, hi))
            teams = [k[: -len("_backlog")] for k in cs[0]["daily"] if k.endswith("_backlog")]
            for team in teams:
                rows = np.vstack([_pad(c["daily"].get(f"{team}_backlog", []), n_days) for c in cs])
                mean, lo, hi = _mean_band(rows)
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
        rep.figures.append(
            Figure(
                "fig-time",
                "Harmful exposure and backlog over time",
                "Top: views of violating posts per day while they were up. Bottom: cases "
                "waiting for review at the end of each day. Means over seeds with 95% bands. "
                "Hatched grey: surges. Vertical lines: median suspension day, where seeds were "
                "suspended.",
                plots.over_time(
                    exposure,
                    backlog[: 2 * MAX_LINES],
                    _bands(longest),
                    marks,
                    longest["daily"]["date"],
                ),
            )
        )
    points = []
    for g in ex.groups:
        sx, sy = ex.stat(g, "views_before_removal"), ex.stat(g, "wrongful_removals")
        if _nan(sx["mean"]) or _nan(sy["mean"]) or math.isinf(sx["mean"]):
            continue
        points.append(
            plots.Point(
                g.label,
                sx["mean"],
                sy["mean"],
                None if _nan(sx["ci_low"]) else (sx["ci_low"], sx["ci_high"]),
                None if _nan(sy["ci_low"]) else (sy["ci_low"], sy["ci_high"]),
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
                if not _nan(st["mean"]):
                    ci = None if _nan(st["ci_low"]) else (st["ci_low"], st["ci_high"])
                    util.append(
                        plots.Point(f"{g.label}: {m[: -len('_utilisation')]}", st["mean"], 0, ci)
                    )
    if util:
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
                plots.sweep(series, parameter, label, percent=_unit(metric) == "share"),
            )
        )


def _pad(values: Sequence[Any], n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    v = _fixed(values)[:n]
    out[: len(v)] = v
    return out


def _experiment_tables(ex: Experiment, rep: Report, target: float) -> None:
    th = _threshold_metrics(ex.metrics)
    rep.tables.append(
        Table(
            "tab-thresholds",
            "Thresholds compliance",
            ["setting", *(f"within {threshold_label(h)}" for _, h in th), f"meets {share(target)}"],
            [
                [
                    g.label,
                    *(ex.show(g, m) for m, _ in th),
                    ", ".join(
                        threshold_label(h)
                        for m, h in th
                        if not _nan(ex.stat(g, m)["mean"]) and ex.stat(g, m)["mean"] >= target
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
    metrics = [m for m, _, _ in HEADLINE if m in ex.metrics]
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
                    _signed(r["mean"], r["ci_low"], r["ci_high"]),
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
            vals.append(format_metric(float(x), m))
        rows.append(
            [
                str(r["cell_id"]),
                *(str(r[c]) for c in cols),
                str(r["status"]),
                *vals,
                "" if _nan(r.get("error")) else str(r["error"]),
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


def format_metric(x: float, metric: str) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "never"
    if metric == "suspended_after_days":
        return f"{x:.1f}"
    unit = _unit(metric)
    return share(x) if unit == "share" else hours(x) if unit == "hours" else number(x)


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
        out.extend(_inputs(first)[1:])
    return out
