"""Tables a run sets aside while it goes on, and reads back when it needs them.

A run's final tables are built from posts and cases whose fate was sealed
long before the end: violating posts nobody can touch any more, wrongful
removals, the review teams' case logs. Held in memory they make a run's
memory grow with its length. A :class:`Spill` keeps up to ``rows`` rows of
each named table in memory and appends the rest, in batches, to an Arrow IPC
stream in a temporary directory of its own; reading a table back yields its
rows in the order they were appended, a batch at a time (:meth:`Spill.drain`,
read-only arrays) or whole (:meth:`Spill.take`).

Arrow's buffers come from the C heap (its system pool), not from Arrow's own
allocator: that one keeps what it freed for itself, beside the heap numpy
uses, and a long run's memory would hold both.

A :class:`Settling` (:meth:`Spill.settling`) holds rows of another kind: rows
that wait, each until it settles, in any order, a few values read back only
when they leave (the held posts' report times). It writes each row to disk at
most once, where the spill's tables would be drained and written again for
every settlement.

The directory appears only when a table first outgrows ``rows`` (small runs
never touch the disk), and goes when the spill closes, whether the run
finished or failed. ``rows=None`` keeps everything in memory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.ipc as ipc

Column = np.ndarray | list[str]
Columns = dict[str, Column]

SPILL_ROWS = 65_536
"""Rows of a table held in memory before they go to disk (a few MB a table)."""


class Spill:
    """Named tables of columns, appended to and read back in order (a context manager)."""

    def __init__(self, rows: int | None = SPILL_ROWS, directory: Path | None = None) -> None:
        if rows is not None and rows < 0:
            raise ValueError("rows must be at least 0 (or None: keep every row in memory)")
        self._rows = rows
        self._parent = directory
        self._dir: Path | None = None
        self._held: dict[str, list[Columns]] = {}
        self._held_rows: dict[str, int] = {}
        self._rows_of: dict[str, int] = {}  # rows per table, held or written
        self._writers: dict[str, ipc.RecordBatchStreamWriter] = {}
        self._text: dict[str, set[str]] = {}  # columns of str per table (lists, not arrays)
        self._settling: list[Settling] = []
        self.written_rows = 0
        """Rows that went to disk so far (what a test or a benchmark may check)."""

    @property
    def directory(self) -> Path | None:
        """Where spilled tables are (None until the first one goes to disk)."""
        return self._dir

    def settling(self, name: str) -> Settling:
        """A :class:`Settling` keeping this spill's ``rows`` in memory, its files in
        this spill's directory (closed with it)."""
        out = Settling(self._rows, self._directory, name)
        self._settling.append(out)
        return out

    def append(self, name: str, columns: Mapping[str, Column]) -> None:
        """Append rows to table ``name`` (every column the same length)."""
        parts = dict(columns)
        n = _length(parts)
        if n == 0:
            return
        text = self._text.setdefault(name, set())
        text.update(k for k, v in parts.items() if isinstance(v, list))
        self._held.setdefault(name, []).append(parts)
        self._held_rows[name] = self._held_rows.get(name, 0) + n
        self._rows_of[name] = self._rows_of.get(name, 0) + n
        if self._rows is not None and self._held_rows[name] > self._rows:
            self._flush(name)

    def drain(self, name: str) -> Iterator[Columns]:
        """Table ``name``'s rows in the order appended, in parts; the table is then gone."""
        held = self._held.pop(name, [])
        self._held_rows.pop(name, None)
        self._rows_of.pop(name, None)
        text = self._text.pop(name, set())
        writer = self._writers.pop(name, None)
        if writer is not None:
            import pyarrow as pa
            import pyarrow.ipc as ipc

            writer.close()
            path = self._path(name)
            try:
                pool = pa.system_memory_pool()
                with (
                    pa.OSFile(str(path), "rb", memory_pool=pool) as source,
                    ipc.open_stream(source, memory_pool=pool) as reader,
                ):
                    for batch in reader:
                        yield _from_arrow(batch, text)
            finally:
                path.unlink(missing_ok=True)
        yield from held

    def take(self, name: str) -> Columns | None:
        """Table ``name`` whole (None if nothing was appended); the table is then gone.

        Parts are copied one at a time into columns of the table's full length,
        so reading back costs the table and one part, not the table twice.
        """
        rows = self._rows_of.pop(name, 0)
        out: Columns = {}
        at = 0
        for part in self.drain(name):
            n = _length(part)
            for key, values in part.items():
                if isinstance(values, list):
                    text = out.setdefault(key, [])
                    assert isinstance(text, list)
                    text.extend(values)
                    continue
                column = out.get(key)
                if column is None:
                    column = out[key] = np.empty(rows, dtype=values.dtype)
                assert isinstance(column, np.ndarray)
                column[at : at + n] = values
            at += n
        return out if at else None

    def close(self) -> None:
        """Forget every table and remove the directory (safe to call twice)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        for settling in self._settling:
            settling.close()
        self._held.clear()
        self._held_rows.clear()
        self._rows_of.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="modsim-spill-", dir=self._parent))
        return self._dir

    def _path(self, name: str) -> Path:
        return self._directory() / f"{name}.arrows"

    def _flush(self, name: str) -> None:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        pool = pa.system_memory_pool()
        for parts in self._held.pop(name):
            batch = pa.record_batch({k: pa.array(v, memory_pool=pool) for k, v in parts.items()})
            writer = self._writers.get(name)
            if writer is None:
                writer = ipc.new_stream(str(self._path(name)), batch.schema)
                self._writers[name] = writer
            writer.write_batch(batch)
            self.written_rows += batch.num_rows
        self._held_rows[name] = 0


class Settling:
    """Rows of numeric columns that wait, each until it settles, in any order.

    Rows are appended after every waiting one; the rows still waiting form one
    table in the order appended, and a mask over that table says which rows
    settle: :meth:`take` reads their values back, :meth:`drop` forgets them
    unread, :meth:`drain` reads every waiting row once, at the end.

    Up to ``rows`` waiting rows are held in memory (a row settling there never
    goes to disk); past that, the waiting rows held go to a segment file of
    their own, written once and never rewritten. A segment keeps a bit a row
    (still waiting or not), so a settlement reads only the span of a segment
    its rows leave from and skips segments it takes nothing from; a segment
    goes, file and all, once its every row settled. ``rows=None`` keeps every
    row in memory. ``directory`` gives the folder for the segments when the
    first one is written.
    """

    def __init__(
        self, rows: int | None, directory: Callable[[], Path], name: str = "settling"
    ) -> None:
        if rows is not None and rows < 0:
            raise ValueError("rows must be at least 0 (or None: keep every row in memory)")
        self._rows = rows
        self._directory = directory
        self._name = name
        self._dtypes: dict[str, np.dtype] = {}
        self._segments: list[_Segment] = []  # on disk, in order, each with a waiting row
        self._held: list[dict[str, np.ndarray]] = []  # after the segments, in order
        self._made = 0  # segments written so far (their files' numbers)
        self.written_bytes = 0
        """Bytes written to disk so far (each row's once, at most)."""

    def __len__(self) -> int:
        """The rows waiting."""
        return sum(s.waiting for s in self._segments) + sum(_length(p) for p in self._held)

    def append(self, columns: Mapping[str, np.ndarray]) -> None:
        """Append rows (every column the same length; the same columns every time)."""
        if not self._dtypes:
            self._dtypes = {k: np.asarray(v).dtype for k, v in columns.items()}
        if columns.keys() != self._dtypes.keys():
            raise ValueError(f"columns {sorted(columns)}, not {sorted(self._dtypes)}")
        part = {k: np.asarray(v, dtype=self._dtypes[k]) for k, v in columns.items()}
        if _length(part) == 0:
            return
        self._held.append(part)
        if self._rows is not None and sum(_length(p) for p in self._held) > self._rows:
            self._write()

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The values of the waiting rows ``rows`` (a boolean mask over them), in
        order; those rows then settle."""
        return self._settle(rows, read=True)

    def drop(self, rows: np.ndarray) -> None:
        """Settle the waiting rows ``rows`` (a boolean mask over them), unread."""
        self._settle(rows, read=False)

    def drain(self) -> Iterator[dict[str, np.ndarray]]:
        """Every waiting row's values, in order, in parts; they then settle."""
        while self._segments:
            segment = self._segments.pop(0)
            try:
                waiting = segment.waiting_rows()
                yield {k: self._read(segment, k, 0, segment.rows)[waiting] for k in self._dtypes}
            finally:
                segment.path.unlink(missing_ok=True)
        while self._held:
            yield dict(self._held.pop(0))

    def close(self) -> None:
        """Forget every row and remove the segments' files (safe to call twice)."""
        for segment in self._segments:
            segment.path.unlink(missing_ok=True)
        self._segments.clear()
        self._held.clear()

    def _settle(self, rows: np.ndarray, read: bool) -> dict[str, np.ndarray]:
        if len(rows) != len(self):
            raise ValueError(f"a mask of {len(rows)} rows over {len(self)} waiting rows")
        out: dict[str, list[np.ndarray]] = {k: [] for k in self._dtypes}
        at = 0
        for segment in list(self._segments):
            mine = rows[at : at + segment.waiting]
            at += segment.waiting
            if not mine.any():
                continue
            waiting = segment.waiting_rows()
            gone = np.flatnonzero(waiting)[mine]  # a segment's rows at most
            if read:
                first, stop = int(gone[0]), int(gone[-1]) + 1
                for k in self._dtypes:
                    out[k].append(self._read(segment, k, first, stop)[gone - first])
            waiting[gone] = False
            segment.waiting -= len(gone)
            if segment.waiting:
                segment.bits = np.packbits(waiting)
            else:
                segment.path.unlink(missing_ok=True)
                self._segments.remove(segment)
        held = []
        for part in self._held:
            mine = rows[at : at + _length(part)]
            at += len(mine)
            if not mine.any():
                held.append(part)
                continue
            if read:
                for k in self._dtypes:
                    out[k].append(part[k][mine])
            if not mine.all():
                held.append({k: v[~mine] for k, v in part.items()})
        self._held = held
        return {
            k: np.concatenate(v) if v else np.empty(0, dtype=self._dtypes[k])
            for k, v in out.items()
        }

    def _write(self) -> None:
        """The rows held in memory, as a segment on disk."""
        n = sum(_length(p) for p in self._held)
        path = self._directory() / f"{self._name}.{self._made}.bin"
        self._made += 1
        with path.open("wb") as f:
            for k in self._dtypes:  # a column after another
                for part in self._held:
                    np.ascontiguousarray(part[k]).tofile(f)
            self.written_bytes += f.tell()
        bits = np.packbits(np.ones(n, dtype=bool))
        self._segments.append(_Segment(path, n, bits, n, self._offsets(n)))
        self._held = []

    def _offsets(self, n: int) -> dict[str, int]:
        """Where each column of a segment of ``n`` rows starts in its file."""
        out, at = {}, 0
        for k, dtype in self._dtypes.items():
            out[k] = at
            at += n * dtype.itemsize
        return out

    def _read(self, segment: _Segment, column: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of a segment's ``column``, read from its file."""
        dtype = self._dtypes[column]
        offset = segment.offsets[column] + start * dtype.itemsize
        out = np.fromfile(segment.path, dtype=dtype, count=stop - start, offset=offset)
        assert len(out) == stop - start, f"{segment.path} is short"
        return out


@dataclass
class _Segment:
    """Rows a :class:`Settling` wrote to a file of their own."""

    path: Path
    rows: int  # rows written
    bits: np.ndarray  # packed: a bit a row, set while the row waits
    waiting: int  # rows still waiting
    offsets: dict[str, int]  # where each column starts in the file (bytes)

    def waiting_rows(self) -> np.ndarray:
        """A mask over the segment's rows: the ones still waiting."""
        return np.unpackbits(self.bits, count=self.rows).view(bool)


def _length(columns: Mapping[str, Column]) -> int:
    sizes = {len(v) for v in columns.values()}
    if len(sizes) > 1:
        raise ValueError(f"columns of different lengths: {sorted(sizes)}")
    return sizes.pop() if sizes else 0


def _from_arrow(batch: pa.RecordBatch, text: set[str]) -> Columns:
    out: dict[str, Any] = {}
    for key, column in zip(batch.schema.names, batch.columns, strict=True):
        if key in text:
            out[key] = column.to_pylist()
        else:  # numbers: a view of the batch's buffer (read-only)
            out[key] = column.to_numpy(zero_copy_only=False)
    return out


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system, where the C library can.

    A run's days free their arrays, but glibc keeps much of that memory for
    later (mid-sized blocks come from its heap, not from the system); the final
    tables, built after the last day, would otherwise come on top of it. One
    ``malloc_trim`` then costs milliseconds; elsewhere this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        pass
