"""The review queue's event heap: what an entry is, and the kinds of event in run order.

An event is a ``(time, kind, id, payload)`` tuple on a heap. At equal times
events run in the order of their kinds below (arrivals, which are not on the
heap, come after all of them); the ids - one counter per queue, shared with
case numbers - order the rest.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CAPACITY",
    "CLOSE",
    "COMPLETE",
    "EXPEDITE",
    "EXPIRE",
    "FOLLOW",
    "IDLE",
    "REVIEWERS_OWN",
    "SESSION",
    "Event",
]

Event = tuple[float, int, int, Any]
"""``(time, kind, id, payload)``."""

CAPACITY = 0  # the number of reviewers on duty changes (interchangeable reviewers)
EXPIRE = 1  # the oldest waiting case's deadline
CLOSE = 2  # a post was removed by another channel
COMPLETE = 3  # a vote is in
SESSION = 4  # a juror comes on duty (juror pools only)
IDLE = 5  # an idle juror's patience runs out (juror pools only)
FOLLOW = 6  # a follow-up case arrives
EXPEDITE = 7  # noticed posts' cases move to the head of the line

REVIEWERS_OWN = frozenset({CAPACITY, SESSION, IDLE})
"""Kinds the reviewers put on the heap and run themselves (besides COMPLETE)."""
