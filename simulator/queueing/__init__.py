"""The review queue that juries and paid staff share, as a package.

One idea per module:

* :mod:`~simulator.queueing.teams` - team specs (:class:`TeamSpec`,
  :class:`JurorPool`): who reviews, how many are on duty, how they vote;
* :mod:`~simulator.queueing.caselog` - the log of cases that left
  (:class:`CaseLog`) and its vocabulary (status and kind codes);
* :mod:`~simulator.queueing.events` - the event heap's entries and their
  order at equal times;
* :mod:`~simulator.queueing.cases` - a case's state while in the system and
  the line it waits in;
* :mod:`~simulator.queueing.backlog` - the cases behind the head of a
  first-come-first-served line, as rows of one array rather than objects;
* :mod:`~simulator.queueing.arrivals` - cases submitted and not arrived yet,
  as sorted columns the loop reads a block at a time;
* :mod:`~simulator.queueing.queue` - :class:`ReviewQueue`, the one event
  loop;
* :mod:`~simulator.queueing.fastpath` - the same queue, for a plain
  first-come-first-served team, as a recursion over arrays (bit for bit the
  loop's log; the first closure or notice hands over to the loop);
* :mod:`~simulator.queueing.reviewers` - the strategy the loop calls for
  what differs between teams, with two kinds:
  :mod:`~simulator.queueing.servers` (interchangeable reviewers, paid staff)
  and :mod:`~simulator.queueing.jurors` (individual jurors: sessions,
  per-juror votes, first-k-agree).
"""

from simulator.queueing.caselog import (
    CLOSED,
    DECIDED_KEEP,
    DECIDED_REMOVE,
    EXPIRED,
    KIND_APPEAL,
    KIND_ESCALATION,
    KIND_NAMES,
    KIND_REPORT,
    PENDING,
    STATUS_NAMES,
    CaseLog,
)
from simulator.queueing.queue import Decide, Followup, ReviewQueue
from simulator.queueing.teams import PRIORITIES, JurorPool, Priority, TeamSpec

__all__ = [
    "CLOSED",
    "DECIDED_KEEP",
    "DECIDED_REMOVE",
    "EXPIRED",
    "KIND_APPEAL",
    "KIND_ESCALATION",
    "KIND_NAMES",
    "KIND_REPORT",
    "PENDING",
    "PRIORITIES",
    "STATUS_NAMES",
    "CaseLog",
    "Decide",
    "Followup",
    "JurorPool",
    "Priority",
    "ReviewQueue",
    "TeamSpec",
]
