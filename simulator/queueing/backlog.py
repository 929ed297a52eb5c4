"""Waiting cases no reviewer has reached yet, as rows of one growable array.

An overloaded first-come-first-served line holds most of its cases untouched:
a jury that decides tens of thousands of cases a day may have millions
waiting. As Python objects (a case, its line entry, its place in the queue's
index of posts) each cost about 0.4 KB; here each is one 36-byte row of a
structured array, in arrival order. The
:class:`~simulator.queueing.cases.WaitingLine` turns rows into cases a few at
a time as they come near the head (:meth:`Backlog.take_head`), or all the
rows of one post when a closure or a notice needs them
(:meth:`Backlog.take_post`); a row taken leaves the backlog.

Rows are appended to a small list and written to the array in blocks. The
array grows by a quarter again when full, keeping only the rows still waiting,
so it holds between one and 1.25 rows' worth of bytes per waiting case once
grown (half again was up to 0.3 GB of room at 16 M waiting cases, and the old
array beside the new one while it grows). Finding a
post's rows uses an index over most of the array (the rows' positions in post
id order, binary-searched), built when first asked for and rebuilt once the
rows appended since outnumber those indexed; rows after it are scanned.
"""

from __future__ import annotations

import bisect

import numpy as np

__all__ = ["FLUSH", "ROW", "Backlog", "PendingRow", "Row"]

ROW = np.dtype(
    [
        ("seq", np.int64),
        ("post_id", np.int64),
        ("arrived", np.float64),
        ("priority", np.float64),
        ("cls", np.int8),
        ("violating", np.bool_),
        ("kind", np.int8),
        ("alive", np.bool_),  # still waiting (False: taken, closed)
    ]
)
"""One waiting case: 36 bytes."""

_FIELDS: tuple[str, ...] = tuple(ROW.fields or ())

Row = tuple[int, int, float, float, int, bool, int]
"""``(seq, post_id, arrived, priority, cls, violating, kind)`` of one waiting case."""

PendingRow = tuple[int, int, float, float, int, bool, int, bool]
"""A :data:`Row` and its ``alive`` flag (True), appended to :attr:`Backlog.pending`."""

FLUSH = 1024
"""Rows appended to :attr:`Backlog.pending` before they are written to the array."""
_MIN_CAPACITY = 4096
_NO_INDEX = np.empty(0, np.int64)
_SCANNED = 65_536  # rows after the index scanned before the index is rebuilt


class Backlog:
    """Waiting cases in arrival order, as rows (see the module docstring)."""

    __slots__ = (
        "_head",
        "_index_end",
        "_positions",
        "_rows",
        "_size",
        "_source",
        "_tail",
        "pending",
        "source_positions",
        "source_seqs",
    )

    def __init__(self) -> None:
        self._rows = np.zeros(_MIN_CAPACITY, dtype=ROW)
        self._head = 0  # rows before it were taken
        self._tail = 0  # rows from it on are unused
        self._size = 0  # rows written to the array and still waiting
        self.pending: list[PendingRow] = []
        """Rows appended and not yet written: append ``(*row, True)`` and call
        :meth:`flush` once there are :data:`FLUSH` (written out, as this runs for
        nearly every case)."""
        self._source: tuple[np.ndarray, ...] = ()
        self.source_seqs: list[int] = []
        """Case numbers of rows appended from the source (see :meth:`use_source`)."""
        self.source_positions: list[int] = []
        """Where those rows are in the source's columns."""
        self._positions = np.empty(0, np.int64)  # rows [.., _index_end) by post id
        self._index_end = 0

    def __len__(self) -> int:
        """Rows still waiting, pending ones included."""
        return self._size + len(self.pending) + len(self.source_seqs)

    @property
    def capacity(self) -> int:
        """Rows the array has room for (written and not)."""
        return int(self._rows.size)

    @property
    def nbytes(self) -> int:
        """Bytes held by the array and the index."""
        return int(self._rows.nbytes + self._positions.nbytes)

    def append(self, row: Row) -> None:
        """A case joins the backlog's tail."""
        if self.source_seqs:  # rows from the source first: they came before
            self.flush()
        pending = self.pending
        pending.append((*row, True))
        if len(pending) >= FLUSH:
            self.flush()

    def use_source(self, columns: tuple[np.ndarray, ...]) -> None:
        """Columns (``arrived, post_id, cls, violating, priority, kind``, as the
        queue's :class:`~simulator.queueing.arrivals.ArrivalBuffer` keeps them) that
        rows may be appended from by position: append the case number to
        :attr:`source_seqs` and the position to :attr:`source_positions` (after a
        :meth:`flush` if :attr:`pending` has rows), and :meth:`flush` once there are
        :data:`FLUSH`. Written to the array a block at a time by gathering columns,
        not Python tuples one by one (which costs more than the rest of a case's
        arrival)."""
        if columns is not self._source:
            self.flush()
            self._source = columns

    def flush(self) -> None:
        """Write the rows appended and not yet written to the array."""
        tuples, seqs = self.pending, self.source_seqs
        n = len(tuples) + len(seqs)
        if not n:
            return
        if self._tail + n > self._rows.size:
            self._grow(n)
        block = self._rows[self._tail : self._tail + n]
        if tuples:  # column by column: a list of tuples into a structured array is slow
            for name, column in zip(_FIELDS, zip(*tuples, strict=True), strict=True):
                block[name] = column
            tuples.clear()
        else:
            at = np.array(self.source_positions, dtype=np.int64)
            arrived, post_id, cls, violating, priority, kind = self._source
            block["seq"] = seqs
            block["post_id"] = post_id[at]
            block["arrived"] = arrived[at]
            block["priority"] = priority[at]
            block["cls"] = cls[at]
            block["violating"] = violating[at]
            block["kind"] = kind[at]
            block["alive"] = True
            seqs.clear()
            self.source_positions.clear()
        self._tail += n
        self._size += n

    def _grow(self, extra: int) -> None:
        """Keep the rows still waiting, at the start of an array with room for a
        quarter as many again (and ``extra`` more)."""
        old = self._rows[self._head : self._tail]
        alive = old["alive"]
        n = int(np.count_nonzero(alive))
        rows = np.zeros(max(_MIN_CAPACITY, n + n // 4 + extra), dtype=ROW)
        # straight into the new array: a copy of the live rows on the way would
        # cost a third array of them (some 0.6 GB at 16 M waiting cases)
        np.compress(alive, old, axis=0, out=rows[:n])
        self._rows, self._head, self._tail = rows, 0, n
        # (an empty array, not a slice: a slice would keep the old index alive)
        self._positions, self._index_end = _NO_INDEX, 0

    def take_head(self, k: int) -> list[Row]:
        """Take up to ``k`` rows from the head, in order."""
        return _as_rows(self.take_head_array(k))

    def take_head_array(self, k: int) -> np.ndarray:
        """:meth:`take_head`, as an array of :data:`ROW`."""
        self.flush()
        out: list[np.ndarray] = []
        taken = 0
        rows, head, tail = self._rows, self._head, self._tail
        while taken < k and head < tail:
            stop = min(tail, head + 2 * k)
            block = rows[head:stop]
            alive = np.flatnonzero(block["alive"])[: k - taken]
            if alive.size == 0:
                head = stop
                continue
            out.append(block[alive])
            taken += alive.size
            block["alive"][alive] = False
            head += int(alive[-1]) + 1
        self._head = head
        self._size -= taken
        return out[0] if len(out) == 1 else np.concatenate([rows[:0], *out])

    def take_post(self, post_id: int) -> list[Row]:
        """Take the rows of one post, in arrival order."""
        self.flush()
        if not self._size:
            return []
        if self._tail - self._index_end > max(_SCANNED, self._index_end - self._head):
            self._reindex()
        positions, key = self._positions, self._rows["post_id"].__getitem__
        lo = bisect.bisect_left(positions, post_id, key=key)
        hi = bisect.bisect_right(positions, post_id, lo, key=key)
        found = positions[lo:hi]
        start = max(self._index_end, self._head)
        later = np.flatnonzero(self._rows["post_id"][start : self._tail] == post_id) + start
        found = np.concatenate([np.sort(found[found >= self._head]), later])
        found = found[self._rows["alive"][found]]
        if found.size == 0:
            return []
        self._rows["alive"][found] = False
        self._size -= int(found.size)
        return _as_rows(self._rows[found])

    def _reindex(self) -> None:
        # the old index goes first; the index is the rows' positions in post id
        # order alone (searched with the rows' own post ids as keys), 4 bytes a
        # waiting case where a sorted copy of the ids beside them took 16, and
        # millions may wait
        self._positions = _NO_INDEX
        order = np.argsort(self._rows["post_id"][self._head : self._tail], kind="stable")
        order += self._head
        small = self._rows.size < np.iinfo(np.int32).max
        self._positions = order.astype(np.int32) if small else order
        self._index_end = self._tail

    def waiting(self) -> np.ndarray:
        """The rows still waiting, in arrival order (a copy)."""
        self.flush()
        rows = self._rows[self._head : self._tail]
        return rows[rows["alive"]]


def _as_rows(rows: np.ndarray) -> list[Row]:
    """Structured rows as Python tuples, without the ``alive`` flag."""
    return [r[:7] for r in rows.tolist()]
