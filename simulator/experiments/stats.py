"""Uncertainty over replications: means with t confidence intervals, and
paired differences between policies run on the same seeds.

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
from typing import Any

import numpy as np
import pandas as pd

LEVEL = 0.95


def mean_ci(values: Sequence[float] | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Mean, standard deviation and Student-t interval for the mean."""
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
    return out | {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


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
        rows.append(dict(zip(keys, key, strict=True)) | mean_ci(group["value"].to_numpy()))
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
