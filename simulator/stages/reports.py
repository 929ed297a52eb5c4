"""User reports: views of live posts produce reports; the n-th opens a case."""

from __future__ import annotations

import numpy as np

from simulator.config.policy import Reports
from simulator.config.scenario import Audience
from simulator.stream.synthetic import Posts, view_driven_times


class ReportStage:
    """When each post would reach the policy's report count (if still live)."""

    def __init__(self, cfg: Reports, audience: Audience) -> None:
        self._cfg = cfg
        rate = np.asarray(audience.reports_per_1000_views.as_list()) / 1000.0
        self._per_view = rate * (1.0 - np.asarray(audience.sympathy.as_list()))

    def report_times(self, posts: Posts, rng: np.random.Generator) -> np.ndarray:
        """Absolute time of the ``reports_to_queue``-th report, ``inf`` if none."""
        if not self._cfg.enabled:
            return np.full(len(posts), np.inf)
        return view_driven_times(posts, self._per_view[posts.cls], self._cfg.reports_to_queue, rng)
