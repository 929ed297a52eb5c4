"""Follow-up routing: the cases a review decision opens, and where they go.

A decision can open another case for the same post: a jury's close call is
escalated to staff, an author appeals a removal, a post kept up is reported
again. :class:`Followups` answers, inside a queue's event loop, with the
follow-up that queue hears itself (exact whatever the chunking); after each
queue has run to a stop, :meth:`Followups.apply` writes its decisions to the
post-state table and submits the follow-ups that queues running later at the
same stop hear. It also sets the line order (priority) of every case.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simulator.config.policy import PlatformPolicy
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
from simulator.stages.appeals import AppealStage, KeyedDraws
from simulator.stages.jury import escalates
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stages.reports import ReportStage
from simulator.stream.synthetic import views_at
from simulator.taxonomy import CHANNEL_INDEX

QUEUE_ORDER = ("jury", "staff", "appeals")
"""The order queues run in at every stop."""

WARM_CASES = 4096
"""How many of the earliest cases still waiting for their posts' draws are drawn
at once, when the hook first asks for one of them."""

_Post = tuple[int, float, float, float, float, float, float, "tuple[float, ...]"]
"""What the hook needs of a post: class, created_at, reach, decay, score priority
key, the appeal draws (whether, when) and the first re-report's draws."""


class Followups:
    """Cases that follow a decision: escalations, appeals, re-reports.

    ``hook(team)`` is the callback a queue calls, inside its event loop, when
    it decides a case (see :data:`simulator.queueing.Followup`): it answers
    with a follow-up case for the same queue (an appeal it hears itself, a
    re-report), or marks the case as escalated. Follow-ups for queues that run
    later at the same stop are submitted in batches by :meth:`apply`.
    All draws are keyed by post id and round, so order of calls does not matter.
    """

    def __init__(
        self,
        policy: PlatformPolicy,
        state: PlatformState,
        reports: ReportStage,
        appeals: AppealStage,
        seeds: SeedTree,
    ) -> None:
        self.policy = policy
        self.state = state
        self._severity = state.taxonomy.severity_of().astype(np.float64)
        self.reports = reports
        self.appeals = appeals
        self.appeal_team = policy.appeal_team() if self.appeals.active else None
        self.rereports = KeyedDraws(seeds, "rereports")
        self.rounds: dict[int, int] = {}  # post id -> re-reports so far
        self.escalated: set[tuple[int, float]] = set()  # (post id, decision time)
        # What the hook needs of each post with a case, drawn per chunk (see prepare)
        self._posts: dict[int, _Post] = {}
        self._cold = ColdCases()  # cases whose draws wait until they near a decision
        self._eager = False  # whether some hooked line is not first come, first served
        self._opened: list[int] = []  # posts the hook opened a case for since apply
        self._hooked = False  # whether some queue calls the hook
        jury = policy.jury
        self.first_k = jury.rule == "first_k_agree"
        self.k = jury.required_remove_votes()

    def needed(self, team: str) -> bool:
        """Whether the queue of ``team`` needs the in-loop hook."""
        if team == "jury" and self.policy.jury.escalation.enabled:
            return True
        if self._hears_appeals(team):
            return True
        return self.policy.reports.rereports_after_keep > 0 and team in self.reports.teams

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

    def prepare(self, cols: PostColumns, idx: np.ndarray, times: np.ndarray | None = None) -> None:
        """Cases open for posts ``cols[idx]`` from ``times`` (default: ``case_at``): what
        the hook will need of them - their columns, the draws for an appeal and for a
        first re-report - in one go.

        When every hooked line is first come, first served, the hook asks for posts
        in about the order their cases arrived, so only the arrival and the post id
        are kept (16 bytes a case, against some 200 for the drawn row: an overloaded
        jury holds millions), and the earliest :data:`WARM_CASES` are drawn at once
        when the hook first misses one. The draws are keyed by post id and the
        columns never change, so when they are drawn changes no result."""
        if not (self._hooked and len(idx)):
            return
        if self._eager:
            self._draw(cols, idx)
        else:
            self._cold.add(cols.case_at[idx] if times is None else times, cols.post_id[idx])

    def _draw(self, cols: PostColumns, idx: np.ndarray) -> None:
        ids = cols.post_id[idx]
        appeals, delays = self.appeals.uniforms(ids)
        n = self.policy.reports.reports_to_queue
        rereport = zip(*(self.rereports.uniforms(ids, j).tolist() for j in range(n)), strict=True)
        rows = zip(
            cols.cls[idx].tolist(),
            cols.created_at[idx].tolist(),
            cols.reach[idx].tolist(),
            cols.decay[idx].tolist(),
            np.nan_to_num(cols.score[idx], nan=0.0).tolist(),
            appeals.tolist(),
            delays.tolist(),
            rereport,
            strict=True,
        )
        self._posts.update(zip(ids.tolist(), rows, strict=True))

    def _post(self, post_id: int) -> _Post:
        """What :meth:`prepare` gives, for one post: drawn with the earliest cases still
        waiting for their draws, or alone (a case that arrived another way)."""
        c = self.state.cols
        assert c is not None
        if self._cold:
            ids = self._cold.earliest(WARM_CASES)
            rows = np.minimum(c.post_id.searchsorted(ids), len(c) - 1)
            rows = rows[c.post_id[rows] == ids]  # posts still held ...
            self._draw(c, rows[c.case_open[rows] > 0])  # ... with a case open
            p = self._posts.get(post_id)
            if p is not None:
                return p
        self._draw(c, c.post_id.searchsorted([post_id]))
        return self._posts[post_id]

    def hook(self, team: str) -> Followup:
        self._hooked = True
        self._eager = self._eager or team_priority(self.policy, team) != "fifo"
        escalation = self.policy.jury.escalation if team == "jury" else None
        if escalation is not None and not escalation.enabled:
            escalation = None
        hears_appeals = self._hears_appeals(team)
        # a kept post is reported again to the team its class's reports go to
        rereports = self.policy.reports.rereports_after_keep
        rounds_of = [rereports if t == team else 0 for t in self.reports.teams]
        n_reports = self.policy.reports.reports_to_queue
        violating = self.state.taxonomy.violating.tolist()
        rounds, uniform, opened = self.rounds, self.rereports.uniform, self._opened
        posts, post = self._posts, self._post
        priority = self._scalar_priority(team)

        # Scalars throughout, from what prepare drew per chunk: this runs for every
        # decided case, one at a time.
        def followup(
            post_id: int, kind: int, status: int, removes: int, votes: int, now: float
        ) -> tuple[float, float, int] | None:
            p = posts.get(post_id) or post(post_id)
            cls, created, reach, decay, _, appeals, delay, first_draws = p
            if escalation is not None and kind == KIND_REPORT:
                seen = reach * -math.expm1(-decay * (now - created))
                removed = status == DECIDED_REMOVE
                if escalates(escalation, self.first_k, self.k, removed, removes, votes, seen):
                    self.escalated.add((post_id, now))
                    return None
            if status == DECIDED_REMOVE:
                if not hears_appeals or kind == KIND_APPEAL:
                    return None
                when = self.appeals.appeal_after(appeals, delay, violating[cls], now)
                if not math.isfinite(when):
                    return None
                opened.append(post_id)
                return when, priority(post_id, p, when), KIND_APPEAL
            max_rounds = rounds_of[cls]
            if kind != KIND_REPORT or max_rounds == 0:
                return None
            done = rounds.get(post_id, 0)
            if done >= max_rounds:
                return None
            draws = (
                first_draws
                if done == 0
                else [uniform(post_id, 1000 * done + j) for j in range(n_reports)]
            )
            age = self.reports.next_case_after(draws, cls, reach, decay, now - created)
            if not math.isfinite(age):
                return None
            rounds[post_id] = done + 1
            opened.append(post_id)
            # The next report comes after ``now`` by construction; with a huge reach the
            # gap is below float resolution and ``created + age`` can round to before it.
            when = max(created + age, now)
            return when, priority(post_id, p, when), KIND_REPORT

        return followup

    def _scalar_priority(self, team: str) -> Callable[[int, _Post, float], float]:
        """``priority(post_id, post, t)``: :meth:`priorities` for one case, the same number."""
        rule = team_priority(self.policy, team)
        if rule == "fifo":
            return lambda post_id, post, t: 0.0
        if rule == "score":
            return lambda post_id, post, t: post[4]
        if rule == "severity":
            severity = self._severity.tolist()
            return lambda post_id, post, t: severity[post[0]]

        def by_views(post_id: int, post: _Post, t: float) -> float:
            c = self.state.cols
            assert c is not None
            i = c.post_id.searchsorted([post_id])
            return float(self.priorities(team, c, i, np.array([t]))[0])

        return by_views

    def priorities(
        self, team: str, cols: PostColumns, idx: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """The line-order key of cases opening at ``t`` for posts ``cols[idx]``."""
        rule = team_priority(self.policy, team)
        if rule == "score":
            return np.nan_to_num(cols.score[idx], nan=0.0)
        if rule == "severity":
            return self._severity[cols.cls[idx]]
        if rule in ("reach", "reports"):
            views = views_at(cols.reach[idx], cols.decay[idx], t - cols.created_at[idx])
            if rule == "reach":
                return views
            return self.reports.expected_reports(cols.cls[idx], views)
        return np.zeros(len(idx))

    def apply(self, team: str, log: CaseLog, queues: dict[str, ReviewQueue]) -> None:
        """Write the cases ``team`` decided (``log``) to the post-state table.

        Removals and restorations (an upheld appeal) take effect; escalated
        cases go to staff, and appeals against removals go to the queue that
        hears them if it runs later at this stop.
        """
        state = self.state
        cols = state.cols
        assert cols is not None
        if self._opened:  # cases the hook opened
            np.add.at(cols.case_open, state.index(np.array(self._opened)), 1)
            self._opened.clear()
        idx = state.index(log.post_id)
        np.subtract.at(cols.case_open, idx, 1)
        for post_id in log.post_id[cols.case_open[idx] == 0].tolist():
            self._posts.pop(post_id, None)  # (a later case for it draws again)
        appeal = log.kind == KIND_APPEAL
        escalated = np.zeros(len(idx), dtype=bool)
        if self.escalated:
            escalated = np.array(
                [(p, left) in self.escalated for p, left in zip(
                    log.post_id.tolist(), log.left.tolist(), strict=True)]
            )  # fmt: skip
            self.escalated.difference_update(
                zip(log.post_id[escalated].tolist(), log.left[escalated].tolist(), strict=True)
            )
            esc = np.flatnonzero(escalated)
            self.submit(queues, "staff", cols, idx[esc], log.left[esc], KIND_ESCALATION)
        removed = (log.status == DECIDED_REMOVE) & ~appeal & ~escalated
        channel = CHANNEL_INDEX["staff" if team == "appeals" else team]
        applied = state.remove(idx[removed], log.left[removed], channel)
        restore = (log.status == DECIDED_KEEP) & appeal
        if restore.any():
            state.restore(idx[restore], log.left[restore])
        later = self.later_appeal_team(team)
        if later is not None and len(applied):
            times = self.appeals.appeal_times(
                cols.post_id[applied],
                self.state.taxonomy.violating[cols.cls[applied]],
                cols.removed_at[applied],
            )
            go = np.isfinite(times)
            self.submit(queues, later, cols, applied[go], times[go], KIND_APPEAL)

    def submit(
        self,
        queues: dict[str, ReviewQueue],
        team: str,
        cols: PostColumns,
        idx: np.ndarray,
        times: np.ndarray,
        kind: int,
    ) -> None:
        """Open follow-up cases (escalations, appeals) for posts ``cols[idx]`` with ``team``."""
        np.add.at(cols.case_open, idx, 1)
        self.prepare(cols, idx)  # (in the cold store by first case: an order only)
        queues[team].submit(
            cols.post_id[idx],
            times,
            cols.cls[idx],
            self.state.taxonomy.violating[cols.cls[idx]],
            self.priorities(team, cols, idx, times),
            np.full(len(idx), kind, dtype=np.int8),
        )


def team_priority(policy: PlatformPolicy, team: str) -> str:
    """The line-order rule of ``team`` (``fifo``, ``score``, ``reach`` or ``reports``)."""
    if team == "jury":
        return policy.jury.priority
    if team == "staff":
        return policy.staff.priority
    return policy.appeals.priority


class ColdCases:
    """Cases opened, as (arrival, post id) pairs in batches sorted by arrival, taken
    out earliest first (:meth:`earliest`)."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, int]] = []  # times, ids, taken

    def __bool__(self) -> bool:
        return bool(self._parts)

    def __len__(self) -> int:
        return sum(len(t) - at for t, _, at in self._parts)

    def add(self, times: np.ndarray, post_ids: np.ndarray) -> None:
        if len(times):
            order = np.argsort(times, kind="stable")
            self._parts.append((times[order], post_ids[order], 0))

    def earliest(self, n: int) -> np.ndarray:
        """The post ids of the ``n`` earliest cases (fewer if fewer are left; more on
        ties), taken out."""
        heads = np.concatenate([t[at : at + n] for t, _, at in self._parts])
        cut = np.partition(heads, n - 1)[n - 1] if len(heads) > n else np.inf
        out: list[np.ndarray] = []
        left: list[tuple[np.ndarray, np.ndarray, int]] = []
        for t, ids, at in self._parts:
            stop = at + int(np.searchsorted(t[at : at + n], cut, side="right"))
            out.append(ids[at:stop])
            if stop == len(t):
                continue
            if stop > len(t) // 2:  # a copy of what is left, once most is taken
                t, ids, stop = t[stop:].copy(), ids[stop:].copy(), 0
            left.append((t, ids, stop))
        self._parts = left
        return np.concatenate(out)
