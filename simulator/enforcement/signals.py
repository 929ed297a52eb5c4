"""The evidence an enforcer gathers, signal by signal, and the rules that weigh it.

Every observation (a find, a notice's deadline, an audit, the platform's
answer to a notice, the press taking notice) adds one entry to a signal's
series in the :class:`Ledger`, in time order. A :class:`Rule` reads each of
its signals over a trailing window and since its *slate* (the evidence a
strike used up), and scores them: each adds ``weight * value / threshold``,
at most its weight. It fires the moment the sum reaches 1, which can only
happen when evidence comes in, so judging after each entry finds the exact
moment. A signal of weight 1 fires the rule alone at its threshold; signals
whose weights sum to 1 must all reach their thresholds; in between, partial
evidence adds up.

Three ways a series turns into a value:

* a **sum** of the entries in the window (posts found, views, noticed posts
  still up, failed notices, known posts still up, press attention, named
  accounts found active again);
* a **ratio** of sums (violating posts over posts sampled by audits);
* the **latest** entry in the window (the backlog the platform last stated).
"""

from __future__ import annotations

import math
from bisect import bisect_right

from simulator.config.host import KnownPostsSignal, Signal, Signals
from simulator.enforcement.records import SignalReading

SUM, RATIO, LATEST = "sum", "ratio", "latest"

SIGNAL_KINDS = {
    "found_posts": SUM,
    "found_views": SUM,
    "noticed_posts_up": SUM,
    "repeat_offences": SUM,
    "known_posts_up": SUM,
    "audit_prevalence": RATIO,
    "backlog_age_hours": LATEST,
    "backlog_reports": LATEST,
    "press_attention": SUM,
    "repeat_violators_active": SUM,
}
"""How each signal's series becomes a value (every field of :class:`Signals`)."""

assert set(SIGNAL_KINDS) == set(Signals.model_fields)

# A score within this of 1 fires: 18 finds against a threshold of 18 must, and
# weighted sums of ratios are not exact in binary.
_FIRES_AT = 1.0 - 1e-9


def series_key(name: str, signal: Signal) -> str:
    """The ledger series a signal reads (known posts: one per ``after_hours``)."""
    if isinstance(signal, KnownPostsSignal):
        return f"{name}@{signal.after_hours:g}"
    return name


class Ledger:
    """Evidence per series, in time order, with running sums for windowed reads."""

    def __init__(self) -> None:
        self._times: dict[str, list[float]] = {}
        self._num: dict[str, list[float]] = {}  # running sums (first entry 0)
        self._den: dict[str, list[float]] = {}
        self._last: dict[str, list[float]] = {}  # each entry's own amount

    def add(self, key: str, time: float, amount: float, base: float = 0.0) -> None:
        """One observation: ``amount`` (and, for a ratio, its ``base``) at ``time``."""
        times = self._times.setdefault(key, [])
        if times and time < times[-1]:
            raise ValueError(f"evidence for {key} out of time order: {time} after {times[-1]}")
        num = self._num.setdefault(key, [0.0])
        den = self._den.setdefault(key, [0.0])
        times.append(time)
        num.append(num[-1] + amount)
        den.append(den[-1] + base)
        self._last.setdefault(key, []).append(amount)

    def entries(self, key: str) -> list[tuple[float, float]]:
        """Every observation of a series: ``(time, amount)``, in time order."""
        return list(zip(self._times.get(key, []), self._last.get(key, []), strict=True))

    def mark(self) -> dict[str, int]:
        """A slate: how many entries each series holds now (evidence before it is used up)."""
        return {key: len(times) for key, times in self._times.items()}

    def value(
        self, key: str, kind: str, t: float, window: float | None, slate: dict[str, int]
    ) -> float:
        """The series' value at ``t``: its entries after the slate and within the window."""
        times = self._times.get(key)
        if not times:
            return 0.0
        hi = bisect_right(times, t)
        lo = slate.get(key, 0)
        if window is not None:
            lo = max(lo, bisect_right(times, t - window))
        if hi <= lo:
            return 0.0
        if kind == LATEST:
            return self._last[key][hi - 1]
        num = self._num[key][hi] - self._num[key][lo]
        if kind == SUM:
            return num
        den = self._den[key][hi] - self._den[key][lo]
        return num / den if den > 0 else 0.0


class Rule:
    """A strike rule or an emergency clause: signals, weights and thresholds."""

    def __init__(self, name: str, signals: Signals) -> None:
        self.name = name
        self._signals = [(n, s, series_key(n, s)) for n, s in signals.items()]

    @property
    def known_posts_hours(self) -> list[float]:
        """The ``after_hours`` of its known-posts signal, if it has one."""
        return [s.after_hours for _, s, _ in self._signals if isinstance(s, KnownPostsSignal)]

    def judge(
        self, ledger: Ledger, t: float, slate: dict[str, int]
    ) -> tuple[bool, float, tuple[SignalReading, ...]]:
        """Whether the rule fires at ``t``, its score, and each signal's reading."""
        readings = tuple(
            SignalReading(
                name,
                ledger.value(key, SIGNAL_KINDS[name], t, s.window_hours, slate),
                s.threshold,
                s.weight,
                s.window_hours,
                s.after_hours if isinstance(s, KnownPostsSignal) else None,
            )
            for name, s, key in self._signals
        )
        score = math.fsum(r.contribution for r in readings)
        return score >= _FIRES_AT, score, readings
