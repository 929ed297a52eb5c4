"""Outcomes by policy area: the violating-post figures of a run, area by area.

Each area has its own legal clock (the scenario's ``content.areas``), so the
share of its posts removed in time is measured against that clock, beside the
run's global thresholds. The figures add up to the run's totals: every
violating post belongs to exactly one area.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.common import num, percentiles
from simulator.metrics.latency import latency, thresholds, within_row
from simulator.runlog import RunLog
from simulator.taxonomy import REMOVAL_CHANNELS, Taxonomy


def area_codes(cls: pd.Series, taxonomy: Taxonomy) -> np.ndarray:
    """The area index of each violating post (from its class column)."""
    codes = np.asarray(cls.cat.codes if hasattr(cls, "cat") else cls, dtype=np.int64)
    return taxonomy.area_of[codes]


def _within(lat: np.ndarray, created: np.ndarray, end: float, h: float) -> dict[str, Any]:
    row = within_row(lat, created, end, h)
    return {k: (num(v) if isinstance(v, float) else v) for k, v in row.items()}


def area_summary(log: RunLog) -> dict[str, Any] | None:
    """Per area: violating posts, removals, latency, the share removed within the
    area's own clock and the global thresholds, and views before removal.

    None for the default taxonomy (one area, violence: its figures are the
    totals, and the summary keeps the shape it always had)."""
    tax = log.scenario.taxonomy
    if tax.is_default:
        return None
    v = log.violating
    lat = latency(log)
    created = v["created_at"].to_numpy(dtype=np.float64)
    views = v["views"].to_numpy(dtype=np.float64)
    by = v["removed_by"].astype(str).to_numpy()
    area = area_codes(v["cls"], tax)
    out: dict[str, Any] = {}
    for i, a in enumerate(tax.areas):
        mine = area == i
        removed = np.isfinite(lat[mine])
        out[a.name] = {
            "severity": a.severity,
            "clock_hours": a.clock_hours,
            "classes": list(a.classes),
            "count": int(mine.sum()),
            "removed": int(removed.sum()),
            "never_removed": int((~removed).sum()),
            "removed_by": {
                ch: int((by[mine] == ch).sum()) for ch in REMOVAL_CHANNELS if ch != "none"
            },
            "latency_hours": percentiles(lat[mine]),
            "within_clock": _within(lat[mine], created[mine], log.end, a.clock_hours),
            "within": [_within(lat[mine], created[mine], log.end, h) for h in thresholds(log)],
            "views_before_removal": {
                "total": num(float(views[mine].sum())),
                "mean": num(float(views[mine].mean())) if mine.any() else None,
            },
        }
    return out
