"""Paid staff review: a ``Staff`` config as the review team the queue runs."""

from __future__ import annotations

import math

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import Staff
from simulator.config.scenario import Scenario
from simulator.queueing import TeamSpec
from simulator.stages.jury import hour_of_day


def staff_team(cfg: Staff, scenario: Scenario) -> TeamSpec:
    """Reviewers are on duty during their daily shift (local time)."""
    hod = hour_of_day(scenario, int(scenario.hours))
    in_shift = (hod - cfg.shift_start_hour) % 24 < cfg.shift_hours
    return TeamSpec(
        name="staff",
        servers=np.where(in_shift, cfg.reviewers, 0).astype(np.int64),
        votes_per_case=1,
        votes_to_remove=1,
        review_minutes=60.0 / cfg.reviews_per_hour,
        review_cv=cfg.review_cv,
        accuracy=np.asarray(per_class(cfg.accuracy, scenario.taxonomy)),
        priority=cfg.priority,
        expire_after_hours=cfg.expire_after_hours or math.inf,
    )
