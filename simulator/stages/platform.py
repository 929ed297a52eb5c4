"""The platform's post-state table: the posts held in memory and their fates.

:class:`PostColumns` is a structure of arrays, one row per post: when it was
made, its class and reach, its prefilter score, when it was reported, flagged,
queued, removed (and by whom) or restored. :class:`PlatformState` holds the
posts still in memory, applies removals and restorations, and keeps the
hourly counts the enforcers query through
:class:`simulator.enforcement.PlatformView`.

Every stage that changes a post's fate (review queues, follow-ups, the notice
response) writes here; the engine decides which rows are settled and emits
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from simulator.enforcement.harm import view_rates
from simulator.enforcement.records import QueueState
from simulator.queueing import ReviewQueue
from simulator.stream.synthetic import views_at
from simulator.taxonomy import REMOVAL_CHANNELS, Taxonomy

TEAMS = ("jury", "staff")
"""The teams a first case can go to; the ``team`` column holds an index into it."""
NO_TEAM = -1
"""The ``team`` of a post nobody queued."""


@dataclass
class PostColumns:
    """Per-post state for posts still held in memory (a structure of arrays)."""

    post_id: np.ndarray
    created_at: np.ndarray
    cls: np.ndarray
    reach: np.ndarray
    decay: np.ndarray
    score: np.ndarray
    reported_at: np.ndarray
    flagged_at: np.ndarray
    case_at: np.ndarray
    team: np.ndarray
    removed_at: np.ndarray
    removed_by: np.ndarray
    case_open: np.ndarray  # cases open for the post (a count: follow-ups can overlap)
    labelled: np.ndarray
    restored_at: np.ndarray  # after a successful appeal (inf: never)
    text: list[str] | None

    NUMERIC = (
        "post_id",
        "created_at",
        "cls",
        "reach",
        "decay",
        "score",
        "reported_at",
        "flagged_at",
        "case_at",
        "team",
        "removed_at",
        "removed_by",
        "case_open",
        "labelled",
        "restored_at",
    )

    def __len__(self) -> int:
        return len(self.post_id)

    def take(self, idx: np.ndarray) -> PostColumns:
        """The rows ``idx`` (a boolean mask or positions), as a new table."""
        cols = {name: getattr(self, name)[idx] for name in self.NUMERIC}
        pos = np.flatnonzero(idx) if idx.dtype == bool else idx
        text = [self.text[i] for i in pos] if self.text is not None else None
        return PostColumns(**cols, text=text)

    def rows(self, start: int, stop: int) -> PostColumns:
        """The rows ``start:stop``, as views of this table's columns (no copy)."""
        cols = {name: getattr(self, name)[start:stop] for name in self.NUMERIC}
        return PostColumns(**cols, text=self.text[start:stop] if self.text is not None else None)

    @staticmethod
    def empty(with_text: bool) -> PostColumns:
        """A table with no rows (and the dtypes of a full one)."""
        return PostColumns.from_columns({}, 0, with_text)

    def columns(self, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray | list[str]]:
        """The columns ``names`` (every one by default, text too if held), by name."""
        out: dict[str, np.ndarray | list[str]] = {
            n: getattr(self, n) for n in (self.NUMERIC if names is None else names)
        }
        if names is None and self.text is not None:
            out["text"] = self.text
        return out

    @staticmethod
    def from_columns(
        data: Mapping[str, np.ndarray | list[str]], n: int, with_text: bool
    ) -> PostColumns:
        """A table of ``n`` rows from :meth:`columns`; a column left out holds the
        value of a post nothing touched (never reported, queued or removed)."""
        cols: dict[str, np.ndarray] = {
            name: np.asarray(data[name], dtype=dtype)
            if name in data
            else np.full(n, _UNTOUCHED.get(name, 0), dtype=dtype)
            for name, dtype in _DTYPES.items()
        }
        text = data.get("text")
        if with_text and text is None:
            text = [""] * n
        return PostColumns(**cols, text=list(text) if with_text and text is not None else None)

    @staticmethod
    def concat(parts: list[PostColumns]) -> PostColumns:
        """The rows of ``parts``, in order (text kept only if every part has it)."""
        cols = {n: np.concatenate([getattr(p, n) for p in parts]) for n in PostColumns.NUMERIC}
        text = None
        if all(p.text is not None for p in parts):
            text = [t for p in parts for t in (p.text or [])]
        return PostColumns(**cols, text=text)

    def frame(
        self,
        end: float | np.ndarray,
        with_text: bool,
        with_labels: bool = False,
        *,
        taxonomy: Taxonomy,
    ) -> pd.DataFrame:
        """Rows for the per-post table; times in hours since the start (``end``:
        when the run ended, or per row, when it had ended as the row settled).

        The frame takes this table's arrays over (no copy of a run's largest
        table): its times become NaN where they fall after ``end``, in place. Call
        it on a table nothing reads any more (a :meth:`take`, rows read back).
        """
        _nan_after(self.removed_at, end)
        # views up to the removal, or to the end for a post still up then
        views = views_at(self.reach, self.decay, np.fmin(self.removed_at, end) - self.created_at)
        data: dict[str, object] = {
            "post_id": self.post_id,
            "created_at": self.created_at,
            "cls": pd.Categorical.from_codes(self.cls, categories=list(taxonomy.classes)),
            "violating": taxonomy.violating[self.cls],
            "reach": self.reach,
            "score": self.score,
            "reported_at": _nan_after(self.reported_at, end),
            "flagged_at": _nan_after(self.flagged_at, end),
            "case_at": _nan_after(self.case_at, end),
            "removed_at": self.removed_at,
            "removed_by": pd.Categorical.from_codes(
                np.where(np.isnan(self.removed_at), 0, self.removed_by),
                categories=list(REMOVAL_CHANNELS),
            ),
            "views": views,
            "restored_at": _nan_after(self.restored_at, end),
        }
        if with_labels:
            # A replay with partial ground truth: False where the class is estimated.
            data["labelled"] = self.labelled
        if with_text and self.text is not None:
            data["text"] = self.text
        return pd.DataFrame(data, copy=False)


_DTYPES: dict[str, type] = {
    "post_id": np.int64,
    "created_at": np.float64,
    "cls": np.int8,
    "reach": np.float64,
    "decay": np.float64,
    "score": np.float64,
    "reported_at": np.float64,
    "flagged_at": np.float64,
    "case_at": np.float64,
    "team": np.int8,
    "removed_at": np.float64,
    "removed_by": np.int8,
    "case_open": np.int16,
    "labelled": np.bool_,
    "restored_at": np.float64,
}
_UNTOUCHED = {
    "reported_at": np.inf,
    "flagged_at": np.inf,
    "case_at": np.inf,
    "team": NO_TEAM,
    "removed_at": np.inf,
    "restored_at": np.inf,
    "labelled": True,
    "score": np.nan,
}


_READ_ONLY = ("decay", "score", "flagged_at", "labelled")
"""Columns no stage writes once a post is staged: a held table keeps one that
holds a single value (a stream's one decay, no score or flag without a
classifier, every post labelled) as that value, not a value a post (25 bytes a
held post of 86)."""


ASIDE = ("reported_at",)
"""Columns of the held table that only settlement reads: no stage reads or writes
them once a post is held (a report's time is drawn when the post is made, and
its case time is what the stages read). Given an :class:`Aside`, the held table
holds them as NaN (one value, read-only) and the aside holds their values, in
the held rows' order, each written once as the row is held, until the row
settles (:meth:`PlatformState.release` reads them back, :meth:`~PlatformState.keep`
only forgets them, :meth:`PlatformState.blocks` reads the rest at the end): 8
of 61 bytes a held post."""


class Aside(Protocol):
    """Where the columns :data:`ASIDE` of held rows wait: rows appended after every
    waiting one, each settling once, in any order, through a mask over the rows
    still waiting (a :class:`simulator.spill.Settling`)."""

    def append(self, columns: Mapping[str, np.ndarray]) -> None: ...

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]: ...

    def drop(self, rows: np.ndarray) -> None: ...

    def drain(self) -> Iterator[dict[str, np.ndarray]]: ...


def _is_constant(column: np.ndarray) -> bool:
    """Whether ``column`` is a held table's single value (a read-only broadcast)."""
    return column.ndim == 1 and column.strides == (0,)


def _resized(column: np.ndarray, n: int) -> np.ndarray:
    # a copy of the value: a view would keep the whole column alive
    return np.broadcast_to(column[:1].copy() if len(column) else column, (n,))


def _single(column: np.ndarray) -> bool:
    """Whether every value of ``column`` is its first (NaN counting as equal)."""
    if len(column) == 0 or _is_constant(column):
        return True
    return bool(np.array_equal(column, np.broadcast_to(column[:1], column.shape), equal_nan=True))


def _compact(column: np.ndarray) -> np.ndarray:
    """``column`` as a broadcast of its value if it holds one, else itself."""
    return _resized(column, len(column)) if len(column) and _single(column) else column


def _joined(held: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    """A read-only column of the held table grown by ``parts``, one value kept as one."""
    parts = [part for part in parts if len(part)]
    if not parts:
        return held
    if len(held) == 0:
        return _compact(parts[0] if len(parts) == 1 else np.concatenate(parts))
    if _is_constant(held) and all(_single(p) and _same(held[0], p[0]) for p in parts):
        return _resized(held, len(held) + sum(len(p) for p in parts))
    return np.concatenate([held, *parts])


def _same(a: object, b: object) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))


def _nan_after(times: np.ndarray, end: float | np.ndarray) -> np.ndarray:
    """``times``, NaN where after ``end`` (or never), in place when it is writable
    and not one value broadcast (a held table's read-only single-value column)."""
    after = ~(times <= end)
    if not times.flags.writeable or _is_constant(times):
        return np.where(after, np.nan, times)
    times[after] = np.nan
    return times


Watcher = Callable[[PostColumns, np.ndarray, np.ndarray, int], None]
"""Told of removals ``(cols, rows, times, channel)``; channel -1: restorations."""


class PlatformState:
    """The posts held in memory and the removal bookkeeping the enforcers query."""

    def __init__(self, hours: int, taxonomy: Taxonomy, aside: Aside | None = None) -> None:
        self.taxonomy = taxonomy
        self.cols: PostColumns | None = None
        # where the columns :data:`ASIDE` of held rows wait (None: in the table)
        self._aside = aside
        self.watchers: list[Watcher] = []  # account enforcement hears of removals here
        self.created_per_hour = np.zeros(hours + 1)
        self.removed_per_hour = np.zeros(hours + 1)

    def add(self, *parts: PostColumns) -> None:
        """Hold the rows of ``parts`` in memory too, in order (their ids follow every
        held one).

        The held table grows in place, one column at a time, from the parts
        directly, so that growing it never holds two copies of it nor a joined
        copy of the parts (anything keeping the table sees it grow)."""
        if not parts:
            return
        one_valued: tuple[str, ...] = _READ_ONLY
        if self._aside is not None:
            one_valued += ASIDE
            for part in parts:
                self._aside.append({n: getattr(part, n) for n in ASIDE})
                for name in ASIDE:
                    setattr(part, name, _unset(getattr(part, name)))
        if self.cols is None:
            self.cols = parts[0] if len(parts) == 1 else PostColumns.concat(list(parts))
            for name in one_valued:
                setattr(self.cols, name, _compact(getattr(self.cols, name)))
            return
        held = self.cols
        for name in PostColumns.NUMERIC:
            old, new = getattr(held, name), [getattr(part, name) for part in parts]
            if name in one_valued:
                setattr(held, name, _joined(old, new))
            else:
                setattr(held, name, np.concatenate([old, *new]))
            del old, new
        if held.text is not None:
            texts = [part.text for part in parts if part.text is not None]
            complete = len(texts) == len(parts)
            held.text = held.text + [t for text in texts for t in text] if complete else None

    def keep(self, rows: np.ndarray) -> None:
        """Hold only the rows ``rows`` (a boolean mask) of the held table, in place
        and one column at a time, as :meth:`add` grows it."""
        if self._aside is not None:
            self._aside.drop(~rows)
        self._keep(rows)

    def release(self, rows: np.ndarray) -> PostColumns:
        """The rows ``rows`` (a boolean mask) as a table of their own, with their
        columns set aside read back; the held table keeps the others (:meth:`keep`)."""
        assert self.cols is not None
        out = self.cols.take(rows)
        if self._aside is not None:
            for name, values in self._aside.take(rows).items():
                setattr(out, name, values)
        self._keep(~rows)
        return out

    def blocks(self, size: int) -> Iterator[PostColumns]:
        """Every held row, ``size`` rows at a time, in order: views of the table's
        columns, with the columns set aside read back (once: they are then gone)."""
        held = self.cols
        if held is None:
            return
        aside = None
        if self._aside is not None:
            aside = _blocks(self._aside.drain(), size)
        for start in range(0, len(held), size):
            part = held.rows(start, start + size)
            if aside is not None:
                for name, values in next(aside).items():
                    setattr(part, name, values)
            yield part

    def _keep(self, rows: np.ndarray) -> None:
        held = self.cols
        assert held is not None
        n = int(rows.sum())
        for name in PostColumns.NUMERIC:
            column = getattr(held, name)
            setattr(held, name, _resized(column, n) if _is_constant(column) else column[rows])
        if held.text is not None:
            held.text = [t for t, k in zip(held.text, rows.tolist(), strict=True) if k]

    def index(self, post_ids: np.ndarray) -> np.ndarray:
        """Rows of the posts ``post_ids`` (which must be held; ids are sorted)."""
        assert self.cols is not None
        idx = np.searchsorted(self.cols.post_id, post_ids)
        return idx

    # PlatformView ---------------------------------------------------------
    def removed_at(self, post_ids: np.ndarray) -> np.ndarray:
        if self.cols is None or len(post_ids) == 0:
            return np.full(len(post_ids), np.inf)
        return self.cols.removed_at[self.index(post_ids)]

    def live_violating(self, t: float) -> np.ndarray:
        c = self.cols
        if c is None:
            return np.empty(0, dtype=np.int64)
        up = (c.removed_at > t) | (c.restored_at <= t)
        mask = self.taxonomy.violating[c.cls] & (c.created_at <= t) & up
        return c.post_id[mask]

    def views(self, post_ids: np.ndarray, t: float) -> np.ndarray:
        assert self.cols is not None
        c, idx = self.cols, self.index(post_ids)
        until = np.minimum(c.removed_at[idx], t)
        return views_at(c.reach[idx], c.decay[idx], np.maximum(until - c.created_at[idx], 0.0))

    def harmful_views_per_hour(self, t: float) -> float:
        """Views per hour at ``t`` of the violating posts up then (a removal counts
        from its time, as in :mod:`simulator.enforcement.harm`)."""
        c = self.cols
        if c is None:
            return 0.0
        rows = np.flatnonzero(self.taxonomy.violating[c.cls])
        return float(
            view_rates(np.array([t]), c.created_at, c.reach, c.decay, c.removed_at, rows)[0]
        )

    def live_posts(self, t: float) -> float:
        h = min(int(t), len(self.created_per_hour) - 1)
        return float(self.created_per_hour[: h + 1].sum() - self.removed_per_hour[: h + 1].sum())

    # Removals -------------------------------------------------------------
    def remove(self, idx: np.ndarray, times: np.ndarray, channel: int) -> np.ndarray:
        """Apply removals where earlier than any known one, or after a restoration;
        return the index applied."""
        assert self.cols is not None
        c = self.cols
        again = c.restored_at[idx] <= times  # restored by appeal, now removed again
        earlier = (times < c.removed_at[idx]) | again
        idx, times, again = idx[earlier], times[earlier], again[earlier]
        prev = c.removed_at[idx]
        self.count_removed(prev[np.isfinite(prev) & ~again], -1)
        c.removed_at[idx] = times
        c.removed_by[idx] = channel
        c.restored_at[idx] = np.inf
        self.count_removed(times, +1)
        fresh = ~np.isfinite(prev) | again  # not a removal moved earlier
        for watch in self.watchers:
            watch(c, idx[fresh], times[fresh], channel)
        return idx

    def restore(self, idx: np.ndarray, times: np.ndarray) -> None:
        """Put removed posts back up (an appeal succeeded)."""
        assert self.cols is not None
        c = self.cols
        down = np.isfinite(c.removed_at[idx]) & (c.removed_at[idx] <= times)
        idx, times = idx[down], times[down]
        c.restored_at[idx] = times
        self.count_removed(times, -1)
        for watch in self.watchers:
            watch(c, idx, times, -1)

    def count_created(self, times: np.ndarray) -> None:
        """Count posts made at ``times`` in the hourly histogram."""
        hist = self.created_per_hour
        hist += np.bincount(_hour_bins(times, hist), minlength=len(hist))

    def count_removed(self, times: np.ndarray, sign: int) -> None:
        """Count (``sign=+1``) or uncount (``-1``) removals at ``times``."""
        hist = self.removed_per_hour
        hist += sign * np.bincount(_hour_bins(times, hist), minlength=len(hist))


class Outlook:
    """What enforcers may ask of the platform: the post-state table and, for the
    backlog the platform states when it answers a notice, its review queues
    (a :class:`~simulator.enforcement.PlatformView`)."""

    def __init__(self, state: PlatformState, queues: Mapping[str, ReviewQueue]) -> None:
        self._state = state
        self._queues = queues

    def removed_at(self, post_ids: np.ndarray) -> np.ndarray:
        return self._state.removed_at(post_ids)

    def views(self, post_ids: np.ndarray, t: float) -> np.ndarray:
        return self._state.views(post_ids, t)

    def live_violating(self, t: float) -> np.ndarray:
        return self._state.live_violating(t)

    def live_posts(self, t: float) -> float:
        return self._state.live_posts(t)

    def queue_state(self, t: float) -> QueueState:
        since = [q.waiting_since() for q in self._queues.values()]
        arrived = np.concatenate(since) if since else np.empty(0)
        age = float(np.median(t - arrived)) if len(arrived) else 0.0
        return QueueState(len(arrived), age)

    def figures(self, t: float) -> dict[str, float]:
        backlog = self.queue_state(t)
        return {
            "harmful_views_per_hour": self._state.harmful_views_per_hour(t),
            "violating_posts_up": float(len(self._state.live_violating(t))),
            "reports_waiting": float(backlog.waiting),
            "median_wait_hours": backlog.median_age_hours,
        }


def _unset(column: np.ndarray) -> np.ndarray:
    """What the held table holds of a column set aside: NaN, one value, read-only."""
    return np.broadcast_to(np.full(1, np.nan, dtype=column.dtype), column.shape)


def _blocks(
    parts: Iterable[Mapping[str, np.ndarray | list[str]]], size: int
) -> Iterator[dict[str, np.ndarray]]:
    """The rows of ``parts`` (columns by name, in order) again, ``size`` at a time."""
    buffer: list[dict[str, np.ndarray]] = []
    have = 0
    for part in parts:
        n = len(next(iter(part.values())))
        at = 0
        while at < n:
            take = min(size - have, n - at)
            buffer.append({k: np.asarray(v[at : at + take]) for k, v in part.items()})
            have, at = have + take, at + take
            if have == size:
                yield {k: np.concatenate([b[k] for b in buffer]) for k in buffer[0]}
                buffer, have = [], 0
    if buffer:
        yield {k: np.concatenate([b[k] for b in buffer]) for k in buffer[0]}


def _hour_bins(times: np.ndarray, hist: np.ndarray) -> np.ndarray:
    """The bins of the hourly histogram ``hist`` that ``times`` fall in."""
    return np.clip(times.astype(np.int64), 0, len(hist) - 1)
