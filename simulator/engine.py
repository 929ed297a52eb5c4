"""The engine: composes the stream and the stages, chunk by chunk, into a run log.

Data flows one way. For each chunk of simulated days the engine

1. generates the posts (one seed per day, so chunking changes nothing; a
   day of more than ``slice_posts`` posts comes in slices that draw what the
   whole day would, so its memory is a slice's);
2. applies the per-post, vectorised stages: prefilter scores and thresholds,
   user-report times, enforcers' outside-report times;
3. hands the posts that open a review case to the review queues;
4. steps from one enforcer event to the next (a report reaching it, a
   deadline, an audit, the platform's reply to a notice, the press taking
   notice), running the queues up to each one so that what an enforcer sees
   is exactly what is up at that moment; day ends are steps too, so the
   steps never depend on the chunk size;
5. emits the rows of posts whose fate is sealed, keeping in memory only posts
   with an open case and, when enforcers watch, violating posts (audits,
   notices and the press read them); the rows the final tables need
   (violating posts, wrongful removals, case logs) wait in a
   :class:`~simulator.spill.Spill` on disk, so memory stays flat.

Only the review queue couples posts to each other, so only it is an event loop.
The engine holds the chunk loop alone; the mechanisms it composes live with their kind:

- the posts held in memory: :mod:`simulator.stages.platform`;
- cases that follow a decision (escalations, appeals, re-reports):
  :mod:`simulator.stages.followups`;
- the platform's answer to a host's notice: :mod:`simulator.stages.notices`;
- enforcers and the app stores' delisting: :mod:`simulator.enforcement`;
- the counts and rows of settled posts, and the run log: :mod:`simulator.runlog`.

The engine prints nothing and writes nothing: rows go to an optional sink, and
everything metrics need comes back as a :class:`~simulator.runlog.RunLog`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from simulator.accounts import plan_accounts
from simulator.adversaries import Adversaries
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.enforcement import Delisting, Enforcer, Notice, plan_enforcers
from simulator.engine_log import CaseLogs, Pending, PendingDays
from simulator.gcpause import collect_young, cyclic_gc_paused
from simulator.queueing import KIND_APPEAL, ReviewQueue
from simulator.runlog import PostSink, PostTally, RunLog, juror_figures
from simulator.seeding import SeedTree
from simulator.spill import SPILL_ROWS, Spill, release_free_memory
from simulator.stages.appeals import AppealStage, appeals_team
from simulator.stages.followups import Followups
from simulator.stages.jurors import JurorPlan, plan_jurors
from simulator.stages.jury import jury_team
from simulator.stages.notices import NoticeResponse
from simulator.stages.platform import NO_TEAM, TEAMS, Outlook, PlatformState, PostColumns
from simulator.stages.reports import ReportStage
from simulator.stages.staff import staff_team
from simulator.stream.replay import open_stream
from simulator.stream.synthetic import Posts, SyntheticStream
from simulator.taxonomy import CHANNEL_INDEX

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier
    from simulator.stages.area_prefilter import AreaPrefilter
    from simulator.stages.prefilter import PrefilterStage
    from simulator.stream.thinning import ThinDay, Thinner, ThinPlan

Progress = Callable[[float], None]

SLICE_POSTS = 2_000_000
"""Most posts of a day made and staged at once: a heavier day (a surge on a big
platform) comes in slices, so a run's memory follows the slice, not the day."""


class Simulation:
    """One run of one platform policy, under zero or more enforcers, on one scenario.

    ``table`` chooses which posts reach the sink: ``all`` of them, or only the
    ``touched`` ones (violating, or reported, flagged, queued or removed);
    untouched legitimate posts are the same under every policy and are
    summarised by counts. :meth:`run` is the one entry point.
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
        slice_posts: int | None = SLICE_POSTS,
        spill_rows: int | None = SPILL_ROWS,
    ) -> None:
        if chunk_days < 1:
            raise ValueError("chunk_days must be at least 1")
        if slice_posts is not None and slice_posts < 1:
            raise ValueError("slice_posts must be at least 1 (or None: whole days)")
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
        self.prefilter: PrefilterStage | AreaPrefilter | None = None
        # Scores every post when the prefilter runs or a notice may trigger a sweep.
        self.scorer: PrefilterStage | AreaPrefilter | None = None
        if policy.prefilter.enabled or policy.notices.sweep.enabled:
            # Imported here: scikit-learn is only needed when a classifier runs.
            from simulator.stages.area_prefilter import scorer_for

            self.scorer = scorer_for(policy, scenario, self.seeds, classifier, workers)
            if policy.prefilter.enabled:
                self.prefilter = self.scorer
        self.stream = open_stream(scenario, self.seeds, with_text=self.with_text)
        # Only a replayed log with unlabelled posts marks which classes are estimates.
        self.partial_labels = bool(getattr(self.stream, "partial_labels", False))
        self.reports = ReportStage(policy.reports, scenario.audience, scenario.taxonomy)
        hours = int(scenario.hours)
        self._spill = Spill(spill_rows)
        # the held posts' columns only settlement reads wait beside the spill's tables
        aside = self._spill.settling("held.aside") if spill_rows is not None else None
        self._state = PlatformState(hours, scenario.taxonomy, aside)
        self._violating = scenario.taxonomy.violating
        self.accounts = plan_accounts(
            scenario,
            policy,
            self.seeds,
            self.reports,
            self._state,
            table,
            hosts=self.hosts,
            scorer=self.scorer,
            stream=self.stream,
        )
        self.adversaries = Adversaries(
            scenario, policy, self.seeds, self.reports, self._state, self.stream, self.accounts
        )
        self.juror_plan: JurorPlan | None = None
        if policy.jury.pool_size > 0 and policy.jury.population is not None:
            self.juror_plan = plan_jurors(policy.jury, scenario, self.seeds)
        self.followups = Followups(
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
                self.adversaries.decide(team),
            )
            for team, spec in specs.items()
        }
        lookup = self.accounts.accounts_behind if self.accounts is not None else None
        self.enforcers = plan_enforcers(
            self.hosts, self.seeds, scenario.start, lookup, scenario.taxonomy
        )
        self._outlook = Outlook(self._state, self.queues)
        self.delisting = Delisting(scenario, self.enforcers, self.seeds)
        self.notices = NoticeResponse(policy, self._state, self.queues, self.seeds)
        cuts = {t.name: t.score for t in self.prefilter.thresholds} if self.prefilter else None
        self.slice_posts = slice_posts
        self._ran = False
        self.tally = PostTally(
            hours,
            table,
            self.with_text,
            self.partial_labels,
            cuts,
            self._spill,
            taxonomy=scenario.taxonomy,
        )
        self._pending = PendingDays(self._spill, self.tally, table, self.with_text)
        self.thinner: Thinner | None = None
        self._thinning_note: str | None = None
        if scenario.content.thinning != "off":
            from simulator.stream.thinning import plan_thinning

            self.thinner, self._thinning_note = plan_thinning(
                scenario, policy, self.stream, self.reports, self.scorer, table, self.seeds
            )
        self._case_logs = CaseLogs(self.queues, self._spill)
        self._notices: list[Notice] = []
        # Without enforcers nothing reads a violating post once its fate is
        # sealed (no audit, notice or press watch), so it settles like any other.
        # (A banned account's violating posts still up come down with it: not sealed.)
        self._seal_violating = not self.enforcers and not (
            (self.accounts is not None and self.accounts.takes_down)
            or self.adversaries.holds_violating
        )
        # Only a takedown ends a run early; until then a post settles with the
        # horizon as the run's end, so rows need not wait for their day's end.
        self._can_suspend = bool(self._takedowns())

    # The run -------------------------------------------------------------------
    def run(self, sink: PostSink | None = None, progress: Progress | None = None) -> RunLog:
        """Run the whole horizon (or up to a takedown); rows of settled posts go to ``sink``.

        A simulation runs once. Its review queues are released at the end (at a billion
        posts a day their backlogs hold gigabytes), so ``self.queues`` is empty after
        this returns: what they tell (cases, capacity, busy hours, jurors' votes) is in
        the returned :class:`~simulator.runlog.RunLog`. A second call raises
        ``RuntimeError``: build a new ``Simulation`` (the same inputs and seed give
        the same run).
        """
        if self._ran:
            raise RuntimeError("Simulation.run: a simulation runs once; build a new one")
        self._ran = True
        if self.accounts is not None and sink is not None:
            sink = self.accounts.authored(sink)
        try:
            with cyclic_gc_paused():  # freed by chunk instead (see simulator.gcpause)
                return self._run(sink, progress)
        finally:
            self._spill.close()
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
            pending: list[Pending] = []
            counted: list[tuple[int, np.ndarray]] = []  # thinned days' undrawn posts
            first_id = next_id
            for day in range(d0, d1):
                # A day's posts are made at its start and the day is then stepped
                # through, so what enforcers decide reaches the posts of later days
                # (a delisting) the same way whatever the chunk size.
                thin = self.thinner.plan_day(day, next_id) if self.thinner else None
                next_id, waiting = self._stage_day(day, next_id, t1, sink, thin)
                pending.append(waiting)
                if thin is not None:
                    counted.append((day, self._count_untouched(thin)))
                del thin  # not beside the next day's draw (0.5 GB a day at 1e9)
                day_end = 24.0 * (day + 1)
                self._step(24.0 * day, day_end)
                if self._suspension_time() <= day_end:
                    end = self._suspension_time()
                    self._run_queues(end)
                    suspended_by = self._suspend(end)
                    break

            for waiting in pending:
                self._pending.settle(waiting, end, sink)
            # settled: no name left on a day held whole (the last day's, through the
            # loops' ``waiting``), or it lies beside the next day's draw
            del waiting
            pending.clear()
            for day, untouched in counted:
                assert self.thinner is not None
                self.tally.count(self.thinner.made_before(untouched, day, end), day)
            c = state.cols
            if c is not None:
                done = (
                    (~self._violating[c.cls] | self._seal_violating)
                    & (c.case_open == 0)
                    & ~self.notices.sweepable(c, t1)
                )
                if done.any():
                    settled = state.release(done)  # in place: ``c`` would hold the old copy
                    self.tally.settle(settled, np.ones(len(settled), dtype=bool), end, sink)
                    del settled
                # or the held table outlives the state's (through the final tables),
                # and the mask lies beside the next day's draw
                del c, done
            self._case_logs.set_aside()
            collect_young()
            if next_id - first_id > (self.slice_posts or SLICE_POSTS):
                # Large days free arrays of slices the C heap keeps for later: given
                # back, the next day's peak does not come on top of them. (Each
                # costs page faults later: not worth it on ordinary days.)
                release_free_memory()
            if progress is not None:
                progress(min(1.0, t1 / horizon))
            if suspended_by is not None:
                break

        for team, queue in self.queues.items():
            self._case_logs.add(team, queue.drain())
        self._case_logs.set_aside()
        if state.cols is not None:
            self.tally.settle_all(state, end, sink)
        state.cols = None  # every row has settled: the final tables come from the spill
        return self._log(end, suspended_by)

    # Per-post stages (vectorised) -----------------------------------------------
    def _stage_day(
        self, day: int, first_id: int, t1: float, sink: PostSink | None, thin: ThinPlan | None
    ) -> tuple[int, Pending]:
        """Make the day's posts, slice by slice, and hold the ones whose fate is open.

        Returns the next post id and the day's posts that settle once the chunk
        is stepped through: none when no takedown can end the run early (they
        settle now), else a whole day's in memory, or a sliced day's in the spill.
        """
        reports_rng = self.seeds.rng("reports", day)  # one generator for the day's slices
        state = self._state
        first = len(state.cols) if state.cols is not None else 0  # the day's first held row
        appeals: list[tuple[np.ndarray, np.ndarray]] = []  # (the day's held rows, when)
        violating: list[Posts] = []
        waiting: Pending = None
        sliceable = isinstance(self.stream, SyntheticStream) and not self.with_text and not thin
        pieces: Iterator[tuple[Posts, ThinDay | None]]
        if thin is not None:
            pieces = ((part.posts, part) for part in thin.slices(self.slice_posts))
        else:
            slices = (
                self.stream.day_slices(day, first_id, self.slice_posts)
                if sliceable and isinstance(self.stream, SyntheticStream)
                else iter([self.stream.generate_day(day, first_id)])
            )
            slices = self.adversaries.extend(slices, day, first_id)  # campaign copies, if any
            pieces = ((posts, None) for posts in slices)
        next_id = first_id + (thin.made if thin is not None else 0)
        for i, (posts, part) in enumerate(pieces):
            if thin is None:
                next_id += len(posts)
            cols, vposts, made = self._stage_posts(posts, day, reports_rng, part)
            violating.append(vposts)
            resident, appeal_at = self._hold(cols, t1, made)
            settled = ~resident & made  # posts of blocked accounts: not made, never counted
            day_rows = (len(state.cols) if state.cols is not None else 0) - first
            state.add(cols.take(resident))  # now, not a day's parts joined at once (0.7 GB at 1e9)
            kept = appeal_at[resident]  # when the held posts' authors appeal (inf: never)
            appeals.append((day_rows + np.flatnonzero(kept < np.inf), kept[kept < np.inf]))
            if not self._can_suspend:
                self.tally.settle(cols, settled, self.scenario.hours, sink)
                continue
            whole = (
                i == 0
                and (thin is None or thin.pieces(self.slice_posts) < 2)
                and (not sliceable or self.slice_posts is None or len(posts) < self.slice_posts)
            )
            # a day in one piece stays in memory, as it always did
            waiting = (cols, settled) if whole else self._pending.stash(day, cols, settled, sink)
        del posts, part, cols, vposts, made, resident, settled  # the last slice's
        vposts = Posts.concat(violating) if len(violating) > 1 else violating[0]
        violating.clear()  # not beside their join through the enforcers and the queues
        if len(vposts):
            for enforcer in self.enforcers:
                enforcer.observe(vposts, day)
        self._admit(first, appeals)
        return next_id, waiting

    def _stage_posts(
        self, posts: Posts, day: int, reports_rng: np.random.Generator, thin: ThinDay | None
    ) -> tuple[PostColumns, Posts, np.ndarray]:
        """The per-post stages of a slice of a day: its columns, its violating posts
        made, and which posts are made (False: by a suspended or banned account;
        kept as rows, never counted)."""
        n = len(posts)
        inf = np.full(n, np.inf)
        if self.prefilter is not None:
            out = self.prefilter.apply(posts)
            score, auto, flag = out.score, out.auto_removed_at, out.flagged_at
        elif self.scorer is not None:
            score, auto, flag = self.scorer.scores(posts) if n else np.empty(0), inf, inf
        else:
            score, auto, flag = np.full(n, np.nan), inf, inf
        reported = self.reports.report_times(posts, reports_rng)
        if thin is not None:  # the legitimate posts' report times came with them
            reported = thin.report_times(reported)
        reported, auto = self.adversaries.stage(posts, reported, auto)  # brigades, matcher
        case_at = np.minimum(flag, reported)
        case_at = np.where(case_at < auto, case_at, np.inf)
        report_team = self.reports.team_codes(posts.cls)
        flag_team: int | np.ndarray = TEAMS.index(self.policy.prefilter.review_team)
        if self.prefilter is not None and out.flag_team is not None:  # by area
            flag_team = np.where(out.flag_team >= 0, out.flag_team, flag_team)
        team = np.where(flag <= reported, flag_team, report_team).astype(np.int8)
        team[~np.isfinite(case_at)] = NO_TEAM
        cols = PostColumns(
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
        keep = self.delisting.keep(posts, day)
        if keep is not None:
            cols = cols.take(keep)
            posts = posts.take(keep)
        made = np.ones(len(posts), dtype=bool)
        if self.accounts is not None:  # posts of suspended or banned accounts are not made
            made = self.accounts.stage(posts, cols, day, thin is not None)
        self.adversaries.note_made(posts, made)
        return cols, posts.take(self._violating[posts.cls] & made), made

    def _count_untouched(self, thin: ThinPlan) -> np.ndarray:
        """A thinned day's undrawn posts: thinned by a delisting as drawn ones are,
        and counted among the posts up (what an audit reads)."""
        untouched = self.delisting.keep_counts(thin.untouched, thin.day)
        if self.accounts is not None:
            untouched = self.accounts.thin_counts(untouched, thin.day)
        hist = self._state.created_per_hour
        hours = np.minimum(24 * thin.day + np.arange(24), len(hist) - 1)
        np.add.at(hist, hours, untouched.sum(axis=1))
        return untouched

    def _hold(
        self, cols: PostColumns, t1: float, made: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Count a slice's posts made; which of them stay in memory (their fate is
        still open), and when the authors of those the prefilter removed appeal."""
        state = self._state
        state.count_created(cols.created_at if made.all() else cols.created_at[made])
        removed = np.isfinite(cols.removed_at) & made
        state.count_removed(cols.removed_at[removed], +1)
        # authors of posts the prefilter removed may appeal
        appeal_at = np.full(len(cols), np.inf)
        if self.followups.appeal_team is not None:
            gone = np.flatnonzero(removed)  # a few, out of every post
            appeal_at[gone] = self.followups.appeals.appeal_times(
                cols.post_id[gone], self._violating[cols.cls[gone]], cols.removed_at[gone]
            )
        resident = (
            self._violating[cols.cls]
            | np.isfinite(cols.case_at)
            | (np.isfinite(cols.removed_at) & (cols.removed_at > t1))
            | self.notices.sweepable(cols, t1)
            | np.isfinite(appeal_at)
        ) & made
        return resident, appeal_at

    def _admit(self, first: int, appeals: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Queue the cases of the day's held rows (from ``first`` on) and their appeals."""
        state = self._state
        assert state.cols is not None  # every slice joined it
        held = state.cols.rows(first, len(state.cols))  # the day's rows, as views
        for code, name in enumerate(TEAMS):
            mine = np.flatnonzero(held.team == code)
            if len(mine):
                self.followups.prepare(held, mine)
                self.queues[name].submit(
                    held.post_id[mine],
                    held.case_at[mine],
                    held.cls[mine],
                    self._violating[held.cls[mine]],
                    self.followups.priorities(name, held, mine, held.case_at[mine]),
                )
        appealing = np.concatenate([rows for rows, _ in appeals])
        if len(appealing):
            rows = state.index(held.post_id[appealing])
            team = self.followups.appeal_team or ""
            times = np.concatenate([when for _, when in appeals])
            self.followups.submit(self.queues, team, state.cols, rows, times, KIND_APPEAL)

    # Time stepping ----------------------------------------------------------------
    def _step(self, t0: float, t1: float) -> None:
        """Run the queues and the enforcers through (t0, t1], event by event, up to a
        takedown: each enforcer sees the platform as it is at each of its events."""
        t = t0
        while True:
            nxt = max(t, min([t1, *(e.next_time(self._outlook) for e in self.enforcers)]))
            if self._suspension_time() <= nxt:
                return
            self._run_queues(nxt)
            self.delisting.take_effect(nxt)
            for enforcer in self.enforcers:
                for notice in enforcer.advance(nxt, self._outlook):
                    self._notices.append(notice)
                    enforcer.expect_reply(notice, self.notices.respond(notice))
            t = nxt
            if t >= t1 and all(e.next_time(self._outlook) > t1 for e in self.enforcers):
                return

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
        """Run every queue up to ``t``, in :data:`~simulator.stages.followups.QUEUE_ORDER`,
        and apply what each decided."""
        for team, queue in self.queues.items():
            log = queue.run_until(t)
            if len(log.post_id) == 0:
                continue
            self._case_logs.add(team, log)
            self.followups.apply(team, log, self.queues)
        if self.accounts is not None:
            self.accounts.advance(t, self._state)
        self.adversaries.advance(self._state, self.queues)

    # Output ---------------------------------------------------------------------

    def _log(self, end: float, suspended_by: str | None) -> RunLog:
        # What the queues tell, then the queues go (their cases are in the spill;
        # the dict is the one the outlook and the notice desk share), and the
        # days' freed arrays: the final tables then come on top of neither.
        capacity = {t: q.available_hours(end) for t, q in self.queues.items()}
        busy = {t: float(q.busy_hours) for t, q in self.queues.items()}
        jurors = juror_figures(self.juror_plan, self.queues.get("jury"))
        self.queues.clear()
        release_free_memory()
        suspended = suspended_by is not None
        legit_live = 0
        tally = self.tally
        violating = tally.violating(end)
        if self.accounts is not None:
            violating = self.accounts.with_author(violating)
        wrong = tally.wrongly_removed()
        if suspended:
            legit_created = int(tally.created_by_class[~self._violating].sum())
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
            created_by_class=tally.created_by_class,
            created_by_hour=tally.created_by_hour,
            violating_by_hour=tally.violating_by_hour,
            cases={t: self._case_logs.frame(t, end) for t in capacity},
            capacity_hours=capacity,
            busy_hours=busy,
            events=sorted(
                (e for enf in self.enforcers for e in enf.events),
                key=lambda e: (e.time, e.enforcer),
            ),
            notices=list(self._notices),
            trips=sorted(
                (trip for enf in self.enforcers for trip in enf.trips),
                key=lambda trip: (trip.time, trip.enforcer),
            ),
            peaks=[peak for enf in self.enforcers for peak in enf.peaks],
            expected_posts_lost=float(self.stream.hourly_rate[int(end) :].sum())
            if suspended
            else 0.0,
            legit_live_at_suspension=legit_live,
            classifier=self.prefilter.classifier if self.prefilter else None,
            prefilter_areas=self.prefilter.area_summary() if self.prefilter else None,
            prefilter_thresholds=(
                {t.name: t.to_dict() for t in self.prefilter.thresholds} if self.prefilter else {}
            ),
            meta=dict(getattr(self.stream, "meta", {}))
            | ({"thinning": self._thinning_note} if self._thinning_note else {}),
            labelled_by_class=tally.labelled_by_class.copy(),
            not_made_by_class=self.delisting.not_made_by_class(end),
            jurors=jurors,
            scored_at_or_above={k: v.copy() for k, v in tally.scored_at_or_above.items()},
            accounts=self.accounts.log(end) if self.accounts is not None else None,
            adversaries=self.adversaries.log(),
        )
