"""The platform's side of a notice: who acts on the posts it names, and how fast.

A notice desk (staff) starts on a notice ``response_hours`` after it arrives
and removes a share (``compliance``) of the posts it names. With
``staff_per_day`` set, the desk is a single first-come-first-served line:
each post takes ``24 / staff_per_day`` hours of desk time, so a burst of
notices (the January surge) backs up the desk itself. Deterministic given
the compliance draws, so it needs no event loop of its own.

:class:`NoticeResponse` is the whole reaction to a notice: the desk's
removals, and optionally the noticed posts jumping the review queue and a
sweep sending lookalike posts (by classifier score) to review.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config.policy import NoticeHandling, PlatformPolicy
from simulator.enforcement import Notice
from simulator.queueing import ReviewQueue
from simulator.seeding import SeedTree
from simulator.stages.platform import TEAMS, PlatformState, PostColumns
from simulator.taxonomy import CHANNEL_INDEX


@dataclass(frozen=True)
class DeskAction:
    """Posts the desk will remove, and when."""

    post_ids: np.ndarray
    removed_at: np.ndarray


class NoticeDesk:
    """Acts on notices in the order they arrive."""

    def __init__(self, cfg: NoticeHandling) -> None:
        self._cfg = cfg
        self._free_at = 0.0  # when the desk finishes the posts it already has

    @property
    def free_at(self) -> float:
        """When the desk has worked through every post it was given."""
        return self._free_at

    def act(self, time: float, post_ids: np.ndarray, rng: np.random.Generator) -> DeskAction:
        """Removal times for the posts of a notice received at ``time``."""
        cfg = self._cfg
        # One draw per noticed post, whatever the capacity, so the capacity
        # setting never shifts which posts the platform misses.
        comply = rng.random(len(post_ids)) < cfg.compliance
        ids = post_ids[comply]
        start = time + cfg.response_hours
        if cfg.staff_per_day is None:
            return DeskAction(ids, np.full(len(ids), start))
        per_post = 24.0 / cfg.staff_per_day
        begin = max(start, self._free_at)
        done = begin + per_post * np.arange(1, len(ids) + 1)
        if len(ids):
            self._free_at = float(done[-1])
        return DeskAction(ids, done)


class NoticeResponse:
    """How the platform reacts to a host's notice (its one entry point: :meth:`respond`).

    Removals go to the post-state table ``state`` and close the posts' open
    cases; new cases (queue jumping, the sweep) go to ``queues``.
    """

    def __init__(
        self,
        policy: PlatformPolicy,
        state: PlatformState,
        queues: dict[str, ReviewQueue],
        seeds: SeedTree,
    ) -> None:
        self._policy = policy
        self._state = state
        self._queues = queues
        self._seeds = seeds
        self._desk = NoticeDesk(policy.notices)
        self._sweep_cfg = policy.notices.sweep if policy.notices.sweep.enabled else None

    def sweepable(self, cols: PostColumns, now: float) -> np.ndarray:
        """Posts a notice's sweep could still reach: held in memory until too old."""
        sweep = self._sweep_cfg
        if sweep is None:
            return np.zeros(len(cols), dtype=bool)
        return (cols.score >= sweep.review_above) & (cols.created_at > now - sweep.lookback_hours)

    def respond(self, notice: Notice) -> float:
        """The platform's answer to a notice: its notice desk removes (a share of)
        the noticed posts; optionally they jump the review queue, and a sweep
        sends lookalike posts to review. Returns when the platform replies to
        the enforcer (when its desk takes the notice up), stating its backlog."""
        state = self._state
        assert state.cols is not None
        if self._policy.notices.jump_queue:
            self._jump_queue(notice)
        action = self._desk.act(
            notice.time, notice.post_ids, self._seeds.rng("respond", notice.enforcer, notice.number)
        )
        applied = state.remove(
            state.index(action.post_ids), action.removed_at, CHANNEL_INDEX["notice"]
        )
        for pid, when in zip(
            state.cols.post_id[applied].tolist(),
            state.cols.removed_at[applied].tolist(),
            strict=True,
        ):
            for queue in self._queues.values():
                queue.close(pid, when)
        reply = notice.time + self._policy.notices.response_hours
        if self._sweep_cfg is not None:
            self._sweep(reply)
        return reply

    def _jump_queue(self, notice: Notice) -> None:
        """Noticed posts become their team's next job; posts nobody queued get a case."""
        state = self._state
        assert state.cols is not None
        c = state.cols
        idx = state.index(notice.post_ids)
        fresh = idx[~np.isfinite(c.case_at[idx]) & (c.removed_at[idx] > notice.time)]
        # as if reported: to the team reports of the post's area go to
        teams: list[str] = list(self._policy.reports.teams_by_class(state.taxonomy))
        for team in sorted(set(teams)):
            mine = fresh[np.array(teams)[c.cls[fresh]] == team]
            if team not in self._queues:
                team = next(iter(self._queues), team)
            if team in self._queues and len(mine):
                self._open_cases(mine, notice.time, team)
        for queue in self._queues.values():
            queue.expedite(notice.post_ids, notice.time)

    def _sweep(self, when: float) -> None:
        """Posts made within the lookback that score above the sweep threshold,
        still up and never queued, go to review at ``when``."""
        sweep = self._sweep_cfg
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
        """First cases for the held posts ``idx``, opened at ``when`` with ``team``."""
        c = self._state.cols
        assert c is not None
        c.case_at[idx] = when
        c.team[idx] = TEAMS.index(team)
        c.case_open[idx] += 1
        self._queues[team].submit(
            c.post_id[idx],
            np.full(len(idx), when),
            c.cls[idx],
            self._state.taxonomy.violating[c.cls[idx]],
            np.nan_to_num(c.score[idx], nan=0.0),
        )
