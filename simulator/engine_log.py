"""What a run sets aside until it ends: each team's case logs as the queues hand them
over (a run's largest tables after the posts), and the days' settled posts until
the chunk's end is known, both in the spill."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

import numpy as np
import pandas as pd

from simulator.queueing import CaseLog
from simulator.runlog import PostSink, PostTally
from simulator.spill import Spill
from simulator.stages.platform import PostColumns

Pending = tuple[PostColumns, np.ndarray] | str | None
"""A day's settled posts waiting for the chunk's end: in memory (columns and a
mask), in the spill (the table's name), or none (they settled at once)."""

_COUNTED = ("created_at", "cls", "labelled", "score")
"""What counting needs of a settled post no stage touched."""


class CaseLogs:
    """Each team's case logs (entry points: :meth:`add`, :meth:`set_aside`, :meth:`frame`)."""

    def __init__(self, teams: Iterable[str], spill: Spill) -> None:
        self._logs: dict[str, list[CaseLog]] = {t: [] for t in teams}
        self._spill = spill

    def add(self, team: str, log: CaseLog) -> None:
        self._logs[team].append(log)

    def set_aside(self) -> None:
        """Move the case logs handed over so far to the spill (one part a team)."""
        for team, logs in self._logs.items():
            if logs:
                log = CaseLog.concat(logs)
                columns = {f.name: getattr(log, f.name) for f in fields(log)}
                self._spill.append(f"cases.{team}", columns)
                logs.clear()

    def frame(self, team: str, end: float) -> pd.DataFrame:
        """Team ``team``'s cases that opened before the run ended. A day is staged
        before its suspension is known, and reports may fall after the horizon:
        such cases never reached anyone and must not count as pending."""
        columns = self._spill.take(f"cases.{team}")
        if columns is None:
            return CaseLog.empty().to_frame()
        opened = np.asarray(columns["arrived"]) < end
        if not opened.all():
            for name, values in columns.items():  # one column at a time, not the log twice
                columns[name] = np.asarray(values)[opened]
        # the frame takes the log's arrays over: nothing else holds them
        return CaseLog(**{k: np.asarray(v) for k, v in columns.items()}).to_frame(copy=False)


class PendingDays:
    """Days' settled posts held back until the chunk's end (when a takedown may end
    the run inside it): entry points :meth:`stash` and :meth:`settle`."""

    def __init__(self, spill: Spill, tally: PostTally, table: str, with_text: bool) -> None:
        self._spill = spill
        self._tally = tally
        self._table = table
        self._with_text = with_text

    def stash(self, day: int, cols: PostColumns, settled: np.ndarray, sink: PostSink | None) -> str:
        """Set a slice's settled posts (``cols[settled]``) aside until the chunk's end
        is known: whole rows of the posts some stage touched (or of all, for a full
        table), and only what the counts need of the rest (most of them)."""
        name = f"pending.{day}"
        if sink is not None and self._table == "all":
            self._spill.append(name, cols.take(settled).columns())
            return name
        plain = settled & (
            ~np.isfinite(cols.reported_at)
            & ~np.isfinite(cols.flagged_at)
            & ~np.isfinite(cols.removed_at)
        )
        self._spill.append(name, cols.take(settled & ~plain).columns())
        self._spill.append(f"{name}.counted", {c: getattr(cols, c)[plain] for c in _COUNTED})
        return name

    def settle(self, waiting: Pending, end: float, sink: PostSink | None) -> None:
        if waiting is None:
            return
        if isinstance(waiting, tuple):
            self._tally.settle(*waiting, end, sink)
            return
        for name in (waiting, f"{waiting}.counted"):
            for part in self._spill.drain(name):
                n = len(part["created_at"])
                cols = PostColumns.from_columns(part, n, self._with_text)
                self._tally.settle(cols, np.ones(n, dtype=bool), end, sink)
