"""Cases in the system: the mutable state of one case, and the line cases wait in.

A case is opened when it arrives and leaves by decision, expiry or closure;
the queue then logs it as one :data:`~simulator.queueing.caselog.Record`.
While it waits for reviewers it sits in the :class:`WaitingLine`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from functools import partial
from heapq import heapify, heappop, heappush

from simulator.queueing.caselog import Record

__all__ = ["ACTIVE", "MOOT", "Case", "Entry", "WaitingLine"]

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


class WaitingLine:
    """Cases waiting for reviewers: first come first served, or highest priority first.

    A FIFO line is a deque; a priority line a heap keyed by ``-priority``,
    ties by case number. The head is ``entries[0]``. Reviewers take cases
    from the head with :attr:`pop` and may leave an entry there until the
    case has all the votes it asks for; an entry whose case left the system
    meanwhile is popped and skipped when it reaches the head.
    """

    __slots__ = ("_entries", "_fifo", "_pop", "_push")

    def __init__(self, fifo: bool) -> None:
        self._fifo = fifo
        self._entries: deque[Entry] | list[Entry]
        if fifo:
            line: deque[Entry] = deque()
            self._entries, self._push, self._pop = line, line.append, line.popleft
        else:
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
