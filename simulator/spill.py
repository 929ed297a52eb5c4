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

The directory appears only when a table first outgrows ``rows`` (small runs
never touch the disk), and goes when the spill closes, whether the run
finished or failed. ``rows=None`` keeps everything in memory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
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
        self.written_rows = 0
        """Rows that went to disk so far (what a test or a benchmark may check)."""

    @property
    def directory(self) -> Path | None:
        """Where spilled tables are (None until the first one goes to disk)."""
        return self._dir

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

    def _path(self, name: str) -> Path:
        assert self._dir is not None
        return self._dir / f"{name}.arrows"

    def _flush(self, name: str) -> None:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="modsim-spill-", dir=self._parent))
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
