"""Removal latency of violating posts and compliance with time thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.runlog import RunLog

DEFAULT_THRESHOLDS_HOURS = (1.0, 24.0, 168.0)
"""EU terrorist-content removal orders (1 h), NetzDG manifestly unlawful (24 h)
and NetzDG's general rule (7 days)."""


def thresholds(log: RunLog) -> list[float]:
    """Every latency threshold under test: defaults, each enforcer's list and window."""
    found = set(DEFAULT_THRESHOLDS_HOURS)
    for host in log.hosts:
        found.update(host.thresholds_hours)
        found.add(host.notices.remediation_hours)
        known = host.strikes.signals.known_posts_up
        if known is not None:
            found.add(known.after_hours)
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
    rows = [within_row(lat, created, log.end, h) for h in thresholds(log)]
    return pd.DataFrame(rows, columns=_COLUMNS)


_COLUMNS = ["threshold_hours", "eligible", "removed_within", "breaches", "share"]


def within_row(lat: np.ndarray, created: np.ndarray, end: float, h: float) -> dict[str, float]:
    eligible = created <= end - h
    n = int(eligible.sum())
    ok = int((lat[eligible] <= h).sum())
    return {
        "threshold_hours": h,
        "eligible": n,
        "removed_within": ok,
        "breaches": n - ok,
        "share": ok / n if n else float("nan"),
    }


def within_thresholds_by_week(log: RunLog) -> pd.DataFrame:
    """The same, by week of creation (a post counts in the week it was made).

    Tidy: one row per week and threshold, with the week's first local date.
    A week's last posts may not be eligible for the longer thresholds yet
    when the run ends; ``eligible`` says how many were.
    """
    lat = latency(log)
    created = log.violating["created_at"].to_numpy(dtype=np.float64)
    week = (created // 168.0).astype(np.int64)
    weeks = int(np.ceil(log.end / 168.0))
    rows = []
    for w in range(weeks):
        mine = week == w
        start = log.scenario.local_time(168.0 * w).date().isoformat()
        for h in thresholds(log):
            row = within_row(lat[mine], created[mine], log.end, h)
            rows.append({"week": w, "week_of": start, **row})
    return pd.DataFrame(rows, columns=["week", "week_of", *_COLUMNS])
