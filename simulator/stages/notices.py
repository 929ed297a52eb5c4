"""The platform's side of a notice: who acts on the posts it names, and how fast.

A notice desk (staff) starts on a notice ``response_hours`` after it arrives
and removes a share (``compliance``) of the posts it names. With
``staff_per_day`` set, the desk is a single first-come-first-served line:
each post takes ``24 / staff_per_day`` hours of desk time, so a burst of
notices (the January surge) backs up the desk itself. Deterministic given
the compliance draws, so it needs no event loop of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config.policy import NoticeHandling


@dataclass(frozen=True)
class DeskAction:
    """Posts the desk will remove, and when."""

    post_ids: np.ndarray
    removed_at: np.ndarray


class NoticeDesk:
    """Acts on notices in the order they arrive."""

    def __init__(self, cfg: NoticeHandling) -> None:
        self._cfg = cfg
        self._free_at = 0.0  # when the desk finishes the posts it already has

    @property
    def free_at(self) -> float:
        """When the desk has worked through every post it was given."""
        return self._free_at

    def act(self, time: float, post_ids: np.ndarray, rng: np.random.Generator) -> DeskAction:
        """Removal times for the posts of a notice received at ``time``."""
        cfg = self._cfg
        # One draw per noticed post, whatever the capacity, so the capacity
        # setting never shifts which posts the platform misses.
        comply = rng.random(len(post_ids)) < cfg.compliance
        ids = post_ids[comply]
        start = time + cfg.response_hours
        if cfg.staff_per_day is None:
            return DeskAction(ids, np.full(len(ids), start))
        per_post = 24.0 / cfg.staff_per_day
        begin = max(start, self._free_at)
        done = begin + per_post * np.arange(1, len(ids) + 1)
        if len(ids):
            self._free_at = float(done[-1])
        return DeskAction(ids, done)
