"""A run's results folder: written by :class:`RunWriter`, read by :func:`read_run`.

Layout (the README documents it)::

    OUT/
      posts.parquet          per-post rows (all or touched), sorted by post_id
      thresholds.csv, thresholds_weekly.csv, daily.csv, timeline.csv, backlog.csv
      cases_<team>.parquet   every case each review team handled
      report.html, report.md the report (written by the layer above, before the summary)
      summary.json           headline figures, inputs and versions; written last

Three promises, each kept here and nowhere else:

* **One writer.** A writer claims the folder by creating ``.modsim-writing``
  in it exclusively; a second writer into the same folder is refused with a
  clear error (it would otherwise mix its files with the first's). The claim
  goes when the writer does, whether it finished or failed.
* **Nothing half-written looks complete.** Every file is written through a
  unique temporary name and renamed (:mod:`~simulator.folders.atomic`), and
  ``summary.json``, which marks a finished run, is written after every other
  file: a run cut short (Ctrl-C, a full disk, a failing report) lacks it.
* **The same rows in the same order.** ``posts.parquet`` is sorted by post id
  whatever the chunk size, which decides when posts settle: each batch the
  engine hands over is sorted and spilled to a temporary file, and the
  spilled batches are merged at the end, a slice of each at a time, so memory
  stays flat however long the run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from simulator.errors import ModsimError
from simulator.folders.atomic import (
    CLAIM,
    busy,
    make_folder,
    missing,
    read_csv,
    read_json,
    reported,
    temporary,
    write_atomic,
    write_text,
)
from simulator.results import RunResult

SUMMARY = "summary.json"
POSTS = "posts.parquet"
SORT_KEY = "post_id"
RUN_FILES = (SUMMARY, "thresholds.csv", "daily.csv", "timeline.csv", "backlog.csv")
"""The files a complete run folder must hold."""

_GROUP_ROWS = 1_048_576
"""Rows per row group of ``posts.parquet``: fixed, so the file's bytes do not
depend on how the run was chunked (and large: small groups cost time)."""
_SPILL_ROWS = 65_536
"""Rows per spilled batch: what the merge holds of each sorted chain."""


class ParquetSink:
    """Takes per-post rows as the run settles them; :meth:`close` leaves them,
    sorted by ``post_id``, in the file ``path``.

    Each batch is sorted and appended to a spill file (Arrow IPC, lz4; a
    temporary name of its own). Batches are chained: a batch whose first id
    follows the last id of a chain extends it, so each chain is a sorted
    sequence (days settle in order; posts held for review form a handful
    more). Closing merges the chains into the Parquet file, reading one
    spilled batch of each at a time.
    """

    def __init__(self, path: Path) -> None:
        self.final = Path(path)
        self.rows = 0
        self._spill: Path | None = None
        self._writer: ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None
        self._batches = 0
        self._chains: list[list[int]] = []
        """Spilled batches, by index, per sorted chain."""
        self._chain_last: list[int] = []

    def __call__(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        ids = frame[SORT_KEY].to_numpy()
        if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
            frame = frame.iloc[np.argsort(ids, kind="stable")]
            ids = frame[SORT_KEY].to_numpy()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with reported(self.final, "write"):
            if self._writer is None:
                self._schema = table.schema
                self._spill = temporary(self.final)
                options = ipc.IpcWriteOptions(compression="lz4")
                self._writer = ipc.new_file(str(self._spill), self._schema, options=options)
            batches = table.cast(self._schema).to_batches(max_chunksize=_SPILL_ROWS)
            for batch in batches:
                self._writer.write_batch(batch)
        self._chain(int(ids[0]), int(ids[-1]), range(self._batches, self._batches + len(batches)))
        self._batches += len(batches)
        self.rows += len(frame)

    def _chain(self, first: int, last: int, batches: range) -> None:
        # The chain ending just below `first` (the tightest fit) takes the batch.
        best = -1
        for i, end in enumerate(self._chain_last):
            if end < first and (best < 0 or end > self._chain_last[best]):
                best = i
        if best < 0:
            self._chains.append(list(batches))
            self._chain_last.append(last)
        else:
            self._chains[best].extend(batches)
            self._chain_last[best] = last

    def close(self, ok: bool) -> Path | None:
        """Finish: with ``ok``, the sorted file ``path`` (None if no row came);
        otherwise remove what was spilled."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if ok and self._spill is not None:
                write_atomic(self.final, self._merge)
                return self.final
            return None
        finally:
            if self._spill is not None:
                self._spill.unlink(missing_ok=True)
                self._spill = None

    def _merge(self, out: Path) -> None:
        assert self._spill is not None and self._schema is not None
        with pa.OSFile(str(self._spill), "rb") as source:
            spill = ipc.open_file(source)
            chains = [iter(c) for c in self._chains]

            def next_batch(i: int) -> pa.RecordBatch | None:
                index = next(chains[i], None)
                return None if index is None else spill.get_batch(index)

            heads = [next_batch(i) for i in range(len(chains))]
            pending: list[pa.Table] = []
            held = 0
            with pq.ParquetWriter(out, self._schema, compression="zstd") as writer:
                while any(h is not None for h in heads):
                    # Every row up to the smallest last id among the heads comes
                    # before any row not read yet: take those rows from each head.
                    frontier = min(_last(h) for h in heads if h is not None)
                    parts = []
                    for i, h in enumerate(heads):
                        if h is None:
                            continue
                        n = int(np.searchsorted(_ids(h), frontier, side="right"))
                        parts.append(h.slice(0, n))
                        heads[i] = h.slice(n) if n < h.num_rows else next_batch(i)
                    step = _sorted(pa.Table.from_batches(parts, schema=self._schema))
                    pending.append(step)
                    held += step.num_rows
                    while held >= _GROUP_ROWS:
                        whole = pa.concat_tables(pending)
                        writer.write_table(whole.slice(0, _GROUP_ROWS), row_group_size=_GROUP_ROWS)
                        pending, held = [whole.slice(_GROUP_ROWS)], held - _GROUP_ROWS
                if held:
                    writer.write_table(pa.concat_tables(pending), row_group_size=_GROUP_ROWS)


def _sorted(table: pa.Table) -> pa.Table:
    """``table`` (sorted pieces one after another) sorted by post id."""
    keys = table.column(SORT_KEY).to_numpy()
    if len(keys) < 2 or (keys[1:] > keys[:-1]).all():
        return table
    # A stable sort of runs already in order is close to a merge (numpy's timsort).
    return table.take(np.argsort(keys, kind="stable"))


def _ids(batch: pa.RecordBatch) -> np.ndarray:
    return batch.column(SORT_KEY).to_numpy()


def _last(batch: pa.RecordBatch) -> int:
    return int(batch.column(SORT_KEY)[batch.num_rows - 1].as_py())


def summary_text(result: RunResult) -> str:
    """``summary.json`` as written (numbers and dates as JSON has them)."""
    return json.dumps(result.to_dict(), indent=2, sort_keys=False, default=str) + "\n"


class RunWriter:
    """Owns one run's results folder while it is written.

    ::

        with RunWriter(out, force) as writer:      # claims the folder
            sink = writer.posts()                   # per-post rows, as the run goes
            result = simulate(..., sink=sink)
            writer.write_tables(result)             # posts.parquet, CSVs, cases
            ...                                     # the report, from writer.folder(result)
            writer.finish(result)                   # summary.json, last
                                                    # the claim goes, finished or not

    ``force`` clears a folder that holds other files (never one another writer
    has claimed); without it such a folder is refused.
    """

    def __init__(self, root: Path, force: bool = False) -> None:
        self.root = Path(root)
        self.force = force
        self.files: list[Path] = []
        self._claimed = False
        self._sink: ParquetSink | None = None

    # The claim -----------------------------------------------------------------
    def __enter__(self) -> RunWriter:
        self.claim()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._sink is not None:
                self._sink.close(ok=False)
        finally:
            self.release()

    def claim(self) -> None:
        """Make the folder ours: created if new, refused if another writer has
        it, cleared with ``force``, refused if it holds anything else."""
        make_folder(self.root)
        claim = self.root / CLAIM
        with reported(self.root, "write to the folder"):
            try:
                fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                raise busy(self.root) from None
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
        self._claimed = True
        try:
            self._clear()
        except BaseException:
            self.release()
            raise

    def _clear(self) -> None:
        others = sorted(p for p in self.root.iterdir() if p.name != CLAIM)
        if others and not self.force:
            raise ModsimError(
                f"{self.root}: results folder exists and is not empty; "
                "choose another --out or pass --force"
            )
        with reported(self.root, "clear the folder"):
            for p in others:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()

    def release(self) -> None:
        if self._claimed:
            (self.root / CLAIM).unlink(missing_ok=True)
            self._claimed = False

    # The files -----------------------------------------------------------------
    def posts(self) -> ParquetSink:
        """The sink for per-post rows; ``posts.parquet`` is made by :meth:`write_tables`."""
        self._sink = ParquetSink(self.root / POSTS)
        return self._sink

    def write_tables(self, result: RunResult) -> None:
        """Every table of the run: posts (sorted), thresholds, daily, timeline,
        backlog and each team's cases."""
        if self._sink is not None:
            posts = self._sink.close(ok=True)
            self._sink = None
            if posts is not None:
                self.files.append(posts)
        for name, frame in (
            ("thresholds.csv", result.within),
            ("thresholds_weekly.csv", result.within_weekly),
            ("daily.csv", result.daily),
            ("timeline.csv", result.timeline),
            ("backlog.csv", result.backlog),
        ):
            self._write(name, lambda p, f=frame: f.to_csv(p, index=False))  # type: ignore[misc]
        for team, cases in result.cases.items():
            self._write(f"cases_{team}.parquet", lambda p, c=cases: c.to_parquet(p, index=False))  # type: ignore[misc]

    def _write(self, name: str, write: Callable[[Path], object]) -> None:
        path = self.root / name
        write_atomic(path, write)
        self.files.append(path)

    def folder(self, result: RunResult) -> RunFolder:
        """The folder as a reader will see it once finished: the tables written
        so far and the summary that :meth:`finish` will write (what a report of
        the finished folder is built from, so it reads the same)."""
        return read_run(self.root, json.loads(summary_text(result)))

    def finish(self, result: RunResult) -> None:
        """Write ``summary.json``: last, as it marks the run complete."""
        path = self.root / SUMMARY
        write_text(path, summary_text(result))
        self.files.append(path)


def write_run(result: RunResult, out: Path, force: bool = False) -> list[Path]:
    """Write a finished run's tables and summary into ``out`` (no per-post
    table, no report: see :mod:`simulator.studies` for those)."""
    with RunWriter(out, force) as writer:
        writer.write_tables(result)
        writer.finish(result)
    return writer.files


# Reading -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunFolder:
    """What ``modsim run`` wrote."""

    path: Path
    summary: dict[str, Any]
    within: pd.DataFrame
    daily: pd.DataFrame
    timeline: pd.DataFrame
    backlog: pd.DataFrame
    within_weekly: pd.DataFrame | None = None

    kind = "run"

    @property
    def teams(self) -> list[str]:
        return list(self.summary["review"])


def read_run(root: Path, summary: dict[str, Any] | None = None) -> RunFolder:
    """A run's folder; ``summary`` stands in for ``summary.json`` while the
    folder is still being written."""
    root = Path(root)
    names = RUN_FILES if summary is None else RUN_FILES[1:]
    absent = missing(root, names)
    if absent:
        raise ModsimError(f"{root}: incomplete run results, missing {', '.join(absent)}")
    if summary is None:
        summary = read_json(root / SUMMARY)
    if not isinstance(summary, dict) or "violating" not in summary or "run" not in summary:
        raise ModsimError(f"{root / SUMMARY}: not a modsim run summary")
    weekly = root / "thresholds_weekly.csv"
    return RunFolder(
        path=root,
        summary=summary,
        within=read_csv(root / "thresholds.csv"),
        daily=read_csv(root / "daily.csv"),
        # an empty detail is written as an empty field, which CSV reads back as NaN
        timeline=read_csv(root / "timeline.csv").fillna({"detail": ""}),
        backlog=read_csv(root / "backlog.csv"),
        within_weekly=read_csv(weekly) if weekly.is_file() else None,
    )
