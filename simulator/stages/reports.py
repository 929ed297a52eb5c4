"""User reports: views of live posts produce reports; the n-th opens a case."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import Reports
from simulator.config.scenario import Audience
from simulator.stages.platform import TEAMS
from simulator.stream.synthetic import Posts, view_driven_times
from simulator.taxonomy import Taxonomy


class ReportStage:
    """When each post would reach the policy's report count (if still live)."""

    def __init__(self, cfg: Reports, audience: Audience, taxonomy: Taxonomy) -> None:
        self._cfg = cfg
        rate = np.asarray(per_class(audience.reports_per_1000_views, taxonomy)) / 1000.0
        self._per_view = rate * (1.0 - np.asarray(per_class(audience.sympathy, taxonomy)))
        self._per_view_list: list[float] = self._per_view.tolist()  # for scalar use in loops
        self._teams = cfg.teams_by_class(taxonomy)
        self._team_codes = np.array([TEAMS.index(t) for t in self._teams], dtype=np.int8)

    def team_codes(self, cls: np.ndarray) -> np.ndarray | int:
        """The team (an index into ``TEAMS``) reports of each class code in ``cls`` go
        to: one number when every report goes to ``review_team``."""
        if self._cfg.areas is None:
            return TEAMS.index(self._cfg.review_team)
        return self._team_codes[cls]

    @property
    def teams(self) -> list[str]:
        """Per class code: the team its reported posts go to."""
        return list(self._teams)

    @property
    def reports_needed(self) -> int:
        """Reports that open a case (0: user reports are off)."""
        return self._cfg.reports_to_queue if self._cfg.enabled else 0

    @property
    def per_view(self) -> np.ndarray:
        """Reports per view, per class, after sympathy (a copy)."""
        return self._per_view.copy()

    def report_times(self, posts: Posts, rng: np.random.Generator) -> np.ndarray:
        """Absolute time of the ``reports_to_queue``-th report, ``inf`` if none."""
        if not self._cfg.enabled:
            return np.full(len(posts), np.inf)
        return view_driven_times(posts, self._per_view[posts.cls], self._cfg.reports_to_queue, rng)

    def expected_reports(self, cls: np.ndarray, views: np.ndarray) -> np.ndarray:
        """Reports a post is expected to have after ``views`` views (a report count
        the platform sees, without the noise: a priority key)."""
        return np.asarray(self._per_view[cls] * views, dtype=np.float64)

    def next_case_after(
        self,
        uniforms: Sequence[float],
        cls: int,
        reach: float,
        decay: float,
        age: float,
    ) -> float:
        """Age at which another ``reports_to_queue`` reports have come in since ``age``.

        The post's remaining views bring reports as a Poisson process; the
        n-th one's cumulative intensity is a sum of n unit exponentials (from
        ``uniforms``, one per report). ``inf`` if its remaining life brings
        fewer.
        """
        g = -sum(math.log1p(-u) for u in uniforms[: self._cfg.reports_to_queue])
        scale = self._per_view_list[cls] * reach
        if scale <= 0:
            return math.inf
        left = math.exp(-decay * age) - g / scale
        if left <= 0:
            return math.inf
        return -math.log(left) / decay
