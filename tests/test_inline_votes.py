"""The event loop's shortcuts - votes run inline by the reviewers' ``work`` while
no other event can come before them, cases joining a busy compact line written as
rows without a case's arrival (by the loop, or by ``work`` between two votes), the
only free juror taking the head case (or the next, if she voted on the head) without
the free list, and her next vote run without the heap when it comes first - give the
results of the plain loop (one event popped by the loop and one ``work`` call for
each, every arrival through ``_arrive``, every free juror through the free list)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from simulator.queueing import JurorPool, ReviewQueue, TeamSpec
from simulator.queueing.backlog import Backlog
from simulator.queueing.jurors import Jurors
from simulator.taxonomy import N_CLASSES


def _team(team: str, seed: int) -> TeamSpec:
    """``team``: a juror pool deciding by the first k to agree or by k of n, or
    interchangeable staff; ``first_k_fixed``: votes of one fixed duration, so that
    votes end at the same time (ties the heap breaks by kind and id)."""
    rng = np.random.default_rng(seed)
    pool = None
    jurors = team != "staff"
    if jurors:
        n, hours = 40, 48.0
        sessions = int(n * hours / 2)  # about 7 of 40 on duty: overloaded
        pool = JurorPool(
            accuracy=rng.uniform(0.7, 1.0, (n, N_CLASSES)),
            session_start=np.sort(rng.uniform(0, hours, sessions)),
            session_juror=rng.integers(0, n, sessions),
            session_reviews=rng.geometric(1 / 15, sessions),
            idle_hours=1 / 6,
            record_votes=True,
        )
    return TeamSpec(
        name="jury" if jurors else "staff",
        servers=np.array([4, 6, 3]),  # capacity changes by the hour (interchangeable)
        votes_per_case=5 if jurors else 2,
        votes_to_remove=3 if jurors else 2,
        review_minutes=1.5,
        review_cv=0.0 if team == "first_k_fixed" else 1.0,
        rule="first_k_agree" if team.startswith("first_k") else "k_of_n",
        jurors=pool,
    )


def _plain(queue: ReviewQueue) -> None:
    """Make ``queue`` run as the plain loop: ``work`` never goes on to the next vote
    (its horizon is before any event), no reviewer ever counts as busy enough for
    an arrival to become a row directly, and a juror who is done joins the free
    list even when no other is free."""
    reviewers: Any = queue._reviewers
    if isinstance(reviewers, Jurors):
        reviewers.work, reviewers._counts = reviewers._build_work(shortcut=False)
    work = reviewers.work
    reviewers.work = lambda vote, now, horizon, rows_until: work(
        vote, now, -math.inf, lambda limit: -math.inf
    )
    reviewers.free_count = lambda: 1


def _run(team: str, seed: int, plain: bool, n: int = 6_000) -> dict[str, Any]:
    """A team with re-reports, closures and notices, run in steps: overloaded by
    ``n`` = 6,000 cases in 48 hours, lightly loaded by a few hundred."""
    rng = np.random.default_rng(100 + seed)
    hours = 48.0
    follow_rng = np.random.default_rng(seed)

    def followup(post_id: int, kind: int, status: int, removes: int, votes: int, now: float):
        if status == 1 and follow_rng.random() < 0.3:  # kept: reported again
            return now + float(follow_rng.exponential(2.0)), 0.0, 0
        return None

    queue = ReviewQueue(_team(team, seed), np.random.default_rng(seed), followup=followup)
    if plain:
        _plain(queue)
    rows_by_work = _count_rows_by_work(queue)
    posts = rng.integers(0, n // 2, n)  # posts reported more than once
    queue.submit(
        posts,
        rng.uniform(0, hours, n),
        rng.integers(0, N_CLASSES, n).astype(np.int8),
        rng.random(n) < 0.3,
        kinds=rng.integers(0, 3, n).astype(np.int8),
    )
    out: dict[str, Any] = {"logs": [], "since": [], "counts": []}
    for t in np.arange(2.0, hours + 1, 2.0):
        for post in rng.choice(n // 2, 20, replace=False).tolist():
            queue.close(post, float(t) + float(rng.uniform(0, 2)))
        queue.expedite(rng.choice(n // 2, 10, replace=False), float(t) + 0.5)
        if t == 24.0:  # more cases submitted midway: the arrival buffer is rebuilt
            queue.submit(
                np.arange(500) + n, rng.uniform(t, hours, 500), np.zeros(500, np.int8),
                np.ones(500, bool),
            )  # fmt: skip
        out["logs"].append(queue.run_until(float(t)))
        out["since"].append(queue.waiting_since())
        out["counts"].append(
            (queue.pending, queue.in_system, queue.in_service, queue.busy_hours,
             queue.sessions_started)
        )  # fmt: skip
        if team != "staff":  # votes started by each juror, voting now or not
            counted = np.bincount(queue.vote_log["juror"], minlength=40)
            assert np.array_equal(queue.votes_by_juror, counted)
    out["drained"] = queue.drain()
    out["votes"] = queue.vote_log
    out["by_juror"] = queue.votes_by_juror
    out["rows_by_work"] = rows_by_work[0]
    return out


def _count_rows_by_work(queue: ReviewQueue) -> list[int]:
    """A counter (one item) of the cases that ``work`` made join the backlog as rows."""
    reviewers: Any = queue._reviewers
    backlog, work, counted = queue._line.backlog, reviewers.work, [0]

    def counting(limit: float, rows_until: Any) -> float:
        before = len(backlog) if backlog is not None else 0
        horizon = rows_until(limit)
        counted[0] += (len(backlog) if backlog is not None else 0) - before
        return horizon

    reviewers.work = lambda vote, now, horizon, rows_until: work(
        vote, now, horizon, lambda limit: counting(limit, rows_until)
    )
    return counted


@pytest.mark.parametrize("team", ["first_k", "first_k_fixed", "k_of_n", "staff"])
@pytest.mark.parametrize("seed", range(3))
def test_the_shortcuts_give_the_plain_loops_results(team: str, seed: int) -> None:
    fast, plain = _run(team, seed, plain=False), _run(team, seed, plain=True)
    _assert_same(fast, plain)
    assert len(fast["drained"]) > 1000  # overloaded: a long line waited as rows
    assert sum(len(log) for log in fast["logs"]) > 1000
    if team != "staff":
        assert len(fast["votes"]) > 5000
        assert fast["rows_by_work"] > 1000  # arrivals between two votes became rows
        assert plain["rows_by_work"] == 0


@pytest.mark.parametrize("team", ["first_k", "first_k_fixed", "k_of_n"])
@pytest.mark.parametrize("seed", range(3))
def test_the_shortcuts_give_the_plain_loops_results_at_light_load(team: str, seed: int) -> None:
    # jurors often wait for cases: a case arriving finds them free
    fast, plain = _run(team, seed, plain=False, n=400), _run(team, seed, plain=True, n=400)
    _assert_same(fast, plain)
    assert sum(len(log) for log in fast["logs"]) > 500  # the line emptied: cases decided
    assert len(fast["votes"]) > 1000


def _assert_same(fast: dict[str, Any], plain: dict[str, Any]) -> None:
    assert fast["logs"] == plain["logs"]
    assert fast["drained"] == plain["drained"]
    assert fast["counts"] == plain["counts"]
    assert all(np.array_equal(a, b) for a, b in zip(fast["since"], plain["since"], strict=True))
    assert fast["votes"].equals(plain["votes"])  # case numbers too
    assert np.array_equal(fast["by_juror"], plain["by_juror"])


def test_rows_from_a_source_and_as_tuples_keep_their_order() -> None:
    """Rows appended by position in the arrival columns and rows appended as tuples
    come out of the backlog in the order they were appended, across a change of
    columns and flushes of either kind."""
    rng = np.random.default_rng(0)
    backlog = Backlog()
    expected: list[tuple[Any, ...]] = []
    seq = 0
    for _ in range(30):
        cols = (
            np.sort(rng.uniform(0, 10, 3000)),
            rng.integers(0, 10**6, 3000),
            rng.integers(0, N_CLASSES, 3000).astype(np.int8),
            rng.random(3000) < 0.5,
            rng.random(3000),
            rng.integers(0, 3, 3000).astype(np.int8),
        )
        backlog.use_source(cols)
        for _ in range(int(rng.integers(0, 6))):
            for i in sorted(rng.choice(3000, int(rng.integers(0, 1500)), replace=False).tolist()):
                if backlog.pending:
                    backlog.flush()
                backlog.source_seqs.append(seq)
                backlog.source_positions.append(i)
                if len(backlog.source_seqs) >= 1024:
                    backlog.flush()
                t, post, cls, viol, prio, kind = (c[i].item() for c in cols)
                expected.append((seq, post, t, prio, cls, viol, kind))
                seq += 1
            for _ in range(int(rng.integers(0, 50))):
                row = (seq, seq, seq / 7, 0.25, seq % N_CLASSES, seq % 2 == 0, seq % 3)
                backlog.append(row)
                expected.append(row)
                seq += 1
    assert len(backlog) == len(expected)
    assert backlog.take_head(len(expected)) == expected
