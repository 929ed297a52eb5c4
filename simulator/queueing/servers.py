"""Interchangeable reviewers: ``c(t)`` servers, one binomial draw per decision.

The number on duty changes at whole hours (``TeamSpec.servers``). A case
stays at the head of the line until all the votes it needs have started, so
up to ``votes_per_case`` reviewers work on it in parallel; the queue does not
track who cast which vote. When its last vote is in, the number of correct
votes is one binomial draw with the team's accuracy for the post's class, and
the post is removed iff at least ``votes_to_remove`` votes say remove. This
is the model the theory tests check against M/M/c and Condorcet.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from heapq import heappop, heappush

import numpy as np

from simulator.queueing.caselog import CLOSED, DECIDED_KEEP, DECIDED_REMOVE
from simulator.queueing.cases import ACTIVE, Case, WaitingLine
from simulator.queueing.events import CAPACITY, COMPLETE, Event
from simulator.queueing.reviewers import (
    BLOCK,
    BlockDraws,
    Leave,
    Reviewers,
    RowsUntil,
    duration_block,
)
from simulator.queueing.teams import TeamSpec

__all__ = ["Servers", "correct_votes_cdf"]


def correct_votes_cdf(n: int, p: float) -> np.ndarray:
    """CDF of the number of correct votes among ``n``, for inverse-transform draws:
    ``bisect_right(cdf, u)`` correct votes for a uniform ``u``."""
    from scipy import stats  # here, not at import: the CLI starts without scipy.stats

    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0))
    cdf[-1] = 1.0
    return np.asarray(cdf, dtype=np.float64)


class Servers(Reviewers):
    """A team of interchangeable reviewers (see the module docstring)."""

    new_case = Case

    def __init__(
        self,
        spec: TeamSpec,
        rng: np.random.Generator,
        line: WaitingLine,
        events: list[Event],
        next_id: Callable[[], int],
        leave: Leave,
    ) -> None:
        super().__init__(spec, rng, line, events, next_id, leave)
        self._needed = spec.votes_per_case
        self._to_remove = spec.votes_to_remove
        n = spec.votes_per_case
        self.cdfs = np.array([correct_votes_cdf(n, float(p)) for p in spec.accuracy])
        # durations and decisions from generators of their own: the same numbers
        # whichever order the event loop or the fast path reads them in
        duration_rng, decision_rng = rng.spawn(2)
        self.durations = BlockDraws(duration_block(spec, duration_rng))
        self.decisions = BlockDraws(lambda: decision_rng.random(BLOCK))
        self._next_duration = self.durations.reader()
        self._next_uniform = self.decisions.reader()
        # capacity: current value, and the hours where it changes (next one is on the heap)
        servers = spec.servers
        self._capacity = int(servers[0])
        change_hours = np.flatnonzero(np.diff(servers)) + 1
        self._capacity_changes = [(float(h), int(servers[h])) for h in change_hours]
        self._capacity_cursor = 0
        self._schedule_capacity_change()
        self.work, self._counts = self._build_work()
        self.free_count = lambda: self._capacity - self._counts()[0]

    def resume(self, busy: int, committed: float, started_cases: int) -> None:
        """Take over from the fast path: ``busy`` votes in progress (on the heap),
        ``committed`` hours of votes started, ``started_cases`` cases started."""
        self.work, self._counts = self._build_work(busy, committed, started_cases)

    @property
    def capacity(self) -> int:
        return self._capacity

    def available_hours(self, end: float, now: float) -> float:
        """The duty roster counted in whole hours (as the run log has always done)."""
        return float(self._spec.servers[: math.ceil(end)].sum())

    def _build_work(
        self, busy: int = 0, committed: float = 0.0, started_cases: int = 0
    ) -> tuple[
        Callable[[Case | None, float, float, RowsUntil], None], Callable[[], tuple[int, float, int]]
    ]:
        # everything but the counters is fixed for the queue's life: read from the
        # closure, which is cheaper than attributes in a call made for nearly every event
        needed, to_remove, cdfs = self._needed, self._to_remove, self.cdfs.tolist()
        line, pop, events, next_id = self._waiting, self._pop, self._events, self._next_id
        next_duration, next_uniform, leave = self._next_duration, self._next_uniform, self._leave

        def work(vote: Case | None, now: float, horizon: float, rows_until: RowsUntil) -> None:
            nonlocal busy, committed, started_cases
            capacity = self._capacity
            while True:
                if vote is not None:  # a vote is in; the decision is drawn when the last one is
                    busy -= 1
                    case = vote
                    done = case.votes_done + 1
                    case.votes_done = done
                    if case.status == ACTIVE:
                        if done == needed:
                            correct = bisect_right(cdfs[case.cls], next_uniform())
                            removes = correct if case.violating else needed - correct
                            status = DECIDED_REMOVE if removes >= to_remove else DECIDED_KEEP
                            leave(case, now, status, removes)
                    elif done == case.votes_started:  # closed; its last vote is in
                        leave(case, now, CLOSED, 0)
                # free reviewers take the head of the line; a case stays at the head
                # until all the votes it needs have started
                while busy < capacity and line:
                    case = line[0][2]
                    # expired or closed while waiting, or an entry left behind when the
                    # case was expedited to the head
                    if case.status != ACTIVE or case.votes_started >= needed:
                        pop()
                        continue
                    started = case.votes_started
                    if started == 0:
                        case.started = now
                        started_cases += 1
                    case.votes_started = started + 1
                    if started + 1 == needed:
                        pop()
                    duration = next_duration()
                    committed += duration
                    busy += 1
                    heappush(events, (now + duration, COMPLETE, next_id(), case))
                # the next vote in, if nothing else comes first (see Reviewers.work)
                if not events:
                    return
                top = events[0]
                if top[1] != COMPLETE or top[0] > horizon:
                    return
                now, _, _, vote = heappop(events)

        def counts() -> tuple[int, float, int]:
            return busy, committed, started_cases

        return work, counts

    def handle(self, kind: int, payload: int, now: float) -> bool:
        if kind != CAPACITY:
            return super().handle(kind, payload, now)
        self._capacity = payload
        self._schedule_capacity_change()
        return True

    def _schedule_capacity_change(self) -> None:
        if self._capacity_cursor < len(self._capacity_changes):
            hour, servers = self._capacity_changes[self._capacity_cursor]
            self._capacity_cursor += 1
            heappush(self._events, (hour, CAPACITY, self._next_id(), servers))
