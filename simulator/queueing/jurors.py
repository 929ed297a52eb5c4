"""Individual jurors as a queue's reviewers: sessions, per-juror votes, first-k-agree.

With a :class:`~simulator.queueing.teams.JurorPool` the team is a population
of jurors instead of interchangeable servers. Jurors come on duty in
sessions (a run of reviews, or until they have been idle for a while); each
has their own accuracy per class (sympathy included) and never votes twice
on a case. A free juror takes the first case in line they have not voted on.
Each vote is drawn when it is in, so sequential rules apply: under
``first_k_agree`` votes are cast until ``votes_to_remove`` of them agree
either way (at most ``votes_per_case``), and a case whose votes so far
cannot decide goes back in line for as many more as could settle it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial
from heapq import heappop, heappush, heapreplace

import numpy as np
import pandas as pd

from simulator.queueing.caselog import CLOSED, DECIDED_KEEP, DECIDED_REMOVE
from simulator.queueing.cases import ACTIVE, MOOT, Case, Entry, WaitingLine
from simulator.queueing.events import COMPLETE, IDLE, SESSION, Event
from simulator.queueing.reviewers import Leave, Reviewers, RowsUntil
from simulator.queueing.teams import JurorPool, TeamSpec

__all__ = ["Jurors", "JuryCase"]


class JuryCase(Case):
    """A case voted on by individual jurors: who voted, and the tally so far."""

    __slots__ = ("in_line", "removes", "target", "voters")

    def __init__(
        self,
        target: int,  # first, so that a partial can fix it cheaply
        seq: int,
        post_id: int,
        cls: int,
        violating: bool,
        priority: float,
        arrived: float,
        kind: int,
    ) -> None:
        # Case.__init__ written out: this runs for every case
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
        self.status = ACTIVE
        self.twin: Case | None = None
        self.voters: list[int] = []
        self.removes = 0  # votes to remove so far (the rest of votes_done are to keep)
        self.target = target  # votes to start before the case leaves the line
        self.in_line = True


class Jurors(Reviewers):
    """A team's juror pool on duty (see the module docstring)."""

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
        if spec.jurors is None:
            raise ValueError(f"Jurors: team {spec.name!r} has no juror pool")
        pool: JurorPool = spec.jurors
        self._needed, self._k = spec.votes_per_case, spec.votes_to_remove
        self._first_k = spec.rule == "first_k_agree"
        # votes a case asks for before leaving the line the first time
        first_target = spec.votes_to_remove if self._first_k else spec.votes_per_case
        self.new_case = partial(JuryCase, first_target)
        self._idle_hours = pool.idle_hours
        self._record = pool.record_votes
        n = pool.size
        self._accuracy: list[list[float]] = pool.accuracy.tolist()
        self._sessions = _sessions(pool)
        self._on_duty = [False] * n
        self._reviews_left = [0] * n
        self._on_duty_since = [0.0] * n
        # Jurors on duty with nothing to do, longest idle first, and since when. Each
        # leaves idle_hours after joining unless given a case; as the list is in that
        # order, one IDLE event (for the head) on the heap at a time suffices.
        self._free: list[int] = []
        self._free_since = [0.0] * n
        self._idle_armed = [False]  # an IDLE event is on the heap
        self._session_hours = 0.0  # closed sessions; open ones are added on demand
        self._sessions_started = 0
        # votes each juror started in sessions that ended; those of a session on duty
        # are the reviews it began with less those left, and one if she is voting now
        self._votes_closed = [0] * n
        self._session_reviews = [0] * n
        self._vote_log: list[tuple[int, int, int, float]] = []
        self._schedule_session()
        self.work, self._counts = self._build_work()
        self.free_count = self._free.__len__

    # -- read-only state --------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return sum(self._on_duty)

    def available_hours(self, end: float, now: float) -> float:
        """Time jurors spent in sessions, voting or waiting for work (``end`` <= ``now``)."""
        open_hours = sum(
            now - since for since, on in zip(self._on_duty_since, self._on_duty, strict=True) if on
        )
        return self._session_hours + open_hours

    @property
    def sessions_started(self) -> int:
        return self._sessions_started

    @property
    def votes_by_juror(self) -> np.ndarray:
        votes = np.asarray(self._votes_closed, dtype=np.int64)
        on = np.asarray(self._on_duty, dtype=bool)
        voting = on.copy()
        voting[self._free] = False  # on duty: free, or voting
        left = np.asarray(self._reviews_left, dtype=np.int64)
        votes[on] += np.asarray(self._session_reviews, dtype=np.int64)[on] - left[on]
        return votes + voting

    @property
    def vote_log(self) -> pd.DataFrame:
        return pd.DataFrame(self._vote_log, columns=["post_id", "case", "juror", "started"])

    # -- what the loop calls ----------------------------------------------------------------

    def _build_work(
        self, shortcut: bool = True
    ) -> tuple[
        Callable[[int | None, float, float, RowsUntil], None], Callable[[], tuple[int, float, int]]
    ]:
        """Build ``work``; ``shortcut=False`` (for tests) makes it do what it did before
        its shortcuts: every free juror goes through the free list (not the only free
        one straight to the head case, her next vote going on with one heap operation
        or none, and the cases arriving meanwhile made rows by ``rows_until``), and free
        jurors take a fresh case one by one (not as one slice of the list)."""
        # everything but the counters is fixed for the queue's life: read from the
        # closure, which is cheaper than attributes in a call made for nearly every event
        needed, k, first_k, accuracy = self._needed, self._k, self._first_k, self._accuracy
        free, free_since, reviews_left = self._free, self._free_since, self._reviews_left
        idle_armed, idle_hours = self._idle_armed, self._idle_hours
        vote_log, record = self._vote_log, self._record
        line, pop, restore = self._waiting, self._pop, self._line.restore
        fifo = self._line.fifo
        # the line the shortcut looks at; with no shortcut, one that always looks empty
        shortcut_line = line if shortcut else ()
        events, next_id, leave = self._events, self._next_id, self._leave
        next_duration, next_uniform = self._next_duration, self._next_uniform
        end_session, ask_for_more = self._end_session, self._ask_for_more

        on_case: list[JuryCase | None] = [None] * len(reviews_left)  # what each juror votes on
        busy, committed, started_cases = 0, 0.0, 0

        def work(vote: int | None, now: float, horizon: float, rows_until: RowsUntil) -> None:
            """Count a juror's vote; then free jurors take the first case in line they
            can; then the same for each vote in by ``horizon`` that is next on the heap."""
            nonlocal busy, committed, started_cases
            juror = vote
            while True:
                if juror is not None:  # her vote is in: it is drawn now
                    case: JuryCase = on_case[juror]  # type: ignore[assignment]
                    done = case.votes_done + 1
                    case.votes_done = done
                    if case.status == ACTIVE:
                        removes = case.removes
                        if (next_uniform() < accuracy[juror][case.cls]) == case.violating:
                            removes += 1
                            case.removes = removes
                        if not first_k:
                            if done == needed:
                                status = DECIDED_REMOVE if removes >= k else DECIDED_KEEP
                                leave(case, now, status, removes)
                        elif removes >= k:
                            leave(case, now, DECIDED_REMOVE, removes)
                        elif (keeps := done - removes) >= k or done == needed:  # or split
                            leave(case, now, DECIDED_KEEP, removes)
                        # the votes so far cannot decide: as many more as could settle it
                        elif done + k - (removes if removes > keeps else keeps) > case.target:
                            ask_for_more(case, done)
                    elif case.status == MOOT and done == case.votes_started:
                        leave(case, now, CLOSED, 0)  # closed; its last vote is in
                    left = reviews_left[juror] - 1
                    reviews_left[juror] = left
                    if not left:
                        busy -= 1
                        end_session(juror, now)
                    elif free or not shortcut_line:
                        busy -= 1
                        free.append(juror)
                        free_since[juror] = now
                    else:
                        # the only free juror: she takes the head case if she can, or
                        # in a long first-come line the next one if she voted on the head
                        # (what the loop below would do, without going through ``free``
                        # or taking the head off and putting it back)
                        case = line[0][2]  # type: ignore[assignment]  # a JuryCase
                        started = case.votes_started
                        take = second = False
                        if case.status == ACTIVE and started < case.target:
                            if juror not in case.voters:
                                take = True
                            elif fifo and len(line) > 2:
                                second = True
                                case = line[1][2]  # type: ignore[assignment]
                                started = case.votes_started
                                take = (
                                    case.status == ACTIVE
                                    and started < case.target
                                    and juror not in case.voters
                                )
                        if take:
                            case.voters.append(juror)
                            on_case[juror] = case
                            if record:
                                vote_log.append((case.post_id, case.seq, juror, now))
                            duration = next_duration()
                            committed += duration
                            if started == 0:
                                case.started = now
                                started_cases += 1
                            started += 1
                            case.votes_started = started
                            if started >= case.target:
                                if second:  # the line is longer than two: no refill
                                    del line[1]
                                else:
                                    pop()
                                case.in_line = False
                            # No juror is free now (she was the only one), so what
                            # comes next is the first of her vote and the heap's top:
                            # if that is a vote in by ``horizon``, go on to it with one
                            # heap operation (none if it is hers), not a push and a pop.
                            # Cases arriving before that join the backlog as rows
                            # (``rows_until``): no juror is free to take them.
                            when = now + duration
                            mine = (when, COMPLETE, next_id(), juror)
                            if events:
                                top = events[0]
                                first = top[0]
                                # the top first: earlier, or as early and not later by
                                # kind (a tie of kinds goes to the older id: the top's)
                                if first < when or (first == when and top[1] <= COMPLETE):
                                    if top[1] != COMPLETE or (
                                        first > horizon and first > (horizon := rows_until(first))
                                    ):
                                        heappush(events, mine)
                                        return
                                    now, _, _, juror = heapreplace(events, mine)
                                    continue
                            if when > horizon and when > (horizon := rows_until(when)):
                                heappush(events, mine)
                                return
                            now = when  # her vote is next
                            continue
                        busy -= 1
                        free.append(juror)
                        free_since[juror] = now

                if free and line:
                    deferred: list[Entry] = []
                    while free and line:
                        case = line[0][2]  # type: ignore[assignment]  # a JuryCase
                        if case.status != ACTIVE:  # expired or closed while waiting
                            pop()
                            case.in_line = False
                            continue
                        # the first free jurors who have not voted on it take it, as many
                        # as it asks for
                        voters = case.voters
                        before = case.votes_started
                        target = case.target
                        if shortcut and before == 0 and len(free) >= target:  # no voter yet
                            takers = free[:target]
                            del free[:target]
                        else:
                            takers = []
                            i = 0
                            while before + len(takers) < target and i < len(free):
                                juror = free[i]
                                if juror in voters:
                                    i += 1
                                else:
                                    takers.append(juror)
                                    del free[i]
                        for juror in takers:
                            on_case[juror] = case
                            if record:
                                vote_log.append((case.post_id, case.seq, juror, now))
                            duration = next_duration()
                            committed += duration
                            heappush(events, (now + duration, COMPLETE, next_id(), juror))
                        voters.extend(takers)
                        busy += len(takers)
                        started = before + len(takers)
                        if started > before:
                            if before == 0:
                                case.started = now
                                started_cases += 1
                            case.votes_started = started
                        if started >= target:
                            pop()
                            case.in_line = False
                        elif free:  # every free juror has voted on it: look further down
                            deferred.append(pop())
                    if deferred:
                        restore(deferred)
                # jurors with nothing to do wait a while, then leave: the longest idle first
                if free and not idle_armed[0]:
                    idle_armed[0] = True
                    heappush(events, (free_since[free[0]] + idle_hours, IDLE, next_id(), None))
                # the next vote in, if nothing else comes first (see Reviewers.work)
                if not events:
                    return
                top = events[0]
                if top[1] != COMPLETE or top[0] > horizon:
                    return
                now, _, _, juror = heappop(events)

        def counts() -> tuple[int, float, int]:
            return busy, committed, started_cases

        return work, counts

    def _ask_for_more(self, case: JuryCase, done: int) -> None:
        """The votes so far cannot decide: ask for as many more as could settle
        it (first k to agree), and put the case back in line."""
        target = min(self._needed, done + self._k - max(case.removes, done - case.removes))
        if target > case.target:
            case.target = target
            if not case.in_line:
                case.in_line = True
                self._line.put_back(case)

    def handle(self, kind: int, payload: tuple[int, int], now: float) -> bool:
        if kind == IDLE:  # idle jurors whose patience ran out leave
            free, since, wait = self._free, self._free_since, self._idle_hours
            while free and since[free[0]] + wait <= now:
                juror = free.pop(0)
                self._end_session(juror, now)
            if free:  # the next to run out of patience (later: they were freed later)
                heappush(self._events, (since[free[0]] + wait, IDLE, self._next_id(), None))
            else:
                self._idle_armed[0] = False
            return False  # jurors leaving free no case
        if kind == SESSION:  # a juror comes on duty, unless already there
            juror, reviews = payload
            self._schedule_session()
            if self._on_duty[juror]:
                return False
            self._on_duty[juror] = True
            self._on_duty_since[juror] = now
            self._sessions_started += 1
            self._reviews_left[juror] = reviews
            self._session_reviews[juror] = reviews
            self._free.append(juror)
            self._free_since[juror] = now
            if self._waiting:  # work may give them a case (and arms the idle timer)
                return True
            if not self._idle_armed[0]:
                self._idle_armed[0] = True
                deadline = self._free_since[self._free[0]] + self._idle_hours
                heappush(self._events, (deadline, IDLE, self._next_id(), None))
            return False
        return super().handle(kind, payload, now)

    def _end_session(self, juror: int, now: float) -> None:
        """The juror leaves, her votes all in (``now``: the last, or her patience ran out)."""
        self._on_duty[juror] = False
        self._votes_closed[juror] += self._session_reviews[juror] - self._reviews_left[juror]
        self._session_hours += now - self._on_duty_since[juror]

    def _schedule_session(self) -> None:
        """Put the pool's next session start on the heap (one at a time)."""
        session = next(self._sessions, None)
        if session is not None:
            start, juror, reviews = session
            heappush(self._events, (start, SESSION, self._next_id(), (juror, reviews)))


def _sessions(pool: JurorPool, block: int = 4096) -> Iterator[tuple[float, int, int]]:
    """The pool's sessions in order, as Python numbers a block at a time (a long
    run has hundreds of thousands: as lists, tens of MB held from the start)."""
    for a in range(0, len(pool.session_start), block):
        b = a + block
        yield from zip(
            pool.session_start[a:b].tolist(),
            pool.session_juror[a:b].tolist(),
            pool.session_reviews[a:b].tolist(),
            strict=True,
        )
