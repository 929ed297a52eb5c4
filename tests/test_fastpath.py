"""The queue's fast path: the event loop's log bit for bit, however cut, and Erlang C."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.queueing import CaseLog, JurorPool, ReviewQueue, TeamSpec
from simulator.queueing.fastpath import fast_path_applies
from simulator.taxonomy import N_CLASSES, VIOLATING
from simulator.theory import erlang_c, mmc_mean_wait


def plain_team(rng: np.random.Generator, votes: int, cv: float) -> TeamSpec:
    return TeamSpec(
        name="staff",
        servers=np.array([int(rng.integers(1, 6))]),
        votes_per_case=votes,
        votes_to_remove=max(1, votes - 1),
        review_minutes=float(rng.uniform(1, 5)),
        review_cv=cv,
        accuracy=rng.uniform(0.5, 1.0, N_CLASSES),
    )


def cases(rng: np.random.Generator, n: int, ties: bool) -> dict[str, np.ndarray]:
    times = rng.uniform(0, 100, n)
    if ties:  # many cases arriving at once
        times = np.round(times, 1)
    classes = rng.integers(0, N_CLASSES, n).astype(np.int8)
    return {
        "post_ids": rng.integers(0, n // 2, n),
        "times": times,
        "classes": classes,
        "violating": VIOLATING[classes],
    }


def state(queue: ReviewQueue) -> tuple[int, int, int]:
    return queue.pending, queue.in_system, queue.in_service


def event_loop(spec: TeamSpec, seed: int) -> ReviewQueue:
    """A queue forced onto the event loop: a closure (of a post never seen) ends the fast path."""
    queue = ReviewQueue(spec, np.random.default_rng(seed))
    queue.close(-1, 0.0)
    assert not queue.fast_path
    return queue


@pytest.mark.parametrize("votes", [1, 3])
@pytest.mark.parametrize("cv", [1.0, 0.0, 0.5])  # cv 0: every vote ends at the same times
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_fast_path_gives_the_event_loops_log(votes: int, cv: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = plain_team(rng, votes, cv)
    work = cases(rng, 3_000, ties=cv == 0)
    stops = np.sort(rng.uniform(0, 130, 12))
    fast = ReviewQueue(spec, np.random.default_rng(seed))
    slow = event_loop(spec, seed)
    assert fast.fast_path
    for queue in (fast, slow):
        queue.submit(**work)
    for t in stops:
        assert fast.run_until(float(t)) == slow.run_until(float(t))
        assert state(fast) == state(slow)
        assert np.array_equal(fast.waiting_since(), slow.waiting_since())
        assert fast.busy_hours == pytest.approx(slow.busy_hours, rel=1e-9, abs=1e-9)
        assert fast.drain() == slow.drain()
    assert fast.fast_path


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_fast_path_is_the_same_however_the_run_is_cut(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = plain_team(rng, int(rng.integers(1, 4)), 1.0)
    work = cases(rng, 4_000, ties=False)
    end = 105.0

    whole = ReviewQueue(spec, np.random.default_rng(seed))
    whole.submit(**work)
    one = whole.run_until(end)

    cut = ReviewQueue(spec, np.random.default_rng(seed))
    cut.submit(**work)
    stops = np.append(np.cumsum(rng.exponential(0.2, 2_000)), end)
    pieces = [cut.run_until(float(t)) for t in stops[stops <= end]]
    assert CaseLog.concat(pieces) == one
    assert cut.drain() == whole.drain()

    # cases submitted day by day, just before the queue reaches them
    late = ReviewQueue(spec, np.random.default_rng(seed))
    chunks = []
    for start in np.arange(0.0, 112.0, 8.0):
        mask = (work["times"] >= start) & (work["times"] < start + 8)
        late.submit(**{k: v[mask] for k, v in work.items()})
        chunks.append(late.run_until(min(start + 8, end)))
    assert CaseLog.concat(chunks) == one
    assert late.drain() == whole.drain()


@pytest.mark.parametrize("votes", [1, 3])
@pytest.mark.parametrize("seed", [8, 9, 10])
def test_a_closure_hands_the_cases_in_flight_to_the_event_loop(votes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = plain_team(rng, votes, 0.7)
    work = cases(rng, 3_000, ties=False)
    posts, times = rng.choice(work["post_ids"], 50), rng.uniform(30, 90, 50)
    closures = list(zip(posts.tolist(), times.tolist(), strict=True))
    fast = ReviewQueue(spec, np.random.default_rng(seed))
    slow = event_loop(spec, seed)
    logs: dict[str, list[CaseLog]] = {"fast": [], "slow": []}
    for name, queue in (("fast", fast), ("slow", slow)):
        queue.submit(**work)
        logs[name].append(queue.run_until(30.0))
        for post_id, time in closures:
            queue.close(int(post_id), float(time))
        logs[name].append(queue.run_until(120.0))
    assert not fast.fast_path
    assert CaseLog.concat(logs["fast"]) == CaseLog.concat(logs["slow"])
    assert fast.drain() == slow.drain()
    assert fast.busy_hours == pytest.approx(slow.busy_hours, rel=1e-9)


def _pool() -> JurorPool:
    return JurorPool(
        accuracy=np.full((3, N_CLASSES), 0.9),
        session_start=np.array([0.0]),
        session_juror=np.array([0]),
        session_reviews=np.array([5]),
    )


@pytest.mark.parametrize(
    ("change", "followups"),
    [
        ({"priority": "score"}, False),
        ({"expire_after_hours": 24.0}, False),
        ({"servers": np.array([3, 3, 4])}, False),  # a change of shift
        ({"servers": np.array([0])}, False),
        ({"jurors": _pool()}, False),
        ({}, True),
    ],
)
def test_only_a_plain_fifo_team_takes_the_fast_path(
    change: dict[str, object], followups: bool
) -> None:
    base: dict[str, object] = {"name": "staff", "servers": np.array([3])}
    assert fast_path_applies(TeamSpec(**base), with_followups=False)  # type: ignore[arg-type]
    spec = TeamSpec(**{**base, **change})  # type: ignore[arg-type]
    assert not fast_path_applies(spec, with_followups=followups)


@pytest.mark.parametrize(("c", "load", "seed"), [(1, 0.7, 1), (4, 0.8, 2), (20, 0.9, 3)])
def test_fast_path_waits_match_erlang_c(c: int, load: float, seed: int) -> None:
    """M/M/c: the mean wait and the share of cases that wait are Erlang C's, within
    3.3 standard errors (two-sided 99.9 %) estimated from 20 batch means."""
    mu = 60.0
    lam = load * c * mu
    n = 200_000
    arrivals_rng, queue_rng = np.random.default_rng(seed).spawn(2)
    times = np.cumsum(arrivals_rng.exponential(1 / lam, n))
    queue = ReviewQueue(TeamSpec(name="staff", servers=np.array([c])), queue_rng)
    assert queue.fast_path
    queue.submit(np.arange(n), times, np.zeros(n, np.int8), np.zeros(n, bool))
    log = queue.run_until(float(times[-1]) + 10)
    assert queue.fast_path and len(log) == n
    wait = log.wait[np.argsort(log.arrived, kind="stable")][n // 10 :]
    batches = 20
    z = stats.t.ppf(1 - 0.0005, batches - 1)
    for sample, expected in (
        (wait, mmc_mean_wait(lam, mu, c)),
        ((wait > 0).astype(float), erlang_c(c, lam / mu)),
    ):
        means = sample[: len(sample) - len(sample) % batches].reshape(batches, -1).mean(axis=1)
        se = means.std(ddof=1) / math.sqrt(batches)
        assert se < 0.1 * expected  # the test can tell a wrong queue from a right one
        assert abs(means.mean() - expected) < z * se
