"""When an enforcer's letters can go out: at once by default, or on a review
cadence (``notices.every_hours``) and only in office hours
(``notices.office_hours``), in the scenario's local wall-clock time."""

from __future__ import annotations

import datetime as dt
import math

from simulator.config.host import WEEKDAYS, Notices

_EPS = 1e-9


class LetterClock:
    """The first time at or after ``t`` a letter can be sent (its entry point: :meth:`next`)."""

    def __init__(self, notices: Notices, start: dt.datetime | None = None) -> None:
        self._every = notices.every_hours
        self._office = notices.office_hours
        if self._office is not None and start is None:
            raise ValueError("office hours need the scenario's start (local time)")
        self._start = (start or dt.datetime(2000, 1, 1)).replace(tzinfo=None)
        if self._office is not None:
            self._days = {WEEKDAYS.index(d) for d in self._office.weekdays}

    @property
    def continuous(self) -> bool:
        """Whether letters go out the moment they are due."""
        return self._every is None and self._office is None

    def next(self, t: float) -> float:
        """The first time ``>= t`` on the cadence and in office hours."""
        for _ in range(10_000):  # each turn moves to the next opening or grid point
            s = self._on_grid(t)
            opening = self._opening(s)
            if opening <= s + _EPS:
                return s
            t = opening
        raise RuntimeError("no letter time found: office hours and cadence never meet")

    def _on_grid(self, t: float) -> float:
        if self._every is None:
            return t
        k = math.ceil(t / self._every - _EPS)
        return k * self._every

    def _opening(self, t: float) -> float:
        """``t`` if it is in office hours, else the next opening."""
        office = self._office
        if office is None:
            return t
        wall = self._start + dt.timedelta(hours=t)
        midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        hour = (wall - midnight).total_seconds() / 3600.0
        for ahead in range(8):
            day = midnight + dt.timedelta(days=ahead)
            if day.weekday() not in self._days:
                continue
            if ahead == 0 and hour >= office.end_hour:
                continue
            open_at = max(office.start_hour, hour) if ahead == 0 else office.start_hour
            return t + ((day - midnight).total_seconds() / 3600.0 + open_at - hour)
        raise AssertionError("some weekday is always allowed")  # pragma: no cover
