"""Cases submitted to a review queue and not arrived yet: a sorted buffer of columns.

:meth:`ArrivalBuffer.submit` checks a batch of cases and merges it into the
buffer in time order (cases at the same time keep submission order); the
queue's event loop reads the buffer a block at a time as Python numbers
(:meth:`ArrivalBuffer.block`) and moves :attr:`ArrivalBuffer.cursor` past the
cases that arrived.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.queueing.caselog import KIND_NAMES

__all__ = ["BLOCK", "COLUMNS", "ArrivalBuffer"]

BLOCK = 4096  # arrivals turned into Python numbers at a time

COLUMNS = ("arrived", "post_id", "cls", "violating", "priority", "kind")
"""The buffer's columns, in order."""

_DTYPES = (np.float64, np.int64, np.int8, np.bool_, np.float64, np.int8)


class ArrivalBuffer:
    """Future arrivals sorted by time; numpy for merging, lists for the loop."""

    __slots__ = ("_lists", "cols", "cursor")

    def __init__(self) -> None:
        self.cols: tuple[np.ndarray, ...] = tuple(np.empty(0, d) for d in _DTYPES)
        """The columns of :data:`COLUMNS`, sorted by time; rows before :attr:`cursor`
        have arrived."""
        self.cursor = 0
        self._lists: tuple[int, tuple[list[Any], ...]] = (0, ([],))  # see block

    def __len__(self) -> int:
        """Cases not arrived yet."""
        return int(self.cols[0].size) - self.cursor

    def submit(
        self,
        now: float,
        n_classes: int,
        post_ids: np.ndarray,
        times: np.ndarray,
        classes: np.ndarray,
        violating: np.ndarray,
        priorities: np.ndarray | None = None,
        kinds: np.ndarray | None = None,
    ) -> None:
        """Check cases arriving at ``times`` (none before ``now``) and merge them in
        (see :meth:`~simulator.queueing.queue.ReviewQueue.submit`)."""
        t = np.asarray(times, dtype=np.float64)
        size = t.size
        ids = np.asarray(post_ids)
        cls = np.asarray(classes)
        viol = np.asarray(violating)
        prio = np.zeros(size) if priorities is None else np.asarray(priorities, dtype=np.float64)
        kind = np.zeros(size, np.int8) if kinds is None else np.asarray(kinds)
        for name, arr in (("kinds", kind), ("post_ids", ids), ("times", t), ("classes", cls),
                          ("violating", viol), ("priorities", prio)):  # fmt: skip
            if arr.shape != (size,):
                raise ValueError(
                    f"submit: {name} must be a 1-D array as long as times ({size}), "
                    f"got shape {arr.shape}"
                )
        if size == 0:
            return
        if not np.all(np.isfinite(t)) or t.min() < now:
            raise ValueError(
                f"submit: times must be finite and >= now ({now}), "
                f"got min {np.nanmin(t) if np.any(np.isfinite(t)) else t[0]}"
            )
        if not np.issubdtype(cls.dtype, np.integer) or cls.min() < 0 or cls.max() >= n_classes:
            raise ValueError(
                f"submit: classes must be integer codes in [0, {n_classes}), "
                f"got {cls.dtype} in [{cls.min()}, {cls.max()}]"
            )
        if viol.dtype != np.bool_:
            raise ValueError(f"submit: violating must be a boolean array, got {viol.dtype}")
        if not np.all(np.isfinite(prio)):
            raise ValueError("submit: priorities must be finite")
        if not np.all((kind >= 0) & (kind < len(KIND_NAMES))):
            raise ValueError(f"submit: kinds must be codes in [0, {len(KIND_NAMES)})")

        start = self.cursor
        order = np.argsort(np.concatenate([self.cols[0][start:], t]), kind="stable")
        # a column at a time: millions of cases wait to arrive in an overloaded run,
        # and every column merged at once held three copies of them
        cols = list(self.cols)
        for i, new in enumerate((t, ids, cls, viol, prio, kind)):
            old, cols[i] = cols[i], np.empty(0, cols[i].dtype)
            self.cols = tuple(cols)  # the old column not kept by the buffer either
            cols[i] = np.concatenate([old[start:], new.astype(old.dtype, copy=False)])[order]
            del old
        self.cols = tuple(cols)
        self._lists = (0, ([],))
        self.cursor = 0

    def block(self) -> tuple[int, tuple[list[Any], ...]]:
        """``(first, lists)``: the buffer's block from ``first`` (the cursor is in it)
        as lists of :data:`COLUMNS`. A block, not the buffer: a day's millions of
        reports as Python numbers would cost more than the rows of the cases they open."""
        first, lists = self._lists
        if not first <= self.cursor < first + len(lists[0]):
            first = self.cursor
            lists = tuple(col[first : first + BLOCK].tolist() for col in self.cols)
            self._lists = (first, lists)
        return first, lists

    def take_until(self, t: float) -> dict[str, np.ndarray]:
        """The columns of the cases arriving by ``t``, which are then past the cursor."""
        stop = int(np.searchsorted(self.cols[0], t, side="right"))
        start, self.cursor = self.cursor, stop
        return {name: col[start:stop] for name, col in zip(COLUMNS, self.cols, strict=True)}

    def rest(self) -> tuple[list[Any], ...]:
        """The cases not arrived yet, as lists of :data:`COLUMNS` (a snapshot)."""
        return tuple(col[self.cursor :].tolist() for col in self.cols)
