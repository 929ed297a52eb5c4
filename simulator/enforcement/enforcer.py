"""One enforcer, watching continuously: every rule is judged at the moment of the
event that can change it, never on a daily grid.

The events, in time order:

* a **find**: an outside report (a Poisson process in a post's views), or -
  while the press pays attention - a press report, reaches the enforcer while
  the post is still up;
* an **audit** lands (every ``audit.every_days``: a batch job by design);
* the **press takes notice**: the harmful view rate reaches its line
  (:mod:`simulator.enforcement.harm`);
* a notice's **deadline** passes (its window starts when the notice is sent);
* a found post has been up ``after_hours`` (the known-posts signal);
* the platform **answers a notice** and states its review backlog;
* a **letter** goes out: as soon as ``min_posts`` posts are waiting to be
  noticed, or at the next time the cadence and office hours allow.

Each event adds evidence to the :class:`~simulator.enforcement.signals.Ledger`;
after each one the strike rule and the emergency clause are judged, so a
strike lands at the deadline that failed and an emergency at the find that
tipped it. Enough strikes start the contractual notice period from the last
one; the emergency clause starts its own, shorter clock. A delisting is lifted
(reinstatement) at the moment every found post is down after a quiet spell.

The engine drives it: :meth:`Enforcer.next_time` says when the enforcer next
needs the platform as it is at that moment; the engine runs the platform up
to then and calls :meth:`Enforcer.advance`, which returns the notices sent.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from itertools import count
from typing import Any

import numpy as np

from simulator.config.host import HostPolicy
from simulator.enforcement.clock import LetterClock
from simulator.enforcement.detection import Channels
from simulator.enforcement.named import AccountLookup, NamedAccounts
from simulator.enforcement.records import (
    EnforcementEvent,
    Notice,
    Peak,
    PlatformView,
    SignalReading,
    Trip,
)
from simulator.enforcement.signals import Ledger, Rule
from simulator.enforcement.words import POST_COUNTS, because, notice_words
from simulator.errors import ModsimError
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts
from simulator.taxonomy import DEFAULT, Taxonomy

# Agenda entries at the same time run in this order: the platform's answer
# and deadlines first (what happened by then), letters last (what to send).
_REPLY, _DEADLINE, _KNOWN, _LETTER = range(4)


class Enforcer:
    """One enforcer's state and rules, stepped by the engine from event to event."""

    def __init__(
        self,
        policy: HostPolicy,
        seeds: SeedTree,
        letters: LetterClock | None = None,
        accounts: AccountLookup | None = None,
        area_weights: np.ndarray | None = None,
    ) -> None:
        self._policy = policy
        self._channels = Channels(policy.detection, policy.name, seeds, area_weights)
        # the accounts behind posts, when the run follows authors: notices name them
        self._named = NamedAccounts(accounts) if accounts is not None else None
        self._name = policy.name
        self._seeds = seeds
        self._letters = letters if letters is not None else LetterClock(policy.notices)
        self._now = 0.0
        self._agenda: list[tuple[float, int, int, Any]] = []
        self._seq = count()
        self._found_at: dict[int, float] = {}  # post id -> when the enforcer learned of it
        self._last_find = -math.inf
        self._unnoticed: list[int] = []
        self._letter_at: float | None = None
        self._notices: list[Notice] = []
        self._sent: list[Notice] = []
        self._strikes = 0
        self._ledger = Ledger()
        self._strike_rule = Rule("strike", policy.strikes.signals)
        emergency = policy.suspension.emergency
        self._emergency_rule = Rule("emergency", emergency.signals) if emergency.enabled else None
        self._known_hours = sorted(
            set(self._strike_rule.known_posts_hours)
            | set(self._emergency_rule.known_posts_hours if self._emergency_rule else [])
        )
        self._strike_slate = self._ledger.mark()
        self._cycle_slate = self._ledger.mark()
        self._emergency_fired = False
        self._suspension_at = math.inf
        self._in_effect = False
        self._periods: list[list[float]] = []  # [start, end] of each removal (end inf if open)
        self._events: list[EnforcementEvent] = []
        self._trips: list[Trip] = []
        self._peaks: dict[str, Peak] = {}  # rule -> its highest score so far

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
    def trips(self) -> list[Trip]:
        """Every rule that fired, with the evidence behind it."""
        return list(self._trips)

    @property
    def peaks(self) -> list[Peak]:
        """Each rule's highest score in the run (strike first, then emergency), with
        its signals then: a rule never judged (no event came) is left out."""
        return [self._peaks[r] for r in ("strike", "emergency") if r in self._peaks]

    def evidence(self, series: str) -> list[tuple[float, float]]:
        """What it observed of one signal, ``(time, amount)`` in time order (a signal's
        name; the known-posts signal is ``known_posts_up@<after_hours>``)."""
        return self._ledger.entries(series)

    @property
    def notices(self) -> list[Notice]:
        return list(self._notices)

    @property
    def found(self) -> int:
        return len(self._found_at)

    # -- what it is shown ------------------------------------------------------------------

    def observe(self, violating: Posts, day: int) -> None:
        """Draw when outside (and press) reports about these violating posts reach us."""
        self._channels.observe(violating, day)

    # -- stepping ----------------------------------------------------------------------------

    def next_time(self, platform: PlatformView) -> float:
        """When the enforcer next needs the platform as it is at that moment."""
        times = [
            self._agenda[0][0] if self._agenda else math.inf,
            self._channels.next_report(),
            self._channels.next_audit,
            self._channels.press_candidate(self._now, platform),
        ]
        clean = self._clean_at()
        if clean > self._now:
            times.append(clean)
        if self.effect == "delist":
            times.append(self.suspension_at)  # a delisting takes effect at its moment
        return min(times)

    def expect_reply(self, notice: Notice, at: float) -> None:
        """The platform answers ``notice`` at ``at``, stating its review backlog."""
        self._push(at, _REPLY, notice.number)

    def advance(self, t: float, platform: PlatformView) -> list[Notice]:
        """Handle every event up to ``t`` (the platform has been run up to ``t``);
        return the notices sent."""
        self._sent = []
        self._maybe_reinstate(t, platform)
        while True:
            agenda = self._agenda[0][0] if self._agenda else math.inf
            cand = self._channels.next_report()
            press = self._channels.press_candidate(self._now, platform)
            when = min(agenda, cand, self._channels.next_audit, press)
            if when > t:
                break
            if when == press:
                self._press_check(when, platform)
            elif when == agenda:
                _, kind, _, payload = heappop(self._agenda)
                self._dispatch(when, kind, payload, platform)
            elif when == cand:
                self._find(np.array([self._channels.take_report()]), when, platform)
            else:
                self._audit(when, platform)
            self._judge(when, platform)
            self._schedule_letter(when)
        self._now = t
        return self._sent

    def _push(self, when: float, kind: int, payload: Any) -> None:
        heappush(self._agenda, (when, kind, next(self._seq), payload))

    def _dispatch(self, when: float, kind: int, payload: Any, platform: PlatformView) -> None:
        if kind == _REPLY:
            state = platform.queue_state(when)
            self._ledger.add("backlog_reports", when, float(state.waiting))
            self._ledger.add("backlog_age_hours", when, state.median_age_hours)
        elif kind == _DEADLINE:
            notice: Notice = payload
            up = int((platform.removed_at(notice.post_ids) > notice.deadline).sum())
            self._ledger.add("noticed_posts_up", when, float(up))
            self._ledger.add("repeat_offences", when, 1.0 if up else 0.0)
        elif kind == _KNOWN:
            pid, hours = payload
            if platform.removed_at(np.array([pid]))[0] > when:
                self._ledger.add(f"known_posts_up@{hours:g}", when, 1.0)
        else:  # _LETTER
            self._letter_at = None
            self._send(when)

    # -- detection ---------------------------------------------------------------------------

    def _find(self, ids: np.ndarray, when: float, platform: PlatformView) -> None:
        """Reports (or audit picks) of ``ids`` reach the enforcer at ``when``."""
        fresh = np.array([p for p in ids.tolist() if p not in self._found_at], dtype=np.int64)
        if len(fresh) == 0:
            return
        fresh = fresh[platform.removed_at(fresh) > when]
        if len(fresh) == 0:
            return
        views = platform.views(fresh, when)
        for pid in fresh.tolist():
            self._found_at[pid] = when
            self._unnoticed.append(pid)
            for hours in self._known_hours:
                self._push(when + hours, _KNOWN, (pid, hours))
        self._last_find = when
        self._ledger.add("found_posts", when, float(len(fresh)))
        if self._named is not None:
            again = self._named.repeats(fresh)
            self._ledger.add("repeat_violators_active", when, float(again))
        self._ledger.add("found_views", when, float(views.sum()))

    def _audit(self, when: float, platform: PlatformView) -> None:
        picked = self._channels.audit(when, platform)
        if len(picked):
            self._find(picked, when, platform)
        size = float(self._policy.detection.audit.sample_size)
        self._ledger.add("audit_prevalence", when, float(len(picked)), size)
        self._events.append(EnforcementEvent(self._name, when, "audit", len(picked)))

    def _press_check(self, when: float, platform: PlatformView) -> None:
        """At a candidate moment: did harmful views reach the press's line?"""
        rate = self._channels.press_check(when, platform)
        if rate is None:
            return
        press = self._policy.detection.press
        self._ledger.add("press_attention", when, 1.0)
        self._events.append(
            EnforcementEvent(
                self._name,
                when,
                "press",
                0,
                f"harmful views reached {rate:,.0f} an hour (line "
                f"{press.trigger_views_per_hour:,.0f}); press and watchdogs report for "
                f"{press.hours:g} hours",
            )
        )

    # -- notices -------------------------------------------------------------------------------

    def _schedule_letter(self, now: float) -> None:
        if self._letter_at is not None or len(self._unnoticed) < self._policy.notices.min_posts:
            return
        self._letter_at = self._letters.next(now)
        self._push(self._letter_at, _LETTER, None)

    def _send(self, when: float) -> None:
        if len(self._unnoticed) < self._policy.notices.min_posts:
            return
        ids = np.array(self._unnoticed, dtype=np.int64)
        self._unnoticed = []
        accounts = self._named.name(ids, when) if self._named is not None else None
        notice = Notice(
            self._name,
            len(self._notices) + 1,
            when,
            when + self._policy.notices.remediation_hours,
            ids,
            accounts,
        )
        self._notices.append(notice)
        self._sent.append(notice)
        self._push(notice.deadline, _DEADLINE, notice)
        self._events.append(
            EnforcementEvent(self._name, when, "notice", len(ids), notice_words(notice))
        )

    # -- judging ---------------------------------------------------------------------------------

    def _judge(self, when: float, platform: PlatformView) -> None:
        if self._in_effect:
            return  # already removed: rules count again after a reinstatement
        fires, score, readings = self._strike_rule.judge(self._ledger, when, self._strike_slate)
        self._peak("strike", when, score, readings)
        if fires:
            self._strike_slate = self._ledger.mark()
            self._strike(when, score, readings, platform)
        rule = self._emergency_rule
        if rule is None or self._emergency_fired:
            return
        fires, score, readings = rule.judge(self._ledger, when, self._cycle_slate)
        self._peak("emergency", when, score, readings)
        if fires:
            self._emergency_fired = True
            hours = self._policy.suspension.emergency.notice_hours
            scheduled = self._schedule(
                when + hours,
                "emergency",
                when,
                f"emergency clause: {because(readings)}; {self._removal_word()} in {hours:g} hours",
            )
            self._record(rule.name, when, score, readings, platform, 0, scheduled)

    def _peak(
        self, rule: str, when: float, score: float, readings: tuple[SignalReading, ...]
    ) -> None:
        best = self._peaks.get(rule)
        if best is None or score > best.score:
            self._peaks[rule] = Peak(self._name, rule, when, score, readings)

    def _strike(
        self, when: float, score: float, readings: tuple[SignalReading, ...], platform: PlatformView
    ) -> None:
        rule = self._policy.strikes
        self._strikes += 1
        n = self._strikes
        self._events.append(
            EnforcementEvent(
                self._name,
                when,
                "strike",
                _posts(readings),
                f"{because(readings)} (strike {n} of {rule.strikes_to_suspend})"
                if n <= rule.strikes_to_suspend
                else f"{because(readings)} (strike {n}; {self._removal_word()} already notified)",
            )
        )
        if rule.warning_at is not None and n == rule.warning_at:
            self._events.append(
                EnforcementEvent(
                    self._name,
                    when,
                    "warning",
                    0,
                    f"formal warning: {n} strikes; {rule.strikes_to_suspend} "
                    f"lead to {self._removal_word()}",
                )
            )
        scheduled = False
        if n >= rule.strikes_to_suspend:
            period = self._policy.suspension.notice_period_days
            scheduled = self._schedule(
                when + period * 24.0,
                "suspension_notice",
                when,
                f"{n} strikes; {self._removal_word()} after the {period:g}-day notice period",
            )
        self._record("strike", when, score, readings, platform, n, scheduled)

    def _record(
        self,
        rule: str,
        when: float,
        score: float,
        readings: tuple[SignalReading, ...],
        platform: PlatformView,
        number: int,
        scheduled: bool,
    ) -> None:
        self._trips.append(
            Trip(self._name, rule, when, score, readings, platform.figures(when), number, scheduled)
        )

    def _removal_word(self) -> str:
        return "delisting" if self.effect == "delist" else "suspension"

    def _schedule(self, effective: float, kind: str, now: float, detail: str) -> bool:
        if not self._in_effect and effective < self._suspension_at:
            self._suspension_at = effective
            self._events.append(EnforcementEvent(self._name, now, kind, 0, detail))
            return True
        return False

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

    def _clean_at(self) -> float:
        """When a removal in effect could be lifted, if every found post is down by then."""
        rule = self._policy.reinstatement
        if not (rule.enabled and self._in_effect):
            return math.inf
        return max(self._last_find, self._periods[-1][0]) + rule.clean_hours

    def _maybe_reinstate(self, t: float, platform: PlatformView) -> None:
        """Lift the removal at the moment every found post was down after a quiet spell.

        The last removal may become known only after it happened (a review
        decision); nothing the enforcer did since then could have differed,
        so the reinstatement takes that moment.
        """
        clean = self._clean_at()
        if clean > t:
            return
        ids = np.fromiter(self._found_at, dtype=np.int64, count=len(self._found_at))
        down = platform.removed_at(ids)
        if (down > t).any():
            return
        when = max(clean, float(down.max()) if len(down) else -math.inf)
        self._periods[-1][1] = when
        self._in_effect = False
        self._suspension_at = math.inf
        self._strikes = 0
        self._agenda = [e for e in self._agenda if e[1] != _DEADLINE]
        heapify(self._agenda)
        self._strike_slate = self._cycle_slate = self._ledger.mark()
        self._emergency_fired = False
        self._events.append(
            EnforcementEvent(
                self._name,
                when,
                "reinstatement",
                0,
                f"every found post down and nothing new found for "
                f"{self._policy.reinstatement.clean_hours:g} hours",
            )
        )


def plan_enforcers(
    hosts: Sequence[HostPolicy],
    seeds: SeedTree,
    start: dt.datetime,
    accounts: AccountLookup | None = None,
    taxonomy: Taxonomy = DEFAULT,
) -> list[Enforcer]:
    """The run's enforcers, one per host (``accounts``: who is behind a post, when
    the run follows authors; notices then name accounts; ``taxonomy``: the classes
    and areas a host's ``detection.area_weights`` name)."""
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise ModsimError(
            f"enforcers need distinct names (their random draws are keyed by name), got {names}"
        )
    return [
        Enforcer(
            h,
            seeds,
            LetterClock(h.notices, start),
            accounts,
            taxonomy.area_weights(h.detection.area_weights),
        )
        for h in hosts
    ]


def _posts(readings: tuple[SignalReading, ...]) -> int:
    """The posts behind a strike: the count of its largest part, if that is a count."""
    top = max(readings, key=lambda r: r.contribution, default=None)
    return round(top.value) if top is not None and top.signal in POST_COUNTS else 0
