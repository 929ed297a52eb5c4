"""Metrics: pure functions from a run's event log to a summary and tidy tables.

Conventions, stated once:

* Times are hours since the scenario start; dates in the summary are local.
* A violating post's *removal latency* is the time from creation until the
  platform's moderation removed it (prefilter, jury, staff, or its answer to
  a notice). A post never removed has infinite latency, so a percentile is
  ``null`` ("never") when more than that share of posts stayed up.
* "Removed within T" is measured on the posts *eligible* for it: those
  created at least T before the run ended, so the last hours of a run do
  not count as failures they had no time to avoid.
* Views count only within the simulated period (or until a suspension).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.accounts import account_summary, adaptation_summary
from simulator.metrics.adversaries import adversary_summary
from simulator.metrics.areas import area_summary
from simulator.metrics.classifier import classifier_summary
from simulator.metrics.common import num, percentiles
from simulator.metrics.cost import cost_summary
from simulator.metrics.curves import curves
from simulator.metrics.enforcement import enforcement_summary, timeline
from simulator.metrics.latency import (
    DEFAULT_THRESHOLDS_HOURS,
    latency,
    thresholds,
    within_thresholds,
    within_thresholds_by_week,
)
from simulator.metrics.replay import replay_summary
from simulator.metrics.review import appeal_summary, backlog, juror_summary, team_summary
from simulator.runlog import RunLog
from simulator.taxonomy import REMOVAL_CHANNELS

__all__ = [
    "DEFAULT_THRESHOLDS_HOURS",
    "account_summary",
    "adversary_summary",
    "backlog",
    "backlogs_of",
    "classifier_summary",
    "cost_summary",
    "curves",
    "daily",
    "enforcement_summary",
    "latency",
    "summarize",
    "team_summary",
    "thresholds",
    "timeline",
    "within_thresholds",
    "within_thresholds_by_week",
]


def summarize(log: RunLog, backlogs: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The headline figures of one run, as a JSON-serialisable dict (``backlogs``:
    each team's :func:`backlog`, if the caller already has them)."""
    sc = log.scenario
    v = log.violating
    lat = latency(log)
    removed = np.isfinite(lat)
    created = v["created_at"].to_numpy(dtype=np.float64)
    detected = v["case_at"].to_numpy(dtype=np.float64)
    removed_at = v["removed_at"].to_numpy(dtype=np.float64)
    by_channel = v["removed_by"].value_counts()  # by category: no string a post
    tax = sc.taxonomy
    legit_total = {
        c: int(log.created_by_class[i]) for i, c in enumerate(tax.classes) if not tax.violating[i]
    }
    wrong = log.wrongly_removed
    wrong_by_class = wrong["cls"].astype(str).value_counts() if not wrong.empty else pd.Series()
    wrong_by_channel = (
        wrong["removed_by"].astype(str).value_counts() if not wrong.empty else pd.Series()
    )
    n_legit = sum(legit_total.values())
    within = within_thresholds(log)
    if backlogs is None:
        backlogs = backlogs_of(log)
    out: dict[str, Any] = {
        "run": {
            "scenario": sc.name,
            "policy": log.policy.name,
            "hosts": [h.name for h in log.hosts],
            "seed": log.seed,
            "start": sc.local_time(0).isoformat(),
            "end": sc.local_time(log.end).isoformat(),
            "days_simulated": num(log.end / 24.0),
            "text_mode": sc.content.texts.mode,
            # thinning asked for: on, or off and why (see simulator.stream.thinning)
            **({"thinning": log.meta["thinning"]} if "thinning" in log.meta else {}),
        },
        "posts": {
            "created": int(log.created_by_class.sum()),
            "by_class": {c: int(log.created_by_class[i]) for i, c in enumerate(tax.classes)},
        },
        "violating": {
            "count": len(v),
            "removed": int(removed.sum()),
            "never_removed": int((~removed).sum()),
            "removed_by": {
                ch: int(by_channel.get(ch, 0)) for ch in REMOVAL_CHANNELS if ch != "none"
            },
            "latency_hours": percentiles(lat),
            "latency_hours_of_removed": percentiles(lat[removed]),
            "time_to_detect_hours": percentiles(
                detected[np.isfinite(detected)] - created[np.isfinite(detected)], (50, 90)
            ),
            "time_from_detection_to_removal_hours": percentiles(
                (removed_at - detected)[np.isfinite(detected) & removed], (50, 90)
            ),
            "within": [
                {k: (num(val) if isinstance(val, float) else val) for k, val in row.items()}
                for row in within.to_dict("records")
            ],
            "views_before_removal": {
                "total": num(float(v["views"].sum())),
                "mean": num(float(v["views"].mean())) if len(v) else None,
                **percentiles(v["views"].to_numpy(), (50, 90, 99)),
            },
        },
        "legitimate": {
            "count": n_legit,
            "wrongly_removed": len(wrong),
            "wrongly_removed_per_million": num(1e6 * len(wrong) / n_legit) if n_legit else None,
            "by_class": {
                c: {"count": legit_total[c], "wrongly_removed": int(wrong_by_class.get(c, 0))}
                for c in legit_total
            },
            "wrongly_removed_by": {
                ch: int(wrong_by_channel.get(ch, 0)) for ch in REMOVAL_CHANNELS if ch != "none"
            },
        },
        "review": {team: team_summary(log, team, backlogs[team]) for team in log.cases},
        "jurors": juror_summary(log),
        "appeals": appeal_summary(log),
        "enforcement": enforcement_summary(log),
        "classifier": classifier_summary(log),
        "curves": curves(log, backlogs),
    }
    accounts = account_summary(log)
    if accounts is not None:  # the policy acts on accounts
        out["accounts"] = accounts
    areas = area_summary(log)
    if areas is not None:  # the scenario declares its own areas: the figures by area
        out["areas"] = areas
    adversaries = adversary_summary(log)
    if adversaries is not None:  # the scenario has brigades or campaigns
        out["adversaries"] = adversaries
    adaptation = adaptation_summary(log)
    if adaptation is not None:  # authors followed under a prefilter: its recall by them
        out["adaptation"] = adaptation
    replay = replay_summary(log)
    if replay is not None:  # a replayed post log: what was read, measured and estimated
        out["replay"] = replay
    # Last: the cost reads hours, posts and removals from the summary itself.
    out["cost"] = cost_summary(log.policy, out)
    return out


def backlogs_of(log: RunLog) -> dict[str, pd.DataFrame]:
    """Each review team's :func:`backlog` over the run."""
    return {team: backlog(cases, log.end) for team, cases in log.cases.items()}


def daily(log: RunLog, backlogs: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Per simulated day: posts, violating posts, removals by channel, backlog at day end
    (``backlogs``: each team's :func:`backlog`, if the caller already has them)."""
    days = math.ceil(log.end / 24.0)
    hours = np.arange(len(log.created_by_hour))
    day_of_hour = hours // 24
    out = pd.DataFrame({"day": np.arange(days)})
    out["date"] = [log.scenario.local_time(24.0 * d).date().isoformat() for d in out["day"]]
    out["posts"] = np.bincount(day_of_hour, weights=log.created_by_hour, minlength=days)[:days]
    out["violating_posts"] = np.bincount(
        day_of_hour, weights=log.violating_by_hour, minlength=days
    )[:days]
    v = log.violating
    rem = v.dropna(subset=["removed_at"])
    rem_day = (rem["removed_at"] // 24).astype(int)
    by = rem["removed_by"]  # compared as categories: strings of millions of posts cost
    for ch in REMOVAL_CHANNELS[1:]:
        sel = rem_day[by == ch]
        out[f"violating_removed_{ch}"] = np.bincount(sel, minlength=days)[:days]
    if backlogs is None:
        backlogs = backlogs_of(log)
    for team, bl in backlogs.items():
        at_day_end = np.minimum((out["day"].to_numpy() + 1) * 24, len(bl) - 1)
        out[f"{team}_backlog"] = bl["waiting"].to_numpy()[at_day_end]
    return out
