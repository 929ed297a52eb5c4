"""Adversaries in a run: the engine's one handle on brigades, campaigns and the matcher.

:class:`Adversaries` meets the run at five places:

* **making a day** (:meth:`Adversaries.extend`): a day's campaign copies
  follow its other posts, in its last slice;
* **staging a slice** (:meth:`Adversaries.stage`): the brigades' reports move
  cases earlier; the matcher takes down copies of campaigns it knows;
* **what was made** (:meth:`Adversaries.note_made`): posts of blocked accounts
  and posts a delisting stopped are not counted;
* **each stop** (:meth:`Adversaries.advance`): the matcher takes down held
  copies of campaigns whose first removal it has just learned of (it hears of
  removals as a :attr:`~simulator.stages.platform.PlatformState.watchers` entry);
* **the jury's decisions** (:meth:`Adversaries.decide`): the jury's
  :class:`~simulator.queueing.ReviewQueue` asks the brigades' sway what each
  decided case comes to, in its event loop, before it logs the case and hands
  it to the follow-ups.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from simulator.adversaries.brigading import Brigades, JurySway
from simulator.adversaries.campaigns import CampaignStream, NearDuplicateMatcher, offender_picker
from simulator.adversaries.records import AdversaryLog
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.queueing import Decide, ReviewQueue
from simulator.seeding import SeedTree
from simulator.stages.platform import PlatformState
from simulator.stages.reports import ReportStage
from simulator.stream.synthetic import Posts, SyntheticStream

if TYPE_CHECKING:
    from simulator.accounts import Accounts


class Adversaries:
    """Brigades, campaigns and the matcher of one run (see the module docstring); every
    part is None, and every call changes nothing, when the scenario has none."""

    def __init__(
        self,
        scenario: Scenario,
        policy: PlatformPolicy,
        seeds: SeedTree,
        reports: ReportStage,
        state: PlatformState,
        stream: object,
        accounts: Accounts | None,
    ) -> None:
        adv = scenario.adversaries
        self.brigades: Brigades | None = None
        self.sway: JurySway | None = None
        self.campaigns: CampaignStream | None = None
        self.matcher: NearDuplicateMatcher | None = None
        if adv is not None and adv.brigading is not None:
            needed = reports.reports_needed
            self.brigades = Brigades(adv.brigading, scenario, seeds, needed)
            if policy.jury.pool_size > 0:
                k = policy.jury.required_remove_votes()
                sway = JurySway(adv.brigading, needed, k, seeds)
                self.sway = sway if sway.active else None
        if adv is not None and adv.campaigns is not None:
            if not isinstance(stream, SyntheticStream):  # the scenario's validator sees to it
                raise ModsimError("campaigns need a synthetic stream")
            pick = None
            pop = accounts.pop if accounts is not None else None  # None: a replay's authors
            if pop is not None:
                pick = offender_picker(pop.offender, pop.join_day, adv.campaigns.accounts)
            self.campaigns = CampaignStream(adv.campaigns, scenario, seeds, stream, pick)
            if accounts is not None:
                accounts.fixed_authors = self.campaigns.authors
            if policy.matcher.enabled:
                self.matcher = NearDuplicateMatcher(policy.matcher, self.campaigns, seeds)
                state.watchers.append(self.matcher.watch)

    @property
    def holds_violating(self) -> bool:
        """Whether violating posts must stay in memory (the matcher may take them down)."""
        return self.matcher is not None

    def extend(self, slices: Iterator[Posts], day: int, first_id: int) -> Iterator[Posts]:
        """The day's slices, its campaign copies added to the last one."""
        if self.campaigns is None:
            yield from slices
            return
        last: Posts | None = None
        made = 0
        for posts in slices:
            if last is not None:
                yield last
            last = posts
            made += len(posts)
        copies = self.campaigns.posts_of_day(day, first_id + made)
        if last is None or len(copies) == 0:
            yield copies if last is None else last
        else:
            yield Posts.concat([last, copies])

    def stage(
        self, posts: Posts, reported: np.ndarray, auto: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A slice's report times with the brigades', and its removal times at staging
        with the matcher's."""
        if self.brigades is not None:
            reported = self.brigades.report_times(posts, reported)
        if self.matcher is not None:
            auto = self.matcher.stage(posts, auto)
        return reported, auto

    def note_made(self, posts: Posts, made: np.ndarray) -> None:
        """Which of the slice's posts were made (the rest: blocked accounts)."""
        if self.brigades is not None:
            self.brigades.note_made(posts.post_id[made], posts.cls[made])
            if self.sway is not None:
                self.sway.add(self.brigades.brigaded[-1])

    def decide(self, team: str) -> Decide | None:
        """The ``decide`` hook of ``team``'s queue: the brigades' sway, on the jury only."""
        return self.sway.decide if self.sway is not None and team == "jury" else None

    def advance(self, state: PlatformState, queues: dict[str, ReviewQueue]) -> None:
        if self.matcher is not None:
            self.matcher.advance(state, queues)

    def log(self) -> AdversaryLog | None:
        """What metrics need (None without adversaries: the run is as it was)."""
        if self.brigades is None and self.campaigns is None:
            return None
        out = AdversaryLog()
        if self.brigades is not None:
            b = self.brigades
            out.brigading = True
            out.brigaded = np.sort(np.concatenate([np.empty(0, np.int64), *b.brigaded]))
            out.brigade_opened = np.sort(np.concatenate([np.empty(0, np.int64), *b.opened]))
            out.brigaded_by_class = b.brigaded_by_class.copy()
            out.reports_per_post = b.cfg.reports_per_post
            if self.sway is not None:
                out.vote_flip = self.sway.flip
                out.jury_decisions_swayed = self.sway.flipped
        if self.campaigns is not None:
            out.campaigns = True
            out.campaigns_started = self.campaigns.started
            out.copies, out.copy_campaign, _ = self.campaigns.copies()
        if self.matcher is not None:
            out.matcher = True
            parts = self.matcher.matched
            if parts:
                out.matched = np.concatenate([p[0] for p in parts])
                out.matched_at = np.concatenate([p[1] for p in parts])
        return out
