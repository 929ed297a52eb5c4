"""The review queue that juries and paid staff share: a heap-based event loop.

A team of ``c(t)`` reviewers (the number on duty changes at whole hours) works
through cases - reported or flagged posts - one vote at a time. A case needs
``votes_per_case`` distinct votes; up to that many reviewers may work on it in
parallel. When its last vote is in, the decision is drawn: each vote is
correct with the reviewers' accuracy for the post's class, and the post is
removed iff at least ``votes_to_remove`` votes say remove. Cases not started
within ``expire_after_hours`` of arriving expire unseen; a post removed by
another channel closes its case.

The loop in :meth:`ReviewQueue.run_until` is the only place where time moves.
It merges two sources in time order:

* a sorted buffer of future arrivals (filled by :meth:`ReviewQueue.submit`
  in vectorised chunks, consumed by a cursor), and
* a heap of ``(time, kind, id, payload)`` events: vote completions, the next
  change of capacity, the next expiry deadline, and closures.

At equal times events run in the order capacity change, expiry, closure,
vote completion, arrival; the ids (one global counter) order the rest. After
each event free reviewers take cases from the head of the waiting line.
Randomness is drawn from the generator in fixed blocks and consumed in event
order, so results depend only on the inputs and the seed - not on how a run is
cut into ``run_until`` calls.

With a :class:`JurorPool` the team is a population of individual jurors
instead of interchangeable servers: jurors come on duty in sessions (a run
of reviews, or until they have been idle for a while), each has their own
accuracy per class, never votes twice on a case, and each vote is drawn when
it is cast, so sequential rules such as "first k to agree" apply. That loop
(:meth:`ReviewQueue._advance_jurors`) is separate from the interchangeable
one so the latter - the one the theory tests check - stays as fast as it was.

A ``followup`` callback may answer a decided case with a new case for the
same post in the same queue (a re-report after a "keep", an appeal after a
"remove"); it runs inside the loop, so the follow-up is exact however a run
is cut into :meth:`ReviewQueue.run_until` calls.

Time is float hours since the scenario start.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from heapq import heapify, heappop, heappush
from itertools import count
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from simulator.taxonomy import N_CLASSES

__all__ = [
    "CLOSED",
    "DECIDED_KEEP",
    "DECIDED_REMOVE",
    "EXPIRED",
    "KIND_APPEAL",
    "KIND_ESCALATION",
    "KIND_NAMES",
    "KIND_REPORT",
    "PENDING",
    "STATUS_NAMES",
    "CaseLog",
    "Followup",
    "JurorPool",
    "ReviewQueue",
    "TeamSpec",
]

# -- case outcomes ---------------------------------------------------------------------------

DECIDED_REMOVE = 0
DECIDED_KEEP = 1
EXPIRED = 2
CLOSED = 3
PENDING = 4
STATUS_NAMES: tuple[str, ...] = ("decided_remove", "decided_keep", "expired", "closed", "pending")
"""STATUS_NAMES[code] is the name of a status code in :attr:`CaseLog.status`."""

# -- case kinds: why the case was opened ---------------------------------------------------

KIND_REPORT = 0  # user report(s) or a prefilter flag
KIND_ESCALATION = 1  # a jury case handed to paid staff
KIND_APPEAL = 2  # the author of a removed post appealed
KIND_NAMES: tuple[str, ...] = ("report", "escalation", "appeal")
"""KIND_NAMES[code] is the name of a kind code in :attr:`CaseLog.kind`."""

# internal statuses of cases still in the system (negative: not left yet)
_ACTIVE = -1  # waiting or being voted on
_MOOT = -2  # closed while votes were in progress; leaves when they finish

# -- event kinds, in the order they run at equal times (arrivals come last) -------------------

_CAPACITY = 0
_EXPIRE = 1
_CLOSE = 2
_COMPLETE = 3
_SESSION = 4  # a juror comes on duty (juror pools only)
_IDLE = 5  # an idle juror's patience runs out (juror pools only)
_FOLLOW = 6  # a follow-up case arrives
_EXPEDITE = 7  # noticed posts' cases move to the head of the line

_BLOCK = 4096  # random numbers drawn per call to the generator
_INF = math.inf


def _frozen_array(values: np.ndarray) -> np.ndarray:
    out = np.array(values, copy=True)
    out.setflags(write=False)
    return out


Priority = Literal["fifo", "score", "reach", "reports"]
PRIORITIES: tuple[str, ...] = ("fifo", "score", "reach", "reports")


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
        if acc.ndim != 2 or acc.shape[1] != N_CLASSES or acc.shape[0] == 0:
            raise ValueError(
                f"JurorPool.accuracy: expected shape (jurors, {N_CLASSES}), got {acc.shape}"
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
        if accuracy.shape != (N_CLASSES,):
            raise ValueError(
                f"TeamSpec.accuracy: expected shape ({N_CLASSES},), one value per class, "
                f"got shape {accuracy.shape}"
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


# -- the log of cases that left ----------------------------------------------------------------

_COLUMNS: dict[str, type] = {
    "post_id": np.int64,
    "arrived": np.float64,
    "started": np.float64,
    "left": np.float64,
    "status": np.int8,
    "remove_votes": np.int16,
    "votes": np.int16,
    "cls": np.int8,
    "violating": np.bool_,
    "priority": np.float64,
    "kind": np.int8,
}
_RECORD = np.dtype(list(_COLUMNS.items()))

_Record = tuple[int, float, float, float, int, int, int, int, bool, float, int]

Followup = Callable[[int, int, int, int, int, float], "tuple[float, float, int] | None"]
"""``followup(post_id, kind, status, remove_votes, votes, now)`` -> ``(time, priority,
kind)`` of a new case for the same post in the same queue, or None. Called when a
case is decided."""


@dataclass(frozen=True, eq=False)
class CaseLog:
    """Cases as columns, one entry per case.

    ``started`` is when the first vote started (NaN if none did); ``left`` is
    when the case left the system - decision, expiry or closure (NaN while
    pending). ``status`` holds the codes of :data:`STATUS_NAMES`, ``kind``
    those of :data:`KIND_NAMES`.
    ``remove_votes`` is only meaningful for decided cases (0 otherwise);
    ``votes`` counts the votes cast (or in progress, for pending cases).
    """

    post_id: np.ndarray
    arrived: np.ndarray
    started: np.ndarray
    left: np.ndarray
    status: np.ndarray
    remove_votes: np.ndarray
    votes: np.ndarray
    cls: np.ndarray
    violating: np.ndarray
    priority: np.ndarray
    kind: np.ndarray

    @classmethod
    def from_records(cls, records: Sequence[_Record]) -> CaseLog:
        """Build a log from row tuples in column order."""
        table = np.array(list(records), dtype=_RECORD)
        return cls(**{name: np.ascontiguousarray(table[name]) for name in _COLUMNS})

    @classmethod
    def empty(cls) -> CaseLog:
        return cls.from_records([])

    @staticmethod
    def concat(logs: Sequence[CaseLog]) -> CaseLog:
        """The logs one after the other."""
        if not logs:
            return CaseLog.empty()
        return CaseLog(
            **{name: np.concatenate([getattr(log, name) for log in logs]) for name in _COLUMNS}
        )

    def __len__(self) -> int:
        return int(self.post_id.size)

    def __eq__(self, other: object) -> bool:
        """Column-wise exact equality; NaN equals NaN."""
        if not isinstance(other, CaseLog):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a.shape != b.shape or a.dtype != b.dtype:
                return False
            if a.dtype.kind == "f":
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif not np.array_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    @property
    def wait(self) -> np.ndarray:
        """Hours from arrival to the first vote (NaN if never started)."""
        return self.started - self.arrived

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame, with a categorical ``status_name`` next to ``status``."""
        columns: dict[str, Any] = {}
        for name in _COLUMNS:
            columns[name] = getattr(self, name)
            if name == "status":
                columns["status_name"] = pd.Categorical.from_codes(
                    self.status.astype(np.int64), categories=pd.Index(STATUS_NAMES)
                )
            if name == "kind":
                columns["kind_name"] = pd.Categorical.from_codes(
                    self.kind.astype(np.int64), categories=pd.Index(KIND_NAMES)
                )
        return pd.DataFrame(columns)


# -- the queue ------------------------------------------------------------------------------


class _Case:
    """Mutable state of one case while it is in the system."""

    __slots__ = (
        "arrived",
        "cls",
        "kind",
        "post_id",
        "priority",
        "seq",
        "started",
        "status",
        "twin",
        "violating",
        "votes_done",
        "votes_started",
    )

    def __init__(
        self,
        seq: int,
        post_id: int,
        cls: int,
        violating: bool,
        priority: float,
        arrived: float,
        kind: int,
    ) -> None:
        self.seq = seq
        self.kind = kind
        self.post_id = post_id
        self.cls = cls
        self.violating = violating
        self.priority = priority
        self.arrived = arrived
        self.started = math.nan
        self.votes_started = 0
        self.votes_done = 0
        self.status = _ACTIVE
        self.twin: _Case | None = None  # an earlier case of the same post, if any

    def record(self, left: float, status: int, remove_votes: int) -> _Record:
        return (
            self.post_id,
            self.arrived,
            self.started,
            left,
            status,
            remove_votes,
            self.votes_started,
            self.cls,
            self.violating,
            self.priority,
            self.kind,
        )


class _JuryCase(_Case):
    """A case voted on by individual jurors: who voted, and the tally so far."""

    __slots__ = ("in_line", "keeps", "removes", "target", "voters")

    def __init__(
        self,
        seq: int,
        post_id: int,
        cls: int,
        violating: bool,
        priority: float,
        arrived: float,
        kind: int,
    ) -> None:
        super().__init__(seq, post_id, cls, violating, priority, arrived, kind)
        self.voters: list[int] = []
        self.removes = 0
        self.keeps = 0
        self.target = 0  # votes to start before the case leaves the line
        self.in_line = True


def _correct_votes_cdf(n: int, p: float) -> list[float]:
    """CDF of the number of correct votes among ``n``, for inverse-transform draws."""
    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0))
    cdf[-1] = 1.0
    return [float(x) for x in cdf]


_Line = tuple[float, int, _Case]  # (sort key, arrival id, case) in the waiting line


class ReviewQueue:
    """A team's queue of cases, simulated event by event.

    Feed it cases with :meth:`submit` (and closures with :meth:`close`), then
    advance it with :meth:`run_until`, which returns the cases that left.
    All randomness comes from ``rng``.
    """

    def __init__(
        self, spec: TeamSpec, rng: np.random.Generator, followup: Followup | None = None
    ) -> None:
        self._spec = spec
        self._followup = followup
        self._rng = rng
        self._now = 0.0
        self._votes_needed = spec.votes_per_case
        self._votes_to_remove = spec.votes_to_remove
        self._cdfs = [_correct_votes_cdf(spec.votes_per_case, float(p)) for p in spec.accuracy]

        self._events: list[tuple[float, int, int, Any]] = []
        self._ids = count()

        # capacity: current value, and the hours where it changes (next one is on the heap)
        servers = spec.servers
        self._capacity = int(servers[0])
        change_hours = np.flatnonzero(np.diff(servers)) + 1
        self._capacity_changes = [(float(h), int(servers[h])) for h in change_hours]
        self._capacity_cursor = 0
        if spec.jurors is None:  # a juror pool's duty comes from its sessions
            self._schedule_capacity_change()

        # arrivals not yet processed, sorted by time; numpy for merging, lists for the loop
        self._arrival_cols: tuple[np.ndarray, ...] = (
            np.empty(0, np.float64),
            np.empty(0, np.int64),
            np.empty(0, np.int8),
            np.empty(0, np.bool_),
            np.empty(0, np.float64),
            np.empty(0, np.int8),
        )
        self._arrival_lists: tuple[list[Any], ...] = ([], [], [], [], [], [])
        self._arrival_cursor = 0

        # the waiting line: a deque (FIFO) or a heap keyed by -priority, ties by arrival
        self._line: deque[_Line] | list[_Line]
        self._line_push: Callable[[_Line], None]
        self._line_pop: Callable[[], _Line]
        if spec.priority == "fifo":
            fifo: deque[_Line] = deque()
            self._line, self._line_push, self._line_pop = fifo, fifo.append, fifo.popleft
        else:
            heap: list[_Line] = []
            self._line = heap
            self._line_push = partial(heappush, heap)
            self._line_pop = partial(heappop, heap)
        self._score_order = spec.priority != "fifo"

        # expiry: deadlines follow arrival order, so one armed event at a time suffices
        self._expire_after = float(spec.expire_after_hours)
        self._expiry_watch: deque[_Case] = deque()
        self._expiry_armed = False

        # post id -> its latest case in the system; earlier ones hang off ``_Case.twin``
        self._active: dict[int, _Case] = {}
        self._closed_posts: dict[int, float] = {}  # post id -> time it was closed
        self._urgent: set[int] = set()  # posts whose cases go to the head of the line
        self._n_active = 0
        self._n_waiting = 0
        self._busy = 0
        self._committed_hours = 0.0  # total duration of every vote started so far
        self._left: list[_Record] = []

        self._durations: list[float] = []
        self._duration_cursor = 0
        self._uniforms: list[float] = []
        self._uniform_cursor = 0

        # individual jurors (juror pools only)
        self._pool = spec.jurors
        # votes a juror case asks for before leaving the line the first time
        self._first_target = (
            spec.votes_to_remove if spec.rule == "first_k_agree" else spec.votes_per_case
        )
        self._case_type: type[_Case] = _Case if spec.jurors is None else _JuryCase
        if spec.jurors is not None:
            pool = spec.jurors
            n = pool.size
            self._juror_accuracy: list[list[float]] = pool.accuracy.tolist()
            self._session_start: list[float] = pool.session_start.tolist()
            self._session_juror: list[int] = pool.session_juror.tolist()
            self._session_reviews: list[int] = pool.session_reviews.tolist()
            self._session_cursor = 0
            self._on_duty = [False] * n
            self._reviews_left = [0] * n
            self._on_duty_since = [0.0] * n
            self._idle_token = [0] * n  # bumped when a juror leaves the idle list
            self._idle_armed = [False] * n
            self._free: list[int] = []  # jurors on duty with nothing to do, longest idle first
            self._is_free = [False] * n
            self._session_hours = 0.0  # closed sessions; open ones are added on demand
            self._sessions_started = 0
            self._votes_by_juror = [0] * n
            self._vote_log: list[tuple[int, int, int, float]] = []
            self._schedule_session()

    # -- read-only state ----------------------------------------------------------------

    @property
    def spec(self) -> TeamSpec:
        return self._spec

    @property
    def now(self) -> float:
        """Time (hours) the queue has been simulated up to."""
        return self._now

    @property
    def pending(self) -> int:
        """Cases waiting for their first vote."""
        return self._n_waiting

    @property
    def in_system(self) -> int:
        """Cases that arrived and have not left (waiting or being voted on)."""
        return self._n_active

    @property
    def in_service(self) -> int:
        """Votes in progress."""
        return self._busy

    @property
    def capacity(self) -> int:
        """Reviewers on duty now."""
        if self._pool is not None:
            return sum(self._on_duty)
        return self._capacity

    @property
    def sessions_started(self) -> int:
        """Juror sessions begun so far (0 without a juror pool)."""
        return self._sessions_started if self._pool is not None else 0

    @property
    def votes_by_juror(self) -> np.ndarray:
        """Votes each juror of the pool has started (empty without a pool)."""
        if self._pool is None:
            return np.empty(0, dtype=np.int64)
        return np.asarray(self._votes_by_juror, dtype=np.int64)

    @property
    def vote_log(self) -> pd.DataFrame:
        """Who voted on which case, when (only if the pool records votes).

        Columns: post_id, case (a per-queue case number), juror, started.
        """
        rows = self._vote_log if self._pool is not None else []
        return pd.DataFrame(rows, columns=["post_id", "case", "juror", "started"])

    def available_hours(self, end: float) -> float:
        """Reviewer-hours on duty from time 0 to ``end`` (<= :attr:`now` for pools).

        Interchangeable reviewers: the duty roster counted in whole hours (as
        the run log has always done). A juror pool: time jurors spent in
        sessions, whether voting or waiting for work.
        """
        if self._pool is None:
            return float(self._spec.servers[: math.ceil(end)].sum())
        open_hours = sum(
            self._now - since
            for since, on in zip(self._on_duty_since, self._on_duty, strict=True)
            if on
        )
        return self._session_hours + open_hours

    @property
    def busy_hours(self) -> float:
        """Reviewer-hours spent voting up to :attr:`now` (votes in progress count in part)."""
        ahead = sum(e[0] - self._now for e in self._events if e[1] == _COMPLETE)
        return self._committed_hours - ahead

    @property
    def capacity_hours(self) -> float:
        """Reviewer-hours on duty from time 0 up to :attr:`now`."""
        servers = self._spec.servers
        hours = math.floor(self._now)
        within = min(hours, servers.size)
        total = float(servers[:within].sum()) + float(servers[-1]) * max(hours - servers.size, 0)
        return total + (self._now - hours) * self._spec.servers_at(self._now)

    # -- input --------------------------------------------------------------------------

    def submit(
        self,
        post_ids: np.ndarray,
        times: np.ndarray,
        classes: np.ndarray,
        violating: np.ndarray,
        priorities: np.ndarray | None = None,
        kinds: np.ndarray | None = None,
    ) -> None:
        """Add cases arriving at ``times`` (any order, none before :attr:`now`).

        Cases arriving at the same time are taken in submission order.
        ``kinds`` (codes of :data:`KIND_NAMES`) default to reports.
        """
        t = np.asarray(times, dtype=np.float64)
        size = t.size
        ids = np.asarray(post_ids)
        cls = np.asarray(classes)
        viol = np.asarray(violating)
        prio = np.zeros(size) if priorities is None else np.asarray(priorities, dtype=np.float64)
        kind = np.zeros(size, np.int8) if kinds is None else np.asarray(kinds)
        for name, arr in (
            ("kinds", kind),
            ("post_ids", ids),
            ("times", t),
            ("classes", cls),
            ("violating", viol),
            ("priorities", prio),
        ):
            if arr.shape != (size,):
                raise ValueError(
                    f"submit: {name} must be a 1-D array as long as times ({size}), "
                    f"got shape {arr.shape}"
                )
        if size == 0:
            return
        if not np.all(np.isfinite(t)) or t.min() < self._now:
            raise ValueError(
                f"submit: times must be finite and >= now ({self._now}), "
                f"got min {np.nanmin(t) if np.any(np.isfinite(t)) else t[0]}"
            )
        if not np.issubdtype(cls.dtype, np.integer) or cls.min() < 0 or cls.max() >= N_CLASSES:
            raise ValueError(
                f"submit: classes must be integer codes in [0, {N_CLASSES}), "
                f"got {cls.dtype} in [{cls.min()}, {cls.max()}]"
            )
        if viol.dtype != np.bool_:
            raise ValueError(f"submit: violating must be a boolean array, got {viol.dtype}")
        if not np.all(np.isfinite(prio)):
            raise ValueError("submit: priorities must be finite")
        if not np.all((kind >= 0) & (kind < len(KIND_NAMES))):
            raise ValueError(f"submit: kinds must be codes in [0, {len(KIND_NAMES)})")

        start = self._arrival_cursor
        merged = [
            np.concatenate([old[start:], new.astype(old.dtype, copy=False)])
            for old, new in zip(self._arrival_cols, (t, ids, cls, viol, prio, kind), strict=True)
        ]
        order = np.argsort(merged[0], kind="stable")
        cols = tuple(col[order] for col in merged)
        self._arrival_cols = cols
        self._arrival_lists = tuple(col.tolist() for col in cols)
        self._arrival_cursor = 0

    def close(self, post_id: int, time: float) -> None:
        """The post was removed by another channel at ``time`` (>= :attr:`now`).

        From then on, its cases that have not started voting are dropped, and
        the decision of cases being voted on is moot; both leave as CLOSED
        (the latter when their votes in progress finish). Cases for the post
        that arrive later are closed on arrival.
        """
        if not (math.isfinite(time) and time >= self._now):
            raise ValueError(f"close: time must be finite and >= now ({self._now}), got {time}")
        heappush(self._events, (float(time), _CLOSE, next(self._ids), int(post_id)))

    def expedite(self, post_ids: np.ndarray, time: float) -> None:
        """From ``time`` (>= :attr:`now`), the posts' cases go to the head of the line.

        Waiting cases move at once; cases arriving later are put at the head
        on arrival. (A host's notice makes these posts the team's next job.)
        """
        if not (math.isfinite(time) and time >= self._now):
            raise ValueError(f"expedite: time must be finite and >= now ({self._now}), got {time}")
        ids = tuple(int(p) for p in np.asarray(post_ids).tolist())
        if ids:
            heappush(self._events, (float(time), _EXPEDITE, next(self._ids), ids))

    # -- the event loop -------------------------------------------------------------------

    def run_until(self, t: float) -> CaseLog:
        """Process every event up to and including time ``t``; return the cases that left."""
        if not (math.isfinite(t) and t >= self._now):
            raise ValueError(f"run_until: t must be finite and >= now ({self._now}), got {t}")
        if self._pool is None:
            self._advance(t)
        else:
            self._advance_jurors(t)
        left, self._left = self._left, []
        return CaseLog.from_records(left)

    def _advance(self, t: float) -> None:
        """The event loop: run every event with time <= ``t``, then set the clock to ``t``."""
        self._left = []
        events = self._events
        line = self._line
        line_pop = self._line_pop
        next_id = self._ids.__next__
        leave = self._leave
        needed, to_remove, cdfs = self._votes_needed, self._votes_to_remove, self._cdfs
        capacity, busy = self._capacity, self._busy
        durations, d_pos = self._durations, self._duration_cursor
        uniforms, u_pos = self._uniforms, self._uniform_cursor
        d_len, u_len = len(durations), len(uniforms)
        committed = self._committed_hours
        random = self._rng.random

        arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind = self._arrival_lists
        a_pos, a_len = self._arrival_cursor, len(arr_t)
        t_arrival = arr_t[a_pos] if a_pos < a_len else _INF
        now = self._now

        while True:
            if events and events[0][0] <= t_arrival:
                if events[0][0] > t:
                    break
                now, kind, _, payload = heappop(events)
                if kind == _COMPLETE:
                    busy -= 1
                    case = payload
                    done = case.votes_done + 1
                    case.votes_done = done
                    if case.status == _ACTIVE:
                        if done == needed:
                            if u_pos == u_len:
                                uniforms, u_pos = random(_BLOCK).tolist(), 0
                                u_len = _BLOCK
                            correct = bisect_right(cdfs[case.cls], uniforms[u_pos])
                            u_pos += 1
                            removes = correct if case.violating else needed - correct
                            status = DECIDED_REMOVE if removes >= to_remove else DECIDED_KEEP
                            leave(case, now, status, removes)
                    elif done == case.votes_started:  # closed; its last vote is in
                        leave(case, now, CLOSED, 0)
                elif kind == _CAPACITY:
                    capacity = payload
                    self._schedule_capacity_change()
                elif kind == _EXPIRE:
                    self._expire(now)
                elif kind == _EXPEDITE:
                    self._expedite(payload)
                elif kind == _CLOSE:
                    self._close_post(payload, now)
                else:  # _FOLLOW
                    self._arrive_follow(payload, now)
            else:
                if t_arrival > t:
                    break
                now = t_arrival
                self._arrive(
                    arr_id[a_pos], arr_cls[a_pos], arr_viol[a_pos], arr_prio[a_pos],
                    arr_kind[a_pos], now,
                )  # fmt: skip
                a_pos += 1
                t_arrival = arr_t[a_pos] if a_pos < a_len else _INF

            # free reviewers take the head of the line; a case stays at the head
            # until all the votes it needs have started
            while busy < capacity and line:
                case = line[0][2]
                # expired or closed while waiting, or an entry left behind when
                # the case was expedited to the head
                if case.status != _ACTIVE or case.votes_started >= needed:
                    line_pop()
                    continue
                started = case.votes_started
                if started == 0:
                    case.started = now
                    self._n_waiting -= 1
                case.votes_started = started + 1
                if started + 1 == needed:
                    line_pop()
                if d_pos == d_len:
                    durations, d_pos = self._draw_durations(), 0
                    d_len = len(durations)
                duration = durations[d_pos]
                d_pos += 1
                committed += duration
                busy += 1
                heappush(events, (now + duration, _COMPLETE, next_id(), case))

        self._capacity, self._busy = capacity, busy
        self._durations, self._duration_cursor = durations, d_pos
        self._uniforms, self._uniform_cursor = uniforms, u_pos
        self._committed_hours = committed
        self._arrival_cursor = a_pos
        self._now = t

    def _advance_jurors(self, t: float) -> None:
        """The event loop with individual jurors (see :class:`JurorPool`).

        The same merge of arrivals and events as :meth:`_advance`, plus juror
        sessions and idle timeouts. Each vote is drawn when it completes,
        with the juror's own accuracy; a free juror takes the first case in
        line that they have not voted on yet.
        """
        self._left = []
        events = self._events
        line = self._line
        line_pop, line_push = self._line_pop, self._line_push
        fifo = not self._score_order
        next_id = self._ids.__next__
        leave = self._leave
        needed, k = self._votes_needed, self._votes_to_remove
        first_k = self._spec.rule == "first_k_agree"
        accuracy = self._juror_accuracy
        case: Any  # a _JuryCase
        free = self._free
        reviews_left, votes_by_juror = self._reviews_left, self._votes_by_juror
        idle_token, idle_armed = self._idle_token, self._idle_armed
        idle_hours = self._pool.idle_hours if self._pool is not None else 0.0
        record = self._pool is not None and self._pool.record_votes
        vote_log = self._vote_log
        fresh: list[int] = []  # jurors freed by the current event
        is_free = self._is_free
        busy = self._busy
        durations, d_pos = self._durations, self._duration_cursor
        uniforms, u_pos = self._uniforms, self._uniform_cursor
        d_len, u_len = len(durations), len(uniforms)
        committed = self._committed_hours
        random = self._rng.random

        arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind = self._arrival_lists
        a_pos, a_len = self._arrival_cursor, len(arr_t)
        t_arrival = arr_t[a_pos] if a_pos < a_len else _INF
        now = self._now

        while True:
            if events and events[0][0] <= t_arrival:
                if events[0][0] > t:
                    break
                now, kind, _, payload = heappop(events)
                if kind == _COMPLETE:
                    busy -= 1
                    case, juror = payload
                    done = case.votes_done + 1
                    case.votes_done = done
                    if case.status == _ACTIVE:
                        if u_pos == u_len:
                            uniforms, u_pos = random(_BLOCK).tolist(), 0
                            u_len = _BLOCK
                        correct = uniforms[u_pos] < accuracy[juror][case.cls]
                        u_pos += 1
                        if correct == case.violating:
                            case.removes += 1
                        else:
                            case.keeps += 1
                        removes, keeps = case.removes, case.keeps
                        if first_k:
                            if removes >= k:
                                leave(case, now, DECIDED_REMOVE, removes)
                            elif keeps >= k or done == needed:  # agreed to keep, or split
                                leave(case, now, DECIDED_KEEP, removes)
                            else:
                                # the votes so far cannot decide: ask for as many more
                                # as could settle it, and put the case back in line
                                target = min(needed, done + k - max(removes, keeps))
                                if target > case.target:
                                    case.target = target
                                    if not case.in_line:
                                        case.in_line = True
                                        key = (-case.priority if not fifo else 0.0, case.seq, case)
                                        if fifo:
                                            line.appendleft(key)  # type: ignore[union-attr]
                                        else:
                                            line_push(key)
                        elif done == needed:
                            status = DECIDED_REMOVE if removes >= k else DECIDED_KEEP
                            leave(case, now, status, removes)
                    elif case.status == _MOOT and done == case.votes_started:
                        leave(case, now, CLOSED, 0)  # closed; its last vote is in
                    left = reviews_left[juror] - 1
                    reviews_left[juror] = left
                    if left:
                        free.append(juror)
                        is_free[juror] = True
                        fresh.append(juror)
                    else:
                        self._end_session(juror, now)
                elif kind == _SESSION:
                    juror, reviews = payload
                    self._schedule_session()
                    if not self._on_duty[juror]:
                        self._on_duty[juror] = True
                        self._on_duty_since[juror] = now
                        self._sessions_started += 1
                        reviews_left[juror] = reviews
                        free.append(juror)
                        is_free[juror] = True
                        fresh.append(juror)
                elif kind == _IDLE:
                    juror, token = payload
                    if idle_token[juror] == token:  # still idle since the timer was armed
                        free.remove(juror)
                        is_free[juror] = False
                        idle_armed[juror] = False
                        idle_token[juror] = token + 1
                        self._end_session(juror, now)
                elif kind == _EXPIRE:
                    self._expire(now)
                elif kind == _EXPEDITE:
                    self._expedite(payload)
                elif kind == _CLOSE:
                    self._close_post(payload, now)
                else:  # _FOLLOW
                    self._arrive_follow(payload, now)
            else:
                if t_arrival > t:
                    break
                now = t_arrival
                self._arrive(
                    arr_id[a_pos], arr_cls[a_pos], arr_viol[a_pos], arr_prio[a_pos],
                    arr_kind[a_pos], now,
                )  # fmt: skip
                a_pos += 1
                t_arrival = arr_t[a_pos] if a_pos < a_len else _INF

            # free jurors take the first case in line they have not voted on
            deferred: list[_Line] = []
            while free and line:
                entry = line[0]
                case = entry[2]
                if case.status != _ACTIVE:  # expired or closed while waiting
                    line_pop()
                    case.in_line = False
                    continue
                voters = case.voters
                pick = 0
                for juror in free:
                    if juror not in voters:
                        break
                    pick += 1
                else:  # every free juror has voted on it: look further down the line
                    deferred.append(line_pop())
                    continue
                juror = free.pop(pick)
                is_free[juror] = False
                if idle_armed[juror]:
                    idle_armed[juror] = False
                    idle_token[juror] += 1
                voters.append(juror)
                votes_by_juror[juror] += 1
                started = case.votes_started
                if started == 0:
                    case.started = now
                    self._n_waiting -= 1
                case.votes_started = started + 1
                if started + 1 >= case.target:
                    line_pop()
                    case.in_line = False
                if record:
                    vote_log.append((case.post_id, case.seq, juror, now))
                if d_pos == d_len:
                    durations, d_pos = self._draw_durations(), 0
                    d_len = len(durations)
                duration = durations[d_pos]
                d_pos += 1
                committed += duration
                busy += 1
                heappush(events, (now + duration, _COMPLETE, next_id(), (case, juror)))
            if deferred:
                if fifo:
                    line.extendleft(reversed(deferred))  # type: ignore[union-attr]
                else:
                    for entry in deferred:
                        line_push(entry)
            # jurors who just became free and found nothing to do wait a while, then leave
            if fresh:
                for juror in fresh:
                    if is_free[juror] and not idle_armed[juror]:
                        idle_armed[juror] = True
                        heappush(
                            events,
                            (now + idle_hours, _IDLE, next_id(), (juror, idle_token[juror])),
                        )
                fresh.clear()

        self._busy = busy
        self._durations, self._duration_cursor = durations, d_pos
        self._uniforms, self._uniform_cursor = uniforms, u_pos
        self._committed_hours = committed
        self._arrival_cursor = a_pos
        self._now = t

    def _arrive_follow(self, payload: tuple[int, int, bool, float, int], now: float) -> None:
        post_id, cls, violating, priority, kind = payload
        self._arrive(post_id, cls, violating, priority, kind, now)

    def _end_session(self, juror: int, now: float) -> None:
        self._on_duty[juror] = False
        self._session_hours += now - self._on_duty_since[juror]

    def _schedule_session(self) -> None:
        """Put the pool's next session start on the heap (one at a time)."""
        i = self._session_cursor
        if i < len(self._session_start):
            self._session_cursor = i + 1
            heappush(
                self._events,
                (self._session_start[i], _SESSION, next(self._ids),
                 (self._session_juror[i], self._session_reviews[i])),
            )  # fmt: skip

    def drain(self) -> CaseLog:
        """Cases still in the system, or submitted and not yet arrived, as PENDING.

        A snapshot: the queue is not changed. Every submitted case appears
        exactly once in the logs returned by :meth:`run_until` and a final
        :meth:`drain`.
        """
        in_system = sorted(
            (case for post_id in self._active for case in self._cases_of(post_id)),
            key=lambda c: c.seq,
        )
        records = [case.record(math.nan, PENDING, 0) for case in in_system]
        arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind = self._arrival_lists
        records.extend(
            (arr_id[i], arr_t[i], math.nan, math.nan, PENDING, 0, 0, arr_cls[i], arr_viol[i],
             arr_prio[i], arr_kind[i])
            for i in range(self._arrival_cursor, len(arr_t))
        )  # fmt: skip
        # follow-up cases scheduled but not arrived yet
        records.extend(
            (post_id, time, math.nan, math.nan, PENDING, 0, 0, cls, viol, prio, kind)
            for time, event, _, (post_id, cls, viol, prio, kind) in sorted(
                e for e in self._events if e[1] == _FOLLOW
            )
        )
        return CaseLog.from_records(records)

    # -- per-case steps (called from the loop) --------------------------------------------

    def _arrive(
        self, post_id: int, cls: int, violating: bool, priority: float, kind: int, now: float
    ) -> None:
        if self._closed_posts and post_id in self._closed_posts:
            # the post was removed before its case arrived
            self._left.append(
                (post_id, now, math.nan, now, CLOSED, 0, 0, cls, violating, priority, kind)
            )
            return
        seq = next(self._ids)
        case = self._case_type(seq, post_id, cls, violating, priority, now, kind)
        case.twin = self._active.get(post_id)
        self._active[post_id] = case
        self._n_active += 1
        self._n_waiting += 1
        if self._pool is not None:
            case.target = self._first_target  # type: ignore[attr-defined]
        if self._urgent and post_id in self._urgent:
            self._to_head(case)
        else:
            self._line_push((-priority if self._score_order else 0.0, seq, case))
        if self._expire_after < _INF:
            self._expiry_watch.append(case)
            if not self._expiry_armed:
                self._arm_expiry(now + self._expire_after)

    def _leave(self, case: _Case, now: float, status: int, remove_votes: int) -> None:
        case.status = status
        post_id = case.post_id
        if self._active[post_id] is case:
            twin = case.twin
            while twin is not None and twin.status >= 0:  # skip twins that already left
                twin = twin.twin
            if twin is None:
                del self._active[post_id]
            else:
                self._active[post_id] = twin
        self._n_active -= 1
        self._left.append(
            (post_id, case.arrived, case.started, now, status, remove_votes, case.votes_started,
             case.cls, case.violating, case.priority, case.kind)
        )  # fmt: skip
        if self._followup is not None and status <= DECIDED_KEEP:
            follow = self._followup(
                post_id, case.kind, status, remove_votes, case.votes_started, now
            )
            if follow is not None:
                time, priority, kind = follow
                if not time >= now:
                    raise ValueError(f"followup: a case at {time} is before now ({now})")
                heappush(
                    self._events,
                    (time, _FOLLOW, next(self._ids),
                     (post_id, case.cls, case.violating, priority, kind)),
                )  # fmt: skip

    def _expedite(self, post_ids: tuple[int, ...]) -> None:
        for post_id in post_ids:
            self._urgent.add(post_id)
            for case in reversed(self._cases_of(post_id)):
                if case.status == _ACTIVE and case.votes_started == 0:
                    self._to_head(case)

    def _to_head(self, case: _Case) -> None:
        """Move a waiting case to the head of the line.

        Its old entry is taken out (linear, but notices are rare) rather than
        left behind: a juror pool would read a stale entry as a case still
        wanting votes.
        """
        line = self._line
        entry = next((e for e in line if e[2] is case), None)
        if entry is not None:  # already waiting; a case just arriving is not in line yet
            line.remove(entry)
            if not isinstance(line, deque):
                heapify(line)
        if isinstance(line, deque):
            line.appendleft((0.0, case.seq, case))
        else:
            heappush(line, (-_INF, case.seq, case))

    def _arm_expiry(self, deadline: float) -> None:
        heappush(self._events, (deadline, _EXPIRE, next(self._ids), None))
        self._expiry_armed = True

    def _expire(self, now: float) -> None:
        """Expire the waiting cases whose deadline has come; arm the next deadline."""
        self._expiry_armed = False
        watch = self._expiry_watch
        while watch:
            case = watch[0]
            if case.status != _ACTIVE or case.votes_started:
                watch.popleft()
                continue
            deadline = case.arrived + self._expire_after
            if deadline > now:
                self._arm_expiry(deadline)
                return
            watch.popleft()
            self._n_waiting -= 1
            self._leave(case, deadline, EXPIRED, 0)

    def _close_post(self, post_id: int, now: float) -> None:
        self._closed_posts.setdefault(post_id, now)
        for case in self._cases_of(post_id):
            if case.status != _ACTIVE:
                continue
            if case.votes_started == 0:
                self._n_waiting -= 1
                self._leave(case, now, CLOSED, 0)
            elif case.votes_done == case.votes_started:  # between votes, none in progress
                self._leave(case, now, CLOSED, 0)
            else:
                case.status = _MOOT  # leaves when its votes in progress finish

    def _cases_of(self, post_id: int) -> list[_Case]:
        """The post's cases still in the system, latest first."""
        cases = []
        case = self._active.get(post_id)
        while case is not None:
            if case.status < 0:
                cases.append(case)
            case = case.twin
        return cases

    def _schedule_capacity_change(self) -> None:
        if self._capacity_cursor < len(self._capacity_changes):
            hour, servers = self._capacity_changes[self._capacity_cursor]
            self._capacity_cursor += 1
            heappush(self._events, (hour, _CAPACITY, next(self._ids), servers))

    def _draw_durations(self) -> list[float]:
        """The next block of vote durations, in hours."""
        mean = self._spec.review_minutes / 60.0
        cv = self._spec.review_cv
        if cv == 0:
            return [mean] * _BLOCK
        if cv == 1:
            return self._rng.exponential(mean, _BLOCK).tolist()
        sigma2 = math.log1p(cv * cv)
        mu = math.log(mean) - sigma2 / 2
        return self._rng.lognormal(mu, math.sqrt(sigma2), _BLOCK).tolist()
