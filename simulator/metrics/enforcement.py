"""Enforcers: notices, strikes, suspension, and what a takedown silences."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from simulator.engine import RunLog
from simulator.metrics.common import num


def enforcement_summary(log: RunLog) -> dict[str, Any]:
    sc = log.scenario
    suspended = math.isfinite(log.suspended_at)
    return {
        "suspended": suspended,
        "suspended_at": sc.local_time(log.suspended_at).isoformat() if suspended else None,
        "suspended_by": log.suspended_by,
        "legitimate_posts_up_at_suspension": log.legit_live_at_suspension if suspended else 0,
        "expected_posts_not_made": num(log.expected_posts_lost),
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
