"""The review queue's fast path: first come first served by ``c`` interchangeable reviewers.

When nothing can reorder the line or take a case out of it early - one
constant number of interchangeable reviewers, first come first served, no
expiry, no follow-up cases, no closure or notice yet - a case's votes start
in arrival order, each when the earliest-free reviewer is free (Kiefer and
Wolfowitz's recursion): with a heap of the ``c`` reviewers' free times,
``start = max(arrival, earliest free)`` and that reviewer is next free at
``start + duration``. :class:`FifoServers` runs this recursion over arrays
instead of the event loop, with the same random numbers (durations in vote
order, decisions in the order cases leave), so its per-case log is the event
loop's, bit for bit, however a run is cut into ``run_until`` calls.

The first :meth:`~simulator.queueing.queue.ReviewQueue.close` or
:meth:`~simulator.queueing.queue.ReviewQueue.expedite` ends the fast path:
:meth:`FifoServers.hand_over` gives the event loop the cases in the system
as it would have them at that moment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heapreplace

import numpy as np

from simulator.queueing.caselog import DECIDED_KEEP, DECIDED_REMOVE, PENDING, CaseLog
from simulator.queueing.cases import Case
from simulator.queueing.events import COMPLETE, Event
from simulator.queueing.servers import Servers
from simulator.queueing.teams import TeamSpec

__all__ = ["FifoServers", "fast_path_applies"]

_NAMES = ("post_id", "arrived", "cls", "violating", "priority", "kind")


def fast_path_applies(spec: TeamSpec, with_followups: bool) -> bool:
    """Whether a team's rules let its queue start on the fast path."""
    servers = spec.servers
    return (
        spec.jurors is None
        and spec.priority == "fifo"
        and math.isinf(spec.expire_after_hours)
        and not with_followups
        and int(servers[0]) >= 1
        and bool(np.all(servers == servers[0]))
    )


class FifoServers:
    """Cases of a first-come-first-served queue with ``c`` reviewers, as arrays.

    :meth:`admit` takes the cases that arrived, computing when each vote
    starts and ends; :meth:`release` returns those that have left by a time,
    with their decisions. Cases admitted and not released are "in flight".
    """

    def __init__(self, spec: TeamSpec, reviewers: Servers) -> None:
        self._c = int(spec.servers[0])
        self._needed = spec.votes_per_case
        self._to_remove = spec.votes_to_remove
        self._reviewers = reviewers
        self._free = [0.0] * self._c  # a heap of the reviewers' next free times
        self._jobs = 0  # votes admitted so far: the order their events would have
        # in flight: case columns, and (case, vote) arrays of vote start and end times
        self._cases: dict[str, np.ndarray] = {
            name: np.empty(0, dtype) for name, dtype in zip(_NAMES, _DTYPES, strict=True)
        }
        self._order = np.empty(0, np.int64)  # vote number of each case's first vote
        self._start = np.empty((0, self._needed))
        self._end = np.empty((0, self._needed))
        self._duration = np.empty((0, self._needed))
        self._entered = 0
        self._left = 0
        self._left_hours = 0.0  # vote hours of the cases that left

    # -- the recursion --------------------------------------------------------------------

    def admit(self, cols: dict[str, np.ndarray]) -> None:
        """Cases arriving (in arrival order, none before those admitted): when their votes
        start and end."""
        m = cols["arrived"].size
        if m == 0:
            return
        n = self._needed
        durations = self._reviewers.durations.take(m * n)
        start, end = _schedule(self._free, np.repeat(cols["arrived"], n), durations)
        shape = (m, n)
        self._cases = {k: np.concatenate([self._cases[k], cols[k]]) for k in _NAMES}
        self._order = np.concatenate([self._order, self._jobs + n * np.arange(m)])
        self._start = np.concatenate([self._start, start.reshape(shape)])
        self._end = np.concatenate([self._end, end.reshape(shape)])
        self._duration = np.concatenate([self._duration, durations.reshape(shape)])
        self._jobs += m * n
        self._entered += m

    def release(self, t: float) -> CaseLog:
        """The cases in flight that have left by ``t``, in the order they left, decided."""
        end = self._end
        last = end.max(axis=1)
        done = last <= t
        if not done.any():
            return CaseLog.empty()
        idx = np.flatnonzero(done)
        # the event loop decides a case when its last vote is in; at equal times,
        # votes are in in the order they started
        n = self._needed
        deciding = n - 1 - np.argmax((end[idx] == last[idx, None])[:, ::-1], axis=1)
        idx = idx[np.lexsort((self._order[idx] + deciding, last[idx]))]
        c = {k: v[idx] for k, v in self._cases.items()}
        u = self._reviewers.decisions.take(idx.size)
        correct = (self._reviewers.cdfs[c["cls"]] <= u[:, None]).sum(axis=1)
        removes = np.where(c["violating"], correct, n - correct)
        log = CaseLog(
            post_id=c["post_id"],
            arrived=c["arrived"],
            started=self._start[idx, 0],
            left=last[idx],
            status=np.where(removes >= self._to_remove, DECIDED_REMOVE, DECIDED_KEEP).astype(
                np.int8
            ),
            remove_votes=removes.astype(np.int16),
            votes=np.full(idx.size, n, np.int16),
            cls=c["cls"],
            violating=c["violating"],
            priority=c["priority"],
            kind=c["kind"],
        )
        self._left += idx.size
        self._left_hours += float(self._duration[idx].sum())
        keep = ~done
        self._cases = {k: v[keep] for k, v in self._cases.items()}
        for name in ("_order", "_start", "_end", "_duration"):
            setattr(self, name, getattr(self, name)[keep])
        return log

    # -- state at time ``now`` (every case arrived by then is admitted) ---------------------

    @property
    def in_system(self) -> int:
        return int(self._order.size)

    def in_service(self, now: float) -> int:
        """Votes in progress."""
        return int(np.count_nonzero((self._start <= now) & (self._end > now)))

    def busy_hours(self, now: float) -> float:
        """Reviewer-hours spent voting up to ``now``."""
        started = self._start <= now
        ahead = np.where(started & (self._end > now), self._end - now, 0.0)
        return self._left_hours + float(self._duration[started].sum() - ahead.sum())

    def waiting_since(self, now: float, kinds: tuple[int, ...]) -> np.ndarray:
        waiting = (self._start[:, 0] > now) & np.isin(self._cases["kind"], kinds)
        return self._cases["arrived"][waiting]

    def in_flight(self, now: float) -> CaseLog:
        """The cases in flight as PENDING, in arrival order (as a queue's ``drain``)."""
        c = self._cases
        first = self._start[:, 0]
        size = first.size
        return CaseLog(
            post_id=c["post_id"],
            arrived=c["arrived"],
            started=np.where(first <= now, first, np.nan),
            left=np.full(size, np.nan),
            status=np.full(size, PENDING, np.int8),
            remove_votes=np.zeros(size, np.int16),
            votes=(self._start <= now).sum(axis=1).astype(np.int16),
            cls=c["cls"],
            violating=c["violating"],
            priority=c["priority"],
            kind=c["kind"],
        )

    # -- the end of the fast path ---------------------------------------------------------

    def hand_over(self, now: float, next_id: Callable[[], int], events: list[Event]) -> list[Case]:
        """The cases in flight as the event loop has them at ``now``, in arrival order.

        Votes in progress go on ``events``; durations drawn for votes that have
        not started go back to be drawn again; the reviewers resume counting.
        """
        c = {k: v.tolist() for k, v in self._cases.items()}
        start, end = self._start, self._end
        started = start <= now
        cases = []
        for i, (post_id, arrived, cls, violating, priority, kind) in enumerate(
            zip(*(c[k] for k in _NAMES), strict=True)
        ):
            case = Case(next_id(), post_id, cls, violating, priority, arrived, kind)
            votes = int(started[i].sum())
            if votes:
                case.started = float(start[i, 0])
            case.votes_started = votes
            case.votes_done = int((end[i] <= now).sum())
            cases.append(case)
        running = np.argwhere(started & (end > now))  # row-major: the order votes started
        for i, j in running.tolist():
            events.append((float(end[i, j]), COMPLETE, next_id(), cases[i]))
        self._reviewers.durations.put_back(self._duration[~started])
        committed = self._left_hours + float(self._duration[started].sum())
        self._reviewers.resume(len(running), committed, self.cases_started(now))
        return cases

    @property
    def entered(self) -> int:
        """Cases that arrived so far."""
        return self._entered

    def cases_started(self, now: float) -> int:
        """Cases whose first vote has started by ``now``."""
        return self._left + int(np.count_nonzero(self._start[:, 0] <= now))


_DTYPES = (np.int64, np.float64, np.int8, np.bool_, np.float64, np.int8)


def _schedule(
    free: list[float], arrivals: np.ndarray, durations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of votes arriving in order: each takes the earliest-free reviewer
    (``free``, a heap of next free times, updated in place)."""
    starts: list[float] = []
    ends: list[float] = []
    start_append, end_append = starts.append, ends.append
    for a, d in zip(arrivals.tolist(), durations.tolist(), strict=True):
        f = free[0]
        s = a if a > f else f
        e = s + d
        heapreplace(free, e)
        start_append(s)
        end_append(e)
    return np.array(starts), np.array(ends)
