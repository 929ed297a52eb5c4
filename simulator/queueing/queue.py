"""The review queue that juries and paid staff share: one heap-based event loop.

A team works through cases - reported or flagged posts - one vote at a time.
A case needs ``votes_per_case`` votes; who casts them and how they become a
decision is the team's :class:`~simulator.queueing.reviewers.Reviewers`
strategy (interchangeable servers, or individual jurors). Cases not started
within ``expire_after_hours`` of arriving expire unseen; a post removed by
another channel closes its case; a host's notice moves a post's cases to the
head of the line.

The loop in :meth:`ReviewQueue.run_until` is the only place where time moves.
It merges two sources in time order:

* a sorted buffer of future arrivals (filled by :meth:`ReviewQueue.submit`
  in vectorised chunks, consumed by a cursor), and
* a heap of ``(time, kind, id, payload)`` events (see
  :mod:`simulator.queueing.events`): vote completions, expiry deadlines,
  closures, notices, follow-up cases and the reviewers' own events.

After each event the reviewers' ``work`` counts the vote that came in, if
any, and lets free reviewers take cases from the head of the line.

A ``followup`` callback may answer a decided case with a new case for the
same post in the same queue (a re-report after a "keep", an appeal after a
"remove"); it runs inside the loop, so the follow-up is exact however a run
is cut into :meth:`ReviewQueue.run_until` calls.

Time is float hours since the scenario start.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count

import numpy as np
import pandas as pd

from simulator.gcpause import cyclic_gc_paused
from simulator.queueing.arrivals import ArrivalBuffer
from simulator.queueing.backlog import FLUSH, Row
from simulator.queueing.caselog import (
    CLOSED,
    DECIDED_KEEP,
    EXPIRED,
    KIND_ESCALATION,
    KIND_REPORT,
    PENDING,
    CaseLog,
    Record,
)
from simulator.queueing.cases import ACTIVE, MOOT, Case, WaitingLine, pending_log
from simulator.queueing.events import (
    CLOSE,
    COMPLETE,
    EXPEDITE,
    EXPIRE,
    FOLLOW,
    REVIEWERS_OWN,
    Event,
)
from simulator.queueing.fastpath import FifoServers, fast_path_applies
from simulator.queueing.jurors import Jurors
from simulator.queueing.reviewers import Reviewers
from simulator.queueing.servers import Servers
from simulator.queueing.teams import TeamSpec

__all__ = ["Decide", "Followup", "ReviewQueue"]

_INF = math.inf

Followup = Callable[[int, int, int, int, int, float], "tuple[float, float, int] | None"]
"""``followup(post_id, kind, status, remove_votes, votes, now)`` -> ``(time, priority,
kind)`` of a new case for the same post in the same queue, or None. Called when a
case is decided."""

Decide = Callable[[int, int, int, int], "tuple[int, int]"]
"""``decide(post_id, status, remove_votes, votes)`` -> ``(status, remove_votes)``: what
a decided case's votes come to once pressure from outside the reviewers counts (a
brigade's hold on a jury). Called when a case is decided, before it is logged and
before ``followup``."""


class ReviewQueue:
    """A team's queue of cases, simulated event by event.

    Feed it cases with :meth:`submit` (and closures with :meth:`close`), then
    advance it with :meth:`run_until`, which returns the cases that left.
    All randomness comes from ``rng``.
    """

    def __init__(
        self,
        spec: TeamSpec,
        rng: np.random.Generator,
        followup: Followup | None = None,
        decide: Decide | None = None,
    ) -> None:
        self._spec = spec
        self._followup = followup
        self._decide = decide
        self._now = 0.0
        self._events: list[Event] = []
        self._ids = count()
        self._arrivals = ArrivalBuffer()  # cases submitted and not arrived yet

        # expiry: deadlines follow arrival order, so one armed event at a time suffices
        self._expire_after = float(spec.expire_after_hours)
        # A first-come-first-served line without expiry keeps the cases behind its head
        # as rows (see simulator.queueing.backlog): nothing reads them until they near
        # the head, or a closure or notice names their post.
        self._compact = spec.priority == "fifo" and self._expire_after == _INF
        self._line = WaitingLine(
            fifo=spec.priority == "fifo",
            open_case=self._open_row if self._compact else None,
            open_rows=self._open_rows if self._compact else None,
        )
        self._fifo = self._line.fifo
        self._push_line = self._line.push
        self._expiry_watch: deque[Case] = deque()
        self._expiry_armed = False

        # post id -> its latest case in the system; earlier ones hang off ``Case.twin``
        self._active: dict[int, Case] = {}
        self._closed_posts: dict[int, float] = {}  # post id -> time it was closed
        self._urgent: set[int] = set()  # posts whose cases go to the head of the line
        self._n_active = 0
        self._n_entered = 0  # cases that arrived into the system
        self._n_dropped = 0  # cases that left before their first vote started
        self._left: list[Record] = []
        strategy = Servers if spec.jurors is None else Jurors
        self._reviewers: Reviewers = strategy(
            spec, rng, self._line, self._events, self._ids.__next__, self._leave
        )
        self._new_case = self._reviewers.new_case
        self._fast: FifoServers | None = None
        if isinstance(self._reviewers, Servers) and fast_path_applies(
            spec, followup is not None or decide is not None
        ):
            self._fast = FifoServers(spec, self._reviewers)

    # -- read-only state ----------------------------------------------------------------

    @property
    def spec(self) -> TeamSpec:
        return self._spec

    @property
    def now(self) -> float:
        """Time (hours) the queue has been simulated up to."""
        return self._now

    @property
    def fast_path(self) -> bool:
        """Whether the queue runs on the fast path now (see
        :mod:`~simulator.queueing.fastpath`; the first closure or notice ends it)."""
        return self._fast is not None

    @property
    def pending(self) -> int:
        """Cases waiting for their first vote (as of the last step's end, as below)."""
        if self._fast is not None:
            return self._fast.entered - self._fast.cases_started(self._now)
        return self._n_entered - self._n_dropped - self._reviewers.cases_started

    @property
    def in_system(self) -> int:
        """Cases that arrived and have not left (waiting or being voted on), as of the
        end of the last step (:meth:`run_until`): hooks called in a step see stale counts."""
        if self._fast is not None:
            return self._fast.in_system
        return self._n_active

    @property
    def in_service(self) -> int:
        """Votes in progress."""
        if self._fast is not None:
            return self._fast.in_service(self._now)
        return self._reviewers.in_service

    @property
    def capacity(self) -> int:
        """Reviewers on duty now."""
        return self._reviewers.capacity

    @property
    def sessions_started(self) -> int:
        """Juror sessions begun so far (0 without a juror pool)."""
        return self._reviewers.sessions_started

    @property
    def votes_by_juror(self) -> np.ndarray:
        """Votes each juror of the pool has started (empty without a pool)."""
        return self._reviewers.votes_by_juror

    @property
    def vote_log(self) -> pd.DataFrame:
        """Who voted on which case, when (only if the pool records votes).

        Columns: post_id, case (a per-queue case number), juror, started.
        """
        return self._reviewers.vote_log

    def waiting_since(self, kinds: tuple[int, ...] = (KIND_REPORT, KIND_ESCALATION)) -> np.ndarray:
        """When each case of ``kinds`` (reports and escalations: not appeals) waiting
        for its first vote at :attr:`now` arrived."""
        if self._fast is not None:
            return self._fast.waiting_since(self._now, kinds)
        # Every waiting case is in the line (once); entries of cases that left or
        # are being voted on are skipped. A compact line's backlog comes after them.
        entries = np.fromiter(
            (
                case.arrived
                for _, _, case in self._line.entries
                if case.status == ACTIVE and case.votes_started == 0 and case.kind in kinds
            ),
            dtype=np.float64,
        )
        rows = self._line.waiting_rows()
        return np.concatenate([entries, rows["arrived"][np.isin(rows["kind"], kinds)]])

    def available_hours(self, end: float) -> float:
        """Reviewer-hours on duty from time 0 to ``end`` (<= :attr:`now` for pools).

        Interchangeable reviewers: the duty roster counted in whole hours (as
        the run log has always done). A juror pool: time jurors spent in
        sessions, whether voting or waiting for work.
        """
        return self._reviewers.available_hours(end, self._now)

    @property
    def busy_hours(self) -> float:
        """Reviewer-hours spent voting up to :attr:`now` (votes in progress count in part)."""
        if self._fast is not None:
            return self._fast.busy_hours(self._now)
        ahead = sum(e[0] - self._now for e in self._events if e[1] == COMPLETE)
        return self._reviewers.committed_hours - ahead

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
        self._line.release_source()  # so that the merge below lets the old columns go
        self._arrivals.submit(
            self._now, self._spec.accuracy.size, post_ids, times, classes, violating,
            priorities, kinds,
        )  # fmt: skip

    def close(self, post_id: int, time: float) -> None:
        """The post was removed by another channel at ``time`` (>= :attr:`now`).

        From then on, its cases that have not started voting are dropped, and
        the decision of cases being voted on is moot; both leave as CLOSED
        (the latter when their votes in progress finish). Cases for the post
        that arrive later are closed on arrival.
        """
        if not (math.isfinite(time) and time >= self._now):
            raise ValueError(f"close: time must be finite and >= now ({self._now}), got {time}")
        self._end_fast_path()
        heappush(self._events, (float(time), CLOSE, next(self._ids), int(post_id)))

    def expedite(self, post_ids: np.ndarray, time: float) -> None:
        """From ``time`` (>= :attr:`now`), the posts' cases go to the head of the line.

        Waiting cases move at once; cases arriving later are put at the head
        on arrival. (A host's notice makes these posts the team's next job.)
        """
        if not (math.isfinite(time) and time >= self._now):
            raise ValueError(f"expedite: time must be finite and >= now ({self._now}), got {time}")
        ids = tuple(int(p) for p in np.asarray(post_ids).tolist())
        if ids:
            self._end_fast_path()
            heappush(self._events, (float(time), EXPEDITE, next(self._ids), ids))

    # -- the event loop -------------------------------------------------------------------

    def run_until(self, t: float) -> CaseLog:
        """Process every event up to and including time ``t``; return the cases that left."""
        if not (math.isfinite(t) and t >= self._now):
            raise ValueError(f"run_until: t must be finite and >= now ({self._now}), got {t}")
        if self._fast is not None:
            return self._run_fast(t)
        with cyclic_gc_paused():  # the loop makes no cycles (see simulator.gcpause)
            self._advance(t)
        left, self._left = self._left, []
        return CaseLog.from_records(left)

    def _run_fast(self, t: float) -> CaseLog:
        """:meth:`run_until` on the fast path: admit the cases arrived by ``t``, release
        those that left."""
        assert self._fast is not None
        self._fast.admit(self._arrivals.take_until(t))
        self._now = t
        return self._fast.release(t)

    def _end_fast_path(self) -> None:
        """Hand the cases in flight to the event loop (a closure or a notice is coming)."""
        fast, self._fast = self._fast, None
        if fast is None:
            return
        for case in fast.hand_over(self._now, self._ids.__next__, self._events):
            case.twin = self._active.get(case.post_id)
            self._active[case.post_id] = case
            if case.votes_started < self._spec.votes_per_case:
                self._push_line((0.0, case.seq, case))
        heapify(self._events)
        self._n_active = fast.in_system
        self._n_entered = fast.entered

    def _advance(self, t: float) -> None:
        """Run every event with time <= ``t`` in order, then set the clock to ``t``."""
        self._left = []
        events = self._events
        reviewers = self._reviewers
        work, handle = reviewers.work, reviewers.handle
        arrive = self._arrive
        buffer = self._arrivals
        # a case joining a compact line that no reviewer is free for only becomes a row
        # of its backlog (what _arrive and work would do): written out in ``rows_until``
        line, backlog = self._line.entries, self._line.backlog
        free_count = reviewers.free_count
        closed, urgent, next_id = self._closed_posts, self._urgent, self._ids.__next__
        if backlog is not None:
            backlog.use_source(buffer.cols)
            tuples, seqs, positions = backlog.pending, backlog.source_seqs, backlog.source_positions
        first, (arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind) = buffer.block()
        a_pos, a_len = buffer.cursor - first, len(arr_t)
        t_arrival = arr_t[a_pos] if a_pos < a_len else _INF
        horizon = t_arrival if t_arrival < t else t  # work may run votes in by then
        now = self._now
        rows = 0  # cases that joined the backlog directly (counted in at the end)

        def next_block() -> None:
            nonlocal first, arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind, a_pos, a_len
            buffer.cursor = first + a_pos
            first, (arr_t, arr_id, arr_cls, arr_viol, arr_prio, arr_kind) = buffer.block()
            a_pos, a_len = 0, len(arr_t)

        def rows_until(limit: float) -> float:
            """The cases arriving before ``limit`` (the next event's time) and by ``t``
            join the backlog as rows while that is all their arrival would do (see
            ``RowsUntil``); return the horizon then."""
            nonlocal a_pos, t_arrival, horizon, rows
            if backlog is None or not line or free_count():  # none of them changes here
                return horizon
            n = 0
            while t_arrival < limit and t_arrival <= t:
                post_id = arr_id[a_pos]
                if (closed and post_id in closed) or (urgent and post_id in urgent):
                    break
                if tuples:  # rows appended as tuples come first
                    backlog.flush()
                seqs.append(next_id())
                positions.append(first + a_pos)
                if len(seqs) >= FLUSH:
                    backlog.flush()
                n += 1
                a_pos += 1
                if a_pos == a_len:
                    next_block()
                t_arrival = arr_t[a_pos] if a_pos < a_len else _INF
            if n:
                rows += n
                horizon = t_arrival if t_arrival < t else t
            return horizon

        while True:
            vote = None
            if events and events[0][0] <= t_arrival:  # the next event comes first
                if events[0][0] > t:
                    break
                now, kind, _, payload = heappop(events)
                if kind == COMPLETE:
                    vote = payload
                elif kind in REVIEWERS_OWN:
                    if not handle(kind, payload, now):
                        continue  # it cannot have given a free reviewer a case
                elif kind == EXPIRE:
                    self._expire(now)
                elif kind == EXPEDITE:
                    self._expedite(payload)
                elif kind == CLOSE:
                    self._close_post(payload, now)
                else:  # FOLLOW
                    post_id, cls, violating, priority, case_kind = payload
                    arrive(post_id, cls, violating, priority, case_kind, now)
            else:  # the next arrival comes first
                if t_arrival > t:
                    break
                if backlog is not None and line and not free_count():  # a row, and the next?
                    before = rows
                    rows_until(events[0][0] if events else _INF)
                    if rows != before:
                        continue
                now = t_arrival
                arrive(arr_id[a_pos], arr_cls[a_pos], arr_viol[a_pos], arr_prio[a_pos],
                       arr_kind[a_pos], now)  # fmt: skip
                a_pos += 1
                if a_pos == a_len:
                    next_block()
                t_arrival = arr_t[a_pos] if a_pos < a_len else _INF
                horizon = t_arrival if t_arrival < t else t
            # count the vote if one came in; free reviewers take cases
            work(vote, now, horizon, rows_until)

        buffer.cursor = first + a_pos
        # counted once a step, not per ``rows_until`` (1% of the juror loop; see in_system)
        self._n_active += rows
        self._n_entered += rows
        self._now = t

    def drain(self) -> CaseLog:
        """Cases still in the system, or submitted and not yet arrived, as PENDING.

        A snapshot: the queue is not changed. Every submitted case appears
        exactly once in the logs returned by :meth:`run_until` and a final
        :meth:`drain`.
        """
        in_system = sorted(
            (case for post_id in self._active for case in self._chain(post_id)),
            key=lambda c: c.seq,
        )
        waiting = pending_log(in_system, self._line.waiting_rows())
        t, i, c, v, p, k = (col[self._arrivals.cursor :] for col in self._arrivals.cols)
        arriving = CaseLog.pending(post_id=i, arrived=t, cls=c, violating=v, priority=p, kind=k)
        # follow-up cases scheduled but not arrived yet
        follow = CaseLog.from_records([
            (post_id, time, math.nan, math.nan, PENDING, 0, 0, cls, viol, prio, kind)
            for time, event, _, (post_id, cls, viol, prio, kind) in sorted(
                e for e in self._events if e[1] == FOLLOW
            )
        ])  # fmt: skip
        log = CaseLog.concat([waiting, arriving, follow])
        if self._fast is not None:
            return CaseLog.concat([self._fast.in_flight(self._now), log])
        return log

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
        self._n_active += 1
        self._n_entered += 1
        if self._compact and not (self._urgent and post_id in self._urgent):
            self._line.add_row((seq, post_id, now, priority, cls, violating, kind))
            return
        case = self._new_case(seq, post_id, cls, violating, priority, now, kind)
        case.twin = self._active.get(post_id)
        self._active[post_id] = case
        if self._urgent and post_id in self._urgent:
            self._line.to_head(case)
        else:  # ``WaitingLine.add`` written out: this runs for every case
            self._push_line((0.0 if self._fifo else -priority, seq, case))
        if self._expire_after < _INF:
            self._expiry_watch.append(case)
            if not self._expiry_armed:
                self._arm_expiry(now + self._expire_after)

    def _leave(self, case: Case, now: float, status: int, remove_votes: int) -> None:
        if self._decide is not None and status <= DECIDED_KEEP:
            status, remove_votes = self._decide(
                case.post_id, status, remove_votes, case.votes_started
            )
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
                    (time, FOLLOW, next(self._ids),
                     (post_id, case.cls, case.violating, priority, kind)),
                )  # fmt: skip

    def _expedite(self, post_ids: tuple[int, ...]) -> None:
        for post_id in post_ids:
            self._urgent.add(post_id)
            for case in reversed(self._cases_of(post_id)):
                if case.status == ACTIVE and case.votes_started == 0:
                    self._line.to_head(case)

    def _arm_expiry(self, deadline: float) -> None:
        heappush(self._events, (deadline, EXPIRE, next(self._ids), None))
        self._expiry_armed = True

    def _expire(self, now: float) -> None:
        """Expire the waiting cases whose deadline has come; arm the next deadline."""
        self._expiry_armed = False
        watch = self._expiry_watch
        while watch:
            case = watch[0]
            if case.status != ACTIVE or case.votes_started:
                watch.popleft()
                continue
            deadline = case.arrived + self._expire_after
            if deadline > now:
                self._arm_expiry(deadline)
                return
            watch.popleft()
            self._n_dropped += 1
            self._leave(case, deadline, EXPIRED, 0)

    def _close_post(self, post_id: int, now: float) -> None:
        self._closed_posts.setdefault(post_id, now)
        for case in self._cases_of(post_id):
            if case.status != ACTIVE:
                continue
            if case.votes_started == 0:
                self._n_dropped += 1
                self._leave(case, now, CLOSED, 0)
            elif case.votes_done == case.votes_started:  # between votes, none in progress
                self._leave(case, now, CLOSED, 0)
            else:
                case.status = MOOT  # leaves when its votes in progress finish

    def _open_row(self, row: Row) -> Case:
        """The case of a row of a compact line's backlog, entered in the index of posts
        (written out, not through :meth:`_open_rows`: every case arriving at an empty
        line comes here, 395 k in the 75-day Parler-like run, and columns cost 0.8 s)."""
        seq, post_id, arrived, priority, cls, violating, kind = row
        case = self._new_case(seq, post_id, cls, violating, priority, arrived, kind)
        case.twin = self._active.get(post_id)
        self._active[post_id] = case
        return case

    def _open_rows(self, rows: np.ndarray) -> list[Case]:
        """:meth:`_open_row` for an array of rows, in order, column by column (the head
        of a long line a window at a time: one by one costs twice as much)."""
        columns = ("seq", "post_id", "cls", "violating", "priority", "arrived", "kind")
        cases = list(map(self._new_case, *(rows[name].tolist() for name in columns)))
        active = self._active
        for case in cases:  # a post's latest case first, its twin the one before
            case.twin = active.get(case.post_id)
            active[case.post_id] = case
        return cases

    def _cases_of(self, post_id: int) -> list[Case]:
        """The post's cases still in the system, latest first (any in a backlog opened)."""
        self._line.take_post(post_id)
        return self._chain(post_id)

    def _chain(self, post_id: int) -> list[Case]:
        """The post's cases opened as cases and still in the system, latest first."""
        cases = []
        case = self._active.get(post_id)
        while case is not None:
            if case.status < 0:
                cases.append(case)
            case = case.twin
        return cases
