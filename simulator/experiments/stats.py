"""Uncertainty over replications: means with confidence intervals that respect
each metric's range, and paired differences between policies run on the same
seeds.

A mean's interval is a Student-t interval on the scale its metric lives on
(:func:`interval_scale`): counts, views, times and costs are non-negative, so
their interval is built on the log scale (``mean / f`` to ``mean * f`` with
``f = exp(t * se / mean)``, the delta method) and never goes below zero; shares
live in [0, 1], so theirs is built on the logit scale. With few seeds and a
skewed metric the plain t-interval crossed zero ("4 (-5 to 13) wrongful
removals"); the log-scale one covers the mean as often or more (checked in the
tests on gamma, Poisson and log-normal draws). Paired differences can be of
either sign, so theirs stay on the linear scale.

Values follow the metric conventions of :func:`~simulator.experiments.design.headline_metrics`:
``inf`` is "never" and ``nan`` is undefined. Undefined values are left out
(``n`` counts the rest). If any replication says "never", the mean is ``inf``
and the interval undefined: an average over "never" has no finite value.
A paired difference is defined only where both runs of a pair are finite;
``pairs`` says how many were.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from simulator.format import metric_unit

LEVEL = 0.95

Scale = Literal["linear", "log", "logit"]

SCALE_WORDS = (
    "95% intervals over seeds: Student-t on the log scale for counts, views and times, on "
    "the logit scale for shares, so that they stay within what the metric can be"
)
"""How a report says which intervals it shows."""


def interval_scale(metric: str) -> Scale:
    """The scale a headline metric's interval is built on: ``logit`` for a share,
    ``log`` for every other headline metric (all are non-negative)."""
    return "logit" if metric_unit(metric) == "share" else "log"


def mean_ci(
    values: Sequence[float] | np.ndarray, level: float = LEVEL, scale: Scale = "linear"
) -> dict[str, float]:
    """Mean, standard deviation and Student-t interval for the mean, on ``scale``
    (values outside the scale's range fall back to the linear scale)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    never = int(np.isinf(x).sum())
    n = len(x)
    out = {"n": float(n), "n_never": float(never)}
    if n == 0:
        return out | {"mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    if never:
        return out | {"mean": math.inf, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if n == 1:
        return out | {"mean": mean, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    std = float(x.std(ddof=1))
    half = float(t_half_width(std, n, level))
    low, high = _on_scale(mean, half, x, scale)
    return out | {"mean": mean, "std": std, "ci_low": low, "ci_high": high}


def _on_scale(mean: float, half: float, x: np.ndarray, scale: Scale) -> tuple[float, float]:
    """The interval ``mean ± half`` carried to ``scale`` by the delta method."""
    if half == 0.0:
        return mean, mean
    if scale == "log" and mean > 0 and (x >= 0).all():
        f = math.exp(min(half / mean, 700.0))
        return mean / f, mean * f
    if scale == "logit" and 0 < mean < 1 and ((x >= 0) & (x <= 1)).all():
        centre = float(logit(mean))
        width = half / (mean * (1 - mean))
        return float(expit(centre - width)), float(expit(centre + width))
    return mean - half, mean + half


def t_half_width(std: Any, n: Any, level: float = LEVEL) -> Any:
    """Half-width of the Student-t interval for a mean of ``n`` values whose
    sample standard deviation is ``std`` (scalars or arrays, element-wise)."""
    from scipy import stats as sps  # here, not at import: the CLI starts without scipy.stats

    return sps.t.ppf(0.5 + level / 2, n - 1) * std / np.sqrt(n)


def mean_band(rows: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise mean and Student-t interval over ``rows`` (replications),
    as :func:`mean_ci` per column but with every non-finite value left out: a
    point of a curve that no replication reaches is NaN, and so is its band
    where fewer than two replications reach it."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        finite = np.isfinite(rows)
        n = np.sum(finite, axis=0)
        mean = np.nanmean(np.where(finite, rows, np.nan), axis=0)
        std = np.nanstd(np.where(finite, rows, np.nan), axis=0, ddof=1)
        half = np.where(n > 1, t_half_width(std, np.maximum(n, 2), level), np.nan)
    return mean, mean - half, mean + half


def summarize(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by`` and metric: n, n_never, mean, std and the 95% interval.

    ``table`` is tidy (one row per cell and metric, a ``value`` column).
    Groups keep the order of first appearance.
    """
    keys = [*by, "metric"]
    rows: list[dict[str, Any]] = []
    if table.empty:
        return pd.DataFrame(columns=[*keys, "n", "n_never", "mean", "std", "ci_low", "ci_high"])
    for key, group in table.groupby(keys, sort=False, dropna=False):
        labels = dict(zip(keys, key, strict=True))
        scale = interval_scale(str(labels["metric"]))
        rows.append(labels | mean_ci(group["value"].to_numpy(), scale=scale))
    out = pd.DataFrame(rows)
    return out.astype({"n": "int64", "n_never": "int64"})


def paired_differences(
    table: pd.DataFrame, by: list[str], column: str, baseline: Any, level: float = LEVEL
) -> pd.DataFrame:
    """``value - baseline value`` paired by replication, per group and metric.

    Rows of ``table`` whose ``column`` equals ``baseline`` are the reference;
    every other value of ``column`` is compared with it on the same
    replication (same seed, hence the same post stream), which removes the
    stream's variation from the difference.
    """
    keys = [k for k in by if k != column]
    cols = [*keys, column, "metric", "pairs", "mean", "ci_low", "ci_high"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    base = table[table[column] == baseline]
    index = [*keys, "metric", "replication"]
    base_values = base.set_index(index)["value"]
    rows: list[dict[str, Any]] = []
    others = table[table[column] != baseline]
    for key, group in others.groupby([*keys, column, "metric"], sort=False, dropna=False):
        labels = dict(zip([*keys, column, "metric"], key, strict=True))
        mine = group.set_index(index)["value"]
        ref = base_values.reindex(mine.index)
        d = (mine - ref).to_numpy(dtype=np.float64)
        both = np.isfinite(mine.to_numpy(dtype=np.float64)) & np.isfinite(
            ref.to_numpy(dtype=np.float64)
        )
        s = mean_ci(d[both], level)
        rows.append(
            labels
            | {
                "pairs": int(s["n"]),
                "mean": s["mean"],
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
            }
        )
    return pd.DataFrame(rows, columns=cols)
