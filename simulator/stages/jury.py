"""Volunteer jury: turns a ``Jury`` config into the review team the queue runs."""

from __future__ import annotations

import math

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import Escalation, Jury
from simulator.config.scenario import Scenario
from simulator.queueing import TeamSpec
from simulator.stages.jurors import JurorPlan


def hour_of_day(scenario: Scenario, hours: int) -> np.ndarray:
    start = scenario.start.hour + scenario.start.minute / 60.0
    return ((np.arange(hours) + start) % 24).astype(int)


def jurors_on_duty(cfg: Jury, scenario: Scenario) -> np.ndarray:
    """Expected jurors on duty in each simulated hour: the pool's ``active_share``
    shaped by the platform's daily rhythm."""
    profile = np.asarray(scenario.daily_rhythm(), dtype=np.float64)
    profile = profile / profile.mean()
    hod = hour_of_day(scenario, int(scenario.hours))
    return np.asarray(cfg.pool_size * cfg.active_share * profile[hod], dtype=np.float64)


def jury_team(cfg: Jury, scenario: Scenario, plan: JurorPlan | None = None) -> TeamSpec:
    """Jurors on duty each hour follow the platform's daily rhythm: volunteers
    review when users are online.

    With a juror ``plan`` (from :func:`simulator.stages.jurors.plan_jurors`)
    the queue follows individual jurors; ``servers`` is then only the
    expected number on duty.
    """
    on_duty = plan.expected_on_duty if plan is not None else jurors_on_duty(cfg, scenario)
    return TeamSpec(
        name="jury",
        servers=np.rint(on_duty).astype(np.int64),
        votes_per_case=cfg.votes_per_case,
        votes_to_remove=cfg.required_remove_votes(),
        review_minutes=60.0 / cfg.reviews_per_hour,
        review_cv=cfg.review_cv,
        accuracy=np.asarray(per_class(cfg.accuracy, scenario.taxonomy)),
        priority=cfg.priority,
        expire_after_hours=cfg.expire_after_hours or math.inf,
        rule="first_k_agree" if cfg.rule == "first_k_agree" else "k_of_n",
        jurors=plan.pool if plan is not None else None,
    )


def escalates(
    cfg: Escalation, first_k: bool, k: int, removed: bool, removes: int, votes: int, views: float
) -> bool:
    """Whether a decided jury case goes to paid staff instead.

    Split: at least ``split_minority`` votes against the outcome (``removed``
    or not), or, under
    first-k-agree, no side reached ``k`` votes. High reach: the post had more
    than ``reach_above`` views when the jury decided.
    """
    if cfg.reach_above is not None and views > cfg.reach_above:
        return True
    if not cfg.split:
        return False
    keeps = votes - removes
    if first_k and max(removes, keeps) < k:
        return True
    return (keeps if removed else removes) >= cfg.split_minority
