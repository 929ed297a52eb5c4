"""Removal latency of violating posts and compliance with time thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.engine import RunLog

DEFAULT_THRESHOLDS_HOURS = (1.0, 24.0, 168.0)
"""EU terrorist-content removal orders (1 h), NetzDG manifestly unlawful (24 h)
and NetzDG's general rule (7 days)."""


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
