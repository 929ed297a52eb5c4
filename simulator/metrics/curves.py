"""Curves for reports: a run's removal-latency CDF and its day-by-day series.

They go into the run's summary (``summary["curves"]``), so a comparison or
batch, which keeps only each run's summary, can still draw latency CDFs and
harmful exposure and backlog over time, averaged over seeds. Every curve is
on a fixed grid (the same latency hours for every run, one point per
simulated day), so curves of different seeds and policies can be averaged
point by point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.common import num
from simulator.metrics.latency import latency
from simulator.metrics.review import backlog
from simulator.runlog import RunLog
from simulator.stream.synthetic import LN2, views_at

LATENCY_GRID_HOURS: tuple[float, ...] = tuple(
    float(round(h, 6)) for h in np.geomspace(1.0 / 60.0, 90.0 * 24.0, 41)
)
"""One minute to 90 days, about eight points per factor of ten."""


def latency_cdf(log: RunLog, grid: tuple[float, ...] = LATENCY_GRID_HOURS) -> dict[str, Any]:
    """Share of violating posts removed within each grid time.

    Measured like "removed within T" (see :mod:`simulator.metrics`): among
    the posts created at least T before the run ended, so the curve passes
    through the thresholds table's shares. ``None`` where no post is eligible.
    """
    lat = latency(log)
    created = log.violating["created_at"].to_numpy(dtype=np.float64)
    shares: list[float | None] = []
    counts: list[int] = []
    for h in grid:
        eligible = created <= log.end - h
        n = int(eligible.sum())
        counts.append(n)
        shares.append(num(float((lat[eligible] <= h).sum()) / n) if n else None)
    return {"hours": list(grid), "share": shares, "eligible": counts, "posts": len(lat)}


def harmful_views_by_day(log: RunLog) -> np.ndarray:
    """Views violating posts received on each simulated day while still up.

    Views accrue in closed form (:func:`~simulator.stream.synthetic.views_at`),
    so a day's views are the difference of the cumulative views at its two
    ends; a post stops accruing when removed, at a suspension or at the end.
    The loop is over days; each step is vectorised over posts.
    """
    days = math.ceil(log.end / 24.0)
    v = log.violating
    if len(v) == 0 or days == 0:
        return np.zeros(days)
    created = v["created_at"].to_numpy(dtype=np.float64)
    removed = v["removed_at"].to_numpy(dtype=np.float64)
    stop = np.minimum(np.where(np.isnan(removed), np.inf, removed), log.end)
    reach = v["reach"].to_numpy(dtype=np.float64)
    decay = np.full(len(v), LN2 / log.scenario.reach.half_life_hours)
    cumulative = np.array(
        [
            float(views_at(reach, decay, np.minimum(24.0 * d, stop) - created).sum())
            for d in range(days + 1)
        ]
    )
    return np.diff(cumulative)


def curves(log: RunLog, backlogs: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The curves a report draws: latency CDF, daily series, surges, events
    (``backlogs``: each team's :func:`~simulator.metrics.review.backlog`, if at hand)."""
    sc = log.scenario
    days = math.ceil(log.end / 24.0)
    daily: dict[str, list[Any]] = {
        "day": list(range(days)),
        "date": [sc.local_time(24.0 * d).date().isoformat() for d in range(days)],
        "harmful_views": [num(float(x)) for x in harmful_views_by_day(log)],
    }
    for team, cases in log.cases.items():
        bl = (backlogs[team] if backlogs else backlog(cases, log.end))["waiting"].to_numpy()
        at_day_end = np.minimum((np.arange(days) + 1) * 24, len(bl) - 1)
        daily[f"{team}_backlog"] = [int(x) for x in bl[at_day_end]]
    return {
        "latency_cdf": latency_cdf(log),
        "daily": daily,
        "surges": [
            {"name": s.name, "start_hour": num(sc.hour_of(s.start)), "hours": s.hours}
            for s in sc.surges
        ],
        "events": [
            {"hour": num(e.time), "enforcer": e.enforcer, "event": e.kind}
            for e in log.events
            if e.kind in ("notice", "strike", "emergency", "suspension_notice", "suspension")
        ],
    }
