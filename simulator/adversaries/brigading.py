"""Report brigading: organised false reports against legitimate posts.

**Who is targeted.** Each legitimate post of a target class is brigaded with
the probability of its hour: the brigaded posts a brigade rate brings that
hour (``brigades_per_day x posts_per_brigade``, shaped by the platform's
daily rhythm and, with ``follow_surges``, by its surges) over the target posts
the stream is expected to make then (capped at 1). The choice is one keyed
uniform per post (:class:`~simulator.stages.appeals.KeyedDraws`), so it does
not depend on chunks, slices or what other posts were drawn; a brigade is a
rate here, not a group whose members are followed.

**When its reports come.** The brigade finds a post an exponential time after
it is made (mean ``delay_hours``) and files ``reports_per_post`` reports an
exponential gap apart (mean ``report_minutes``). The case opens at the earlier
of the post's own ``reports_to_queue``-th report and the brigade's (the two
are not pooled towards the count); a brigade filing fewer reports than the
policy needs opens nothing on its own.

**How it sways a jury** (:class:`JurySway`). On a volunteer jury, each vote
that would have been "keep" on a brigaded post turns to "remove" with
probability ``1 - (1 - m)(1 - w)``: ``m`` is the share of its votes cast by
the brigade's own members, ``w = 1 - (1 - report_sway) ** doublings`` the
share of honest jurors swayed by the reports it carries (doublings of
``reports_to_queue + reports_per_post`` over ``reports_to_queue``). For
independent votes this is exact in distribution: each vote is "remove" with
probability ``1 - (1 - m)(1 - w) a`` for a juror of accuracy ``a``. The flip
is drawn when the queue decides the case (keyed by post and decision), so
escalations, appeals and re-reports follow the swayed decision. Under
``rule: first_k_agree`` the flips apply to the votes cast (the stopping rule
is not re-run), which understates the sway. Paid staff are not swayed.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.adversaries import Brigading
from simulator.config.scenario import Scenario
from simulator.queueing import DECIDED_KEEP, DECIDED_REMOVE
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stream.synthetic import (
    Posts,
    hourly_class_probs,
    hourly_rates,
    hourly_rhythm,
    surge_volume,
)


def brigade_share(cfg: Brigading, scenario: Scenario) -> np.ndarray:
    """P(a target-class post made in each simulated hour is brigaded), shape ``(hours,)``."""
    rates = hourly_rates(scenario)
    brigaded = cfg.brigades_per_day * cfg.posts_per_brigade / 24.0 * hourly_rhythm(scenario)
    if cfg.follow_surges:
        brigaded = brigaded * surge_volume(scenario)
    codes = [scenario.taxonomy.index[c] for c in cfg.targets]
    targets = rates * hourly_class_probs(scenario)[:, codes].sum(axis=1)
    share = np.divide(brigaded, targets, out=np.zeros_like(rates), where=targets > 0)
    return np.asarray(np.minimum(share, 1.0), dtype=np.float64)


class Brigades:
    """Which posts the brigades target and when their reports open a case."""

    def __init__(
        self, cfg: Brigading, scenario: Scenario, seeds: SeedTree, reports_needed: int
    ) -> None:
        self.cfg = cfg
        self._share = brigade_share(cfg, scenario)
        tax = scenario.taxonomy
        self._target = np.zeros(tax.n_classes, dtype=bool)
        self._target[[tax.index[c] for c in cfg.targets]] = True
        self._needed = reports_needed
        self._draws = KeyedDraws(seeds, "brigading", "posts")
        self._pending: tuple[np.ndarray, np.ndarray] = (np.empty(0, np.int64),) * 2
        self.brigaded: list[np.ndarray] = []  # ids of brigaded posts made, per slice
        self.opened: list[np.ndarray] = []  # ... of those whose case the brigade opened
        self.brigaded_by_class = np.zeros(tax.n_classes, dtype=np.int64)

    def report_times(self, posts: Posts, reported: np.ndarray) -> np.ndarray:
        """The time each post's case opens from reports, the brigade's included."""
        hour = np.minimum(posts.created_at.astype(np.int64), len(self._share) - 1)
        candidate = np.flatnonzero(self._target[posts.cls])
        ids = posts.post_id[candidate]
        hit = self._draws.uniforms(ids, 0) < self._share[hour[candidate]]
        rows, ids = candidate[hit], ids[hit]
        out = reported
        opens = np.zeros(len(rows), dtype=bool)
        if self._needed and self.cfg.reports_per_post >= self._needed and len(rows):
            delay = self.cfg.delay_hours * _exponential(self._draws, ids, 1)
            found = posts.created_at[rows] + delay
            gaps = sum(_exponential(self._draws, ids, 2 + j) for j in range(self._needed))
            at = found + self.cfg.report_minutes / 60.0 * gaps
            opens = at < reported[rows]
            out = reported.copy()
            out[rows[opens]] = at[opens]
        self._pending = (ids, opens)
        return out

    def note_made(self, made_ids: np.ndarray, cls_of: np.ndarray) -> None:
        """Keep, of the slice's brigaded posts, those made (``made_ids`` sorted)."""
        ids, opens = self._pending
        made = np.isin(ids, made_ids)
        self.brigaded.append(ids[made])
        self.opened.append(ids[made & opens])
        np.add.at(self.brigaded_by_class, cls_of[np.searchsorted(made_ids, ids[made])], 1)
        self._pending = (np.empty(0, np.int64),) * 2


def _exponential(draws: KeyedDraws, ids: np.ndarray, salt: int) -> np.ndarray:
    return -np.log1p(-draws.uniforms(ids, salt))


class JurySway:
    """The brigade's hold on a jury's decisions on the posts it targeted."""

    def __init__(
        self, cfg: Brigading, reports_needed: int, votes_to_remove: int, seeds: SeedTree
    ) -> None:
        jury = cfg.jury
        needed = max(reports_needed, 1)
        doublings = math.log2(1.0 + cfg.reports_per_post / needed)
        swayed = 1.0 - (1.0 - jury.report_sway) ** doublings
        self.flip = 1.0 - (1.0 - jury.member_vote_share) * (1.0 - swayed)
        self._k = votes_to_remove
        self._draws = KeyedDraws(seeds, "brigading", "jury")
        self._decisions: dict[int, int] = {}  # post id -> jury decisions so far
        self.posts: set[int] = set()  # brigaded posts
        self.flipped = 0  # decisions the brigade turned from keep to remove

    @property
    def active(self) -> bool:
        return self.flip > 0

    def add(self, ids: np.ndarray) -> None:
        if self.active:
            self.posts.update(ids.tolist())

    def decide(self, post_id: int, status: int, removes: int, votes: int) -> tuple[int, int]:
        """The decision and remove votes once the brigade's votes and sway count (the
        jury queue's ``decide`` hook: :data:`~simulator.queueing.queue.Decide`)."""
        if post_id not in self.posts:  # (the queue asks of decided cases only)
            return status, removes
        n = self._decisions.get(post_id, 0)
        self._decisions[post_id] = n + 1
        uniform = self._draws.uniform
        flips = sum(uniform(post_id, 1000 * n + j) < self.flip for j in range(votes - removes))
        removes += flips
        if status == DECIDED_KEEP and removes >= self._k:
            self.flipped += 1
            return DECIDED_REMOVE, removes
        return status, removes
