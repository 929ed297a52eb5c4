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

from collections.abc import Callable, Iterator
from functools import partial
from heapq import heappush

import numpy as np
import pandas as pd

from simulator.queueing.caselog import CLOSED, DECIDED_KEEP, DECIDED_REMOVE
from simulator.queueing.cases import ACTIVE, MOOT, Case, Entry, WaitingLine
from simulator.queueing.events import COMPLETE, IDLE, SESSION, Event
from simulator.queueing.reviewers import Leave, Reviewers
from simulator.queueing.teams import JurorPool, TeamSpec

__all__ = ["Jurors", "JuryCase"]


class JuryCase(Case):
    """A case voted on by individual jurors: who voted, and the tally so far."""

    __slots__ = ("in_line", "keeps", "removes", "target", "voters")

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
        super().__init__(seq, post_id, cls, violating, priority, arrived, kind)
        self.voters: list[int] = []
        self.removes = 0
        self.keeps = 0
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
        self._idle_token = [0] * n  # bumped when a juror leaves the idle list
        self._idle_armed = [False] * n
        self._free: list[int] = []  # jurors on duty with nothing to do, longest idle first
        self._is_free = [False] * n
        self._fresh: list[int] = []  # jurors freed by the current event
        self._session_hours = 0.0  # closed sessions; open ones are added on demand
        self._sessions_started = 0
        self._votes_by_juror = [0] * n
        self._vote_log: list[tuple[int, int, int, float]] = []
        self._schedule_session()
        self.work, self._counts = self._build_work()

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
        return np.asarray(self._votes_by_juror, dtype=np.int64)

    @property
    def vote_log(self) -> pd.DataFrame:
        return pd.DataFrame(self._vote_log, columns=["post_id", "case", "juror", "started"])

    # -- what the loop calls ----------------------------------------------------------------

    def _build_work(
        self,
    ) -> tuple[
        Callable[[tuple[JuryCase, int] | None, float], None], Callable[[], tuple[int, float, int]]
    ]:
        # everything but the counters is fixed for the queue's life: read from the
        # closure, which is cheaper than attributes in a call made for nearly every event
        needed, k, first_k, accuracy = self._needed, self._k, self._first_k, self._accuracy
        free, fresh, is_free, reviews_left = (
            self._free,
            self._fresh,
            self._is_free,
            self._reviews_left,
        )
        idle_armed, idle_token, idle_hours = self._idle_armed, self._idle_token, self._idle_hours
        votes_by_juror, vote_log, record = self._votes_by_juror, self._vote_log, self._record
        line, pop, restore = self._waiting, self._pop, self._line.restore
        events, next_id, leave = self._events, self._next_id, self._leave
        next_duration, next_uniform = self._next_duration, self._next_uniform
        end_session, ask_for_more = self._end_session, self._ask_for_more

        busy, committed, started_cases = 0, 0.0, 0

        def work(vote: tuple[JuryCase, int] | None, now: float) -> None:
            """Count a juror's vote; then free jurors take the first case in line they can."""
            nonlocal busy, committed, started_cases
            if vote is not None:  # drawn now, with the juror's accuracy
                busy -= 1
                case, juror = vote
                done = case.votes_done + 1
                case.votes_done = done
                if case.status == ACTIVE:
                    if (next_uniform() < accuracy[juror][case.cls]) == case.violating:
                        case.removes += 1
                    else:
                        case.keeps += 1
                    removes, keeps = case.removes, case.keeps
                    if not first_k:
                        if done == needed:
                            leave(
                                case, now, DECIDED_REMOVE if removes >= k else DECIDED_KEEP, removes
                            )
                    elif removes >= k:
                        leave(case, now, DECIDED_REMOVE, removes)
                    elif keeps >= k or done == needed:  # agreed to keep, or split
                        leave(case, now, DECIDED_KEEP, removes)
                    else:
                        ask_for_more(case, done)
                elif case.status == MOOT and done == case.votes_started:
                    leave(case, now, CLOSED, 0)  # closed; its last vote is in
                left = reviews_left[juror] - 1
                reviews_left[juror] = left
                if left:
                    free.append(juror)
                    is_free[juror] = True
                    fresh.append(juror)
                else:
                    end_session(juror, now)

            if free and line:
                deferred: list[Entry] = []
                while free and line:
                    case = line[0][2]  # type: ignore[assignment]  # a JuryCase
                    if case.status != ACTIVE:  # expired or closed while waiting
                        pop()
                        case.in_line = False
                        continue
                    voters = case.voters
                    pick = 0
                    for juror in free:
                        if juror not in voters:
                            break
                        pick += 1
                    else:  # every free juror has voted on it: look further down the line
                        deferred.append(pop())
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
                        started_cases += 1
                    case.votes_started = started + 1
                    if started + 1 >= case.target:
                        pop()
                        case.in_line = False
                    if record:
                        vote_log.append((case.post_id, case.seq, juror, now))
                    duration = next_duration()
                    committed += duration
                    busy += 1
                    heappush(events, (now + duration, COMPLETE, next_id(), (case, juror)))
                if deferred:
                    restore(deferred)
            # jurors who just became free and found nothing to do wait a while, then leave
            if fresh:
                for juror in fresh:
                    if is_free[juror] and not idle_armed[juror]:
                        idle_armed[juror] = True
                        heappush(
                            events, (now + idle_hours, IDLE, next_id(), (juror, idle_token[juror]))
                        )
                fresh.clear()

        def counts() -> tuple[int, float, int]:
            return busy, committed, started_cases

        return work, counts

    def _ask_for_more(self, case: JuryCase, done: int) -> None:
        """The votes so far cannot decide: ask for as many more as could settle
        it (first k to agree), and put the case back in line."""
        target = min(self._needed, done + self._k - max(case.removes, case.keeps))
        if target > case.target:
            case.target = target
            if not case.in_line:
                case.in_line = True
                self._line.put_back(case)

    def handle(self, kind: int, payload: tuple[int, int], now: float) -> bool:
        if kind == IDLE:  # an idle juror leaves, unless they took a case meanwhile
            juror, token = payload
            if self._idle_token[juror] == token:
                self._free.remove(juror)
                self._is_free[juror] = False
                self._idle_armed[juror] = False
                self._idle_token[juror] = token + 1
                self._end_session(juror, now)
            return False  # one juror fewer (or none) frees no case
        if kind == SESSION:  # a juror comes on duty, unless already there
            juror, reviews = payload
            self._schedule_session()
            if self._on_duty[juror]:
                return False
            self._on_duty[juror] = True
            self._on_duty_since[juror] = now
            self._sessions_started += 1
            self._reviews_left[juror] = reviews
            self._free.append(juror)
            self._is_free[juror] = True
            self._fresh.append(juror)
            return True
        return super().handle(kind, payload, now)

    def _end_session(self, juror: int, now: float) -> None:
        self._on_duty[juror] = False
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
