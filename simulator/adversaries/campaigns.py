"""Coordinated campaigns and the near-duplicate matcher that answers them.

**A campaign** (:class:`CampaignStream`) is a group of ``accounts`` accounts
posting the same violating content, ``posts_per_account`` copies each, at
uniform times within ``burst_hours`` of its start. Campaigns start on each day
as a Poisson number (mean ``per_week / 7``), at a time of day that follows the
platform's hourly post rate (``start_hours: rhythm``) or is uniform. Each
campaign is drawn from its own seed (``("campaigns", day, i)``), and a day's
copies are those of the campaigns begun in the days a burst can reach back
over that fall on it, so a day's copies do not depend on the chunk size. They
come after the day's other posts (their ids follow) as violating posts of the
campaign's ``content`` class: one classifier score per campaign (the same
content scores the same), one text per campaign in text mode, and a reach
each, drawn as the class's. With the scenario's ``accounts:`` the campaign's
accounts are repeat offenders who have joined by its start (the population's
persons), so account enforcement sees them; without it a copy has no author.

**The matcher** (:class:`NearDuplicateMatcher`) learns of every removal of a
copy (any channel: a prefilter's at staging, a review decision, a notice, a
ban). From the campaign's first removal at ``T`` on, each other copy is taken
down at ``max(created, T + delay)`` if its keyed uniform is below ``recall``:
at staging for copies made after ``T`` is known, at the run's next stop for
copies already held (violating posts stay in memory while the matcher runs).
Its removals count as the prefilter's; the run records which they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simulator.config.adversaries import Campaigns, Matcher
from simulator.config.scenario import Scenario
from simulator.queueing import ReviewQueue
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stream.synthetic import Posts, SyntheticStream
from simulator.taxonomy import CHANNEL_INDEX

CAMPAIGN_KEY = 1_000_000
"""A campaign's number is ``day * CAMPAIGN_KEY + i`` (its i-th of the day)."""

Pick = Callable[[int, np.random.Generator], np.ndarray]
"""``pick(day, rng)``: the persons taking part in a campaign begun on ``day``."""


class CampaignStream:
    """The copies campaigns post, day by day, and which campaign each belongs to."""

    def __init__(
        self,
        cfg: Campaigns,
        scenario: Scenario,
        seeds: SeedTree,
        stream: SyntheticStream,
        pick: Pick | None,
    ) -> None:
        self.cfg = cfg
        self._seeds = seeds
        self._stream = stream  # the copies' reach, decay and texts are drawn as its posts'
        self._pick = pick
        self._hours = scenario.hours
        self._rates = stream.hourly_rate
        self._cls = scenario.taxonomy.index[cfg.content]
        self._texts = stream.text_generator
        self._span = math.ceil(cfg.burst_hours / 24.0)
        self._cache: dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.started = 0  # campaigns begun
        # the copies made so far, in id order: post id, campaign, author (person or -1)
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _campaigns(self, day: int) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """The campaigns begun on ``day``: (number, copy times, copy z, authors)."""
        if day in self._cache:
            return self._cache[day]
        cfg = self.cfg
        rng = self._seeds.rng("campaigns", day)
        n = int(rng.poisson(cfg.per_week / 7.0))
        weights = self._rates[24 * day : 24 * day + 24]
        out = []
        for i in range(n):
            r = self._seeds.rng("campaigns", day, i)
            if cfg.start_hours == "rhythm" and weights.sum() > 0:
                hour = float(r.choice(len(weights), p=weights / weights.sum()))
            else:
                hour = float(r.integers(24))
            start = 24.0 * day + hour + r.random()
            m = cfg.accounts * cfg.posts_per_account
            times = start + cfg.burst_hours * r.random(m)
            z = r.standard_normal(m)
            slot = np.repeat(np.arange(cfg.accounts), cfg.posts_per_account)
            persons = self._pick(day, r)[slot] if self._pick is not None else np.full(m, -1)
            out.append((day * CAMPAIGN_KEY + i, times, z, persons))
        self._cache = {d: v for d, v in self._cache.items() if d > day - self._span - 1}
        self._cache[day] = out
        self.started += n
        return out

    def posts_of_day(self, day: int, first_id: int) -> Posts:
        """The copies created on ``day`` (before the horizon); ids from ``first_id``."""
        lo, hi = 24.0 * day, min(24.0 * day + 24.0, self._hours)
        numbers, times, zs, persons = [], [], [], []
        for d in range(max(0, day - self._span), day + 1):
            for key, t, z, who in self._campaigns(d):
                on = (t >= lo) & (t < hi)
                numbers.append(np.full(int(on.sum()), key, dtype=np.int64))
                times.append(t[on])
                zs.append(z[on])
                persons.append(who[on])
        number = np.concatenate(numbers) if numbers else np.empty(0, np.int64)
        n = len(number)
        ids = np.arange(first_id, first_id + n, dtype=np.int64)
        cls = np.full(n, self._cls, dtype=np.int8)
        score_u = KeyedDraws(self._seeds, "campaigns", "score").uniforms(number)
        text = None
        if self._texts is not None:
            one = {
                k: self._texts.generate(
                    np.array([self._cls], dtype=np.int8),
                    self._seeds.rng("campaigns", "text", k // CAMPAIGN_KEY, k % CAMPAIGN_KEY),
                )[0]
                for k in np.unique(number).tolist()
            }
            text = [one[k] for k in number.tolist()]
        created = np.concatenate(times) if times else np.empty(0)
        reach = self._stream.reach_of(cls, np.concatenate(zs) if zs else np.empty(0))
        self._parts.append((ids, number, np.concatenate(persons) if persons else number))
        self._joined = None
        decay = np.full(n, self._stream.decay)
        return Posts(ids, created, cls, reach, decay, score_u, text)

    def copies(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every copy drawn so far: post ids (sorted), campaign numbers, authors."""
        if self._joined is None:
            parts = self._parts or [(np.empty(0, np.int64),) * 3]
            ids, number, who = (np.concatenate(col) for col in zip(*parts, strict=True))
            self._joined = (ids, number, who)
            self._parts = [self._joined] if self._parts else []
        return self._joined

    def campaign_of(self, post_ids: np.ndarray) -> np.ndarray:
        """Each post's campaign number (-1: not a copy)."""
        ids, number, _ = self.copies()
        if len(ids) == 0:
            return np.full(len(post_ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(ids, post_ids), len(ids) - 1)
        return np.where(ids[at] == post_ids, number[at], -1)

    def authors(self, post_ids: np.ndarray, persons: np.ndarray) -> np.ndarray:
        """``persons`` with each copy's author put in (the accounts' hook)."""
        ids, _, who = self.copies()
        if len(ids) == 0 or len(post_ids) == 0:
            return persons
        at = np.minimum(np.searchsorted(ids, post_ids), len(ids) - 1)
        mine = (ids[at] == post_ids) & (who[at] >= 0)
        return np.where(mine, who[at], persons)


def offender_picker(offender: np.ndarray, join_day: np.ndarray, size: int) -> Pick:
    """Campaign members: repeat offenders joined by the campaign's day (any account
    if there are too few), drawn without replacement where possible."""

    def pick(day: int, rng: np.random.Generator) -> np.ndarray:
        joined = join_day <= day
        pool = np.flatnonzero(offender & joined)
        if len(pool) < size:
            pool = np.flatnonzero(joined) if joined.sum() >= size else np.arange(len(offender))
        return rng.choice(pool, size=size, replace=len(pool) < size).astype(np.int64)

    return pick


class NearDuplicateMatcher:
    """Takes down the other copies once one copy of a campaign is down (see the module)."""

    def __init__(self, cfg: Matcher, campaigns: CampaignStream, seeds: SeedTree) -> None:
        self._delay = cfg.delay_minutes / 60.0
        self._recall = cfg.recall
        self._campaigns = campaigns
        self._draws = KeyedDraws(seeds, "matcher")
        self.first_down: dict[int, float] = {}
        self._fresh: set[int] = set()
        self.matched: list[tuple[np.ndarray, np.ndarray]] = []  # (post ids, removal times)

    def _learn(self, post_ids: np.ndarray, times: np.ndarray) -> None:
        number = self._campaigns.campaign_of(post_ids)
        for k, t in zip(number[number >= 0].tolist(), times[number >= 0].tolist(), strict=True):
            if t < self.first_down.get(k, math.inf):
                self.first_down[k] = t
                self._fresh.add(k)

    def watch(self, cols: PostColumns, idx: np.ndarray, times: np.ndarray, channel: int) -> None:
        """A state watcher: removals (``channel`` >= 0) of copies teach the matcher."""
        if channel >= 0 and len(idx):
            self._learn(cols.post_id[idx], times)

    def _when(self, post_ids: np.ndarray, created: np.ndarray) -> np.ndarray:
        """When the matcher takes each post down (inf: not a copy of a known campaign,
        or missed)."""
        number = self._campaigns.campaign_of(post_ids)
        out = np.full(len(post_ids), math.inf)
        rows = np.flatnonzero(number >= 0)  # the copies: a slice's other posts are most
        if self.first_down and len(rows):
            known = np.array([self.first_down.get(k, math.inf) for k in number[rows].tolist()])
            found = self._draws.uniforms(post_ids[rows]) < self._recall
            out[rows] = np.where(found, np.maximum(created[rows], known + self._delay), math.inf)
        return out

    def stage(self, posts: Posts, auto: np.ndarray) -> np.ndarray:
        """A slice's removal times with the matcher's (``auto``: the prefilter's)."""
        gone = np.isfinite(auto)
        self._learn(posts.post_id[gone], auto[gone])
        when = self._when(posts.post_id, posts.created_at)
        first = when < auto
        self.matched.append((posts.post_id[first], when[first]))
        return np.minimum(auto, when)

    def advance(self, state: PlatformState, queues: dict[str, ReviewQueue]) -> None:
        """Take down the held copies of campaigns whose first removal is newly known."""
        c = state.cols
        if not self._fresh or c is None or len(c) == 0:
            self._fresh.clear()
            return
        ids, number, _ = self._campaigns.copies()
        fresh = np.fromiter(self._fresh, dtype=np.int64)
        self._fresh.clear()
        rows = np.flatnonzero(np.isin(c.post_id, ids[np.isin(number, fresh)]))
        when = self._when(c.post_id[rows], c.created_at[rows])
        go = when < c.removed_at[rows]
        rows, when = rows[go], when[go]
        applied = state.remove(rows, when, CHANNEL_INDEX["prefilter"])
        self.matched.append((c.post_id[applied], c.removed_at[applied]))
        for pid, t in zip(c.post_id[applied].tolist(), c.removed_at[applied].tolist(), strict=True):
            for queue in queues.values():
                queue.close(pid, max(t, queue.now))
