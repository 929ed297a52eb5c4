"""Enforcers: an infrastructure host (or app store, or regulator) watching a
platform it does not run.

An enforcer learns of live violating posts through outside reports (a Poisson
process driven by each post's views) and periodic audits, reviews its
findings every ``notices.every_hours``, sends notices with a remediation
window, counts a strike for each notice whose posts are not all down when the
window ends, and suspends the platform after enough strikes (following the
contractual notice period) or at once when its emergency clause fires.

The enforcer never looks at the platform's internals: it asks the engine, via
:class:`PlatformView`, which posts are up at a given time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from simulator.config.host import HostPolicy
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, view_driven_times


class PlatformView(Protocol):
    """What an enforcer can observe of the platform."""

    def removed_at(self, post_ids: np.ndarray) -> np.ndarray:
        """When each post came down (``inf`` if it is still up)."""
        ...

    def live_violating(self, t: float) -> np.ndarray:
        """Ids of violating posts up at time ``t``."""
        ...

    def live_posts(self, t: float) -> float:
        """How many posts (of any class) are up at time ``t``."""
        ...


@dataclass(frozen=True)
class EnforcementEvent:
    """One line of an enforcer's timeline."""

    enforcer: str
    time: float
    kind: str  # notice, failure, strike, suspension_notice, emergency, suspension
    posts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Notice:
    """Posts the enforcer asks the platform to remove by ``deadline``."""

    enforcer: str
    number: int
    time: float
    deadline: float
    post_ids: np.ndarray


@dataclass
class _Findings:
    ids: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)


class Enforcer:
    """One enforcer's state and rules, stepped by the engine at check times."""

    def __init__(self, policy: HostPolicy, index: int, seeds: SeedTree) -> None:
        self._policy = policy
        self._name = policy.name
        self._index = index
        self._seeds = seeds
        self._per_view = policy.detection.outside_reports_per_million_views / 1e6
        # Candidate outside reports not yet reached by a check: (time, post id).
        self._cand_t = np.empty(0)
        self._cand_id = np.empty(0, dtype=np.int64)
        self._found_ids: set[int] = set()
        self._found_times: list[float] = []
        self._unnoticed: list[int] = []
        self._notices: list[Notice] = []
        self._open_notices: list[Notice] = []
        self._strikes = 0
        self._suspension_at = math.inf
        self._events: list[EnforcementEvent] = []
        self._last_check = 0.0
        self._next_audit = policy.detection.audit.every_days * 24.0

    @property
    def name(self) -> str:
        return self._name

    @property
    def policy(self) -> HostPolicy:
        return self._policy

    @property
    def suspension_at(self) -> float:
        """When the suspension takes effect (``inf`` if none is scheduled)."""
        return self._suspension_at

    @property
    def strikes(self) -> int:
        return self._strikes

    @property
    def events(self) -> list[EnforcementEvent]:
        return list(self._events)

    @property
    def notices(self) -> list[Notice]:
        return list(self._notices)

    @property
    def found(self) -> int:
        return len(self._found_ids)

    def observe(self, violating: Posts, day: int) -> None:
        """Draw when outside reports about these (violating) posts would reach us."""
        if self._per_view <= 0 or len(violating) == 0:
            return
        rng = self._seeds.rng("enforcer", self._index, day)
        seen = view_driven_times(violating, np.full(len(violating), self._per_view), 1, rng)
        keep = np.isfinite(seen)
        self._cand_t = np.concatenate([self._cand_t, seen[keep]])
        self._cand_id = np.concatenate([self._cand_id, violating.post_id[keep]])

    def check_times(self, start: float, end: float) -> np.ndarray:
        """Check times in (start, end]."""
        step = self._policy.notices.every_hours
        k0 = math.floor(start / step) + 1
        k1 = math.floor(end / step + 1e-9)
        return np.arange(k0, k1 + 1) * step

    def check(self, t: float, platform: PlatformView) -> list[Notice]:
        """Review findings at time ``t``; return new notices for the platform."""
        self._collect_outside_reports(t, platform)
        self._audit_until(t, platform)
        self._judge_deadlines(t, platform)
        self._maybe_emergency(t)
        notices = self._maybe_notice(t)
        self._last_check = t
        return notices

    def _record_found(self, ids: np.ndarray, times: np.ndarray) -> None:
        for pid, when in zip(ids.tolist(), times.tolist(), strict=True):
            if pid not in self._found_ids:
                self._found_ids.add(pid)
                self._found_times.append(when)
                self._unnoticed.append(pid)

    def _collect_outside_reports(self, t: float, platform: PlatformView) -> None:
        due = self._cand_t <= t
        if not due.any():
            return
        ids, times = self._cand_id[due], self._cand_t[due]
        self._cand_id, self._cand_t = self._cand_id[~due], self._cand_t[~due]
        live = platform.removed_at(ids) > times
        order = np.argsort(times[live], kind="stable")
        self._record_found(ids[live][order], times[live][order])

    def _audit_until(self, t: float, platform: PlatformView) -> None:
        audit = self._policy.detection.audit
        while audit.sample_size > 0 and self._next_audit <= t:
            when = self._next_audit
            rng = self._seeds.rng("audit", self._index, int(when))
            live = platform.live_violating(when)
            total = max(platform.live_posts(when), float(len(live)), 1.0)
            k = int(rng.binomial(audit.sample_size, min(1.0, len(live) / total)))
            k = min(k, len(live))
            if k:
                picked = np.sort(rng.choice(live, size=k, replace=False))
                self._record_found(picked, np.full(k, when))
            self._events.append(EnforcementEvent(self._name, when, "audit", k))
            self._next_audit += audit.every_days * 24.0

    def _judge_deadlines(self, t: float, platform: PlatformView) -> None:
        still_open = []
        for notice in self._open_notices:
            if notice.deadline > t:
                still_open.append(notice)
                continue
            up = int((platform.removed_at(notice.post_ids) > notice.deadline).sum())
            if up == 0:
                continue
            self._strikes += 1
            self._events.append(
                EnforcementEvent(
                    self._name,
                    notice.deadline,
                    "strike",
                    up,
                    f"notice {notice.number}: {up} of {len(notice.post_ids)} posts still up "
                    f"at the deadline (strike {self._strikes} of "
                    f"{self._policy.strikes.strikes_to_suspend})",
                )
            )
            if self._strikes >= self._policy.strikes.strikes_to_suspend:
                self._schedule(
                    t + self._policy.suspension.notice_period_days * 24.0,
                    "suspension_notice",
                    t,
                    f"{self._strikes} strikes; suspension after the "
                    f"{self._policy.suspension.notice_period_days:g}-day notice period",
                )
        self._open_notices = still_open

    def _maybe_emergency(self, t: float) -> None:
        rule = self._policy.suspension.emergency
        if not rule.enabled:
            return
        recent = sum(
            1 for when in self._found_times[-rule.found_posts_per_day * 2 :] if when > t - 24
        )
        if recent >= rule.found_posts_per_day:
            self._schedule(
                t + rule.notice_hours,
                "emergency",
                t,
                f"{recent} violating posts found in 24 hours (limit {rule.found_posts_per_day}); "
                f"suspension in {rule.notice_hours:g} hours",
            )

    def _schedule(self, effective: float, kind: str, now: float, detail: str) -> None:
        if effective < self._suspension_at:
            self._suspension_at = effective
            self._events.append(EnforcementEvent(self._name, now, kind, 0, detail))

    def _maybe_notice(self, t: float) -> list[Notice]:
        if len(self._unnoticed) < self._policy.notices.min_posts:
            return []
        ids = np.array(self._unnoticed, dtype=np.int64)
        self._unnoticed = []
        notice = Notice(
            self._name,
            len(self._notices) + 1,
            t,
            t + self._policy.notices.remediation_hours,
            ids,
        )
        self._notices.append(notice)
        self._open_notices.append(notice)
        self._events.append(
            EnforcementEvent(
                self._name, t, "notice", len(ids), f"notice {notice.number}: {len(ids)} posts"
            )
        )
        return [notice]

    def suspend(self, t: float) -> None:
        """Record that the suspension took effect."""
        self._events.append(EnforcementEvent(self._name, t, "suspension", 0, "platform suspended"))
