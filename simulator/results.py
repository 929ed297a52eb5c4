"""What a run returns: a frozen result with a summary and tidy tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator import metrics
from simulator.format import threshold
from simulator.runlog import RunLog


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: headline figures and the tables behind them."""

    summary: dict[str, Any]
    within: pd.DataFrame
    daily: pd.DataFrame
    timeline: pd.DataFrame
    cases: dict[str, pd.DataFrame]
    backlog: pd.DataFrame
    violating: pd.DataFrame
    inputs: dict[str, Any] = field(default_factory=dict)
    within_weekly: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Removal within each threshold by week of creation (tidy)."""

    @classmethod
    def from_log(cls, log: RunLog, inputs: dict[str, Any] | None = None) -> RunResult:
        by_team = metrics.backlogs_of(log)  # the summary, the daily table and its own
        summary = run_summary(log, inputs, by_team)
        backlogs = [bl.assign(team=team) for team, bl in by_team.items()]
        return cls(
            summary=summary,
            within=metrics.within_thresholds(log),
            daily=metrics.daily(log, by_team),
            timeline=metrics.timeline(log),
            cases=dict(log.cases),
            backlog=pd.concat(backlogs, ignore_index=True)
            if backlogs
            else pd.DataFrame(columns=["hour", "waiting", "team"]),
            violating=log.violating,
            inputs=inputs or {},
            within_weekly=metrics.within_thresholds_by_week(log),
        )

    @property
    def suspended(self) -> bool:
        return bool(self.summary["enforcement"]["suspended"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: the summary plus the enforcement timeline."""
        out = dict(self.summary)
        out["timeline"] = self.timeline.to_dict("records")
        return out


def run_summary(
    log: RunLog,
    inputs: dict[str, Any] | None = None,
    backlogs: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """The summary of a run (:attr:`RunResult.summary`), with its ``inputs``
    (``backlogs``: each team's, if at hand)."""
    summary = metrics.summarize(log, backlogs)
    if inputs:
        summary["inputs"] = inputs
    return summary


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures a side-by-side table shows, flattened to one level."""
    v = summary["violating"]
    row: dict[str, Any] = {
        "violating posts": v["count"],
        "latency p50 (h)": v["latency_hours"]["p50"],
        "latency p90 (h)": v["latency_hours"]["p90"],
        "latency p99 (h)": v["latency_hours"]["p99"],
        "never removed": v["never_removed"],
        "views before removal": v["views_before_removal"]["total"],
    }
    for w in v["within"]:
        row[f"removed within {threshold(w['threshold_hours'])}"] = w["share"]
    for name, a in (summary.get("areas") or {}).items():  # the scenario's own areas
        row[f"{name}: removed within {threshold(a['clock_hours'])}"] = a["within_clock"]["share"]
        row[f"{name}: views before removal"] = a["views_before_removal"]["total"]
    row["wrongful removals"] = summary["legitimate"]["wrongly_removed"]
    for team, r in summary["review"].items():
        row[f"{team} backlog max"] = r["backlog_max"]
        row[f"{team} utilisation"] = r["utilisation"]
    e = summary["enforcement"]
    row["suspended at"] = e["suspended_at"] or "never"
    return row
