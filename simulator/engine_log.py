"""The review cases of a run, kept until it ends: each team's case logs as the queues
hand them over, set aside in the spill (a run's largest tables after the posts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

import numpy as np
import pandas as pd

from simulator.queueing import CaseLog
from simulator.spill import Spill


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
        return CaseLog(**{k: np.asarray(v)[opened] for k, v in columns.items()}).to_frame()
