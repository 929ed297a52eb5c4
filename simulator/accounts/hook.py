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

Authors are followed when the policy acts on accounts, and also without
account enforcement (:attr:`Accounts.enforcing` False: nobody is struck or
blocked) when the scenario's authors adapt to the prefilter
(:meth:`adjust_scores`, :mod:`~simulator.accounts.adaptation`) or a host
weighs repeat violators (:meth:`accounts_behind` names the accounts behind
the posts of its notices). A replayed log's author column
(:class:`ReplayedAuthors`) gives every post its exact author instead of the
population's draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from simulator.accounts.adaptation import Learning, shifted
from simulator.accounts.book import BANNED, SUSPENDED, AccountBook, Ban
from simulator.accounts.population import TIERS, Population, standard_reach
from simulator.accounts.records import AccountLog
from simulator.config.accounts import AccountEnforcement, AccountPopulation
from simulator.config.common import per_class
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws, below
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stages.reports import ReportStage
from simulator.stream.synthetic import Posts
from simulator.taxonomy import CHANNEL_INDEX

if TYPE_CHECKING:
    from simulator.stages.area_prefilter import AreaPrefilter
    from simulator.stages.prefilter import PrefilterStage

RESTORED = -1
"""The channel :meth:`Accounts.watch` is called with for a restoration."""
_BLOCK = 1 << 16
"""Untouched posts drawn at once (:meth:`Accounts._untouched_gone`)."""


class ReplayedAuthors(Protocol):
    """A replayed log's authors (:class:`~simulator.stream.replay.ReplayStream`)."""

    @property
    def persons(self) -> int:
        """Distinct authors in the log: persons ``0 .. persons - 1``."""
        ...

    def authors_of(self, post_ids: np.ndarray) -> np.ndarray:
        """The author (person) of each post of the days replayed so far."""
        ...

    def author_names(self, persons: np.ndarray) -> np.ndarray:
        """Each person's name in the log's author column."""
        ...


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
        replayed: ReplayedAuthors | None = None,
        state: PlatformState | None = None,
    ) -> None:
        if scenario.accounts is None and replayed is None:
            raise ModsimError(
                "the policy acts on accounts (accounts.enabled) but the scenario has no "
                "`accounts:` section describing who posts: add one (see the README, Accounts)"
            )
        self.policy = policy
        self._violating = scenario.taxonomy.violating
        n_classes = scenario.taxonomy.n_classes
        self.enforcing = policy.enabled
        """Whether the platform acts on accounts (else authors are only followed: they
        adapt to the prefilter, and enforcers name them)."""
        cfg = scenario.accounts or AccountPopulation()
        self._replayed = replayed
        # every post's row is written, or the log names every author: every author exact
        self._every_row = every_row or replayed is not None
        self.pop: Population | None = None
        if replayed is None:
            self.pop = Population(cfg, scenario, seeds)
            persons, offender = self.pop.size, self.pop.offender
        else:  # propensities are unknown: nobody is a repeat offender by propensity
            persons = replayed.persons
            offender = np.zeros(persons, dtype=bool)
        self.book = AccountBook(policy, cfg.evasion, persons, offender, seeds, scenario.taxonomy)
        self.learning = Learning(cfg.adaptation, persons, seeds)
        reach = scenario.reach
        self._median = np.asarray(
            per_class(reach.median_views, scenario.taxonomy), dtype=np.float64
        )
        self._sigma = reach.sigma
        km = np.asarray(per_view) * self._median
        self._untouched_tiers = (
            self.pop.untouched_tier_shares(reports_needed, km, self._sigma)
            if self.pop is not None and self.enforcing
            else np.zeros((n_classes, TIERS))
        )
        self._channels = (
            {CHANNEL_INDEX[c] for c in policy.strikes_from} if self.enforcing else set()
        )
        self._seeds = seeds
        self._draws = KeyedDraws(seeds, "accounts", "untouched")
        self._share: tuple[int, np.ndarray] | None = None  # the day's blocked share
        self._by_person: list[tuple[np.ndarray, np.ndarray]] = []  # per day, sorted by person
        self._muted = False
        self._state = state  # the posts held in memory (what enforcers ask about)
        self.prevented = np.zeros(n_classes)
        self.prevented_violating = {
            "suspension": np.zeros(n_classes, dtype=np.int64),
            "ban": np.zeros(n_classes, dtype=np.int64),
        }
        self.removed_with_account = 0
        # Posts whose author is set from outside (a coordinated campaign's copies):
        # ``fixed_authors(post_ids, persons)`` puts them in.
        self.fixed_authors: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @property
    def takes_down(self) -> bool:
        """Whether a ban takes down the account's pending posts (they stay held)."""
        return self.enforcing and self.policy.on_ban == "remove_posts"

    # Authors --------------------------------------------------------------------------
    def authors_of(
        self, post_id: np.ndarray, cls: np.ndarray, reach: np.ndarray, created: np.ndarray
    ) -> np.ndarray:
        """The author (person) of each post."""
        if self._replayed is not None:
            return self._replayed.authors_of(post_id)
        assert self.pop is not None
        z = standard_reach(reach, cls, self._median, self._sigma)
        persons = self.pop.authors(post_id, cls, z, (created // 24.0).astype(np.int64))
        if self.fixed_authors is not None:
            persons = self.fixed_authors(post_id, persons)
        return persons

    def with_author(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-post rows with an ``author`` column (the person behind the account)."""
        cls = np.asarray(frame["cls"].cat.codes, dtype=np.int64)
        frame = frame.copy()
        if self._replayed is not None:  # the log's own names
            frame["author"] = self._replayed.author_names(
                self._replayed.authors_of(frame["post_id"].to_numpy())
            )
            return frame
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
        out = np.zeros((24, self._violating.size))
        if self.pop is None or not self.enforcing:  # every post's author is exact
            return out
        persons, start, until, _ = self.book.blocks_during(24.0 * day, 24.0 * day + 24.0)
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
        out[:, self._violating] = 0.0  # violating posts always get their exact author
        return out

    def stage(self, posts: Posts, cols: PostColumns, day: int, thinned: bool) -> np.ndarray:
        """Which of a day's posts are made (a mask); the rest were by blocked accounts."""
        n = len(posts)
        touched = (
            self._violating[posts.cls]
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
        self._count_prevented(cls[kind != 0])
        for code, name in ((SUSPENDED, "suspension"), (BANNED, "ban")):
            mine = cls[(kind == code) & self._violating[cls]]
            np.add.at(self.prevented_violating[name], mine, 1)
        if self._share is None or self._share[0] != day:  # a day may come in slices
            self._share = (day, self.blocked_share(day))
        share = self._share[1]
        if share.any() and not touched.all():
            gone = self._untouched_gone(posts, touched, share, day)
            keep[gone] = False
            self._count_prevented(posts.cls[gone])
        made = kind == 0
        persons, ids = persons[made], posts.post_id[exact][made]
        rows = exact[made]
        viol = self._violating[cls[made]]
        self.book.note_violations(persons[viol], posts.created_at[rows][viol])
        if self.takes_down:  # what a ban takes down, by person
            order = np.argsort(persons, kind="stable")
            self._by_person.append((persons[order], ids[order]))
        if self.scored:  # the prefilter's recall, by what the authors had learned
            seen = rows[viol]
            caught = np.isfinite(cols.flagged_at[seen]) | (
                np.isfinite(cols.removed_at[seen])
                & (cols.removed_by[seen] == CHANNEL_INDEX["prefilter"])
            )
            self.learning.tally(persons[viol], day, caught, cols.created_at[seen])
        auto = np.flatnonzero(np.isfinite(cols.removed_at[rows]))
        if len(auto):
            gone = rows[auto]
            self.learning.removed(persons[auto], cols.removed_at[gone], +1)
            if CHANNEL_INDEX["prefilter"] in self._channels:
                self.book.strike(
                    persons[auto],
                    posts.post_id[gone],
                    posts.cls[gone],
                    posts.created_at[gone],
                    cols.removed_at[gone],
                    CHANNEL_INDEX["prefilter"],
                )
        return keep

    def _count_prevented(self, cls: np.ndarray) -> None:
        """Count posts of classes ``cls`` not made (whole counts: the same float sums
        as adding one at a time, without ``np.add.at``'s cost per post)."""
        self.prevented += np.bincount(cls, minlength=len(self.prevented))

    def _untouched_gone(
        self, posts: Posts, touched: np.ndarray, share: np.ndarray, day: int
    ) -> np.ndarray:
        """The untouched posts not made: each is by a blocked account when its keyed
        uniform is below its (hour, class)'s ``share`` (the same whatever the chunk
        size or the slices a day comes in). Drawn a block of posts at a time: a
        day's posts are millions, a block's draws stay in the processor's cache."""
        # (the uniforms' 53-bit integers against integer thresholds: the same test)
        thresholds = below(share)
        gone = []
        for lo in range(0, len(posts), _BLOCK):
            hi = lo + _BLOCK
            hour = posts.created_at[lo:hi].astype(np.int64)
            hour -= 24 * day
            np.clip(hour, 0, 23, out=hour)
            hit = self._draws.bits(posts.post_id[lo:hi]) < thresholds[hour, posts.cls[lo:hi]]
            hit &= ~touched[lo:hi]
            gone.append(np.flatnonzero(hit) + lo)
        return np.concatenate(gone) if gone else np.empty(0, dtype=np.int64)

    scored = False
    """Whether a prefilter scores the posts (its recall is then counted)."""

    def adjust_scores(self, posts: Posts, score: np.ndarray) -> np.ndarray:
        """The prefilter's scores, with the violating posts of adapted authors shifted
        down (see :mod:`simulator.accounts.adaptation`)."""
        viol = np.flatnonzero(self._violating[posts.cls])
        if not self.learning.cfg.enabled or len(viol) == 0 or len(posts) == 0:
            return score
        persons = self.authors_of(
            posts.post_id[viol], posts.cls[viol], posts.reach[viol], posts.created_at[viol]
        )
        day = int(posts.created_at[viol].min() // 24.0)  # a slice is within one day
        out = score.copy()
        out[viol] = shifted(score[viol], self.learning.shift(persons, day))
        return out

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
        if len(idx) == 0:
            return
        persons = self.authors_of(
            cols.post_id[idx], cols.cls[idx], cols.reach[idx], cols.created_at[idx]
        )
        # authors learn from every removal (a restoration takes it back)
        self.learning.removed(persons, times, -1 if channel == RESTORED else +1)
        if self._muted or (channel != RESTORED and channel not in self._channels):
            return
        if channel == RESTORED:
            if self.enforcing:
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
        pending = self._violating[c.cls[idx]] | (c.case_open[idx] > 0)
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

    # What enforcers see -----------------------------------------------------------------
    def accounts_behind(self, post_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The account behind each post held in memory, and when the post was made
        (what a host names in a notice; a post it cannot find is by account -1)."""
        c = self._state.cols if self._state is not None else None
        out = np.full(len(post_ids), -1, dtype=np.int64)
        created = np.full(len(post_ids), np.nan)
        if c is None or len(c) == 0 or len(post_ids) == 0:
            return out, created
        idx = np.minimum(np.searchsorted(c.post_id, post_ids), len(c) - 1)
        held = np.flatnonzero(c.post_id[idx] == post_ids)
        rows = idx[held]
        persons = self.authors_of(c.post_id[rows], c.cls[rows], c.reach[rows], c.created_at[rows])
        out[held] = self.book.account_at(persons, c.created_at[rows])
        created[held] = c.created_at[rows]
        return out, created

    # Output -----------------------------------------------------------------------------
    def log(self, end: float = np.inf) -> AccountLog:
        """What the run recorded (``end``: when it ended; later posts were not made)."""
        ladder = [rung_label(i, r.action, r.days) for i, r in enumerate(self.policy.ladder)]
        actions = pd.DataFrame(self.book.actions)
        persons = self.book.persons
        learning = self.learning
        seen, caught = learning.recall_counts(end)
        return AccountLog(
            ladder=ladder,
            bans=[r.action == "ban" for r in self.policy.ladder],
            actions=actions,
            population=persons,
            offenders=int(self.pop.offender.sum()) if self.pop is not None else None,
            prevented_by_class=self.prevented.copy(),
            prevented_violating={k: v.copy() for k, v in self.prevented_violating.items()},
            strikes_applied=self.book.strikes_applied,
            strikes_withdrawn=self.book.strikes_withdrawn,
            posts_removed_with_account=self.removed_with_account,
            enforcing=self.enforcing,
            adaptation=learning.cfg if learning.cfg.enabled else None,
            scored_by_removals=seen if self.scored else None,
            caught_by_removals=caught if self.scored else None,
        )


def plan_accounts(
    scenario: Scenario,
    policy: PlatformPolicy,
    seeds: SeedTree,
    reports: ReportStage,
    state: PlatformState,
    table: str,
    *,
    hosts: Sequence[HostPolicy] = (),
    scorer: PrefilterStage | AreaPrefilter | None = None,
    stream: object = None,
) -> Accounts | None:
    """The run's accounts, listening to ``state``'s removals; None when nothing
    follows authors. Authors are followed when the policy acts on accounts, when
    the scenario's authors adapt to the prefilter, or when a host weighs repeat
    violators (its notices then name accounts). With a ``table`` of ``all`` every
    post's row is written, and every post gets its exact author. A replayed
    ``stream`` with an author column gives each post's author."""
    cfg = scenario.accounts
    logged = scenario.stream.names_authors
    adapts = cfg is not None and cfg.adaptation.enabled
    follow = policy.accounts.enabled or (
        (cfg is not None or logged) and (adapts or any(watches_accounts(h) for h in hosts))
    )
    if not follow:
        return None
    replayed: ReplayedAuthors | None = None
    if scenario.stream.is_file:
        if not logged:
            raise ModsimError(
                "the policy acts on accounts but the replayed log names no authors: map its "
                "author column in the scenario's stream.columns.author"
            )
        replayed = stream  # type: ignore[assignment]
    accounts = Accounts(
        scenario,
        policy.accounts,
        seeds,
        reports.reports_needed,
        reports.per_view,
        every_row=table == "all",
        replayed=replayed,
        state=state,
    )
    state.watchers.append(accounts.watch)
    if scorer is not None:
        scorer.adjust = accounts.adjust_scores
        accounts.scored = policy.prefilter.enabled
    return accounts


def watches_accounts(host: HostPolicy) -> bool:
    """Whether a host's rules weigh repeat violators (they need authors)."""
    return any(r.repeat_violators_active is not None for _, r in host.signal_rules())
