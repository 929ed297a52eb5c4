"""The run report's table of outcomes by policy area (a scenario that declares areas)."""

from __future__ import annotations

from typing import Any

from simulator.format import hours, number, share
from simulator.report.context import Table


def areas_table(areas: dict[str, Any]) -> Table:
    """One row per area: its clock, posts, removals, latency and views before removal."""
    rows = [
        [
            name,
            str(a["severity"]),
            hours(a["clock_hours"]),
            number(a["count"]),
            number(a["removed"]),
            hours(a["latency_hours"]["p50"]),
            hours(a["latency_hours"]["p90"]),
            share(a["within_clock"]["share"]),
            number(a["views_before_removal"]["total"]),
        ]
        for name, a in areas.items()
    ]
    return Table(
        "tab-areas",
        "Outcomes by policy area",
        [
            "area",
            "severity",
            "clock",
            "violating posts",
            "removed",
            "latency p50",
            "p90",
            "removed within its clock",
            "views before removal",
        ],
        rows,
        [False, True, True, True, True, True, True, True, True],
        note="Each area's violating posts against its own legal clock; the rows add up to "
        "the run's totals.",
    )
