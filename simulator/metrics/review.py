"""Review teams: workload, backlog, waits, utilisation, decision accuracy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simulator.engine import RunLog
from simulator.metrics.common import num, percentiles
from simulator.queueing import STATUS_NAMES


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
        "decision_accuracy": num(float(correct[decided].mean())) if decided.any() else None,
        "wait_hours": percentiles(waits, (50, 90)),
        "backlog_max": int(bl["waiting"].max()) if len(bl) else 0,
        "backlog_max_at": log.scenario.local_time(float(bl["hour"].iloc[peak])).isoformat()
        if len(bl)
        else None,
        "backlog_end": int(bl["waiting"].iloc[-1]) if len(bl) else 0,
        "reviewer_hours_available": num(capacity),
        "reviewer_hours_used": num(busy),
        "utilisation": num(busy / capacity) if capacity > 0 else None,
    }
