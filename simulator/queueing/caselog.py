"""The case log and its vocabulary: what a review queue reports about the cases that left.

A :class:`CaseLog` holds cases as columns, one entry per case. Its ``status``
column holds the codes of :data:`STATUS_NAMES` (how the case left) and its
``kind`` column those of :data:`KIND_NAMES` (why it was opened).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

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
    "STATUS_NAMES",
    "CaseLog",
    "Record",
]


# -- case outcomes ---------------------------------------------------------------------------

DECIDED_REMOVE = 0
DECIDED_KEEP = 1
EXPIRED = 2
CLOSED = 3
PENDING = 4
STATUS_NAMES: tuple[str, ...] = ("decided_remove", "decided_keep", "expired", "closed", "pending")
"""STATUS_NAMES[code] is the name of a status code in :attr:`CaseLog.status`."""

# -- case kinds: why the case was opened ---------------------------------------------------

KIND_REPORT = 0  # user report(s) or a prefilter flag
KIND_ESCALATION = 1  # a jury case handed to paid staff
KIND_APPEAL = 2  # the author of a removed post appealed
KIND_NAMES: tuple[str, ...] = ("report", "escalation", "appeal")
"""KIND_NAMES[code] is the name of a kind code in :attr:`CaseLog.kind`."""

# -- the log's columns ----------------------------------------------------------------------

_COLUMNS: dict[str, type] = {
    "post_id": np.int64,
    "arrived": np.float64,
    "started": np.float64,
    "left": np.float64,
    "status": np.int8,
    "remove_votes": np.int16,
    "votes": np.int16,
    "cls": np.int8,
    "violating": np.bool_,
    "priority": np.float64,
    "kind": np.int8,
}
_RECORD = np.dtype(list(_COLUMNS.items()))

Record = tuple[int, float, float, float, int, int, int, int, bool, float, int]
"""One row of a :class:`CaseLog`, in column order."""


@dataclass(frozen=True, eq=False)
class CaseLog:
    """Cases as columns, one entry per case.

    ``started`` is when the first vote started (NaN if none did); ``left`` is
    when the case left the system - decision, expiry or closure (NaN while
    pending). ``status`` holds the codes of :data:`STATUS_NAMES`, ``kind``
    those of :data:`KIND_NAMES`.
    ``remove_votes`` is only meaningful for decided cases (0 otherwise);
    ``votes`` counts the votes cast (or in progress, for pending cases).
    """

    post_id: np.ndarray
    arrived: np.ndarray
    started: np.ndarray
    left: np.ndarray
    status: np.ndarray
    remove_votes: np.ndarray
    votes: np.ndarray
    cls: np.ndarray
    violating: np.ndarray
    priority: np.ndarray
    kind: np.ndarray

    @classmethod
    def from_records(cls, records: Sequence[Record]) -> CaseLog:
        """Build a log from row tuples in column order."""
        table = np.fromiter(records, dtype=_RECORD, count=len(records))
        return cls(**{name: np.ascontiguousarray(table[name]) for name in _COLUMNS})

    @classmethod
    def empty(cls) -> CaseLog:
        return cls.from_records([])

    @staticmethod
    def pending(**columns: np.ndarray) -> CaseLog:
        """Pending cases from columns (``post_id``, ``arrived``, ``cls``, ``violating``,
        ``priority``, ``kind``): the records :meth:`from_records` would make of them,
        without a tuple a case (a backlog can hold millions)."""
        n = len(columns["post_id"])
        fill = {"started": np.nan, "left": np.nan, "status": PENDING, "remove_votes": 0, "votes": 0}
        return CaseLog(**{
            name: np.asarray(columns[name], dtype=dtype) if name in columns
            else np.full(n, fill[name], dtype=dtype)
            for name, dtype in _COLUMNS.items()
        })  # fmt: skip

    def take(self, index: np.ndarray) -> CaseLog:
        """The cases at ``index``, in its order."""
        return CaseLog(**{name: getattr(self, name)[index] for name in _COLUMNS})

    @staticmethod
    def concat(logs: Sequence[CaseLog]) -> CaseLog:
        """The logs one after the other."""
        if not logs:
            return CaseLog.empty()
        return CaseLog(
            **{name: np.concatenate([getattr(log, name) for log in logs]) for name in _COLUMNS}
        )

    def __len__(self) -> int:
        return int(self.post_id.size)

    def __eq__(self, other: object) -> bool:
        """Column-wise exact equality; NaN equals NaN."""
        if not isinstance(other, CaseLog):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if a.shape != b.shape or a.dtype != b.dtype:
                return False
            if a.dtype.kind == "f":
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif not np.array_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    @property
    def wait(self) -> np.ndarray:
        """Hours from arrival to the first vote (NaN if never started)."""
        return self.started - self.arrived

    def to_frame(self, copy: bool = True) -> pd.DataFrame:
        """The log as a DataFrame, with a categorical ``status_name`` next to ``status``
        (``copy=False``: on this log's arrays, for a log nothing changes any more)."""
        columns: dict[str, Any] = {}
        for name in _COLUMNS:
            columns[name] = getattr(self, name)
            if name == "status":
                columns["status_name"] = pd.Categorical.from_codes(
                    self.status.astype(np.int64), categories=pd.Index(STATUS_NAMES)
                )
            if name == "kind":
                columns["kind_name"] = pd.Categorical.from_codes(
                    self.kind.astype(np.int64), categories=pd.Index(KIND_NAMES)
                )
        return pd.DataFrame(columns, copy=copy)
