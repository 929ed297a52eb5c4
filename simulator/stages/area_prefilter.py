"""A prefilter per policy area: each screened area's card scores every post.

``prefilter.areas`` gives each policy area the platform screens its own
classifier card, thresholds and review team. Every post is scored by the card
of every screened area: for the card of area A, A's classes are the ones it
flags (its ``violating`` group); a post of another area, or a legitimate one,
scores as the card says for that class (its own ``classes`` entry), else as
the card's legitimate posts (``non_violating``). A post of an area nobody
screens is therefore seen by the other areas' cards as legitimate speech.

A post is removed automatically when some area's score reaches that area's
removal threshold, and flagged for review when some area's score reaches its
review threshold; the case goes to the review team of the most severe area
that flagged it. Each area's score is drawn at its own keyed uniform (one per
post and area, by post id), so scores are the same whatever the chunk size,
and independent between areas given the class. The post's ``score`` column
holds its highest score over the screened areas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.classifier.card import CardClassifier, figures_on_mix
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stages.platform import TEAMS
from simulator.stages.prefilter import (
    PrefilterOutcome,
    PrefilterStage,
    ResolvedThreshold,
    card_classifier,
    prefilter_stage,
    resolve_thresholds,
    stream_mix,
)
from simulator.stages.prefilter import check_prefilter as check_one_prefilter
from simulator.stream.synthetic import Posts


@dataclass(frozen=True)
class ScreenedArea:
    """One screened area: its index in the taxonomy, card, thresholds and team."""

    name: str
    index: int
    severity: int
    card: CardClassifier
    auto: ResolvedThreshold
    review: ResolvedThreshold
    team: int
    draws: KeyedDraws


class AreaPrefilter:
    """Scores posts with each screened area's card (the engine's prefilter stage)."""

    def __init__(self, policy: PlatformPolicy, scenario: Scenario, seeds: SeedTree) -> None:
        cfg = policy.prefilter
        assert cfg.areas is not None
        tax = scenario.taxonomy
        self._delay = 0.0 if cfg.timing == "pre_publication" else cfg.delay_minutes / 60.0
        mix = stream_mix(scenario)
        self.adjust: Callable[[Posts, np.ndarray], np.ndarray] | None = None
        areas = []
        for name, screen in cfg.areas.items():
            i = tax.area_index(name)
            positive = tax.area_mask(i)
            card = card_classifier(screen.card.model_dump_json(), tax, tuple(positive.tolist()))
            auto, review = resolve_thresholds(
                screen,
                None,
                policy.name,
                mix,
                card.score_model,
                positive,
                where=f"prefilter.areas.{name}",
            )
            team = screen.review_team or cfg.review_team
            areas.append(
                ScreenedArea(
                    name,
                    i,
                    tax.areas[i].severity,
                    card,
                    replace(auto, name=f"{name}.{auto.name}"),
                    replace(review, name=f"{name}.{review.name}"),
                    TEAMS.index(team),
                    KeyedDraws(seeds, "prefilter", "area", name),
                )
            )
        # the most severe first: its team takes a post two areas flag
        self.areas = sorted(areas, key=lambda a: -a.severity)
        self._taxonomy = tax
        self._mix = mix
        self._on = cfg.enabled

    # What the engine asks of a prefilter ------------------------------------------------
    classifier = None
    """No single classifier: the summary's ``classifier`` section lists the areas."""
    per_area = True

    @property
    def draws_scores(self) -> bool:
        return True

    @property
    def thresholds(self) -> list[ResolvedThreshold]:
        return [t for a in self.areas for t in (a.auto, a.review)]

    def close(self) -> None:
        """Nothing to close (no scoring processes)."""

    def area_scores(self, posts: Posts) -> np.ndarray:
        """Each screened area's score of each post, shape ``(areas, posts)`` (authors who
        learned from removals shift their violating posts' scores under every card)."""
        out = np.empty((len(self.areas), len(posts)))
        for k, a in enumerate(self.areas):
            u = a.draws.uniforms(posts.post_id)
            if posts.area_u is not None:  # a thinned day's draws, conditioned
                u = np.where(np.isnan(posts.area_u[:, k]), u, posts.area_u[:, k])
            out[k] = a.card.score_model.sample(posts.cls, u)
            if self.adjust is not None:
                out[k] = self.adjust(posts, out[k])
        return out

    def touch_shares(self, cuts: list[float | None]) -> np.ndarray:
        """Per screened area (rows, in :attr:`areas` order) and class: the share of posts
        the area's card scores at or above the lowest cut in use: the area's own
        thresholds when the prefilter runs, and ``cuts`` (a notice sweep's, read on the
        highest score, so on every card). What thinning needs (a post no card scores
        that high, no one reports and no sampler picks is counted, not drawn)."""
        n = self._taxonomy.n_classes
        out = np.zeros((len(self.areas), n))
        for k, a in enumerate(self.areas):
            mine = [c for c in cuts if c is not None]
            if self._on:
                mine += [a.auto.score, a.review.score]
            if mine:
                model = a.card.score_model
                out[k] = [model.share_at_or_above(c, min(mine))[0] for c in range(n)]
        return out

    def scores(self, posts: Posts) -> np.ndarray:
        """The highest score over the screened areas (what a notice's sweep reads)."""
        if not len(posts):
            return np.empty(0)
        return self.area_scores(posts).max(axis=0)

    def apply(self, posts: Posts) -> PrefilterOutcome:
        n = len(posts)
        when = posts.created_at + self._delay
        if not n:
            empty = np.empty(0)
            return PrefilterOutcome(empty, empty, empty, np.empty(0, dtype=np.int8))
        scores = self.area_scores(posts)
        removes = np.zeros(n, dtype=bool)
        flags = np.zeros(n, dtype=bool)
        team = np.full(n, -1, dtype=np.int8)
        for k, a in enumerate(self.areas):
            removes |= scores[k] >= a.auto.score
            flagged = scores[k] >= a.review.score
            team = np.where(flagged & (team < 0), a.team, team).astype(np.int8)
            flags |= flagged
        auto = np.where(removes, when, np.inf)
        flag = np.where(flags & ~removes, when, np.inf)
        return PrefilterOutcome(scores.max(axis=0), auto, flag, team)

    # The summary's classifier section --------------------------------------------------
    def area_summary(self) -> dict[str, Any]:
        """Per screened area: its card, thresholds and what they imply on the stream's mix."""
        tax = self._taxonomy
        shares = [self._mix[c] for c in tax.classes] if self._mix is not None else None
        out: dict[str, Any] = {}
        for a in self.areas:
            positive = tax.area_mask(a.index)
            rows = []
            for t in (a.auto, a.review):
                row = t.to_dict()
                if shares is not None:
                    figures = figures_on_mix(a.card.score_model, shares, t.score, positive)
                    row.update({k: v for k, v in figures.to_dict().items() if k != "threshold"})
                rows.append(row)
            out[a.name] = {
                "card": a.card.card.name,
                "form": a.card.card.form,
                "review_team": TEAMS[a.team],
                "thresholds": rows,
            }
        return {"enabled": True, "score_mode": "sampled", "areas": out}


def check_prefilter(policy: PlatformPolicy, scenario: Scenario, seed: int) -> None:
    """Fail early (thresholds that cannot be met, a model file) before a caller
    writes anything: :func:`simulator.stages.prefilter.check_prefilter`, or each
    area's thresholds for a prefilter per area."""
    if policy.prefilter.enabled and policy.prefilter.areas is not None:
        AreaPrefilter(policy, scenario, SeedTree(seed))
        return
    check_one_prefilter(policy, scenario, seed)


def scorer_for(
    policy: PlatformPolicy,
    scenario: Scenario,
    seeds: SeedTree,
    classifier: Any = None,
    workers: int = 1,
) -> PrefilterStage | AreaPrefilter:
    """The run's scorer: a prefilter per area when the policy gives ``prefilter.areas``,
    else the one prefilter (:func:`~simulator.stages.prefilter.prefilter_stage`)."""
    if policy.prefilter.areas is not None:
        return AreaPrefilter(policy, scenario, seeds)
    return prefilter_stage(policy, scenario, seeds, classifier, workers=workers)
