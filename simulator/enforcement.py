"""Enforcers: an infrastructure host, an app store or a regulator watching a
platform it does not run.

An enforcer learns of live violating posts through outside reports (a Poisson
process driven by each post's views), periodic audits, and - after a surge -
press and watchdog reports. It reviews its findings every
``notices.every_hours``, sends notices with a remediation window, counts a
strike for each failure (a noticed post still up when its window ends; or too
many known posts up too long), warns, and removes the platform after enough
strikes (following the contractual notice period) or sooner when its
emergency clause fires. Its *effect* is a takedown (the platform goes
offline: the engine ends the run) or a delisting (the app leaves a store: new
users stop arriving through it), which it lifts once the platform has
remediated if its policy allows reinstatement.

Each enforcer keeps its own timeline; its random draws are keyed by its name,
so adding or reordering enforcers never changes another one's draws.

The enforcer never looks at the platform's internals: it asks the engine, via
:class:`PlatformView`, which posts are up at a given time. :class:`Delisting`
applies the app stores' effect to the stream: the posts never made while new
users cannot install the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.config.host import HostPolicy
from simulator.config.scenario import Scenario
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, _interp_users, view_driven_times
from simulator.taxonomy import N_CLASSES

EVENT_KINDS = (
    "audit",
    "press",
    "notice",
    "strike",
    "warning",
    "suspension_notice",
    "emergency",
    "suspension",
    "delisting",
    "reinstatement",
)
"""Every kind of event on an enforcer's timeline."""


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
    """One line of an enforcer's timeline (``kind`` is one of :data:`EVENT_KINDS`)."""

    enforcer: str
    time: float
    kind: str
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


class Enforcer:
    """One enforcer's state and rules, stepped by the engine at check times."""

    def __init__(self, policy: HostPolicy, seeds: SeedTree) -> None:
        self._policy = policy
        self._name = policy.name
        self._seeds = seeds
        self._per_view = policy.detection.outside_reports_per_million_views / 1e6
        # Candidate reports not yet reached by a check: (time, post id).
        self._cand_t = np.empty(0)
        self._cand_id = np.empty(0, dtype=np.int64)
        self._found_at: dict[int, float] = {}  # post id -> when the enforcer learned of it
        self._found_times: list[float] = []  # in the order found
        self._unnoticed: list[int] = []
        self._counted: set[int] = set()  # found posts already behind a known_posts_live strike
        self._notices: list[Notice] = []
        self._open_notices: list[Notice] = []
        self._strikes = 0
        self._suspension_at = math.inf
        self._in_effect = False
        self._periods: list[list[float]] = []  # [start, end] of each removal (end inf if open)
        self._events: list[EnforcementEvent] = []
        self._next_audit = policy.detection.audit.every_days * 24.0
        # Press escalation: every violating post observed, to draw press reports
        # once attention starts (memoryless in views, so exact after the fact).
        press = policy.detection.press
        self._press_on = press.enabled and press.reports_per_million_views > 0
        self._press_window: tuple[float, float] | None = None
        self._seen: list[tuple[np.ndarray, ...]] = []

    # -- read-only state -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def policy(self) -> HostPolicy:
        return self._policy

    @property
    def effect(self) -> str:
        """``takedown`` (the platform goes offline) or ``delist`` (no new users)."""
        return self._policy.effect

    @property
    def suspension_at(self) -> float:
        """When the pending removal takes effect (``inf`` if none is scheduled)."""
        return math.inf if self._in_effect else self._suspension_at

    @property
    def in_effect(self) -> bool:
        """Whether the platform is removed by this enforcer right now."""
        return self._in_effect

    @property
    def removal_periods(self) -> list[tuple[float, float]]:
        """Known removal periods ``(start, end)``, including a scheduled one."""
        out = [(s, e) for s, e in self._periods]
        if not self._in_effect and math.isfinite(self._suspension_at):
            out.append((self._suspension_at, math.inf))
        return out

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
        return len(self._found_at)

    # -- detection -------------------------------------------------------------------------

    def observe(self, violating: Posts, day: int) -> None:
        """Draw when outside (and press) reports about these violating posts reach us."""
        if len(violating) == 0:
            return
        if self._per_view > 0:
            rng = self._seeds.rng("enforcer", self._name, day)
            seen = view_driven_times(violating, np.full(len(violating), self._per_view), 1, rng)
            self._add_candidates(seen, violating.post_id)
        if self._press_on:
            # One exponential per post: where, in views after attention starts,
            # its first press report falls.
            gap = self._seeds.rng("press", self._name, day).standard_exponential(len(violating))
            cols = (violating.post_id, violating.created_at, violating.reach, violating.decay, gap)
            if self._press_window is None:
                self._seen.append(cols)
            else:
                self._add_press_reports(cols)

    def _add_candidates(self, times: np.ndarray, ids: np.ndarray) -> None:
        keep = np.isfinite(times)
        self._cand_t = np.concatenate([self._cand_t, times[keep]])
        self._cand_id = np.concatenate([self._cand_id, ids[keep]])

    def _add_press_reports(self, cols: tuple[np.ndarray, ...]) -> None:
        assert self._press_window is not None
        start, end = self._press_window
        ids, created, reach, decay, gap = cols
        rate = self._policy.detection.press.reports_per_million_views / 1e6
        # Views already accrued when attention starts; the next report comes
        # ``gap / rate`` views later (a Poisson process in views is memoryless).
        before = reach * -np.expm1(-decay * np.maximum(start - created, 0.0))
        target = before + gap / rate
        hit = target < reach
        times = np.full(len(ids), np.inf)
        age = -np.log1p(-target[hit] / reach[hit]) / decay[hit]
        times[hit] = created[hit] + age
        times[times >= end] = np.inf
        self._add_candidates(times, ids)

    def check_times(self, start: float, end: float) -> np.ndarray:
        """Check times in (start, end]."""
        step = self._policy.notices.every_hours
        k0 = math.floor(start / step) + 1
        k1 = math.floor(end / step + 1e-9)
        return np.arange(k0, k1 + 1) * step

    def check(self, t: float, platform: PlatformView) -> list[Notice]:
        """Review findings at time ``t``; return new notices for the platform."""
        self._maybe_press(t, platform)
        self._collect_reports(t, platform)
        self._audit_until(t, platform)
        self._judge_deadlines(t, platform)
        self._judge_known_posts(t, platform)
        self._maybe_emergency(t)
        self._maybe_reinstate(t, platform)
        return self._maybe_notice(t)

    def _record_found(self, ids: np.ndarray, times: np.ndarray) -> None:
        for pid, when in zip(ids.tolist(), times.tolist(), strict=True):
            if pid not in self._found_at:
                self._found_at[pid] = when
                self._found_times.append(when)
                self._unnoticed.append(pid)

    def _collect_reports(self, t: float, platform: PlatformView) -> None:
        due = self._cand_t <= t
        if not due.any():
            return
        ids, times = self._cand_id[due], self._cand_t[due]
        self._cand_id, self._cand_t = self._cand_id[~due], self._cand_t[~due]
        live = platform.removed_at(ids) > times
        order = np.argsort(times[live], kind="stable")
        self._record_found(ids[live][order], times[live][order])

    def _maybe_press(self, t: float, platform: PlatformView) -> None:
        """A surge of fresh violating posts still up draws the press, once."""
        if not self._press_on or self._press_window is not None or not self._seen:
            return
        press = self._policy.detection.press
        ids = np.concatenate([c[0] for c in self._seen])
        created = np.concatenate([c[1] for c in self._seen])
        fresh = ids[(created > t - 24.0) & (created <= t)]
        up = int((platform.removed_at(fresh) > t).sum())
        if up < press.trigger_posts_per_day:
            return
        self._press_window = (t, t + press.hours)
        for cols in self._seen:
            self._add_press_reports(cols)
        self._seen = []  # later posts get their press reports as they are observed
        self._events.append(
            EnforcementEvent(
                self._name,
                t,
                "press",
                up,
                f"{up:,} violating posts made in 24 hours still up (limit "
                f"{press.trigger_posts_per_day:,}); press and watchdogs report for "
                f"{press.hours:g} hours",
            )
        )

    def _audit_until(self, t: float, platform: PlatformView) -> None:
        audit = self._policy.detection.audit
        while audit.sample_size > 0 and self._next_audit <= t:
            when = self._next_audit
            rng = self._seeds.rng("audit", self._name, int(when))
            live = platform.live_violating(when)
            total = max(platform.live_posts(when), float(len(live)), 1.0)
            k = int(rng.binomial(audit.sample_size, min(1.0, len(live) / total)))
            k = min(k, len(live))
            if k:
                picked = np.sort(rng.choice(live, size=k, replace=False))
                self._record_found(picked, np.full(k, when))
            self._events.append(EnforcementEvent(self._name, when, "audit", k))
            self._next_audit += audit.every_days * 24.0

    # -- failures, strikes, warnings ------------------------------------------------------

    def _judge_deadlines(self, t: float, platform: PlatformView) -> None:
        counts = self._policy.strikes.failure in ("noticed_post_live", "any")
        still_open = []
        for notice in self._open_notices:
            if notice.deadline > t:
                still_open.append(notice)
                continue
            up = int((platform.removed_at(notice.post_ids) > notice.deadline).sum())
            if up == 0 or not counts:
                continue
            self._strike(
                t,
                notice.deadline,
                up,
                f"notice {notice.number}: {up} of {len(notice.post_ids)} posts still up "
                f"at the deadline",
            )
        self._open_notices = still_open

    def _judge_known_posts(self, t: float, platform: PlatformView) -> None:
        rule = self._policy.strikes
        if rule.failure not in ("known_posts_live", "any"):
            return
        old = [
            pid
            for pid, when in self._found_at.items()
            if when <= t - rule.known_posts_hours and pid not in self._counted
        ]
        if not old:
            return
        ids = np.array(old, dtype=np.int64)
        up = ids[platform.removed_at(ids) > t]
        if len(up) <= rule.known_posts_max:
            return
        self._counted.update(up.tolist())
        self._strike(
            t,
            t,
            len(up),
            f"{len(up)} known violating posts still up {rule.known_posts_hours:g} hours "
            f"after they were found (limit {rule.known_posts_max})",
        )

    def _strike(self, now: float, when: float, posts: int, what: str) -> None:
        if self._in_effect:
            return  # already removed: failures count again after a reinstatement
        rule = self._policy.strikes
        self._strikes += 1
        self._events.append(
            EnforcementEvent(
                self._name,
                when,
                "strike",
                posts,
                f"{what} (strike {self._strikes} of {rule.strikes_to_suspend})"
                if self._strikes <= rule.strikes_to_suspend
                else f"{what} (strike {self._strikes}; {self._removal_word()} already notified)",
            )
        )
        if rule.warning_at is not None and self._strikes == rule.warning_at:
            self._events.append(
                EnforcementEvent(
                    self._name,
                    when,
                    "warning",
                    0,
                    f"formal warning: {self._strikes} strikes; {rule.strikes_to_suspend} "
                    f"lead to {self._removal_word()}",
                )
            )
        if self._strikes >= rule.strikes_to_suspend:
            period = self._policy.suspension.notice_period_days
            self._schedule(
                now + period * 24.0,
                "suspension_notice",
                now,
                f"{self._strikes} strikes; {self._removal_word()} after the "
                f"{period:g}-day notice period",
            )

    def _removal_word(self) -> str:
        return "delisting" if self.effect == "delist" else "suspension"

    def _maybe_emergency(self, t: float) -> None:
        rule = self._policy.suspension.emergency
        if not rule.enabled or self._in_effect:
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
                f"{self._removal_word()} in {rule.notice_hours:g} hours",
            )

    def _schedule(self, effective: float, kind: str, now: float, detail: str) -> None:
        if not self._in_effect and effective < self._suspension_at:
            self._suspension_at = effective
            self._events.append(EnforcementEvent(self._name, now, kind, 0, detail))

    # -- removal and reinstatement --------------------------------------------------------

    def take_effect(self, t: float) -> None:
        """The scheduled removal took effect at ``t``."""
        self._in_effect = True
        self._periods.append([t, math.inf])
        if self.effect == "delist":
            share = self._policy.new_user_share
            detail = f"app removed from the store; {share:.0%} of new users stop arriving"
        else:
            detail = "platform taken offline"
        self._events.append(
            EnforcementEvent(
                self._name, t, "delisting" if self.effect == "delist" else "suspension", 0, detail
            )
        )

    def suspend(self, t: float) -> None:
        """Record that the suspension took effect (alias of :meth:`take_effect`)."""
        self.take_effect(t)

    def _maybe_reinstate(self, t: float, platform: PlatformView) -> None:
        rule = self._policy.reinstatement
        if not (rule.enabled and self._in_effect):
            return
        last_found = max(self._found_times, default=-math.inf)
        since = max(last_found, self._periods[-1][0])
        if since > t - rule.clean_hours:
            return
        ids = np.fromiter(self._found_at, dtype=np.int64, count=len(self._found_at))
        if (platform.removed_at(ids) > t).any():
            return
        self._periods[-1][1] = t
        self._in_effect = False
        self._suspension_at = math.inf
        self._strikes = 0
        self._open_notices = []
        self._events.append(
            EnforcementEvent(
                self._name,
                t,
                "reinstatement",
                0,
                f"every found post down and nothing new found for {rule.clean_hours:g} hours",
            )
        )

    # -- notices ---------------------------------------------------------------------------

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


class Delisting:
    """The app stores' effect on new posts (its entry point: :meth:`keep`).

    New users stop arriving through a store that delisted the platform, so
    daily active users stay at most where they were when it did; posts are
    thinned in proportion (a store's ``new_user_share`` of the lost growth).
    The posts never made are counted per hour and class.
    """

    def __init__(self, scenario: Scenario, enforcers: list[Enforcer], seeds: SeedTree) -> None:
        self._scenario = scenario
        self._stores = [e for e in enforcers if e.effect == "delist"]
        self._seeds = seeds
        self._not_made = np.zeros((int(scenario.hours) + 1, N_CLASSES))

    def take_effect(self, t: float) -> None:
        """Delistings due by ``t`` take effect (they do not stop the run)."""
        for store in self._stores:
            if store.suspension_at <= t:
                store.take_effect(store.suspension_at)

    def keep(self, posts: Posts, day: int) -> np.ndarray | None:
        """Which of a day's posts are still made (``None``: all of them).

        Uses the removals known when the day starts (scheduled ones included).
        """
        if self._scenario.population is None:
            return None  # a replayed log has no growth model to thin
        t = posts.created_at
        lost = np.zeros(len(t))
        for store in self._stores:
            for start, stop in store.removal_periods:
                inside = (t >= start) & (t < stop)
                if not inside.any():
                    continue
                base = _interp_users(self._scenario, np.array([start]))[0]
                users = _interp_users(self._scenario, t[inside])
                growth = np.clip(1.0 - base / np.maximum(users, 1e-9), 0.0, 1.0)
                lost[inside] += store.policy.new_user_share * growth
        if not lost.any():
            return None
        u = self._seeds.rng("delist", day).random(len(t))
        keep: np.ndarray = u >= np.minimum(lost, 1.0)
        gone = ~keep
        hist = self._not_made
        hours = np.clip(t[gone].astype(np.int64), 0, len(hist) - 1)
        np.add.at(hist, (hours, posts.cls[gone]), 1)
        return keep

    def not_made_by_class(self, end: float) -> np.ndarray:
        """Posts never made before ``end``, per class."""
        return self._not_made[: math.ceil(end)].sum(axis=0)
