"""The engine: composes the stream and the stages, chunk by chunk, into a run log.

Data flows one way. For each chunk of simulated days the engine

1. generates the posts (one seed per day, so chunking changes nothing);
2. applies the per-post, vectorised stages: prefilter scores and thresholds,
   user-report times, enforcers' outside-report times;
3. hands the posts that open a review case to the review queues;
4. steps through the enforcers' check times, running the queues up to each
   one so that what an enforcer sees is exactly what is up at that moment;
5. emits the rows of posts whose fate is sealed, keeping only violating posts
   and posts with an open case in memory (memory stays flat).

Only the review queue couples posts to each other, so only it is an event
loop. Cases that follow a decision - an escalation to staff, an appeal
against a removal, a re-report after a "keep" - are routed by
:class:`_Followups`: into the same queue from inside its loop (exact whatever
the chunking), or into a queue that runs later at the same stop.

The engine prints nothing and writes nothing: rows go to an optional sink, and
everything metrics need comes back as a :class:`RunLog`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.enforcement import EnforcementEvent, Enforcer, Notice
from simulator.errors import ModsimError
from simulator.queueing import (
    DECIDED_KEEP,
    DECIDED_REMOVE,
    KIND_APPEAL,
    KIND_ESCALATION,
    KIND_REPORT,
    CaseLog,
    Followup,
    ReviewQueue,
)
from simulator.seeding import SeedTree
from simulator.stages.appeals import AppealStage, KeyedDraws, appeals_team
from simulator.stages.jurors import JurorPlan, plan_jurors
from simulator.stages.jury import escalates, jury_team
from simulator.stages.notices import NoticeDesk
from simulator.stages.reports import ReportStage
from simulator.stages.staff import staff_team
from simulator.stream.replay import open_stream
from simulator.stream.synthetic import Posts, _interp_users, views_at
from simulator.taxonomy import CHANNEL_INDEX, CLASSES, N_CLASSES, REMOVAL_CHANNELS, VIOLATING

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier
    from simulator.stages.prefilter import PrefilterStage

TEAMS = ("jury", "staff")
QUEUE_ORDER = ("jury", "staff", "appeals")  # queues run in this order at every stop
_NO_TEAM = -1

PostSink = Callable[[pd.DataFrame], None]
Progress = Callable[[float], None]


@dataclass
class _Columns:
    """Per-post state for posts still held in memory (a structure of arrays)."""

    post_id: np.ndarray
    created_at: np.ndarray
    cls: np.ndarray
    reach: np.ndarray
    decay: np.ndarray
    score: np.ndarray
    reported_at: np.ndarray
    flagged_at: np.ndarray
    case_at: np.ndarray
    team: np.ndarray
    removed_at: np.ndarray
    removed_by: np.ndarray
    case_open: np.ndarray  # cases open for the post (a count: follow-ups can overlap)
    labelled: np.ndarray
    restored_at: np.ndarray  # after a successful appeal (inf: never)
    text: list[str] | None

    NUMERIC = (
        "post_id",
        "created_at",
        "cls",
        "reach",
        "decay",
        "score",
        "reported_at",
        "flagged_at",
        "case_at",
        "team",
        "removed_at",
        "removed_by",
        "case_open",
        "labelled",
        "restored_at",
    )

    def __len__(self) -> int:
        return len(self.post_id)

    def take(self, idx: np.ndarray) -> _Columns:
        cols = {name: getattr(self, name)[idx] for name in self.NUMERIC}
        pos = np.flatnonzero(idx) if idx.dtype == bool else idx
        text = [self.text[i] for i in pos] if self.text is not None else None
        return _Columns(**cols, text=text)

    @staticmethod
    def empty(with_text: bool) -> _Columns:
        f = np.empty(0)
        return _Columns(
            np.empty(0, dtype=np.int64),
            f,
            np.empty(0, dtype=np.int8),
            f,
            f,
            f,
            f,
            f,
            f,
            np.empty(0, dtype=np.int8),
            f,
            np.empty(0, dtype=np.int8),
            np.empty(0, dtype=np.int16),
            np.empty(0, dtype=bool),
            f,
            [] if with_text else None,
        )

    @staticmethod
    def concat(parts: list[_Columns]) -> _Columns:
        cols = {n: np.concatenate([getattr(p, n) for p in parts]) for n in _Columns.NUMERIC}
        text = None
        if all(p.text is not None for p in parts):
            text = [t for p in parts for t in (p.text or [])]
        return _Columns(**cols, text=text)

    def frame(self, end: float, with_text: bool, with_labels: bool = False) -> pd.DataFrame:
        """Rows for the per-post table; times in hours since the start."""
        removed = np.where(self.removed_at <= end, self.removed_at, np.inf)
        horizon = np.minimum(removed, end)
        data: dict[str, object] = {
            "post_id": self.post_id,
            "created_at": self.created_at,
            "cls": pd.Categorical.from_codes(self.cls, categories=list(CLASSES)),
            "violating": VIOLATING[self.cls],
            "reach": self.reach,
            "score": self.score,
            "reported_at": _nan_inf(self.reported_at, end),
            "flagged_at": _nan_inf(self.flagged_at, end),
            "case_at": _nan_inf(self.case_at, end),
            "removed_at": _nan_inf(removed, end),
            "removed_by": pd.Categorical.from_codes(
                np.where(np.isfinite(removed), self.removed_by, 0),
                categories=list(REMOVAL_CHANNELS),
            ),
            "views": views_at(self.reach, self.decay, horizon - self.created_at),
            "restored_at": _nan_inf(self.restored_at, end),
        }
        if with_labels:
            # A replay with partial ground truth: False where the class is estimated.
            data["labelled"] = self.labelled
        if with_text and self.text is not None:
            data["text"] = self.text
        return pd.DataFrame(data)


def _nan_inf(times: np.ndarray, end: float) -> np.ndarray:
    return np.where(times <= end, times, np.nan)


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
    classifier: TrainedClassifier | None = None
    prefilter_thresholds: dict[str, dict[str, object]] = field(default_factory=dict)
    """The prefilter's thresholds as the raw scores they became (targets resolved)."""
    meta: dict[str, object] = field(default_factory=dict)
    labelled_by_class: np.ndarray | None = None
    """Posts created per class whose class is ground truth (``None``: all of them)."""
    not_made_by_class: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))
    """Posts never made because an app store had delisted the platform (new users
    stopped arriving), per class."""
    jurors: dict[str, np.ndarray] = field(default_factory=dict)


class _PlatformState:
    """The posts held in memory and the removal bookkeeping the enforcers query."""

    def __init__(self, hours: int) -> None:
        self.cols: _Columns | None = None
        self.created_per_hour = np.zeros(hours + 1)
        self.removed_per_hour = np.zeros(hours + 1)

    def add(self, cols: _Columns) -> None:
        self.cols = cols if self.cols is None else _Columns.concat([self.cols, cols])

    def index(self, post_ids: np.ndarray) -> np.ndarray:
        assert self.cols is not None
        idx = np.searchsorted(self.cols.post_id, post_ids)
        return idx

    # PlatformView ---------------------------------------------------------
    def removed_at(self, post_ids: np.ndarray) -> np.ndarray:
        if self.cols is None or len(post_ids) == 0:
            return np.full(len(post_ids), np.inf)
        return self.cols.removed_at[self.index(post_ids)]

    def live_violating(self, t: float) -> np.ndarray:
        c = self.cols
        if c is None:
            return np.empty(0, dtype=np.int64)
        up = (c.removed_at > t) | (c.restored_at <= t)
        mask = VIOLATING[c.cls] & (c.created_at <= t) & up
        return c.post_id[mask]

    def live_posts(self, t: float) -> float:
        h = min(int(t), len(self.created_per_hour) - 1)
        return float(self.created_per_hour[: h + 1].sum() - self.removed_per_hour[: h + 1].sum())

    # Removals -------------------------------------------------------------
    def remove(self, idx: np.ndarray, times: np.ndarray, channel: int) -> np.ndarray:
        """Apply removals where earlier than any known one, or after a restoration;
        return the index applied."""
        assert self.cols is not None
        c = self.cols
        again = c.restored_at[idx] <= times  # restored by appeal, now removed again
        earlier = (times < c.removed_at[idx]) | again
        idx, times, again = idx[earlier], times[earlier], again[earlier]
        prev = c.removed_at[idx]
        self.count_removed(prev[np.isfinite(prev) & ~again], -1)
        c.removed_at[idx] = times
        c.removed_by[idx] = channel
        c.restored_at[idx] = np.inf
        self.count_removed(times, +1)
        return idx

    def restore(self, idx: np.ndarray, times: np.ndarray) -> None:
        """Put removed posts back up (an appeal succeeded)."""
        assert self.cols is not None
        c = self.cols
        down = np.isfinite(c.removed_at[idx]) & (c.removed_at[idx] <= times)
        idx, times = idx[down], times[down]
        c.restored_at[idx] = times
        self.count_removed(times, -1)

    def count_created(self, times: np.ndarray) -> None:
        hist = self.created_per_hour
        hist += np.bincount(_hour_bins(times, hist), minlength=len(hist))

    def count_removed(self, times: np.ndarray, sign: int) -> None:
        hist = self.removed_per_hour
        hist += sign * np.bincount(_hour_bins(times, hist), minlength=len(hist))


class _Followups:
    """Cases that follow a decision: escalations, appeals, re-reports.

    ``hook(team)`` is the callback a queue calls, inside its event loop, when
    it decides a case (see :data:`simulator.queueing.Followup`): it answers
    with a follow-up case for the same queue (an appeal it hears itself, a
    re-report), or marks the case as escalated. Follow-ups for queues that run
    later at the same stop are submitted in batches by the engine.
    All draws are keyed by post id and round, so order of calls does not matter.
    """

    def __init__(
        self,
        policy: PlatformPolicy,
        state: _PlatformState,
        reports: ReportStage,
        appeals: AppealStage,
        seeds: SeedTree,
    ) -> None:
        self.policy = policy
        self.state = state
        self.reports = reports
        self.appeals = appeals
        self.appeal_team = policy.appeal_team() if self.appeals.active else None
        self.rereports = KeyedDraws(seeds, "rereports")
        self.rounds: dict[int, int] = {}  # post id -> re-reports so far
        self.escalated: set[tuple[int, float]] = set()  # (post id, decision time)
        jury = policy.jury
        self.first_k = jury.rule == "first_k_agree"
        self.k = jury.required_remove_votes()

    def needed(self, team: str) -> bool:
        """Whether the queue of ``team`` needs the in-loop hook."""
        if team == "jury" and self.policy.jury.escalation.enabled:
            return True
        if self._hears_appeals(team):
            return True
        return self.policy.reports.rereports_after_keep > 0 and team == self.report_team

    @property
    def report_team(self) -> str:
        return self.policy.reports.review_team

    def _hears_appeals(self, team: str) -> bool:
        """Appeals against ``team``'s removals that ``team`` hears itself.

        The appeal team hears its own; a team that runs after the appeal team
        at each stop hears appeals against its own removals too (an appeal is
        never sent back to a queue that has already run).
        """
        target = self.appeal_team
        if target is None or team == "appeals":
            return False
        return target == team or QUEUE_ORDER.index(target) < QUEUE_ORDER.index(team)

    def later_appeal_team(self, team: str) -> str | None:
        """The queue, running after ``team``, that hears appeals of its removals."""
        target = self.appeal_team
        if target is None or team == "appeals" or self._hears_appeals(team):
            return None
        return target

    def hook(self, team: str) -> Followup:
        state = self.state
        escalation = self.policy.jury.escalation if team == "jury" else None
        if escalation is not None and not escalation.enabled:
            escalation = None
        hears_appeals = self._hears_appeals(team)
        max_rounds = self.policy.reports.rereports_after_keep if team == self.report_team else 0
        n_reports = self.policy.reports.reports_to_queue

        def followup(
            post_id: int, kind: int, status: int, removes: int, votes: int, now: float
        ) -> tuple[float, float, int] | None:
            c = state.cols
            assert c is not None
            i = int(c.post_id.searchsorted(post_id))
            if escalation is not None and kind == KIND_REPORT:
                seen = float(c.reach[i]) * -math.expm1(-float(c.decay[i]) * (now - c.created_at[i]))
                removed = status == DECIDED_REMOVE
                if escalates(escalation, self.first_k, self.k, removed, removes, votes, seen):
                    self.escalated.add((post_id, now))
                    return None
            if status == DECIDED_REMOVE:
                if not hears_appeals or kind == KIND_APPEAL:
                    return None
                when = self.appeals.appeal_time(post_id, bool(VIOLATING[c.cls[i]]), now)
                if not math.isfinite(when):
                    return None
                c.case_open[i] += 1
                return when, self.priority_one(team, i, when), KIND_APPEAL
            if kind != KIND_REPORT or max_rounds == 0:
                return None
            done = self.rounds.get(post_id, 0)
            if done >= max_rounds:
                return None
            draws = [self.rereports.uniform(post_id, 1000 * done + j) for j in range(n_reports)]
            created = c.created_at[i].item()
            age = self.reports.next_case_after(
                draws, c.cls[i].item(), c.reach[i].item(), c.decay[i].item(), now - created
            )
            if not math.isfinite(age):
                return None
            self.rounds[post_id] = done + 1
            c.case_open[i] += 1
            return created + age, self.priority_one(team, i, created + age), KIND_REPORT

        return followup

    def priority_one(self, team: str, i: int, t: float) -> float:
        c = self.state.cols
        assert c is not None
        return float(self.priorities(team, c, np.array([i]), np.array([t]))[0])

    def priorities(self, team: str, cols: _Columns, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The line-order key of cases opening at ``t`` for posts ``cols[idx]``."""
        rule = _team_priority(self.policy, team)
        if rule == "score":
            return np.nan_to_num(cols.score[idx], nan=0.0)
        if rule in ("reach", "reports"):
            views = views_at(cols.reach[idx], cols.decay[idx], t - cols.created_at[idx])
            if rule == "reach":
                return views
            return self.reports.expected_reports(cols.cls[idx], views)
        return np.zeros(len(idx))


def _team_priority(policy: PlatformPolicy, team: str) -> str:
    if team == "jury":
        return policy.jury.priority
    if team == "staff":
        return policy.staff.priority
    return policy.appeals.priority


def _hour_bins(times: np.ndarray, hist: np.ndarray) -> np.ndarray:
    return np.clip(times.astype(np.int64), 0, len(hist) - 1)


class Simulation:
    """One run of one platform policy, under zero or more enforcers, on one scenario.

    ``table`` chooses which posts reach the sink: ``all`` of them, or only the
    ``touched`` ones (violating, or reported, flagged, queued or removed);
    untouched legitimate posts are the same under every policy and are
    summarised by counts.
    """

    def __init__(
        self,
        scenario: Scenario,
        policy: PlatformPolicy,
        hosts: Sequence[HostPolicy] = (),
        seed: int = 0,
        *,
        chunk_days: int = 1,
        classifier: TrainedClassifier | None = None,
        table: str = "touched",
        workers: int = 1,
    ) -> None:
        if chunk_days < 1:
            raise ValueError("chunk_days must be at least 1")
        if table not in ("all", "touched"):
            raise ValueError("table must be 'all' or 'touched'")
        self.scenario = scenario
        self.policy = policy
        self.hosts = tuple(hosts)
        self.seeds = SeedTree(seed)
        self.chunk_days = chunk_days
        self.table = table
        mode = scenario.content.texts.mode
        self.with_text = mode == "text"
        self.prefilter: PrefilterStage | None = None
        # Scores every post when the prefilter runs or a notice may trigger a sweep.
        self.scorer: PrefilterStage | None = None
        self.sweep = policy.notices.sweep if policy.notices.sweep.enabled else None
        if policy.prefilter.enabled or self.sweep is not None:
            # Imported here: scikit-learn is only needed when a classifier runs.
            from simulator.stages.prefilter import prefilter_stage

            self.scorer = prefilter_stage(policy, scenario, self.seeds, classifier, workers=workers)
            if policy.prefilter.enabled:
                self.prefilter = self.scorer
        self.stream = open_stream(scenario, self.seeds, with_text=self.with_text)
        # Only a replayed log with unlabelled posts marks which classes are estimates.
        self.partial_labels = bool(getattr(self.stream, "partial_labels", False))
        self.reports = ReportStage(policy.reports, scenario.audience)
        hours = int(scenario.hours)
        self._state = _PlatformState(hours)
        self.juror_plan: JurorPlan | None = None
        if policy.jury.pool_size > 0 and policy.jury.population is not None:
            self.juror_plan = plan_jurors(policy.jury, scenario, self.seeds)
        self.followups = _Followups(
            policy,
            self._state,
            self.reports,
            AppealStage(scenario.appeals, self.seeds),
            self.seeds,
        )
        specs = {}
        if policy.jury.pool_size > 0:
            specs["jury"] = jury_team(policy.jury, scenario, self.juror_plan)
        if policy.staff.reviewers > 0:
            specs["staff"] = staff_team(policy.staff, scenario)
        if self.followups.appeal_team == "appeals":
            specs["appeals"] = appeals_team(policy.appeals, scenario)
        self.queues: dict[str, ReviewQueue] = {
            team: ReviewQueue(
                spec,
                self.seeds.rng(team),
                self.followups.hook(team) if self.followups.needed(team) else None,
            )
            for team, spec in specs.items()
        }
        names = [h.name for h in self.hosts]
        if len(set(names)) != len(names):
            raise ModsimError(
                f"enforcers need distinct names (their random draws are keyed by name), got {names}"
            )
        self.enforcers = [Enforcer(h, self.seeds) for h in self.hosts]
        self.desk = NoticeDesk(policy.notices)
        self._created_by_class = np.zeros(N_CLASSES, dtype=np.int64)
        self._labelled_by_class = np.zeros(N_CLASSES, dtype=np.int64)
        self._created_by_hour = np.zeros(hours)
        self._violating_by_hour = np.zeros(hours)
        self._wrong: list[pd.DataFrame] = []
        self._case_logs: dict[str, list[CaseLog]] = {t: [] for t in self.queues}
        self._notices: list[Notice] = []
        self._not_made = np.zeros((hours + 1, N_CLASSES))

    # The run -------------------------------------------------------------------
    def run(self, sink: PostSink | None = None, progress: Progress | None = None) -> RunLog:
        try:
            return self._run(sink, progress)
        finally:
            if self.scorer is not None:
                self.scorer.close()

    def _run(self, sink: PostSink | None, progress: Progress | None) -> RunLog:
        sc = self.scenario
        horizon = sc.hours
        state = self._state
        next_id = 0
        end = horizon
        suspended_by: str | None = None
        for d0 in range(0, sc.days, self.chunk_days):
            d1 = min(d0 + self.chunk_days, sc.days)
            t1 = 24.0 * d1
            settled: list[tuple[_Columns, np.ndarray]] = []
            for day in range(d0, d1):
                # A day's posts are made at its start and the day is then stepped
                # through, so what enforcers decide reaches the posts of later days
                # (a delisting) the same way whatever the chunk size.
                posts = self.stream.generate_day(day, next_id)
                next_id += len(posts)
                cols = self._stage_posts(posts, day)
                settled.append((cols, ~self._admit(cols, t1)))
                day_end = 24.0 * (day + 1)
                self._step(24.0 * day, day_end)
                if self._suspension_time() <= day_end:
                    end = self._suspension_time()
                    self._run_queues(end)
                    suspended_by = self._suspend(end)
                    break

            for cols, mask in settled:
                self._emit(cols, mask, end, sink)
            c = state.cols
            if c is not None:
                done = ~VIOLATING[c.cls] & (c.case_open == 0) & ~self._sweepable(c, t1)
                if done.any():
                    self._emit(c, done, end, sink)
                    state.cols = c.take(~done)
            if progress is not None:
                progress(min(1.0, t1 / horizon))
            if suspended_by is not None:
                break

        for team, queue in self.queues.items():
            self._case_logs[team].append(queue.drain())
        final = state.cols if state.cols is not None else _Columns.empty(self.with_text)
        self._emit(final, ~VIOLATING[final.cls], end, sink)
        viol = final.take(VIOLATING[final.cls] & (final.created_at < end))
        self._emit(viol, np.ones(len(viol), dtype=bool), end, sink)
        return self._log(
            viol.frame(end, with_text=self.with_text, with_labels=self.partial_labels),
            end,
            suspended_by,
        )

    # Per-post stages (vectorised) -----------------------------------------------
    def _stage_posts(self, posts: Posts, day: int) -> _Columns:
        n = len(posts)
        inf = np.full(n, np.inf)
        if self.prefilter is not None:
            out = self.prefilter.apply(posts)
            score, auto, flag = out.score, out.auto_removed_at, out.flagged_at
        elif self.scorer is not None:
            score, auto, flag = self.scorer.scores(posts) if n else np.empty(0), inf, inf
        else:
            score, auto, flag = np.full(n, np.nan), inf, inf
        reported = self.reports.report_times(posts, self.seeds.rng("reports", day))
        case_at = np.minimum(flag, reported)
        case_at = np.where(case_at < auto, case_at, np.inf)
        report_team = TEAMS.index(self.policy.reports.review_team)
        flag_team = TEAMS.index(self.policy.prefilter.review_team)
        team = np.where(flag <= reported, flag_team, report_team).astype(np.int8)
        team[~np.isfinite(case_at)] = _NO_TEAM
        cols = _Columns(
            post_id=posts.post_id,
            created_at=posts.created_at,
            cls=posts.cls,
            reach=posts.reach,
            decay=posts.decay,
            score=score,
            reported_at=reported,
            flagged_at=flag,
            case_at=case_at,
            team=team,
            removed_at=auto.copy(),
            removed_by=np.where(np.isfinite(auto), CHANNEL_INDEX["prefilter"], 0).astype(np.int8),
            case_open=np.isfinite(case_at).astype(np.int16),
            labelled=posts.labelled_mask(),
            restored_at=inf.copy(),
            text=posts.text,
        )
        # Every per-post draw above is made for the whole day first, so a
        # delisting thins the stream without shifting any other draw.
        keep = self._delisting_keep(posts, day)
        if keep is not None:
            lost = ~keep
            hist = self._not_made
            np.add.at(hist, (_hour_bins(posts.created_at[lost], hist[:, 0]), posts.cls[lost]), 1)
            cols = cols.take(keep)
            posts = posts.take(keep)
        violating = VIOLATING[posts.cls]
        if violating.any():
            vposts = posts.take(violating)
            for enforcer in self.enforcers:
                enforcer.observe(vposts, day)
        return cols

    def _delisting_keep(self, posts: Posts, day: int) -> np.ndarray | None:
        """Which posts are still made while app stores have the platform delisted.

        New users stop arriving through a store that delisted the platform, so
        daily active users stay at most where they were when it did; posts are
        thinned in proportion (a store's ``new_user_share`` of the lost growth).
        Uses the removals known when the day starts (scheduled ones included).
        """
        if self.scenario.population is None:
            return None  # a replayed log has no growth model to thin
        t = posts.created_at
        lost = np.zeros(len(t))
        for enforcer in self.enforcers:
            if enforcer.effect != "delist":
                continue
            for start, stop in enforcer.removal_periods:
                inside = (t >= start) & (t < stop)
                if not inside.any():
                    continue
                base = _interp_users(self.scenario, np.array([start]))[0]
                users = _interp_users(self.scenario, t[inside])
                growth = np.clip(1.0 - base / np.maximum(users, 1e-9), 0.0, 1.0)
                lost[inside] += enforcer.policy.new_user_share * growth
        if not lost.any():
            return None
        u = self.seeds.rng("delist", day).random(len(t))
        return u >= np.minimum(lost, 1.0)

    def _sweepable(self, cols: _Columns, now: float) -> np.ndarray:
        """Posts a notice's sweep could still reach: held in memory until too old."""
        if self.sweep is None:
            return np.zeros(len(cols), dtype=bool)
        return (cols.score >= self.sweep.review_above) & (
            cols.created_at > now - self.sweep.lookback_hours
        )

    def _admit(self, cols: _Columns, t1: float) -> np.ndarray:
        """Hold in memory the posts whose fate is still open; queue their cases."""
        state = self._state
        state.count_created(cols.created_at)
        state.count_removed(cols.removed_at[np.isfinite(cols.removed_at)], +1)
        # authors of posts the prefilter removed may appeal
        appeal_at = np.full(len(cols), np.inf)
        if self.followups.appeal_team is not None:
            gone = np.flatnonzero(np.isfinite(cols.removed_at))  # a few, out of every post
            appeal_at[gone] = self.followups.appeals.appeal_times(
                cols.post_id[gone], VIOLATING[cols.cls[gone]], cols.removed_at[gone]
            )
        resident = (
            VIOLATING[cols.cls]
            | np.isfinite(cols.case_at)
            | (np.isfinite(cols.removed_at) & (cols.removed_at > t1))
            | self._sweepable(cols, t1)
            | np.isfinite(appeal_at)
        )
        held = cols.take(resident)
        state.add(held)
        for code, name in enumerate(TEAMS):
            mine = np.flatnonzero(held.team == code)
            if len(mine):
                self.queues[name].submit(
                    held.post_id[mine],
                    held.case_at[mine],
                    held.cls[mine],
                    VIOLATING[held.cls[mine]],
                    self.followups.priorities(name, held, mine, held.case_at[mine]),
                )
        appealing = np.flatnonzero(np.isfinite(appeal_at[resident]))
        if len(appealing):
            self._submit_follow(
                self.followups.appeal_team or "", held, appealing, appeal_at[resident][appealing],
                KIND_APPEAL,
            )  # fmt: skip
        return resident

    def _submit_follow(
        self, team: str, cols: _Columns, idx: np.ndarray, times: np.ndarray, kind: int
    ) -> None:
        """Open follow-up cases (escalations, appeals) for posts ``cols[idx]``."""
        np.add.at(cols.case_open, idx, 1)
        self.queues[team].submit(
            cols.post_id[idx],
            times,
            cols.cls[idx],
            VIOLATING[cols.cls[idx]],
            self.followups.priorities(team, cols, idx, times),
            np.full(len(idx), kind, dtype=np.int8),
        )

    # Time stepping ----------------------------------------------------------------
    def _step(self, t0: float, t1: float) -> None:
        """Run the queues and the enforcers' checks through (t0, t1], up to a takedown."""
        for t in self._stop_times(t0, t1):
            if self._suspension_time() <= t:
                break
            self._run_queues(t)
            for enforcer in self.enforcers:
                if enforcer.effect == "delist" and enforcer.suspension_at <= t:
                    enforcer.take_effect(enforcer.suspension_at)
            for enforcer in self.enforcers:
                for notice in enforcer.check(t, self._state):
                    self._notices.append(notice)
                    self._respond(notice)

    def _stop_times(self, t0: float, t1: float) -> list[float]:
        stops = {t1}
        for enforcer in self.enforcers:
            stops.update(enforcer.check_times(t0, t1).tolist())
        return sorted(stops)

    def _takedowns(self) -> list[Enforcer]:
        return [e for e in self.enforcers if e.effect == "takedown"]

    def _suspension_time(self) -> float:
        """When the first takedown takes effect (delistings do not stop the run)."""
        return min((e.suspension_at for e in self._takedowns()), default=math.inf)

    def _suspend(self, t: float) -> str:
        first = min(self._takedowns(), key=lambda e: e.suspension_at)
        first.take_effect(t)
        return first.name

    def _run_queues(self, t: float) -> None:
        state = self._state
        follow = self.followups
        for team, queue in self.queues.items():
            log = queue.run_until(t)
            if len(log.post_id) == 0:
                continue
            self._case_logs[team].append(log)
            cols = state.cols
            assert cols is not None
            idx = state.index(log.post_id)
            np.subtract.at(cols.case_open, idx, 1)
            appeal = log.kind == KIND_APPEAL
            escalated = np.zeros(len(idx), dtype=bool)
            if follow.escalated:
                escalated = np.array(
                    [(p, left) in follow.escalated for p, left in zip(
                        log.post_id.tolist(), log.left.tolist(), strict=True)]
                )  # fmt: skip
                follow.escalated.difference_update(
                    zip(log.post_id[escalated].tolist(), log.left[escalated].tolist(), strict=True)
                )
                esc = np.flatnonzero(escalated)
                self._submit_follow("staff", cols, idx[esc], log.left[esc], KIND_ESCALATION)
            removed = (log.status == DECIDED_REMOVE) & ~appeal & ~escalated
            channel = CHANNEL_INDEX["staff" if team == "appeals" else team]
            applied = state.remove(idx[removed], log.left[removed], channel)
            restore = (log.status == DECIDED_KEEP) & appeal
            if restore.any():
                state.restore(idx[restore], log.left[restore])
            later = follow.later_appeal_team(team)
            if later is not None and len(applied):
                times = follow.appeals.appeal_times(
                    cols.post_id[applied], VIOLATING[cols.cls[applied]], cols.removed_at[applied]
                )
                go = np.isfinite(times)
                self._submit_follow(later, cols, applied[go], times[go], KIND_APPEAL)

    def _respond(self, notice: Notice) -> None:
        """The platform's answer to a notice: its notice desk removes (a share of)
        the noticed posts; optionally they jump the review queue, and a sweep
        sends lookalike posts to review."""
        state = self._state
        assert state.cols is not None
        if self.policy.notices.jump_queue:
            self._jump_queue(notice)
        action = self.desk.act(
            notice.time, notice.post_ids, self.seeds.rng("respond", notice.enforcer, notice.number)
        )
        applied = state.remove(
            state.index(action.post_ids), action.removed_at, CHANNEL_INDEX["notice"]
        )
        for pid, when in zip(
            state.cols.post_id[applied].tolist(),
            state.cols.removed_at[applied].tolist(),
            strict=True,
        ):
            for queue in self.queues.values():
                queue.close(pid, when)
        if self.sweep is not None:
            self._sweep(notice.time + self.policy.notices.response_hours)

    def _jump_queue(self, notice: Notice) -> None:
        """Noticed posts become their team's next job; posts nobody queued get a case."""
        state = self._state
        assert state.cols is not None
        c = state.cols
        idx = state.index(notice.post_ids)
        fresh = idx[~np.isfinite(c.case_at[idx]) & (c.removed_at[idx] > notice.time)]
        team: str = self.policy.reports.review_team
        if team not in self.queues:
            team = next(iter(self.queues), team)
        if team in self.queues and len(fresh):
            self._open_cases(fresh, notice.time, team)
        for queue in self.queues.values():
            queue.expedite(notice.post_ids, notice.time)

    def _sweep(self, when: float) -> None:
        """Posts made within the lookback that score above the sweep threshold,
        still up and never queued, go to review at ``when``."""
        sweep = self.sweep
        assert sweep is not None
        c = self._state.cols
        assert c is not None
        pick = np.flatnonzero(
            (c.score >= sweep.review_above)
            & (c.created_at >= when - sweep.lookback_hours)
            & (c.created_at <= when)
            & (c.removed_at > when)
            & ~np.isfinite(c.case_at)
        )
        if len(pick):
            self._open_cases(pick, when, sweep.team)

    def _open_cases(self, idx: np.ndarray, when: float, team: str) -> None:
        c = self._state.cols
        assert c is not None
        c.case_at[idx] = when
        c.team[idx] = TEAMS.index(team)
        c.case_open[idx] += 1
        self.queues[team].submit(
            c.post_id[idx],
            np.full(len(idx), when),
            c.cls[idx],
            VIOLATING[c.cls[idx]],
            np.nan_to_num(c.score[idx], nan=0.0),
        )

    # Output ---------------------------------------------------------------------
    def _emit(self, cols: _Columns, mask: np.ndarray, end: float, sink: PostSink | None) -> None:
        """Count the posts ``cols[mask]`` created before ``end``; hand their rows to the sink.

        Works on the mask rather than on copies: most emitted posts are
        untouched legitimate posts that only need counting.
        """
        mask = mask & (cols.created_at < end)
        if not mask.any():
            return
        hours = len(self._created_by_hour)
        bins = np.minimum(cols.created_at[mask].astype(np.int64), hours - 1)
        cls = cols.cls[mask]
        violating = VIOLATING[cls]
        self._created_by_class += np.bincount(cls, minlength=N_CLASSES)
        self._labelled_by_class += np.bincount(cls[cols.labelled[mask]], minlength=N_CLASSES)
        self._created_by_hour += np.bincount(bins, minlength=hours)
        self._violating_by_hour += np.bincount(bins[violating], minlength=hours)
        removed = cols.removed_at <= end
        wrong = mask & removed & ~VIOLATING[cols.cls]
        if wrong.any():
            self._wrong.append(
                cols.take(wrong).frame(end, self.with_text, with_labels=self.partial_labels)
            )
        if sink is None:
            return
        if self.table == "touched":
            mask = mask & (
                VIOLATING[cols.cls] | np.isfinite(cols.case_at) | removed | (cols.reported_at < end)
            )
        if mask.any():
            sink(cols.take(mask).frame(end, self.with_text, with_labels=self.partial_labels))

    def _log(self, violating: pd.DataFrame, end: float, suspended_by: str | None) -> RunLog:
        suspended = suspended_by is not None
        legit_live = 0
        wrong = (
            pd.concat(self._wrong, ignore_index=True)
            if self._wrong
            else _empty_frame(self.with_text, self.partial_labels)
        )
        if suspended:
            legit_created = int(self._created_by_class[~VIOLATING].sum())
            legit_live = legit_created - len(wrong)
        return RunLog(
            scenario=self.scenario,
            policy=self.policy,
            hosts=self.hosts,
            seed=self.seeds.seed,
            end=end,
            suspended_at=end if suspended else math.inf,
            suspended_by=suspended_by,
            violating=violating,
            wrongly_removed=wrong,
            created_by_class=self._created_by_class,
            created_by_hour=self._created_by_hour,
            violating_by_hour=self._violating_by_hour,
            cases={t: _cases_until(logs, end) for t, logs in self._case_logs.items()},
            capacity_hours={t: q.available_hours(end) for t, q in self.queues.items()},
            busy_hours={t: float(q.busy_hours) for t, q in self.queues.items()},
            events=sorted(
                (e for enf in self.enforcers for e in enf.events),
                key=lambda e: (e.time, e.enforcer),
            ),
            notices=list(self._notices),
            expected_posts_lost=float(self.stream.hourly_rate[int(end) :].sum())
            if suspended
            else 0.0,
            legit_live_at_suspension=legit_live,
            classifier=self.prefilter.classifier if self.prefilter else None,
            prefilter_thresholds=(
                {t.name: t.to_dict() for t in self.prefilter.thresholds} if self.prefilter else {}
            ),
            meta=dict(getattr(self.stream, "meta", {})),
            labelled_by_class=self._labelled_by_class.copy(),
            not_made_by_class=self._not_made[: math.ceil(end)].sum(axis=0),
            jurors=self._juror_stats(),
        )

    def _juror_stats(self) -> dict[str, np.ndarray]:
        """The jury population's figures for metrics (empty without a population)."""
        plan, queue = self.juror_plan, self.queues.get("jury")
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


def _cases_until(logs: list[CaseLog], end: float) -> pd.DataFrame:
    """Cases that opened before the run ended. A day is staged before its
    suspension is known, and reports may fall after the horizon: such cases
    never reached anyone and must not count as pending."""
    frame = CaseLog.concat(logs).to_frame()
    return frame[frame["arrived"] < end].reset_index(drop=True)


def _empty_frame(with_text: bool, with_labels: bool = False) -> pd.DataFrame:
    return _Columns.empty(with_text).frame(0.0, with_text, with_labels)
