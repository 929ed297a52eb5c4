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

from collections.abc import Callable
from functools import partial
from heapq import heappush
from typing import Any

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
        seq: int,
        post_id: int,
        cls: int,
        violating: bool,
        priority: float,
        arrived: float,
        kind: int,
        target: int = 0,
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
        self.new_case = partial(JuryCase, target=first_target)
        self._idle_hours = pool.idle_hours
        self._record = pool.record_votes
        n = pool.size
        self._accuracy: list[list[float]] = pool.accuracy.tolist()
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
        self._fresh: list[int] = []  # jurors freed by the current event
        self._session_hours = 0.0  # closed sessions; open ones are added on demand
        self._sessions_started = 0
        self._votes_by_juror = [0] * n
        self._vote_log: list[tuple[int, int, int, float]] = []
        self._schedule_session()

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

    def assign(self, now: float) -> None:
        """Free jurors take the first case in line they have not voted on."""
        free = self._free
        line = self._line.entries
        if free and line:
            pop = self._line.pop
            is_free, idle_armed, idle_token = self._is_free, self._idle_armed, self._idle_token
            votes_by_juror = self._votes_by_juror
            events, next_id, next_duration = self._events, self._next_id, self._next_duration
            committed, busy = self._committed, self._busy
            deferred: list[Entry] = []
            case: Any  # a JuryCase
            while free and line:
                entry = line[0]
                case = entry[2]
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
                    self._started += 1
                case.votes_started = started + 1
                if started + 1 >= case.target:
                    pop()
                    case.in_line = False
                if self._record:
                    self._vote_log.append((case.post_id, case.seq, juror, now))
                duration = next_duration()
                committed += duration
                busy += 1
                heappush(events, (now + duration, COMPLETE, next_id(), (case, juror)))
            self._committed, self._busy = committed, busy
            if deferred:
                self._line.restore(deferred)
        # jurors who just became free and found nothing to do wait a while, then leave
        fresh = self._fresh
        if fresh:
            is_free, idle_armed = self._is_free, self._idle_armed
            for juror in fresh:
                if is_free[juror] and not idle_armed[juror]:
                    idle_armed[juror] = True
                    heappush(
                        self._events,
                        (now + self._idle_hours, IDLE, self._next_id(),
                         (juror, self._idle_token[juror])),
                    )  # fmt: skip
            fresh.clear()

    def complete(self, payload: tuple[JuryCase, int], now: float) -> None:
        """A juror's vote is in: draw it with their accuracy, decide if the votes can."""
        self._busy -= 1
        case, juror = payload
        done = case.votes_done + 1
        case.votes_done = done
        if case.status == ACTIVE:
            correct = self._next_uniform() < self._accuracy[juror][case.cls]
            if correct == case.violating:
                case.removes += 1
            else:
                case.keeps += 1
            removes, keeps, k = case.removes, case.keeps, self._k
            if self._first_k:
                if removes >= k:
                    self._leave(case, now, DECIDED_REMOVE, removes)
                elif keeps >= k or done == self._needed:  # agreed to keep, or split
                    self._leave(case, now, DECIDED_KEEP, removes)
                else:
                    # the votes so far cannot decide: ask for as many more as
                    # could settle it, and put the case back in line
                    target = min(self._needed, done + k - max(removes, keeps))
                    if target > case.target:
                        case.target = target
                        if not case.in_line:
                            case.in_line = True
                            self._line.put_back(case)
            elif done == self._needed:
                self._leave(case, now, DECIDED_REMOVE if removes >= k else DECIDED_KEEP, removes)
        elif case.status == MOOT and done == case.votes_started:
            self._leave(case, now, CLOSED, 0)  # closed; its last vote is in
        left = self._reviews_left[juror] - 1
        self._reviews_left[juror] = left
        if left:
            self._free.append(juror)
            self._is_free[juror] = True
            self._fresh.append(juror)
        else:
            self._end_session(juror, now)

    def handle(self, kind: int, payload: tuple[int, int], now: float) -> None:
        if kind == SESSION:  # a juror comes on duty, unless already there
            juror, reviews = payload
            self._schedule_session()
            if not self._on_duty[juror]:
                self._on_duty[juror] = True
                self._on_duty_since[juror] = now
                self._sessions_started += 1
                self._reviews_left[juror] = reviews
                self._free.append(juror)
                self._is_free[juror] = True
                self._fresh.append(juror)
        elif kind == IDLE:  # an idle juror leaves, unless they took a case meanwhile
            juror, token = payload
            if self._idle_token[juror] == token:
                self._free.remove(juror)
                self._is_free[juror] = False
                self._idle_armed[juror] = False
                self._idle_token[juror] = token + 1
                self._end_session(juror, now)
        else:
            super().handle(kind, payload, now)

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
                (self._session_start[i], SESSION, self._next_id(),
                 (self._session_juror[i], self._session_reviews[i])),
            )  # fmt: skip
