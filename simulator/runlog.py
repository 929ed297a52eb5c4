"""The run log: everything one simulated run produced that metrics need.

The engine builds a :class:`RunLog` at the end of a run; metrics and results
read it and never re-run anything. It lives apart from the engine so readers
depend on the data, not on the machinery that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.enforcement import EnforcementEvent, Notice
from simulator.taxonomy import N_CLASSES

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier


@dataclass
class RunLog:
    """Everything a run produced that metrics need (the event log).

    Violating posts are kept whole; legitimate posts are summarised by
    counts, except those wrongly removed, which are kept whole too.
    """

    scenario: Scenario
    policy: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    seed: int
    end: float
    suspended_at: float
    suspended_by: str | None
    violating: pd.DataFrame
    wrongly_removed: pd.DataFrame
    created_by_class: np.ndarray
    created_by_hour: np.ndarray
    violating_by_hour: np.ndarray
    cases: dict[str, pd.DataFrame]
    capacity_hours: dict[str, float]
    busy_hours: dict[str, float]
    events: list[EnforcementEvent]
    notices: list[Notice]
    expected_posts_lost: float
    legit_live_at_suspension: int
    classifier: TrainedClassifier | None = None
    prefilter_thresholds: dict[str, dict[str, object]] = field(default_factory=dict)
    """The prefilter's thresholds as the raw scores they became (targets resolved)."""
    meta: dict[str, object] = field(default_factory=dict)
    labelled_by_class: np.ndarray | None = None
    """Posts created per class whose class is ground truth (``None``: all of them)."""
    not_made_by_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))
    """Posts never made because an app store had delisted the platform (new users
    stopped arriving), per class."""
    jurors: dict[str, np.ndarray] = field(default_factory=dict)
