"""Small helpers shared by the metric modules."""

from __future__ import annotations

import math

import numpy as np


def num(x: float) -> float | None:
    """JSON-friendly number: ``None`` for infinite or missing values."""
    if x is None or not math.isfinite(x):
        return None
    return float(round(x, 6))


def percentiles(values: np.ndarray, qs: tuple[int, ...] = (50, 90, 99)) -> dict[str, float | None]:
    if len(values) == 0:
        return {f"p{q}": None for q in qs}
    return {f"p{q}": num(float(np.percentile(values, q, method="inverted_cdf"))) for q in qs}
