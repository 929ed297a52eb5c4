"""What an enforcer leaves behind and what it may ask of the platform: the lines
of its timeline, its notices, the record of each rule that fired (a
:class:`Trip`, with the signals that fed it), how close each rule came (its
:class:`Peak`), and :class:`PlatformView`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

EVENT_KINDS = (
    "audit",
    "press",
    "notice",
    "strike",
    "warning",
    "suspension_notice",
    "emergency",
    "suspension",
    "delisting",
    "reinstatement",
)
"""Every kind of event on an enforcer's timeline."""


@dataclass(frozen=True)
class QueueState:
    """The platform's review backlog at one moment: reports waiting for a first
    vote, and the median time they have waited (hours; 0 with none waiting)."""

    waiting: int
    median_age_hours: float


class PlatformView(Protocol):
    """What an enforcer can observe of the platform.

    ``removed_at``, ``views``, ``live_violating`` and ``live_posts`` are what
    outsiders see (a post's page, its view counter, a sample of live posts);
    ``queue_state`` is what the platform states about its backlog when it
    answers a notice. ``figures`` is the platform's own state for the record
    of a decision (why it happened), never used to decide.
    """

    def removed_at(self, post_ids: np.ndarray) -> np.ndarray:
        """When each post came down (``inf`` if it is still up)."""
        ...

    def views(self, post_ids: np.ndarray, t: float) -> np.ndarray:
        """Views each post had at time ``t`` (up to its removal)."""
        ...

    def live_violating(self, t: float) -> np.ndarray:
        """Ids of violating posts up at time ``t``."""
        ...

    def live_posts(self, t: float) -> float:
        """How many posts (of any class) are up at time ``t``."""
        ...

    def queue_state(self, t: float) -> QueueState:
        """The review backlog at ``t`` (the platform has been run up to ``t``)."""
        ...

    def figures(self, t: float) -> dict[str, float]:
        """The platform's figures at ``t`` that explain an enforcer's decision."""
        ...


@dataclass(frozen=True)
class EnforcementEvent:
    """One line of an enforcer's timeline (``kind`` is one of :data:`EVENT_KINDS`)."""

    enforcer: str
    time: float
    kind: str
    posts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Notice:
    """Posts the enforcer asks the platform to remove by ``deadline``."""

    enforcer: str
    number: int
    time: float
    deadline: float
    post_ids: np.ndarray
    accounts: np.ndarray | None = None
    """The distinct accounts behind the posts, when the run follows authors."""


@dataclass(frozen=True)
class SignalReading:
    """One signal's part in a rule's score when the rule was judged."""

    signal: str
    value: float
    threshold: float
    weight: float
    window_hours: float | None
    after_hours: float | None = None

    @property
    def contribution(self) -> float:
        """What this signal adds to the score: ``weight * value / threshold``, at most
        its weight (a signal past its threshold counts fully, never more)."""
        return self.weight * min(1.0, self.value / self.threshold)


@dataclass(frozen=True)
class Trip:
    """A rule that fired: a strike or the emergency clause, when, on what evidence.

    ``readings`` are the rule's signals as the enforcer observed them;
    ``figures`` the platform's own figures at that moment (what fed them).
    ``scheduled`` says whether it scheduled a removal (an earlier one than any
    scheduled before; a later trip may bring it forward again).
    """

    enforcer: str
    rule: str
    time: float
    score: float
    readings: tuple[SignalReading, ...]
    figures: dict[str, float] = field(default_factory=dict)
    number: int = 0
    scheduled: bool = False


@dataclass(frozen=True)
class Peak:
    """The highest score a rule reached in a run, when it first reached it, and its
    signals at that moment: how close a rule that never fired came (a rule that
    fired peaks at 1 or more)."""

    enforcer: str
    rule: str
    time: float
    score: float
    readings: tuple[SignalReading, ...]
