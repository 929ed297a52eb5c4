"""Who reviews a queue's cases: the strategy that the queue's one event loop calls.

The loop in :class:`~simulator.queueing.queue.ReviewQueue` is the same for
every team: it merges arrivals with the event heap and runs cases in, out and
through expiry, closure and notices. What differs between teams - who is on
duty, which case a free reviewer takes, how votes become a decision - lives
in a :class:`Reviewers` object:

* :attr:`~Reviewers.work` runs after every event: it counts the vote that
  came in if the event was one (deciding the case if the votes suffice),
  then lets free reviewers take cases from the head of the line and
  schedules their votes' completion (one call, not two: it runs for nearly
  every event); it goes on to the next votes in itself while nothing else
  can come before them;
* :meth:`~Reviewers.handle` runs the strategy's own events (changes of
  capacity, juror sessions, idle timeouts) and says whether ``work`` could
  find anything to do after them.

Two strategies exist: interchangeable reviewers
(:class:`~simulator.queueing.servers.Servers`) and individual jurors
(:class:`~simulator.queueing.jurors.Jurors`).

Vote durations and the uniforms that decide votes come from the queue's
generator in fixed blocks, drawn when the previous block runs out, so results
depend only on the inputs and the seed - not on how a run is cut into
``run_until`` calls. Interchangeable reviewers draw durations and decisions
from two generators spawned from the queue's (:class:`BlockDraws`), so that
the fast path (:mod:`~simulator.queueing.fastpath`), which draws them in
another order, reads the same numbers.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any

import numpy as np
import pandas as pd

from simulator.queueing.cases import Case, WaitingLine
from simulator.queueing.events import Event
from simulator.queueing.teams import TeamSpec

__all__ = [
    "BLOCK",
    "BlockDraws",
    "Leave",
    "Reviewers",
    "RowsUntil",
    "duration_block",
    "duration_draws",
    "uniform_draws",
]

BLOCK = 4096  # random numbers drawn per call to the generator

Leave = Callable[[Case, float, int, int], None]
"""``leave(case, now, status, remove_votes)``: the case leaves the system."""

RowsUntil = Callable[[float], float]
"""``rows_until(limit)``: the queue lets the cases arriving before ``limit`` (the time
of the next event, which is not before the horizon) join its compact line's backlog
as rows, while that is all their arrival would do (no reviewer free, a case in line,
no closure or notice for their post); it returns the horizon then: the next arrival's
time, or the end of the step."""


def _one_at_a_time(draw_block: Callable[[], list[float]]) -> Callable[[], float]:
    """A function returning the next number of blocks drawn on demand."""
    return chain.from_iterable(iter(draw_block, None)).__next__


def duration_block(spec: TeamSpec, rng: np.random.Generator) -> Callable[[], np.ndarray]:
    """A function drawing the next :data:`BLOCK` vote durations in hours (mean and CV
    as the spec says)."""
    mean = spec.review_minutes / 60.0
    cv = spec.review_cv
    if cv == 0:
        return lambda: np.full(BLOCK, mean)
    if cv == 1:
        return lambda: rng.exponential(mean, BLOCK)
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean) - sigma2 / 2
    sigma = math.sqrt(sigma2)
    return lambda: rng.lognormal(mu, sigma, BLOCK)


def duration_draws(spec: TeamSpec, rng: np.random.Generator) -> Callable[[], float]:
    """Vote durations in hours, one per call (mean and CV as the spec says)."""
    if spec.review_cv == 0:
        return repeat(spec.review_minutes / 60.0).__next__
    draw = duration_block(spec, rng)
    return _one_at_a_time(lambda: draw().tolist())


def uniform_draws(rng: np.random.Generator) -> Callable[[], float]:
    """Uniforms on [0, 1), one per call."""
    return _one_at_a_time(lambda: rng.random(BLOCK).tolist())


class BlockDraws:
    """One sequence of numbers that a generator of its own draws in blocks.

    Read many at once with :meth:`take` (the fast path), or one at a time
    through :meth:`reader` (the event loop); numbers taken and then
    :meth:`put_back` are read again first. The sequence does not depend on
    how it is read, since nothing else draws from the generator. Once a
    reader has been called, read only through readers.
    """

    __slots__ = ("_draw", "_head")

    def __init__(self, draw_block: Callable[[], np.ndarray]) -> None:
        self._draw = draw_block
        self._head = np.empty(0)  # drawn and not read yet

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` numbers."""
        while self._head.size < k:
            self._head = np.concatenate([self._head, self._draw()])
        out, self._head = self._head[:k], self._head[k:]
        return out

    def put_back(self, values: np.ndarray) -> None:
        """Numbers taken but not used: they are the next ones read."""
        self._head = np.concatenate([values, self._head])

    def _next_list(self) -> list[float]:
        head = self._head if self._head.size else self._draw()
        self._head = head[:0]
        return head.tolist()

    def reader(self) -> Callable[[], float]:
        """A function returning the next number, one per call (reading starts at
        its first call, so a reader made early sees what :meth:`take` left)."""
        return _one_at_a_time(self._next_list)


class Reviewers(ABC):
    """The reviewers of one queue: the part of its event loop that differs between teams.

    The queue hands over its waiting line, its event heap, its id counter and
    the function that makes a case leave; the reviewers push their own events
    (vote completions and any of theirs) on that heap.
    """

    new_case: Callable[[int, int, int, bool, float, float, int], Case]
    """``new_case(seq, post_id, cls, violating, priority, arrived, kind)``: open a case."""

    def __init__(
        self,
        spec: TeamSpec,
        rng: np.random.Generator,
        line: WaitingLine,
        events: list[Event],
        next_id: Callable[[], int],
        leave: Leave,
    ) -> None:
        self._spec = spec
        self._line = line
        self._waiting = line.entries  # the line's entries and its pop, read in the hot path
        self._pop = line.pop
        self._events = events
        self._next_id = next_id
        self._leave = leave
        self._next_duration = duration_draws(spec, rng)
        self._next_uniform = uniform_draws(rng)

    # -- what the loop calls --------------------------------------------------------------

    work: Callable[[Any, float, float, RowsUntil], None]
    """``work(vote, now, horizon, rows_until)`` after an event: count ``vote`` if one came
    in, then free reviewers take cases. ``vote`` is the payload the reviewers put on a
    COMPLETE event, or None if the event was anything else.

    Then, while the heap's next event is a vote in by ``horizon`` (the next
    arrival, or the end of the run's step, whichever is first), it pops that
    event and does the same for it: what the loop would do next, without a
    return to it and a call per vote. Nothing can come between: an event
    that is not a vote, or the next arrival, hands back to the loop - unless
    ``rows_until`` (:data:`RowsUntil`) could make the arrivals before the vote
    rows of the backlog, when no reviewer is free.

    An attribute, not a method: the reviewers build it as a closure (see
    :meth:`_build_work`), whose variables are cheaper to read and write than
    attributes in a call made for nearly every event. Its counters - votes in
    progress, hours of votes started, cases started - are closure variables
    too, read through ``_counts``."""

    free_count: Callable[[], int]
    """``free_count()``: reviewers on duty and free to take a case now (0 or less: a
    case joining a line that has cases waiting gives :attr:`work` nothing to do)."""

    _counts: Callable[[], tuple[int, float, int]]
    """``_counts()`` -> (votes in progress, hours of votes started, cases started)."""

    @abstractmethod
    def _build_work(
        self,
    ) -> tuple[
        Callable[[Any, float, float, RowsUntil], None], Callable[[], tuple[int, float, int]]
    ]:
        """Build :attr:`work` and ``_counts`` (once, at the end of ``__init__``)."""

    def handle(self, kind: int, payload: Any, now: float) -> bool:
        """Run one of the reviewers' own events; say whether :meth:`work` may find work.

        False means the event cannot have let a free reviewer take a case (a
        juror leaving, say), so the loop skips :meth:`work` for it.
        """
        raise ValueError(f"{type(self).__name__}: no event of kind {kind}")

    # -- read-only state --------------------------------------------------------------------

    @property
    def in_service(self) -> int:
        """Votes in progress."""
        return self._counts()[0]

    @property
    def committed_hours(self) -> float:
        """Total duration of every vote started so far, in hours."""
        return self._counts()[1]

    @property
    def cases_started(self) -> int:
        """Cases whose first vote has started."""
        return self._counts()[2]

    @property
    @abstractmethod
    def capacity(self) -> int:
        """Reviewers on duty now."""

    @abstractmethod
    def available_hours(self, end: float, now: float) -> float:
        """Reviewer-hours on duty from time 0 to ``end`` (the queue's time is ``now``)."""

    @property
    def sessions_started(self) -> int:
        """Juror sessions begun so far (0 without a juror pool)."""
        return 0

    @property
    def votes_by_juror(self) -> np.ndarray:
        """Votes each juror of the pool has started (empty without a pool)."""
        return np.empty(0, dtype=np.int64)

    @property
    def vote_log(self) -> pd.DataFrame:
        """Who voted on which case, when: post_id, case, juror, started (if recorded)."""
        return pd.DataFrame([], columns=["post_id", "case", "juror", "started"])
