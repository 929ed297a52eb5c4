"""The run log: everything one simulated run produced that metrics need.

The engine builds a :class:`RunLog` at the end of a run; metrics and results
read it and never re-run anything. It lives apart from the engine so readers
depend on the data, not on the machinery that made it. :class:`PostTally`
builds its per-post part as posts settle (leave memory): counts for every
post, rows for the posts metrics read one by one (set aside in a
:class:`~simulator.spill.Spill` until the end), and rows for the sink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from simulator.accounts.records import AccountLog
from simulator.adversaries.records import AdversaryLog
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.enforcement import EnforcementEvent, Notice, Peak, Trip
from simulator.spill import Spill
from simulator.stages.platform import PlatformState, PostColumns
from simulator.taxonomy import N_CLASSES, Taxonomy

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier
    from simulator.classifier.card import CardClassifier
    from simulator.queueing import ReviewQueue
    from simulator.stages.jurors import JurorPlan

SETTLE_ROWS = 1_000_000
"""Rows of the posts still held at a run's end settled at once (:meth:`PostTally.settle_all`)."""

PostSink = Callable[[pd.DataFrame], None]
"""Where the rows of settled posts go (the per-post table), one frame at a time."""


@dataclass
class RunLog:
    """Everything a run produced that metrics need (the event log).

    Violating posts are kept whole; legitimate posts are summarised by
    counts, except those wrongly removed, which are kept whole too.
    """

    scenario: Scenario
    policy: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    seed: int
    end: float
    suspended_at: float
    suspended_by: str | None
    violating: pd.DataFrame
    wrongly_removed: pd.DataFrame
    created_by_class: np.ndarray
    created_by_hour: np.ndarray
    violating_by_hour: np.ndarray
    cases: dict[str, pd.DataFrame]
    capacity_hours: dict[str, float]
    busy_hours: dict[str, float]
    events: list[EnforcementEvent]
    notices: list[Notice]
    expected_posts_lost: float
    legit_live_at_suspension: int
    classifier: TrainedClassifier | CardClassifier | None = None
    prefilter_areas: dict[str, Any] | None = None
    """A prefilter per area (``prefilter.areas``): its cards and thresholds by area."""
    prefilter_thresholds: dict[str, dict[str, object]] = field(default_factory=dict)
    """The prefilter's thresholds as the raw scores they became (targets resolved)."""
    meta: dict[str, object] = field(default_factory=dict)
    labelled_by_class: np.ndarray | None = None
    """Posts created per class whose class is ground truth (``None``: all of them)."""
    not_made_by_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))
    """Posts never made because an app store had delisted the platform (new users
    stopped arriving), per class."""
    jurors: dict[str, np.ndarray] = field(default_factory=dict)
    scored_at_or_above: dict[str, np.ndarray] = field(default_factory=dict)
    """Per prefilter threshold (by name): posts created per class whose score was at or
    above it, whatever then happened to them (the classifier's operating point in the run)."""
    trips: list[Trip] = field(default_factory=list)
    """Every enforcer rule that fired (strikes, emergencies), with the evidence."""
    peaks: list[Peak] = field(default_factory=list)
    """Each enforcer rule's highest score in the run, with its signals then."""
    accounts: AccountLog | None = None
    """Account enforcement (strikes, ladder actions, posts not made); None when off."""
    adversaries: AdversaryLog | None = None
    """Brigaded posts and campaign copies; None when the scenario has no adversaries."""


class PostTally:
    """The per-post part of the run log, built as posts settle (entry point: :meth:`settle`).

    ``table`` chooses which posts reach the sink: ``all`` of them, or only the
    ``touched`` ones (violating, or reported, flagged, queued or removed).
    """

    def __init__(
        self,
        hours: int,
        table: str,
        with_text: bool,
        with_labels: bool,
        score_cuts: dict[str, float] | None = None,
        spill: Spill | None = None,
        *,
        taxonomy: Taxonomy,
    ) -> None:
        self.taxonomy = taxonomy
        n = taxonomy.n_classes
        self._table = table
        self._spill = spill if spill is not None else Spill(None)
        self._with_text = with_text
        self._with_labels = with_labels
        self._cuts = dict(score_cuts or {})
        self.scored_at_or_above = {name: np.zeros(n, dtype=np.int64) for name in self._cuts}
        self.created_by_class = np.zeros(n, dtype=np.int64)
        self.labelled_by_class = np.zeros(n, dtype=np.int64)
        self.created_by_hour = np.zeros(hours)
        self.violating_by_hour = np.zeros(hours)

    def settle(
        self, cols: PostColumns, mask: np.ndarray, end: float, sink: PostSink | None
    ) -> None:
        """Count the posts ``cols[mask]`` created before ``end``; hand their rows to ``sink``.

        Works on the mask rather than on copies: most emitted posts are
        untouched legitimate posts that only need counting.
        """
        mask = mask & (cols.created_at < end)
        if not mask.any():
            return
        hours = len(self.created_by_hour)
        bins = np.minimum(cols.created_at[mask].astype(np.int64), hours - 1)
        cls = cols.cls[mask]
        n, is_violating = self.taxonomy.n_classes, self.taxonomy.violating
        violating = is_violating[cls]
        self.created_by_class += np.bincount(cls, minlength=n)
        self.labelled_by_class += np.bincount(cls[cols.labelled[mask]], minlength=n)
        if self._cuts:
            score = cols.score[mask]
            for name, cut in self._cuts.items():
                self.scored_at_or_above[name] += np.bincount(cls[score >= cut], minlength=n)
        self.created_by_hour += np.bincount(bins, minlength=hours)
        self.violating_by_hour += np.bincount(bins[violating], minlength=hours)
        removed = cols.removed_at <= end
        wrong = mask & removed & ~is_violating[cols.cls]
        if wrong.any():
            rows = cols.take(wrong)
            self._spill.append(_WRONG, {**rows.columns(), "end": np.full(len(rows), end)})
        if violating.any():
            self._spill.append(_VIOLATING, cols.take(mask & is_violating[cols.cls]).columns())
        if sink is None:
            return
        if self._table == "touched":
            mask = mask & (
                is_violating[cols.cls]
                | np.isfinite(cols.case_at)
                | removed
                | (cols.reported_at < end)
            )
        if mask.any():
            sink(self._rows(cols.take(mask), end))

    def settle_all(
        self, state: PlatformState, end: float, sink: PostSink | None, block: int | None = None
    ) -> None:
        """Settle every post ``state`` holds made before ``end``, ``block`` rows at a
        time: what :meth:`settle` copies of them (violating rows, rows for the sink)
        then costs a block, not a second copy of a table that can hold tens of
        millions of posts at the end of a large run. The counts, rows and their
        order are those of one call on the whole table."""
        for part in state.blocks(block or SETTLE_ROWS):
            self.settle(part, part.created_at < end, end, sink)

    def count(self, counts: np.ndarray, day: int) -> None:
        """Count posts known only as numbers per (hour of ``day``, class), made
        before the run ended (legitimate posts no stage touched: no rows)."""
        self.created_by_class += counts.sum(axis=0)
        self.labelled_by_class += counts.sum(axis=0)
        hours = len(self.created_by_hour)
        rows = np.minimum(24 * day + np.arange(counts.shape[0]), hours - 1)
        np.add.at(self.created_by_hour, rows, counts.sum(axis=1))
        np.add.at(self.violating_by_hour, rows, counts[:, self.taxonomy.violating].sum(axis=1))

    def wrongly_removed(self) -> pd.DataFrame:
        """Rows of the legitimate posts removed, every one settled so far, each as it
        was when it settled (read once: the rows are then gone)."""
        data = self._spill.take(_WRONG)
        if data is None:
            return self._rows(PostColumns.empty(self._with_text), 0.0)
        end = data.pop("end")
        cols = PostColumns.from_columns(data, len(end), self._with_text)
        return self._rows(cols, np.asarray(end))

    def violating(self, end: float) -> pd.DataFrame:
        """Rows of the violating posts settled so far, by post id, as at ``end``
        (read once: the rows are then gone)."""
        data = self._spill.take(_VIOLATING)
        if data is None:
            return self._rows(PostColumns.empty(self._with_text), end)
        cols = PostColumns.from_columns(data, len(data["post_id"]), self._with_text)
        if (np.diff(cols.post_id) < 0).any():  # settled early ones, then the rest
            cols = cols.take(np.argsort(cols.post_id, kind="stable"))
        return self._rows(cols, end)

    def _rows(self, cols: PostColumns, end: float | np.ndarray) -> pd.DataFrame:
        """Per-post rows as this run writes them (text, labels, its classes)."""
        return cols.frame(end, self._with_text, self._with_labels, taxonomy=self.taxonomy)


_WRONG = "wrongly_removed"
_VIOLATING = "violating"


def juror_figures(plan: JurorPlan | None, queue: ReviewQueue | None) -> dict[str, np.ndarray]:
    """The jury population's figures for metrics (empty without a population)."""
    if plan is None or queue is None:
        return {}
    return {
        "pool_by_week": plan.pool_by_week,
        "joined_by_week": plan.joined,
        "left_by_week": plan.left,
        "expected_on_duty": plan.expected_on_duty,
        "votes_by_juror": queue.votes_by_juror,
        "sessions": np.array([queue.sessions_started]),
    }
