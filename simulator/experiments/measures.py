"""What a calibration target measures in one run, computed where the run ran.

A worker turns its :class:`~simulator.results.RunResult` into one number per
target (:func:`measure`), so only floats travel back and are kept in the
results folder. Times are hours since the Unix epoch, so that they compare
with an observed date-time in any time zone. An event that did not happen in
the run is ``nan`` here; :data:`RUN_END` (the run's last moment, in the same
hours) lets the calibration say what that costs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from simulator.config.calibration import Target
from simulator.experiments.design import Cell
from simulator.experiments.feasibility import run_metrics
from simulator.folders.experiment import STATUS_FAILED, STATUS_OK, CellResult
from simulator.results import RunResult

RUN_END = "__run_end__"
"""The key of the run's end (hours since the epoch) among a run's measures."""

_EVENT_FIELD = {
    "first_notice": "first_notice",
    "press": "press_at",
    "emergency": "emergency_at",
    "removal_notice": "removal_notice_at",
    "removed": "removed_at",
    "reinstated": "reinstated_at",
}


def epoch_hours(at: dt.datetime) -> float:
    return at.timestamp() / 3600.0


def _summary_value(summary: dict[str, Any], path: str) -> float:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return math.nan  # a team or enforcer this run does not have
        node = node[part]
    return math.nan if node is None or isinstance(node, bool | str) else float(node)


def _enforcer(summary: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    return next((e for e in summary["enforcement"]["enforcers"] if e["name"] == name), None)


def _hour(result: RunResult, at: dt.datetime) -> float:
    start = dt.datetime.fromisoformat(result.summary["run"]["start"])
    return (at - start) / dt.timedelta(hours=1)


def measure_one(result: RunResult, target: Target) -> float:
    """The target's measure in this run (``nan``: it did not happen, or is undefined)."""
    summary = result.summary
    if target.metric is not None:
        if "." in target.metric:
            return _summary_value(summary, target.metric)
        return run_metrics(summary).get(target.metric, math.nan)
    if target.event is not None:
        enforcer = _enforcer(summary, target.enforcer)
        if enforcer is None:
            return math.nan
        if target.event == "final_notice":
            # The rule that scheduled the removal that stood fired then.
            at = (enforcer.get("decided_by") or {}).get("at")
        else:
            at = enforcer.get(_EVENT_FIELD[target.event])
        return math.nan if at is None else epoch_hours(dt.datetime.fromisoformat(at))
    if target.backlog_at is not None:
        hour = _hour(result, target.backlog_at)
        b = result.backlog
        rows = b[(b["team"] == target.review_team) & (b["hour"] <= hour)]
        # Before the run the queue is empty; after its end, as the run left it.
        return float(rows["waiting"].iloc[-1]) if len(rows) else 0.0
    assert target.noticed_by is not None
    hour = _hour(result, target.noticed_by)
    t = result.timeline
    noticed = t[(t["enforcer"] == target.enforcer) & (t["event"] == "notice") & (t["hour"] <= hour)]
    return float(noticed["posts"].sum())


def measure(result: RunResult, targets: Sequence[Target]) -> dict[str, float]:
    """Every target's measure in this run, by target name, and the run's end."""
    out = {t.name: measure_one(result, t) for t in targets}
    out[RUN_END] = epoch_hours(dt.datetime.fromisoformat(result.summary["run"]["end"]))
    return out


def run_measured(cell: Cell, targets: Sequence[Target]) -> CellResult:
    """Run one cell and keep only its targets' measures (a failing run is its error)."""
    from simulator.api import simulate  # workers pay for the engine only when they run

    try:
        result = simulate(cell.scenario, cell.policy, cell.hosts, cell.seed)
        values = measure(result, targets)
    except Exception as exc:
        return CellResult(cell.cell_id, STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
    return CellResult(cell.cell_id, STATUS_OK, metrics=values)


def measured_cell(cell: Cell, digest: str) -> Cell:
    """The cell under an id that also names what is measured in it, so that a
    run kept for other targets is never taken for this one."""
    return replace(cell, cell_id=f"{cell.cell_id}-{digest}")
