"""Review teams: workload, backlog, waits, utilisation, decision accuracy.

Also the jury's population (pool, sessions, how votes spread over jurors)
and appeals (how many, how many restored, how long restored posts were down).
A case's *outcome* is its status; its *kind* says why it was opened (a report
or flag, an escalation from the jury, an appeal).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.common import num, percentiles
from simulator.queueing import (
    DECIDED_KEEP,
    DECIDED_REMOVE,
    KIND_APPEAL,
    KIND_ESCALATION,
    KIND_NAMES,
    PENDING,
    STATUS_NAMES,
)
from simulator.runlog import RunLog
from simulator.taxonomy import Taxonomy


def backlog(cases: pd.DataFrame, end: float) -> pd.DataFrame:
    """The queue over time, at each whole hour (tidy).

    ``waiting``: cases waiting for a first vote at that instant; ``in_system``:
    cases arrived and not yet left (waiting or being voted on); ``arrived`` and
    ``started``: cases that arrived, and whose first vote started, in the hour
    before; ``mean_wait_hours``: mean wait of the cases started in that hour
    (NaN if none).
    """
    grid = np.arange(0, math.floor(end) + 1, dtype=np.float64)
    if cases.empty:
        zeros = np.zeros(len(grid), dtype=np.int64)
        return pd.DataFrame(
            {"hour": grid, "waiting": zeros, "in_system": zeros, "arrived": zeros,
             "started": zeros, "mean_wait_hours": np.full(len(grid), np.nan)}
        )  # fmt: skip
    arrived = np.sort(cases["arrived"].to_numpy())
    started = cases["started"].to_numpy()
    left = cases["left"].to_numpy()
    left_queue = np.where(np.isnan(started), left, started)
    left_queue = np.sort(left_queue[~np.isnan(left_queue)])
    left_sorted = np.sort(left[~np.isnan(left)])
    n_arrived = np.searchsorted(arrived, grid, side="right")
    waiting = n_arrived - np.searchsorted(left_queue, grid, side="right")
    in_system = n_arrived - np.searchsorted(left_sorted, grid, side="right")
    # per hour: cases started in (h - 1, h], and their mean wait
    ok = ~np.isnan(started)
    bins = np.clip(np.ceil(started[ok]).astype(np.int64), 0, len(grid) - 1)
    n_started = np.bincount(bins, minlength=len(grid))
    wait_sum = np.bincount(bins, weights=(started - cases["arrived"].to_numpy())[ok],
                           minlength=len(grid))  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_wait = np.where(n_started > 0, wait_sum / np.maximum(n_started, 1), np.nan)
    return pd.DataFrame(
        {"hour": grid, "waiting": waiting, "in_system": in_system,
         "arrived": np.diff(n_arrived, prepend=0), "started": n_started,
         "mean_wait_hours": mean_wait}
    )  # fmt: skip


def team_summary(log: RunLog, team: str, bl: pd.DataFrame | None = None) -> dict[str, Any]:
    """One review team's figures (``bl``: its :func:`backlog`, if already at hand)."""
    cases = log.cases[team]
    # Codes, not names: a run's case log can hold millions of rows.
    status = cases["status"].to_numpy()
    counts = {name: int((status == code).sum()) for code, name in enumerate(STATUS_NAMES)}
    removed, kept = status == DECIDED_REMOVE, status == DECIDED_KEEP
    decided = removed | kept
    correct = np.where(cases["violating"].to_numpy(dtype=bool), removed, kept)
    waits = (cases["started"] - cases["arrived"]).dropna().to_numpy()
    if bl is None:
        bl = backlog(cases, log.end)
    peak = int(bl["waiting"].idxmax()) if len(bl) else 0
    capacity = log.capacity_hours.get(team, 0.0)
    busy = log.busy_hours.get(team, 0.0)
    kind = cases["kind"].to_numpy()
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
        "wait_hours_mean": num(float(waits.mean())) if len(waits) else None,
        "by_kind": {
            k: {
                name: int(((kind == i) & (status == code)).sum())
                for code, name in enumerate(STATUS_NAMES)
            }
            for i, k in enumerate(KIND_NAMES)
            if (kind == i).any()
        },
        "decisions_by_class": decisions_by_class(cases, log.scenario.taxonomy),
    }


def decisions_by_class(cases: pd.DataFrame, taxonomy: Taxonomy) -> dict[str, dict[str, Any]]:
    """Decided cases per content class: removed, kept, and the share decided correctly
    (remove for violating posts, keep for legitimate ones) - accuracy against ground truth."""
    out: dict[str, dict[str, Any]] = {}
    if cases.empty:
        return out
    status = cases["status"].to_numpy()
    cls = cases["cls"].to_numpy()
    violating = cases["violating"].to_numpy(dtype=bool)
    for code, name in enumerate(taxonomy.classes):
        mine = cls == code
        removed = int((mine & (status == DECIDED_REMOVE)).sum())
        kept = int((mine & (status == DECIDED_KEEP)).sum())
        if removed + kept == 0:
            continue
        correct = removed if violating[mine][0] else kept
        out[name] = {
            "removed": removed,
            "kept": kept,
            "correct_share": num(correct / (removed + kept)),
        }
    return out


def juror_summary(log: RunLog) -> dict[str, Any] | None:
    """The jury as a population: pool over the weeks, sessions, votes per juror.

    ``None`` when the jury is a team of interchangeable reviewers.
    """
    j = log.jurors
    if not j:
        return None
    pool = j["pool_by_week"]
    votes = np.sort(j["votes_by_juror"])[::-1]
    active = votes[votes > 0]
    top = max(1, len(active) // 10)
    return {
        "pool_start": int(pool[0]),
        "pool_end": int(pool[-1]),
        "pool_by_week": [int(x) for x in pool],
        "joined": int(j["joined_by_week"].sum()),
        "left": int(j["left_by_week"].sum()),
        "expected_on_duty_mean": num(float(j["expected_on_duty"].mean())),
        "sessions": int(j["sessions"][0]),
        "jurors_who_voted": len(active),
        "votes_per_active_juror": percentiles(active.astype(float), (50, 90, 99)),
        "share_of_votes_by_top_tenth": num(float(active[:top].sum() / active.sum()))
        if len(active)
        else None,
    }


def appeal_summary(log: RunLog) -> dict[str, Any]:
    """Appeals against removals, over every queue that heard them.

    ``restored`` posts had their removal reversed; ``down_hours`` is how long
    they were down before that (wrongly removed legitimate posts and, when an
    appeal went wrong, violating ones).
    """
    statuses, violating = [np.empty(0, np.int8)], [np.empty(0, bool)]
    for cases in log.cases.values():
        mine = cases["kind"].to_numpy() == KIND_APPEAL
        statuses.append(cases["status"].to_numpy()[mine])
        violating.append(cases["violating"].to_numpy(dtype=bool)[mine])
    status, viol = np.concatenate(statuses), np.concatenate(violating)
    restored = status == DECIDED_KEEP
    # The restored posts only (a few), violating ones first, as the tables hold them.
    back = [p[p["restored_at"].notna()] for p in (log.violating, log.wrongly_removed)]
    down = np.concatenate(
        [(b["restored_at"] - b["removed_at"]).to_numpy(dtype=float) for b in back]
    )
    back_violating = np.concatenate([b["violating"].to_numpy(dtype=bool) for b in back])
    escalated = sum(
        int((c["kind"].to_numpy() == KIND_ESCALATION).sum()) for c in log.cases.values()
    )
    return {
        "appealed": len(status),
        "appealed_legitimate": int((~viol).sum()),
        "appealed_violating": int(viol.sum()),
        "decided": int(((status == DECIDED_REMOVE) | (status == DECIDED_KEEP)).sum()),
        "restored": int(restored.sum()),
        "restored_legitimate": int((restored & ~viol).sum()),
        "restored_violating": int((restored & viol).sum()),
        "pending": int((status == PENDING).sum()),
        "down_hours_of_restored": percentiles(down, (50, 90)),
        "down_hours_of_restored_legitimate_total": num(float(down[~back_violating].sum())),
        "escalated_to_staff": escalated,
    }
