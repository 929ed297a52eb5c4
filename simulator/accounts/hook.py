"""Accounts in a run: the engine's one handle on authors and account enforcement.

:class:`Accounts` ties the population (who wrote what) to the account book
(strikes, ladder, bans, evasion) at the four places a run touches them:

* **staging a day** (:meth:`Accounts.stage`): posts whose author is
  suspended or banned at their creation are not made. Posts some stage can
  touch (violating, reported, flagged, queued or removed; every post a
  thinned day draws; every post when the run writes every post's row) get
  their exact author; for the others no author is
  drawn: each is not made with the probability that an untouched post of its
  class and hour is by a blocked account (:meth:`blocked_share`), exact in
  distribution. A thinned day's counted posts lose a binomial share the same
  way (:meth:`thin_counts`). Actions are known at the day's start: a day's
  posts are drawn when it begins, so an action taken during a day stops the
  account's posting from the next day on (the day's later posts are made,
  and come down with a banned account when ``on_ban: remove_posts``, at
  their creation: never seen).
* **removals and restorations** (:meth:`watch`, called by
  :class:`~simulator.stages.platform.PlatformState`): strikes, and strikes
  withdrawn when an appeal restores a post;
* **each stop of the run** (:meth:`advance`): strikes applied in time order,
  ladder actions, and the posts that come down with a banned account;
* **output** (:meth:`with_author`, :meth:`log`): an ``author`` column on
  the per-post rows, and the :class:`~simulator.accounts.records.AccountLog`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from simulator.accounts.book import BANNED, SUSPENDED, AccountBook, Ban
from simulator.accounts.population import TIERS, Population, standard_reach
from simulator.accounts.records import AccountLog
from simulator.config.accounts import AccountEnforcement
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stages.reports import ReportStage
from simulator.stream.synthetic import Posts
from simulator.taxonomy import CHANNEL_INDEX, N_CLASSES, VIOLATING

RESTORED = -1
"""The channel :meth:`Accounts.watch` is called with for a restoration."""


def rung_label(i: int, action: str, days: float | None) -> str:
    return f"{i + 1}: {action}" + (f" {days:g} d" if days is not None else "")


class Accounts:
    """Authors and account enforcement for one run (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        policy: AccountEnforcement,
        seeds: SeedTree,
        reports_needed: int,
        per_view: np.ndarray,
        every_row: bool = False,
    ) -> None:
        if scenario.accounts is None:
            raise ModsimError(
                "the policy acts on accounts (accounts.enabled) but the scenario has no "
                "`accounts:` section describing who posts: add one (see the README, Accounts)"
            )
        self.policy = policy
        self._every_row = every_row  # every post's row is written: every author exact
        self.pop = Population(scenario.accounts, scenario, seeds)
        self.book = AccountBook(
            policy, scenario.accounts.evasion, self.pop.size, self.pop.offender, seeds
        )
        reach = scenario.reach
        self._median = np.asarray(reach.median_views.as_list(), dtype=np.float64)
        self._sigma = reach.sigma
        km = np.asarray(per_view) * self._median
        self._untouched_tiers = self.pop.untouched_tier_shares(reports_needed, km, self._sigma)
        self._channels = {CHANNEL_INDEX[c] for c in policy.strikes_from}
        self._seeds = seeds
        self._draws = KeyedDraws(seeds, "accounts", "untouched")
        self._share: tuple[int, np.ndarray] | None = None  # the day's blocked share
        self._by_person: list[tuple[np.ndarray, np.ndarray]] = []  # per day, sorted by person
        self._muted = False
        self.prevented = np.zeros(N_CLASSES)
        self.prevented_violating = {
            "suspension": np.zeros(N_CLASSES, dtype=np.int64),
            "ban": np.zeros(N_CLASSES, dtype=np.int64),
        }
        self.removed_with_account = 0
        # Posts whose author is set from outside (a coordinated campaign's copies):
        # ``fixed_authors(post_ids, persons)`` puts them in.
        self.fixed_authors: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @property
    def takes_down(self) -> bool:
        """Whether a ban takes down the account's pending posts (they stay held)."""
        return self.policy.on_ban == "remove_posts"

    # Authors --------------------------------------------------------------------------
    def authors_of(
        self, post_id: np.ndarray, cls: np.ndarray, reach: np.ndarray, created: np.ndarray
    ) -> np.ndarray:
        """The author (person) of each post."""
        z = standard_reach(reach, cls, self._median, self._sigma)
        persons = self.pop.authors(post_id, cls, z, (created // 24.0).astype(np.int64))
        if self.fixed_authors is not None:
            persons = self.fixed_authors(post_id, persons)
        return persons

    def with_author(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-post rows with an ``author`` column (the person behind the account)."""
        cls = np.asarray(frame["cls"].cat.codes, dtype=np.int64)
        frame = frame.copy()
        frame["author"] = self.authors_of(
            frame["post_id"].to_numpy(),
            cls,
            frame["reach"].to_numpy(dtype=np.float64),
            frame["created_at"].to_numpy(dtype=np.float64),
        )
        return frame

    def authored(self, sink: Callable[[pd.DataFrame], None]) -> Callable[[pd.DataFrame], None]:
        """A sink of per-post rows that adds the ``author`` column first."""
        return lambda frame: sink(self.with_author(frame))

    # Staging a day ------------------------------------------------------------------
    def blocked_share(self, day: int) -> np.ndarray:
        """P(an untouched post of each (hour of ``day``, class) is by a blocked
        account), shape ``(24, classes)``."""
        persons, start, until, _ = self.book.blocks_during(24.0 * day, 24.0 * day + 24.0)
        out = np.zeros((24, N_CLASSES))
        if len(persons) == 0:
            return out
        hours = 24.0 * day + np.arange(24)
        cover = np.clip(
            np.minimum(until[:, None], hours + 1.0) - np.maximum(start[:, None], hours), 0.0, 1.0
        )
        weight = cover * self.pop.weight(persons, violating=False)[:, None]
        per_tier = np.zeros((24, TIERS))
        np.add.at(per_tier.T, self.pop.tier[persons], weight)
        total = self.pop.tier_weight(day, violating=False)
        per_tier = np.divide(per_tier, total, out=np.zeros_like(per_tier), where=total > 0)
        out[:] = per_tier @ self._untouched_tiers.T
        out[:, VIOLATING] = 0.0  # violating posts always get their exact author
        return out

    def stage(self, posts: Posts, cols: PostColumns, day: int, thinned: bool) -> np.ndarray:
        """Which of a day's posts are made (a mask); the rest were by blocked accounts."""
        n = len(posts)
        touched = (
            VIOLATING[posts.cls]
            | np.isfinite(cols.case_at)
            | np.isfinite(cols.removed_at)
            | np.isfinite(cols.reported_at)
        )
        if thinned or self._every_row:
            touched[:] = True
        keep = np.ones(n, dtype=bool)
        exact = np.flatnonzero(touched)
        persons = self.authors_of(
            posts.post_id[exact], posts.cls[exact], posts.reach[exact], posts.created_at[exact]
        )
        kind = self.book.blocked(persons, posts.created_at[exact])
        keep[exact[kind != 0]] = False
        cls = posts.cls[exact]
        np.add.at(self.prevented, cls[kind != 0], 1)
        for code, name in ((SUSPENDED, "suspension"), (BANNED, "ban")):
            mine = cls[(kind == code) & VIOLATING[cls]]
            np.add.at(self.prevented_violating[name], mine, 1)
        if self._share is None or self._share[0] != day:  # a day may come in slices
            self._share = (day, self.blocked_share(day))
        share = self._share[1]
        rest = np.flatnonzero(~touched) if share.any() else np.empty(0, dtype=np.int64)
        if len(rest):
            # One keyed uniform per untouched post: the same whatever the chunk
            # size or the slices a day comes in.
            hour = np.clip(posts.created_at[rest].astype(np.int64) - 24 * day, 0, 23)
            u = self._draws.uniforms(posts.post_id[rest])
            gone = rest[u < share[hour, posts.cls[rest]]]
            keep[gone] = False
            np.add.at(self.prevented, posts.cls[gone], 1)
        made = kind == 0
        persons, ids = persons[made], posts.post_id[exact][made]
        viol = VIOLATING[cls[made]]
        self.book.note_violations(persons[viol], posts.created_at[exact][made][viol])
        order = np.argsort(persons, kind="stable")
        self._by_person.append((persons[order], ids[order]))
        auto = np.flatnonzero(np.isfinite(cols.removed_at[exact][made]))
        if len(auto) and CHANNEL_INDEX["prefilter"] in self._channels:
            rows = exact[made][auto]
            self.book.strike(
                persons[auto],
                posts.post_id[rows],
                posts.cls[rows],
                posts.created_at[rows],
                cols.removed_at[rows],
                CHANNEL_INDEX["prefilter"],
            )
        return keep

    def thin_counts(self, untouched: np.ndarray, day: int) -> np.ndarray:
        """A thinned day's counted posts (per hour and class) less those by blocked
        accounts (a binomial share each)."""
        share = self.blocked_share(day)
        if not share.any():
            return untouched
        gone = self._seeds.rng("accounts", "thin", day).binomial(untouched, share)
        self.prevented += gone.sum(axis=0)
        return np.asarray(untouched - gone)

    # Removals, restorations, stops ------------------------------------------------------
    def watch(self, cols: PostColumns, idx: np.ndarray, times: np.ndarray, channel: int) -> None:
        """A removal (or, with :data:`RESTORED`, a restoration) of posts ``cols[idx]``."""
        if self._muted or len(idx) == 0:
            return
        if channel != RESTORED and channel not in self._channels:
            return
        persons = self.authors_of(
            cols.post_id[idx], cols.cls[idx], cols.reach[idx], cols.created_at[idx]
        )
        if channel == RESTORED:
            self.book.withdraw(persons, cols.post_id[idx])
            return
        self.book.strike(
            persons, cols.post_id[idx], cols.cls[idx], cols.created_at[idx], times, channel
        )

    def advance(self, t: float, state: PlatformState) -> None:
        """Apply strikes up to ``t``; take down what banned accounts still have up."""
        bans = self.book.advance(t)
        if bans and self.takes_down:
            self._take_down(bans, state)

    def _take_down(self, bans: list[Ban], state: PlatformState) -> None:
        c = state.cols
        if c is None or len(c) == 0:
            return
        # Every touched post of the banned persons, with the ban it falls under.
        persons = np.array([ban.person for ban in bans], dtype=np.int64)
        order = np.argsort(persons)
        persons = persons[order]
        found: list[np.ndarray] = []
        which: list[np.ndarray] = []
        for p, ids in self._by_person:  # every touched post, a day (slice) at a time
            lo = np.searchsorted(p, persons, side="left")
            n = np.searchsorted(p, persons, side="right") - lo
            if not n.any():
                continue
            ban_of = np.repeat(np.arange(len(persons)), n)
            start = np.repeat(lo - np.cumsum(n) + n, n)
            found.append(ids[start + np.arange(len(ban_of))])
            which.append(order[ban_of])
        if not found:
            return
        ids, ban_idx = np.concatenate(found), np.concatenate(which)
        idx = np.minimum(np.searchsorted(c.post_id, ids), len(c) - 1)
        held = c.post_id[idx] == ids
        idx, ban_idx = idx[held], ban_idx[held]
        at = np.array([ban.time for ban in bans])[ban_idx]
        until = np.array([ban.until for ban in bans])[ban_idx]
        channel = np.array([ban.channel for ban in bans])[ban_idx]
        up = (c.removed_at[idx] > at) | (c.restored_at[idx] <= at)
        # Pending: violating posts up, and posts awaiting review (both held in
        # memory whatever the chunk size; other legitimate posts stay up).
        pending = VIOLATING[c.cls[idx]] | (c.case_open[idx] > 0)
        go = up & pending & (c.created_at[idx] < until)
        idx, at, channel = idx[go], at[go], channel[go]
        self._muted = True
        try:
            for ch in np.unique(channel):
                mine = channel == ch
                done = state.remove(
                    idx[mine], np.maximum(at[mine], c.created_at[idx[mine]]), int(ch)
                )
                self.removed_with_account += len(done)
        finally:
            self._muted = False

    # Output -----------------------------------------------------------------------------
    def log(self) -> AccountLog:
        ladder = [rung_label(i, r.action, r.days) for i, r in enumerate(self.policy.ladder)]
        actions = pd.DataFrame(self.book.actions)
        return AccountLog(
            ladder=ladder,
            actions=actions,
            population=self.pop.size,
            offenders=int(self.pop.offender.sum()),
            first_accounts=self.pop.size,
            prevented_by_class=self.prevented.copy(),
            prevented_violating={k: v.copy() for k, v in self.prevented_violating.items()},
            strikes_applied=self.book.strikes_applied,
            strikes_withdrawn=self.book.strikes_withdrawn,
            posts_removed_with_account=self.removed_with_account,
        )


def plan_accounts(
    scenario: Scenario,
    policy: PlatformPolicy,
    seeds: SeedTree,
    reports: ReportStage,
    state: PlatformState,
    table: str,
) -> Accounts | None:
    """The run's accounts, listening to ``state``'s removals; None when the policy
    does not act on accounts. With a ``table`` of ``all`` every post's row is
    written, and every post gets its exact author."""
    if not policy.accounts.enabled:
        return None
    accounts = Accounts(
        scenario,
        policy.accounts,
        seeds,
        reports.reports_needed,
        reports.per_view,
        every_row=table == "all",
    )
    state.watchers.append(accounts.watch)
    return accounts
