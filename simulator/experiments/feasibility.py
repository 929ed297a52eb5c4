"""Whether a candidate meets its constraints: a run's metrics, and one-sided
intervals over seeds that say a constraint holds, fails or is undecided.

A 0/1 metric (``suspended``) gets an exact Clopper-Pearson bound, any other a
Student-t bound on the mean. A constraint *holds* only if its whole
one-sided interval lies on the right side of the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from simulator.experiments.design import headline_metrics

HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"


def run_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """A run's headline metrics (as batches report them) plus its cost."""
    out = headline_metrics(dict(summary))
    cost = summary.get("cost") or {}

    def value(x: Any) -> float:
        return math.nan if x is None else float(x)

    out["cost_total"] = value(cost.get("total"))
    out["cost_per_day"] = value(cost.get("per_day"))
    out["cost_per_1000_posts"] = value(cost.get("per_1000_posts"))
    for key in ("staff_hours_paid", "staff_hours_used", "juror_hours_on_duty", "juror_hours_used"):
        out[key] = value(cost.get(key))
    return out


def one_sided(values: Sequence[float], op: str, confidence: float) -> dict[str, float]:
    """The estimate and the one-sided bound that decides ``mean op bound``.

    For ``<=`` the bound is an upper confidence bound, for ``>=`` a lower one;
    ``other`` is the opposite bound (it decides that the constraint *fails*).
    0/1 values get exact Clopper-Pearson bounds (a share of runs, such as the
    share suspended); others a Student-t bound on the mean.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return {"n": 0.0, "estimate": math.nan, "upper": math.nan, "lower": math.nan}
    if np.isinf(x).any():
        # An average over "never" has no finite value: no interval either.
        est = float(x.mean())
        return {"n": float(n), "estimate": est, "upper": est, "lower": est}
    alpha = 1.0 - confidence
    if np.isin(x, (0.0, 1.0)).all():
        k = int(x.sum())
        upper = 1.0 if k == n else float(sps.beta.ppf(1 - alpha, k + 1, n - k))
        lower = 0.0 if k == 0 else float(sps.beta.ppf(alpha, k, n - k + 1))
        return {"n": float(n), "estimate": k / n, "upper": upper, "lower": lower}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1.0, "estimate": mean, "upper": math.inf, "lower": -math.inf}
    half = float(sps.t.ppf(confidence, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return {"n": float(n), "estimate": mean, "upper": mean + half, "lower": mean - half}


def decide(values: Sequence[float], op: str, bound: float, confidence: float) -> dict[str, Any]:
    """Whether ``mean(values) op bound`` holds, fails or is undecided at ``confidence``.

    ``margin`` is what optuna sees as the constraint value: the decisive
    bound's distance past ``bound`` (<= 0 exactly when the constraint holds).
    """
    b = one_sided(values, op, confidence)
    if op == "<=":
        limit, other = b["upper"], b["lower"]
        holds, fails = limit <= bound, other > bound
        margin = limit - bound
    else:
        limit, other = b["lower"], b["upper"]
        holds, fails = limit >= bound, other < bound
        margin = bound - limit
    status = HOLDS if holds else FAILS if fails else UNDECIDED
    if math.isnan(margin):
        margin = math.inf
    return {
        "n": int(b["n"]),
        "estimate": b["estimate"],
        "limit": limit,
        "status": status,
        "margin": float(np.clip(margin, -1e12, 1e12)),
    }
