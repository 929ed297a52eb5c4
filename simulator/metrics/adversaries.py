"""Adversaries' figures: what brigading cost the review queues and legitimate
speech, and how far coordinated campaigns spread before they came down.

Conventions:

* A *brigaded post* is a legitimate post a brigade reported (and that was
  made); *the cases it opened* are brigaded posts whose first case came from
  the brigade's reports rather than their own audience's.
* *Queue load*: every case of a brigaded post in each team's queue (reports,
  re-reports, appeals, escalations), the votes cast on them, and the
  reviewer-hours those votes take at the team's mean review time.
* *Wrongful removals among brigaded posts*: brigaded posts removed at the end
  of the run or before a suspension (an appeal that restored one does not
  count it twice), by channel.
* A campaign *copy* counts when it was made (its account was not blocked);
  *caught by the matcher* are the copies whose removal was the matcher's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator.metrics.common import num, percentiles
from simulator.queueing import DECIDED_REMOVE
from simulator.runlog import RunLog
from simulator.taxonomy import CLASSES, REMOVAL_CHANNELS


def _review_minutes(log: RunLog, team: str) -> float:
    policy = log.policy
    per_hour = {
        "jury": policy.jury.reviews_per_hour,
        "staff": policy.staff.reviews_per_hour,
        "appeals": policy.appeals.reviews_per_hour,
    }[team]
    return 60.0 / per_hour


def adversary_summary(log: RunLog) -> dict[str, Any] | None:
    """The ``adversaries`` section of a run's summary (None without adversaries)."""
    adv = log.adversaries
    if adv is None:
        return None
    out: dict[str, Any] = {}
    if adv.brigading:
        out["brigading"] = _brigading(log)
    if adv.campaigns:
        out["campaigns"] = _campaigns(log)
    return out


def _brigading(log: RunLog) -> dict[str, Any]:
    adv = log.adversaries
    assert adv is not None
    ids = adv.brigaded
    load: dict[str, Any] = {}
    for team, cases in log.cases.items():
        mine = cases[np.isin(cases["post_id"].to_numpy(), ids)]
        votes = int(mine["votes"].sum())
        load[team] = {
            "cases": len(mine),
            "share_of_cases": num(len(mine) / len(cases)) if len(cases) else None,
            "votes": votes,
            "reviewer_hours": num(votes * _review_minutes(log, team) / 60.0),
            "decided_remove": int((mine["status"] == DECIDED_REMOVE).sum()),
        }
    wrong = log.wrongly_removed
    hit = wrong[np.isin(wrong["post_id"].to_numpy(), ids)] if not wrong.empty else wrong
    channels = hit["removed_by"].astype(str).value_counts() if len(hit) else pd.Series()
    opened = adv.brigade_opened
    return {
        "brigaded_posts": len(ids),
        "by_class": {
            c: int(adv.brigaded_by_class[i])
            for i, c in enumerate(CLASSES)
            if adv.brigaded_by_class[i]
        },
        "false_reports_filed": len(ids) * adv.reports_per_post,
        "cases_opened_by_brigade": len(opened),
        "queue_load": load,
        "wrongly_removed": len(hit),
        "wrongly_removed_share": num(len(hit) / len(ids)) if len(ids) else None,
        "wrongly_removed_by": {
            ch: int(channels.get(ch, 0)) for ch in REMOVAL_CHANNELS if ch != "none"
        },
        "jury_vote_flip": num(adv.vote_flip),
        "jury_decisions_swayed": adv.jury_decisions_swayed,
    }


def _campaigns(log: RunLog) -> dict[str, Any]:
    adv = log.adversaries
    assert adv is not None
    v = log.violating
    copy = np.isin(v["post_id"].to_numpy(), adv.copies)
    c = v[copy]
    created = c["created_at"].to_numpy(dtype=np.float64)
    removed_at = c["removed_at"].to_numpy(dtype=np.float64)
    removed = np.isfinite(removed_at)
    latency = np.where(removed, removed_at - created, np.inf)
    caught = np.zeros(len(c), dtype=bool)
    if adv.matcher and len(adv.matched):
        order = np.argsort(adv.matched, kind="stable")
        ids, at = adv.matched[order], adv.matched_at[order]
        pos = np.minimum(np.searchsorted(ids, c["post_id"].to_numpy()), len(ids) - 1)
        caught = (ids[pos] == c["post_id"].to_numpy()) & (at[pos] == removed_at)
    views = c["views"].to_numpy(dtype=np.float64)
    made = len(c)
    return {
        "campaigns_started": adv.campaigns_started,
        "copies_drawn": len(adv.copies),
        "copies_made": made,
        "copies_removed": int(removed.sum()),
        "copies_never_removed": int((~removed).sum()),
        "removal_latency_hours": percentiles(latency, (50, 90)),
        "views_before_removal": num(float(views.sum())),
        "views_per_copy": num(float(views.mean())) if made else None,
        "matcher": adv.matcher,
        "caught_by_matcher": int(caught.sum()),
        "caught_by_matcher_share": num(float(caught.mean())) if made else None,
    }
