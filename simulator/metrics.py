"""Metrics: pure functions from a run's event log to a summary and tidy tables.

Conventions, stated once:

* Times are hours since the scenario start; dates in the summary are local.
* A violating post's *removal latency* is the time from creation until the
  platform's moderation removed it (prefilter, jury, staff, or its answer to
  a notice). A post never removed has infinite latency, so a percentile is
  ``null`` ("never") when more than that share of posts stayed up.
* "Removed within T" is measured on the posts *eligible* for it: those
  created at least T before the run ended, so the last hours of a run do
  not count as failures they had no time to avoid.
* Views count only within the simulated period (or until a suspension).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simulator.engine import RunLog
from simulator.queueing import STATUS_NAMES
from simulator.taxonomy import CLASSES, REMOVAL_CHANNELS, VIOLATING

DEFAULT_THRESHOLDS_HOURS = (1.0, 24.0, 168.0)
"""EU terrorist-content removal orders (1 h), NetzDG manifestly unlawful (24 h)
and NetzDG's general rule (7 days)."""


def _num(x: float) -> float | None:
    """JSON-friendly number: ``None`` for infinite or missing values."""
    if x is None or not math.isfinite(x):
        return None
    return float(round(x, 6))


def _percentiles(values: np.ndarray, qs: tuple[int, ...] = (50, 90, 99)) -> dict[str, float | None]:
    if len(values) == 0:
        return {f"p{q}": None for q in qs}
    return {f"p{q}": _num(float(np.percentile(values, q, method="inverted_cdf"))) for q in qs}


def thresholds(log: RunLog) -> list[float]:
    """Every latency threshold under test: defaults, each enforcer's list and window."""
    found = set(DEFAULT_THRESHOLDS_HOURS)
    for host in log.hosts:
        found.update(host.thresholds_hours)
        found.add(host.notices.remediation_hours)
    return sorted(found)


def latency(log: RunLog) -> np.ndarray:
    """Removal latency (hours) of every violating post; ``inf`` if never removed."""
    v = log.violating
    lat = (v["removed_at"] - v["created_at"]).to_numpy(dtype=np.float64)
    return np.where(np.isnan(lat), np.inf, lat)


def within_thresholds(log: RunLog) -> pd.DataFrame:
    """Share of eligible violating posts removed within each threshold."""
    lat = latency(log)
    created = log.violating["created_at"].to_numpy(dtype=np.float64)
    rows = []
    for h in thresholds(log):
        eligible = created <= log.end - h
        n = int(eligible.sum())
        ok = int((lat[eligible] <= h).sum())
        rows.append(
            {
                "threshold_hours": h,
                "eligible": n,
                "removed_within": ok,
                "breaches": n - ok,
                "share": ok / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def backlog(cases: pd.DataFrame, end: float) -> pd.DataFrame:
    """Cases waiting for a first vote at each whole hour (tidy: hour, waiting)."""
    grid = np.arange(0, math.floor(end) + 1, dtype=np.float64)
    if cases.empty:
        return pd.DataFrame({"hour": grid, "waiting": np.zeros(len(grid), dtype=np.int64)})
    arrived = np.sort(cases["arrived"].to_numpy())
    left_queue = cases["started"].fillna(cases["left"]).to_numpy()
    left_queue = np.sort(left_queue[~np.isnan(left_queue)])
    waiting = np.searchsorted(arrived, grid, side="right") - np.searchsorted(
        left_queue, grid, side="right"
    )
    return pd.DataFrame({"hour": grid, "waiting": waiting})


def team_summary(log: RunLog, team: str) -> dict[str, Any]:
    cases = log.cases[team]
    status = (
        cases["status_name"].astype(str).to_numpy() if not cases.empty else np.empty(0, dtype=str)
    )
    counts = {name: int((status == name).sum()) for name in STATUS_NAMES}
    removed, kept = status == "decided_remove", status == "decided_keep"
    decided = removed | kept
    correct = np.where(cases["violating"].to_numpy(dtype=bool), removed, kept)
    waits = (cases["started"] - cases["arrived"]).dropna().to_numpy()
    bl = backlog(cases, log.end)
    peak = int(bl["waiting"].idxmax()) if len(bl) else 0
    capacity = log.capacity_hours.get(team, 0.0)
    busy = log.busy_hours.get(team, 0.0)
    return {
        "cases": len(cases),
        **counts,
        "decision_accuracy": _num(float(correct[decided].mean())) if decided.any() else None,
        "wait_hours": _percentiles(waits, (50, 90)),
        "backlog_max": int(bl["waiting"].max()) if len(bl) else 0,
        "backlog_max_at": log.scenario.local_time(float(bl["hour"].iloc[peak])).isoformat()
        if len(bl)
        else None,
        "backlog_end": int(bl["waiting"].iloc[-1]) if len(bl) else 0,
        "reviewer_hours_available": _num(capacity),
        "reviewer_hours_used": _num(busy),
        "utilisation": _num(busy / capacity) if capacity > 0 else None,
    }


def summarize(log: RunLog) -> dict[str, Any]:
    """The headline figures of one run, as a JSON-serialisable dict."""
    sc = log.scenario
    v = log.violating
    lat = latency(log)
    removed = np.isfinite(lat)
    created = v["created_at"].to_numpy(dtype=np.float64)
    detected = v["case_at"].to_numpy(dtype=np.float64)
    removed_at = v["removed_at"].to_numpy(dtype=np.float64)
    by_channel = v["removed_by"].astype(str).value_counts()
    legit_total = {
        c: int(log.created_by_class[i]) for i, c in enumerate(CLASSES) if not VIOLATING[i]
    }
    wrong = log.wrongly_removed
    wrong_by_class = wrong["cls"].astype(str).value_counts() if not wrong.empty else pd.Series()
    wrong_by_channel = (
        wrong["removed_by"].astype(str).value_counts() if not wrong.empty else pd.Series()
    )
    n_legit = sum(legit_total.values())
    within = within_thresholds(log)
    suspended = math.isfinite(log.suspended_at)
    return {
        "run": {
            "scenario": sc.name,
            "policy": log.policy.name,
            "hosts": [h.name for h in log.hosts],
            "seed": log.seed,
            "start": sc.local_time(0).isoformat(),
            "end": sc.local_time(log.end).isoformat(),
            "days_simulated": _num(log.end / 24.0),
            "text_mode": sc.content.texts.mode,
        },
        "posts": {
            "created": int(log.created_by_class.sum()),
            "by_class": {c: int(log.created_by_class[i]) for i, c in enumerate(CLASSES)},
        },
        "violating": {
            "count": len(v),
            "removed": int(removed.sum()),
            "never_removed": int((~removed).sum()),
            "removed_by": {
                ch: int(by_channel.get(ch, 0)) for ch in REMOVAL_CHANNELS if ch != "none"
            },
            "latency_hours": _percentiles(lat),
            "latency_hours_of_removed": _percentiles(lat[removed]),
            "time_to_detect_hours": _percentiles(
                detected[np.isfinite(detected)] - created[np.isfinite(detected)], (50, 90)
            ),
            "time_from_detection_to_removal_hours": _percentiles(
                (removed_at - detected)[np.isfinite(detected) & removed], (50, 90)
            ),
            "within": [
                {k: (_num(val) if isinstance(val, float) else val) for k, val in row.items()}
                for row in within.to_dict("records")
            ],
            "views_before_removal": {
                "total": _num(float(v["views"].sum())),
                "mean": _num(float(v["views"].mean())) if len(v) else None,
                **_percentiles(v["views"].to_numpy(), (50, 90, 99)),
            },
        },
        "legitimate": {
            "count": n_legit,
            "wrongly_removed": len(wrong),
            "wrongly_removed_per_million": _num(1e6 * len(wrong) / n_legit) if n_legit else None,
            "by_class": {
                c: {"count": legit_total[c], "wrongly_removed": int(wrong_by_class.get(c, 0))}
                for c in legit_total
            },
            "wrongly_removed_by": {
                ch: int(wrong_by_channel.get(ch, 0)) for ch in REMOVAL_CHANNELS if ch != "none"
            },
        },
        "review": {team: team_summary(log, team) for team in log.cases},
        "enforcement": {
            "suspended": suspended,
            "suspended_at": sc.local_time(log.suspended_at).isoformat() if suspended else None,
            "suspended_by": log.suspended_by,
            "legitimate_posts_up_at_suspension": log.legit_live_at_suspension if suspended else 0,
            "expected_posts_not_made": _num(log.expected_posts_lost),
            "enforcers": [
                {
                    "name": h.name,
                    "notices": sum(1 for n in log.notices if n.enforcer == h.name),
                    "posts_noticed": int(
                        sum(len(n.post_ids) for n in log.notices if n.enforcer == h.name)
                    ),
                    "first_notice": next(
                        (
                            sc.local_time(n.time).isoformat()
                            for n in log.notices
                            if n.enforcer == h.name
                        ),
                        None,
                    ),
                    "strikes": sum(
                        1 for e in log.events if e.enforcer == h.name and e.kind == "strike"
                    ),
                }
                for h in log.hosts
            ],
        },
    }


def timeline(log: RunLog) -> pd.DataFrame:
    """Enforcement events with local dates."""
    rows = [
        {
            "time": log.scenario.local_time(e.time).isoformat(),
            "hour": e.time,
            "enforcer": e.enforcer,
            "event": e.kind,
            "posts": e.posts,
            "detail": e.detail,
        }
        for e in log.events
        if e.kind != "audit" or e.posts > 0
    ]
    return pd.DataFrame(rows, columns=["time", "hour", "enforcer", "event", "posts", "detail"])


def daily(log: RunLog) -> pd.DataFrame:
    """Per simulated day: posts, violating posts, removals by channel, backlog at day end."""
    days = math.ceil(log.end / 24.0)
    hours = np.arange(len(log.created_by_hour))
    day_of_hour = hours // 24
    out = pd.DataFrame({"day": np.arange(days)})
    out["date"] = [log.scenario.local_time(24.0 * d).date().isoformat() for d in out["day"]]
    out["posts"] = np.bincount(day_of_hour, weights=log.created_by_hour, minlength=days)[:days]
    out["violating_posts"] = np.bincount(
        day_of_hour, weights=log.violating_by_hour, minlength=days
    )[:days]
    v = log.violating
    rem = v.dropna(subset=["removed_at"])
    rem_day = (rem["removed_at"] // 24).astype(int)
    for ch in REMOVAL_CHANNELS[1:]:
        sel = rem_day[rem["removed_by"].astype(str) == ch]
        out[f"violating_removed_{ch}"] = np.bincount(sel, minlength=days)[:days]
    for team, cases in log.cases.items():
        bl = backlog(cases, log.end)
        at_day_end = np.minimum((out["day"].to_numpy() + 1) * 24, len(bl) - 1)
        out[f"{team}_backlog"] = bl["waiting"].to_numpy()[at_day_end]
    return out
