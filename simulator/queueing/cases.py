"""Cases in the system: the mutable state of one case, and the line cases wait in.

A case is opened when it arrives and leaves by decision, expiry or closure;
the queue then logs it as one :data:`~simulator.queueing.caselog.Record`.
While it waits for reviewers it sits in the :class:`WaitingLine`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from heapq import heapify, heappop, heappush
from itertools import repeat

import numpy as np

from simulator.queueing.backlog import ROW, Backlog, Row
from simulator.queueing.caselog import PENDING, CaseLog, Record

__all__ = ["ACTIVE", "MOOT", "Case", "Entry", "Open", "WaitingLine", "pending_log"]

# statuses of cases still in the system (negative: not left yet); the codes of
# :data:`~simulator.queueing.caselog.STATUS_NAMES` are those of cases that left
ACTIVE = -1  # waiting or being voted on
MOOT = -2  # closed while votes were in progress; leaves when they finish


class Case:
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
        self.seq = seq  # the case number: its event id when it arrived
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
        self.twin: Case | None = None  # an earlier case of the same post, if any

    def record(self, left: float, status: int, remove_votes: int) -> Record:
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


Entry = tuple[float, int, Case]
"""An entry of the waiting line: ``(sort key, case number, case)``."""

Open = Callable[[Row], Case]
"""``open(row)``: the case of a waiting case's row, entered in the queue's index of posts."""

OpenRows = Callable[[np.ndarray], list[Case]]
"""``open_rows(rows)``: :data:`Open` for each of an array of
:data:`~simulator.queueing.backlog.ROW`, in order."""

_WINDOW = 64  # rows of a compact line's backlog turned into cases at a time


class WaitingLine:
    """Cases waiting for reviewers: first come first served, or highest priority first.

    A FIFO line is a deque; a priority line a heap keyed by ``-priority``,
    ties by case number. The head is ``entries[0]``. Reviewers take cases
    from the head with :attr:`pop` and may leave an entry there until the
    case has all the votes it asks for; an entry whose case left the system
    meanwhile is popped and skipped when it reaches the head.

    A *compact* FIFO line (``compact=True``, given the function that opens
    a case from its row) keeps the cases behind its head in a
    :class:`~simulator.queueing.backlog.Backlog`, as rows: :meth:`add_row`
    puts one there once the deque has entries, and :attr:`pop` turns the next
    few rows into cases and entries when the deque runs out. So the deque is
    empty only if the backlog is, and the order is the one a deque of every
    case would have.
    """

    __slots__ = (
        "_backlog",
        "_entries",
        "_fifo",
        "_open",
        "_open_rows",
        "_pop",
        "_popleft",
        "_push",
    )

    def __init__(
        self, fifo: bool, open_case: Open | None = None, open_rows: OpenRows | None = None
    ) -> None:
        self._fifo = fifo
        self._entries: deque[Entry] | list[Entry]
        self._backlog: Backlog | None = None
        self._open = open_case
        if (open_case is None) != (open_rows is None):
            raise ValueError("WaitingLine: a compact line opens cases one row or many at a time")
        self._open_rows = open_rows
        if fifo:
            line: deque[Entry] = deque()
            self._entries, self._push, self._pop = line, line.append, line.popleft
            if open_case is not None:
                self._backlog, self._popleft, self._pop = Backlog(), line.popleft, self._pop_refill
        else:
            if open_case is not None:
                raise ValueError("WaitingLine: only a first-come-first-served line is compact")
            heap: list[Entry] = []
            self._entries = heap
            self._push = partial(heappush, heap)
            self._pop = partial(heappop, heap)

    @property
    def entries(self) -> deque[Entry] | list[Entry]:
        """The entries, head first (a heap: only the head is in order). Do not reorder."""
        return self._entries

    @property
    def pop(self) -> Callable[[], Entry]:
        """Take the head entry off the line: ``pop() -> Entry``."""
        return self._pop

    @property
    def push(self) -> Callable[[Entry], None]:
        """Put an entry in its place in the line: ``push(entry)``."""
        return self._push

    @property
    def fifo(self) -> bool:
        return self._fifo

    @property
    def backlog(self) -> Backlog | None:
        """Where a compact line keeps the cases behind its head (None if not compact)."""
        return self._backlog

    def add_row(self, row: Row) -> None:
        """A case joins a compact line's tail: as a row behind the deque's entries,
        or as a case if the line is empty."""
        if self._entries:
            backlog = self._backlog
            assert backlog is not None
            backlog.append(row)
        else:
            assert self._open is not None
            case = self._open(row)
            self._push((0.0, case.seq, case))

    def _pop_refill(self) -> Entry:
        entry = self._popleft()
        if not self._entries and self._backlog:
            assert self._open_rows is not None
            rows = self._backlog.take_head_array(_WINDOW)
            cases = self._open_rows(rows)
            self._entries.extend(zip(repeat(0.0), rows["seq"].tolist(), cases))
        return entry

    def take_post(self, post_id: int) -> list[Case]:
        """The cases of a post still in the backlog, opened and out of the line
        (the caller closes them or moves them to the head)."""
        if not self._backlog:
            return []
        assert self._open is not None
        return [self._open(row) for row in self._backlog.take_post(post_id)]

    def release_source(self) -> None:
        """Have the backlog write the rows it reads from the arrivals' columns."""
        if self._backlog is not None:
            self._backlog.use_source(())

    def waiting_rows(self) -> np.ndarray:
        """The backlog's rows (:data:`~simulator.queueing.backlog.ROW`), in line order."""
        if self._backlog is None:
            return np.empty(0, dtype=ROW)
        return self._backlog.waiting()

    def add(self, case: Case) -> None:
        """A case joins the line: at the tail, or in its place by priority."""
        self._push((0.0 if self._fifo else -case.priority, case.seq, case))

    def put_back(self, case: Case) -> None:
        """A case that left the head wants more votes: at the head, or in its place."""
        entry = (0.0 if self._fifo else -case.priority, case.seq, case)
        if isinstance(self._entries, deque):
            self._entries.appendleft(entry)
        else:
            heappush(self._entries, entry)

    def restore(self, entries: list[Entry]) -> None:
        """Put back entries taken off the head (in the order taken) where they were."""
        if isinstance(self._entries, deque):
            self._entries.extendleft(reversed(entries))
        else:
            for entry in entries:
                heappush(self._entries, entry)

    def to_head(self, case: Case) -> None:
        """Move a waiting case to the head of the line.

        Its old entry is taken out (linear, but notices are rare) rather than
        left behind: a juror pool would read a stale entry as a case still
        wanting votes.
        """
        line = self._entries
        entry = next((e for e in line if e[2] is case), None)
        if entry is not None:  # already waiting; a case just arriving is not in line yet
            line.remove(entry)
            if not isinstance(line, deque):
                heapify(line)
        if isinstance(line, deque):
            line.appendleft((0.0, case.seq, case))
        else:
            heappush(line, (-math.inf, case.seq, case))


def pending_log(cases: list[Case], rows: np.ndarray) -> CaseLog:
    """Cases in the system and a backlog's rows, as a log of pending cases in order
    of case number (``cases`` in that order already); the rows go column by column."""
    log = CaseLog.from_records([case.record(math.nan, PENDING, 0) for case in cases])
    if not rows.size:
        return log
    names = ("post_id", "arrived", "cls", "violating", "priority", "kind")
    waiting = CaseLog.pending(**{name: rows[name] for name in names})
    seqs, row_seqs = np.array([c.seq for c in cases], dtype=np.int64), rows["seq"]
    if np.all(row_seqs[1:] > row_seqs[:-1]):  # a backlog's rows: numbered as they came
        # the few cases slotted in, a column at a time: a joined copy and a reordered
        # one of every column were 1.8 GB at 12 M waiting cases
        at = np.searchsorted(row_seqs, seqs)
        return CaseLog(**{
            name: np.insert(getattr(waiting, name), at, getattr(log, name))
            for name in (f.name for f in fields(log))
        })  # fmt: skip
    order = np.argsort(np.concatenate([seqs, row_seqs]))
    return CaseLog.concat([log, waiting]).take(order)
