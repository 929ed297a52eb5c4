"""Team specs: who reviews a queue's cases, how many are on duty, how they vote.

:class:`TeamSpec` describes a team of reviewers (paid staff, a jury);
:class:`JurorPool` makes a team's reviewers individual jurors with their own
sessions and accuracy. Both are frozen and checked on construction; the
review queue only reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from simulator.taxonomy import N_CLASSES

__all__ = ["PRIORITIES", "JurorPool", "Priority", "TeamSpec"]


def _frozen_array(values: np.ndarray) -> np.ndarray:
    out = np.array(values, copy=True)
    out.setflags(write=False)
    return out


Priority = Literal["fifo", "score", "reach", "reports", "severity"]
PRIORITIES: tuple[str, ...] = ("fifo", "score", "reach", "reports", "severity")


@dataclass(frozen=True, eq=False)
class JurorPool:
    """Individual jurors: who they are, how well they vote, when they are on duty.

    ``accuracy[j, cls]`` is the probability that juror ``j``'s vote on a post
    of class ``cls`` is correct. Session ``i`` starts at ``session_start[i]``
    (sorted), when juror ``session_juror[i]`` comes on duty for up to
    ``session_reviews[i]`` reviews; a juror already on duty ignores the start.
    A juror with nothing to review waits ``idle_hours`` for a case, then
    leaves. ``record_votes`` keeps a log of who voted on which case (for
    tests and audits; it costs memory).
    """

    accuracy: np.ndarray
    session_start: np.ndarray
    session_juror: np.ndarray
    session_reviews: np.ndarray
    idle_hours: float = 1 / 6
    record_votes: bool = False

    def __post_init__(self) -> None:
        acc = np.asarray(self.accuracy, dtype=float)
        if acc.ndim != 2 or acc.shape[1] == 0 or acc.shape[0] == 0:
            raise ValueError(
                f"JurorPool.accuracy: expected shape (jurors, classes), got {acc.shape}"
            )
        if not np.all((acc >= 0) & (acc <= 1)):
            raise ValueError("JurorPool.accuracy: expected probabilities in [0, 1]")
        start = np.asarray(self.session_start, dtype=float)
        juror = np.asarray(self.session_juror, dtype=np.int64)
        reviews = np.asarray(self.session_reviews, dtype=np.int64)
        if not (start.shape == juror.shape == reviews.shape and start.ndim == 1):
            raise ValueError(
                "JurorPool: session_start, session_juror and session_reviews must be "
                f"1-D arrays of one length, got {start.shape}, {juror.shape}, {reviews.shape}"
            )
        if start.size and (
            not np.all(np.isfinite(start)) or start.min() < 0 or np.any(np.diff(start) < 0)
        ):
            raise ValueError("JurorPool.session_start: expected sorted finite times >= 0")
        if juror.size and (juror.min() < 0 or juror.max() >= acc.shape[0]):
            raise ValueError(
                f"JurorPool.session_juror: expected juror indices in [0, {acc.shape[0]})"
            )
        if reviews.size and reviews.min() < 1:
            raise ValueError("JurorPool.session_reviews: expected whole numbers >= 1")
        if not (self.idle_hours >= 0 and math.isfinite(self.idle_hours)):
            raise ValueError(
                f"JurorPool.idle_hours: expected a finite number >= 0, got {self.idle_hours!r}"
            )
        for name, arr in (
            ("accuracy", acc),
            ("session_start", start),
            ("session_juror", juror),
            ("session_reviews", reviews),
        ):
            object.__setattr__(self, name, _frozen_array(arr))

    @property
    def size(self) -> int:
        """Jurors who were ever in the pool."""
        return int(self.accuracy.shape[0])


@dataclass(frozen=True, eq=False)
class TeamSpec:
    """A team of reviewers: how many are on duty, how they vote, what they take first.

    ``servers[h]`` is the number of reviewers on duty during hour ``[h, h+1)``
    since the scenario start; after the end of the array its last value
    repeats. ``accuracy[cls]`` is the probability that one vote on a post of
    class ``cls`` is correct ("remove" for violating posts, "keep" for
    legitimate ones). Review durations have mean ``review_minutes`` and
    coefficient of variation ``review_cv``: 1 gives exponential durations,
    0 deterministic ones, anything else lognormal ones.

    Without ``jurors``, reviewers are interchangeable servers: the queue does
    not track who cast which vote, so "distinct reviewers" is not enforced
    when fewer are on duty than a case needs (votes are independent draws
    either way), and the decision is one binomial draw when the last vote is
    in. With ``jurors`` (a :class:`JurorPool`), ``servers`` is only the
    expected number on duty (for reports); who is on duty comes from the
    pool's sessions, ``accuracy`` is unused (each juror has their own), and
    ``rule`` may be ``first_k_agree``: votes are cast until ``votes_to_remove``
    of them agree either way, at most ``votes_per_case``; a case where neither
    side got there is kept (a split).

    ``priority`` other than ``fifo`` orders the line by the priority value
    submitted with each case (highest first): the caller computes a classifier
    score, a reach or a report count.
    """

    name: str
    servers: np.ndarray
    votes_per_case: int = 1
    votes_to_remove: int = 1
    review_minutes: float = 1.0
    review_cv: float = 1.0
    accuracy: np.ndarray = field(default_factory=lambda: np.ones(N_CLASSES))
    priority: Priority = "fifo"
    expire_after_hours: float = math.inf
    rule: Literal["k_of_n", "first_k_agree"] = "k_of_n"
    jurors: JurorPool | None = None

    def __post_init__(self) -> None:
        servers = np.asarray(self.servers)
        if servers.ndim != 1 or servers.size == 0:
            raise ValueError(
                f"TeamSpec.servers: expected a non-empty 1-D array of reviewers per hour, "
                f"got shape {servers.shape}"
            )
        if not np.issubdtype(servers.dtype, np.number) or not np.all(
            np.isfinite(servers) & (servers == np.round(servers)) & (servers >= 0)
        ):
            raise ValueError(
                "TeamSpec.servers: expected whole numbers >= 0, got "
                f"{servers[:8].tolist()}{' ...' if servers.size > 8 else ''}"
            )
        object.__setattr__(self, "servers", _frozen_array(servers.astype(np.int64)))

        n, k = self.votes_per_case, self.votes_to_remove
        if int(n) != n or n < 1:
            raise ValueError(f"TeamSpec.votes_per_case: expected an integer >= 1, got {n!r}")
        if int(k) != k or not 1 <= k <= n:
            raise ValueError(
                f"TeamSpec.votes_to_remove: expected an integer between 1 and "
                f"votes_per_case={n}, got {k!r}"
            )
        if not (math.isfinite(self.review_minutes) and self.review_minutes > 0):
            raise ValueError(
                "TeamSpec.review_minutes: expected a finite number > 0, "
                f"got {self.review_minutes!r}"
            )
        if not (math.isfinite(self.review_cv) and self.review_cv >= 0):
            raise ValueError(
                f"TeamSpec.review_cv: expected a finite number >= 0, got {self.review_cv!r}"
            )
        accuracy = np.asarray(self.accuracy, dtype=float)
        if accuracy.ndim != 1 or accuracy.size == 0:
            raise ValueError(
                "TeamSpec.accuracy: expected a 1-D array, one value per class, "
                f"got shape {accuracy.shape}"
            )
        if self.jurors is not None and self.jurors.accuracy.shape[1] != accuracy.size:
            raise ValueError(
                f"TeamSpec.jurors: accuracy for {self.jurors.accuracy.shape[1]} classes, "
                f"the team's for {accuracy.size}"
            )
        if not np.all((accuracy >= 0) & (accuracy <= 1)):
            raise ValueError(
                f"TeamSpec.accuracy: expected probabilities in [0, 1], got {accuracy.tolist()}"
            )
        object.__setattr__(self, "accuracy", _frozen_array(accuracy))
        if self.priority not in PRIORITIES:
            raise ValueError(
                f"TeamSpec.priority: expected one of {', '.join(PRIORITIES)}, got {self.priority!r}"
            )
        if self.rule not in ("k_of_n", "first_k_agree"):
            raise ValueError(
                f"TeamSpec.rule: expected 'k_of_n' or 'first_k_agree', got {self.rule!r}"
            )
        if self.rule == "first_k_agree" and self.jurors is None:
            raise ValueError(
                "TeamSpec.rule: 'first_k_agree' needs a juror pool (votes drawn one by one)"
            )
        if not self.expire_after_hours >= 0:  # also rejects NaN
            raise ValueError(
                f"TeamSpec.expire_after_hours: expected a number >= 0 (inf for never), "
                f"got {self.expire_after_hours!r}"
            )

    def servers_at(self, t: float) -> int:
        """Reviewers on duty at time ``t`` (hours)."""
        hour = min(math.floor(t), self.servers.size - 1)
        return int(self.servers[max(hour, 0)])
