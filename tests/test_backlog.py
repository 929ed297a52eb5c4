"""The compact waiting line: cases behind the head of a first-come-first-served line
kept as rows of one array (simulator.queueing.backlog), with the queue's results
those of a line of case objects."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from simulator.queueing import PENDING, CaseLog, JurorPool, ReviewQueue, TeamSpec
from simulator.queueing.backlog import FLUSH, ROW, Backlog
from simulator.queueing.cases import pending_log
from simulator.taxonomy import N_CLASSES


def _row(seq: int, post_id: int) -> tuple[int, int, float, float, int, bool, int]:
    return (seq, post_id, seq / 10, 0.5, seq % N_CLASSES, seq % 3 == 0, seq % 3)


def test_a_row_is_36_bytes() -> None:
    assert ROW.itemsize == 36


def test_a_grown_backlog_has_room_for_a_quarter_more() -> None:
    """Room beyond the waiting rows is a quarter of them (and the block being written):
    at 16 M waiting cases, each eighth of a row is some 70 MB."""
    backlog = Backlog()
    grown = 0
    for seq in range(60_000):
        capacity = backlog.capacity
        backlog.append(_row(seq, seq))
        if seq % 5 == 0:
            backlog.take_head(1)
        if backlog.capacity != capacity:
            grown += 1
            assert backlog.capacity <= 1.25 * len(backlog) + FLUSH
    assert grown >= 4


@pytest.mark.parametrize("seed", range(4))
def test_growth_beyond_capacity_keeps_arrival_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    backlog = Backlog()
    start = backlog.capacity
    expected: list[int] = []
    taken: list[int] = []
    seq = 0
    for _ in range(40):  # appends, heads taken and posts taken, interleaved
        for _ in range(int(rng.integers(0, 2000))):
            backlog.append(_row(seq, seq // 3))
            expected.append(seq)
            seq += 1
        taken.extend(r[0] for r in backlog.take_head(int(rng.integers(0, 300))))
        if expected:
            post = int(rng.integers(0, seq // 3 + 1))
            gone = [r[0] for r in backlog.take_post(post)]
            assert gone == sorted(s for s in expected if s // 3 == post and s not in taken)
            expected = [s for s in expected if s not in gone]
    assert backlog.capacity > start  # it grew
    rest = [r[0] for r in backlog.take_head(len(backlog) + 1)]
    assert taken + rest == expected  # every row once, in arrival order
    assert len(backlog) == 0


def test_rows_come_back_as_appended() -> None:
    backlog = Backlog()
    rows = [_row(s, 7 * s) for s in range(5000)]
    for row in rows:
        backlog.append(row)
    assert [tuple(r) for r in backlog.waiting()[["seq", "post_id"]].tolist()] == [
        (r[0], r[1]) for r in rows
    ]
    assert backlog.take_head(5000) == rows


def test_a_post_found_across_an_index_rebuild() -> None:
    backlog = Backlog()
    for s in range(200_000):
        backlog.append(_row(s, s % 50_000))
    assert [r[0] for r in backlog.take_post(123)] == [123, 50_123, 100_123, 150_123]
    for s in range(200_000, 300_000):  # appended after the index: scanned
        backlog.append(_row(s, s % 50_000))
    assert [r[0] for r in backlog.take_post(123)] == [200_123, 250_123]
    assert backlog.take_post(123) == []
    assert len(backlog) == 300_000 - 6


def test_the_post_index_finds_every_post_at_4_bytes_a_row() -> None:
    rng = np.random.default_rng(5)
    backlog = Backlog()
    posts = rng.integers(0, 30_000, 150_000)
    for seq, post in enumerate(posts.tolist()):
        backlog.append(_row(seq, post))
    for post in rng.choice(30_000, 300, replace=False).tolist():  # ids absent too
        assert [r[0] for r in backlog.take_post(post)] == np.flatnonzero(posts == post).tolist()
    # the index is the rows' positions alone (a sorted copy of post ids cost 16)
    assert 0 < backlog.nbytes - backlog.capacity * ROW.itemsize <= 4 * len(posts)


def _jury(expire: float, jurors: int = 40, hours: float = 48.0, seed: int = 0) -> TeamSpec:
    rng = np.random.default_rng(seed)
    sessions = int(jurors * hours / 2)  # about 7 of 40 on duty: overloaded
    pool = JurorPool(
        accuracy=rng.uniform(0.7, 1.0, (jurors, N_CLASSES)),
        session_start=np.sort(rng.uniform(0, hours, sessions)),
        session_juror=rng.integers(0, jurors, sessions),
        session_reviews=rng.geometric(1 / 15, sessions),
        idle_hours=1 / 6,
    )
    return TeamSpec(
        name="jury",
        servers=np.array([jurors // 10]),
        votes_per_case=5,
        votes_to_remove=3,
        review_minutes=1.5,
        rule="first_k_agree",
        expire_after_hours=expire,
        jurors=pool,
    )


def _run(expire: float, seed: int) -> tuple[CaseLog, list[np.ndarray], CaseLog]:
    """An overloaded jury with re-reports, closures and notices, run in steps."""
    rng = np.random.default_rng(100 + seed)
    n, hours = 12_000, 48.0
    follow_rng = np.random.default_rng(seed)

    def followup(post_id: int, kind: int, status: int, removes: int, votes: int, now: float):
        if status == 1 and follow_rng.random() < 0.3:  # kept: reported again
            return now + float(follow_rng.exponential(2.0)), 0.0, 0
        return None

    queue = ReviewQueue(_jury(expire, seed=seed), np.random.default_rng(seed), followup=followup)
    posts = rng.integers(0, n // 2, n)  # posts reported more than once
    queue.submit(
        posts,
        rng.uniform(0, hours, n),
        rng.integers(0, N_CLASSES, n).astype(np.int8),
        rng.random(n) < 0.3,
        kinds=rng.integers(0, 3, n).astype(np.int8),
    )
    logs, since = [], []
    for t in np.arange(2.0, hours + 1, 2.0):
        for post in rng.choice(n // 2, 40, replace=False).tolist():
            queue.close(post, float(t) + float(rng.uniform(0, 2)))
        queue.expedite(rng.choice(n // 2, 30, replace=False), float(t) + 0.5)
        logs.append(queue.run_until(float(t)))
        since.append(queue.waiting_since())
        assert queue.pending >= 0
    return CaseLog.concat(logs), since, queue.drain()


@pytest.mark.parametrize("seed", range(3))
def test_compact_line_gives_the_log_of_a_line_of_cases(seed: int) -> None:
    # Without expiry the line is compact; with a deadline nobody reaches it is not,
    # and nothing else differs.
    compact, since_c, drained_c = _run(np.inf, seed)
    objects, since_o, drained_o = _run(1e12, seed)
    assert compact == objects
    assert drained_c == drained_o
    assert len(drained_c) > 3000  # the line was long: most cases waited as rows
    assert all(np.array_equal(a, b) for a, b in zip(since_c, since_o, strict=True))
    assert (compact.status == 3).sum() > 0  # closures reached waiting cases


def _bytes_per_case(expire: float) -> float:
    queue = ReviewQueue(_jury(expire, jurors=20, hours=10.0), np.random.default_rng(0))
    n = 300_000
    rng = np.random.default_rng(1)
    queue.submit(
        np.arange(n) + 10**9,
        np.sort(rng.uniform(0, 10.0, n)),
        rng.integers(0, N_CLASSES, n).astype(np.int8),
        rng.random(n) < 0.2,
    )
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        queue.run_until(10.0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert queue.in_system > 0.9 * n
    return (after - before) / queue.in_system


def test_a_waiting_case_costs_a_few_tens_of_bytes() -> None:
    compact, objects = _bytes_per_case(np.inf), _bytes_per_case(1e12)
    # a row (36 bytes) and the array's room to grow, against a case object, its line
    # entry and its place in the index of posts (several hundred bytes)
    assert compact < 80
    assert compact < objects / 4


class _InSystem:
    """A case in the system, as pending_log reads it (its number and its record)."""

    def __init__(self, seq: int) -> None:
        self.seq = seq

    def record(self, left: float, status: int, remove_votes: int) -> tuple:  # type: ignore[type-arg]
        s = self.seq
        return (s, s / 10, 1.0, left, status, remove_votes, 2, s % N_CLASSES, True, 0.25, 1)


@pytest.mark.parametrize("seed", range(3))
def test_pending_log_slots_cases_in_system_among_the_rows_by_number(seed: int) -> None:
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(3000)
    in_system = sorted(numbers[: int(rng.integers(0, 40))].tolist())
    backlog = Backlog()
    for seq in sorted(numbers[len(in_system) :].tolist()):
        backlog.append(_row(seq, 7 * seq))
    log = pending_log([_InSystem(s) for s in in_system], backlog.waiting())
    np.testing.assert_array_equal(log.post_id, np.arange(3000) * np.where(
        np.isin(np.arange(3000), in_system), 1, 7))  # fmt: skip
    assert np.isnan(log.left).all() and (log.status == PENDING).all()
    started = np.where(np.isin(np.arange(3000), in_system), 1.0, np.nan)
    np.testing.assert_array_equal(log.started, started)
