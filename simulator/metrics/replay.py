"""Metrics for a replayed post log: measured figures (labelled posts) apart from estimates.

When only part of a log is labelled, the classes of the other posts are
estimated by a classifier (see ``simulator/stream/replay.py``), and every
figure that counts them is an estimate. This module recomputes the headline
figures on the labelled posts alone -- *measured* -- and beside them on all
posts -- *estimated* -- so the report can say which is which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.common import num, percentiles
from simulator.metrics.latency import thresholds
from simulator.runlog import RunLog


def _figures(log: RunLog, violating: pd.DataFrame, wrong: pd.DataFrame, n_legit: int) -> dict:
    created = violating["created_at"].to_numpy(dtype=np.float64)
    lat = (violating["removed_at"] - violating["created_at"]).to_numpy(dtype=np.float64)
    lat = np.where(np.isnan(lat), np.inf, lat)
    within = []
    for h in thresholds(log):
        eligible = created <= log.end - h
        n = int(eligible.sum())
        within.append(
            {
                "threshold_hours": h,
                "eligible": n,
                "share": num(float((lat[eligible] <= h).sum() / n)) if n else None,
            }
        )
    return {
        "violating": len(violating),
        "removed": int(np.isfinite(lat).sum()),
        "never_removed": int((~np.isfinite(lat)).sum()),
        "latency_hours": percentiles(lat),
        "within": within,
        "views_before_removal": num(float(violating["views"].sum())),
        "legitimate": n_legit,
        "wrongly_removed": len(wrong),
        "wrongly_removed_per_million": num(1e6 * len(wrong) / n_legit) if n_legit else None,
    }


def replay_summary(log: RunLog) -> dict[str, Any] | None:
    """What the replay read and skipped; with partial labels, measured vs estimated figures."""
    info = log.meta.get("replay")
    if not isinstance(info, dict):
        return None
    out: dict[str, Any] = dict(info)
    v, wrong = log.violating, log.wrongly_removed
    partial = "labelled" in v.columns
    out["labels"] = "partial" if partial else ("none" if not info["labelled_posts"] else "all")
    if not partial:
        return out
    labelled_by_class = (
        log.labelled_by_class if log.labelled_by_class is not None else log.created_by_class
    )
    is_v = log.scenario.taxonomy.violating
    n_legit_all = int(log.created_by_class[~is_v].sum())
    n_legit_measured = int(labelled_by_class[~is_v].sum())
    v_lab = v[v["labelled"].to_numpy(dtype=bool)]
    w_lab = wrong[wrong["labelled"].to_numpy(dtype=bool)] if len(wrong) else wrong
    out["measured"] = {
        "on": "posts whose class is ground truth from the log",
        **_figures(log, v_lab, w_lab, n_legit_measured),
    }
    out["estimated"] = {
        "on": "all posts; unlabelled posts' classes estimated by a classifier",
        **_figures(log, v, wrong, n_legit_all),
    }
    return out
