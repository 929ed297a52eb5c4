"""The curves a results folder keeps (``summary.json``'s ``curves``) as
arrays the figures draw: a latency CDF, daily series padded to a common
length, the surges as shaded bands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.report import plots


def fixed(values: Sequence[Any]) -> np.ndarray:
    """Floats, with ``None`` (JSON null) as NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def padded(values: Sequence[Any], n: int) -> np.ndarray:
    """The first ``n`` values, NaN after the end of a shorter series."""
    out = np.full(n, np.nan)
    v = fixed(values)[:n]
    out[: len(v)] = v
    return out


def cdf_xy(cdf: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The latency CDF where at least half the violating posts are old enough."""
    x = np.asarray(cdf["hours"], dtype=np.float64)
    y = fixed(cdf["share"])
    eligible = np.asarray(cdf.get("eligible", [cdf.get("posts", 0)] * len(x)), dtype=np.float64)
    y[eligible < 0.5 * max(float(cdf.get("posts", 0)), 1.0)] = np.nan
    return x, y


def surge_bands(curves: dict[str, Any]) -> list[plots.Band]:
    """The surges, in days from the start."""
    return [
        plots.Band(b["name"], b["start_hour"] / 24, (b["start_hour"] + b["hours"]) / 24)
        for b in curves.get("surges", [])
    ]
