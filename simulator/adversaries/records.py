"""What a run records of its adversaries, for metrics (see :mod:`simulator.metrics.adversaries`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.taxonomy import N_CLASSES


def _ids() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass
class AdversaryLog:
    """Brigaded posts and campaign copies by id; metrics join them to the run's tables."""

    brigading: bool = False
    brigaded: np.ndarray = field(default_factory=_ids)
    """Ids of the brigaded posts made (sorted)."""
    brigade_opened: np.ndarray = field(default_factory=_ids)
    """Ids of the brigaded posts whose first case the brigade's reports opened."""
    brigaded_by_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.int64))
    reports_per_post: int = 0
    vote_flip: float = 0.0
    """P(a jury's keep vote on a brigaded post turns to remove)."""
    jury_decisions_swayed: int = 0
    campaigns: bool = False
    campaigns_started: int = 0
    copies: np.ndarray = field(default_factory=_ids)
    """Ids of every campaign copy drawn (sorted; blocked accounts' copies are not made)."""
    copy_campaign: np.ndarray = field(default_factory=_ids)
    matcher: bool = False
    matched: np.ndarray = field(default_factory=_ids)
    """Ids of the copies the matcher took down, with the times in ``matched_at``."""
    matched_at: np.ndarray = field(default_factory=lambda: np.empty(0))
