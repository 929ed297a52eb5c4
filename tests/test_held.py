"""Memory of held posts (issue 20): the held table grows and shrinks in place, and
the draws the follow-up hook needs of a post wait until its case nears a decision.
Neither changes any result."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import assert_same_posts, random_posts, tweak
from test_memory import same

import simulator.engine as engine
import simulator.stages.followups as followups
import simulator.stream.thinning as thinning
from simulator.api import simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.engine import Simulation
from simulator.queueing import PENDING, CaseLog
from simulator.spill import Spill
from simulator.stages.followups import ColdCases, Followups
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stream.synthetic import Posts
from simulator.stream.thinning import ThinDay


@pytest.fixture(autouse=True)
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))


def _table(
    rng: np.random.Generator, first: int, n: int, with_text: bool, scored: bool = False
) -> PostColumns:
    return random_posts(
        rng,
        first,
        n,
        times={"case_at": (0.5, 48), "removed_at": (0.2, 48)},
        ints={"case_open": (0, 3)},
        scored=0.5 if scored else None,
        with_text=with_text,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_text", [False, True])
@pytest.mark.parametrize("scored", [False, True])
def test_the_held_table_grows_and_shrinks_in_place(
    quick_sampled: Scenario, seed: int, with_text: bool, scored: bool
) -> None:
    rng = np.random.default_rng(seed)
    parts = [
        _table(rng, 100 * i, int(rng.integers(0, 60)), with_text, scored and i == 2)
        for i in range(4)
    ]
    whole = PostColumns.concat(parts)
    state = PlatformState(48, quick_sampled.taxonomy)
    state.add(parts[0])
    held = state.cols
    for part in parts[1:]:
        state.add(part)
    assert state.cols is held  # one table, grown: never a second copy beside it
    assert_same_posts(held, whole)
    # a column no stage writes, holding one value, is held as that value
    assert held.decay.strides == (0,) and held.flagged_at.strides == (0,)
    assert (held.score.strides == (0,)) is not scored
    keep = rng.random(len(held)) < 0.4
    expected = held.take(keep)
    state.keep(keep)
    assert state.cols is held
    assert_same_posts(held, expected)
    more = _table(rng, 1000, 50, with_text)
    state.add(more)  # grows on from a kept table
    assert_same_posts(held, PostColumns.concat([expected, more]))


def test_a_day_held_whole_is_gone_before_the_next_day_is_made(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    strict_host: HostPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a host that can suspend, a day's posts wait whole until its chunk is
    stepped through; once they settle nothing keeps them (a name left on them kept
    a whole day beside the next day's draw)."""
    sim = Simulation(quick_sampled, jury_only, [strict_host], seed=1)
    staged: list[weakref.ref[PostColumns]] = []
    alive: list[bool] = []
    stage_day = sim._stage_day

    def stage(*args: Any) -> Any:
        next_id, waiting = stage_day(*args)
        assert isinstance(waiting, tuple)  # a day in one piece, waiting in memory
        staged.append(weakref.ref(waiting[0]))
        return next_id, waiting

    def chunk_end() -> None:  # each chunk's end, once its days settled
        alive.append(staged[-1]() is not None)

    monkeypatch.setattr(sim, "_stage_day", stage)
    monkeypatch.setattr(engine, "collect_young", chunk_end)
    sim.run()
    assert len(alive) == quick_sampled.days
    assert not any(alive)


def _reported(rng: np.random.Generator, first: int, n: int) -> PostColumns:
    """A table whose report times hold many values (the column set aside)."""
    table = _table(rng, first, n, False)
    table.reported_at = np.where(rng.random(n) < 0.5, rng.random(n) * 48, np.inf)
    return table


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rows", [0, 5, 10**6])  # rows the spill holds before the disk
def test_columns_only_settlement_reads_wait_aside_and_come_back(
    quick_sampled: Scenario, tmp_path: Path, seed: int, rows: int
) -> None:
    tax = quick_sampled.taxonomy
    spill = Spill(rows, tmp_path)
    values = spill.settling("held.aside")
    plain, aside = PlatformState(48, tax), PlatformState(48, tax, values)

    def add(first: int, n: int) -> None:  # the same rows to both (adding takes them over)
        for state in (plain, aside):
            state.add(_reported(np.random.default_rng([seed, first]), first, n))

    def same_but_aside() -> None:
        assert plain.cols is not None and aside.cols is not None
        for name in PostColumns.NUMERIC:
            if name != "reported_at":
                assert_same_posts_column(plain.cols, aside.cols, name)
        # held as one value: its values are in the spill
        assert aside.cols.reported_at.strides == (0,)
        assert np.isnan(aside.cols.reported_at).all()

    rng = np.random.default_rng(seed + 10)
    for i in range(3):
        add(100 * i, int(rng.integers(1, 60)))
    same_but_aside()
    for step in range(4):
        n = len(plain.cols) if plain.cols is not None else 0
        mask = rng.random(n) < 0.3
        if step % 2:
            plain.keep(~mask)
            aside.keep(~mask)
        else:  # the rows taken out come back whole, report times too
            assert_same_posts(aside.release(mask), plain.release(mask))
        add(1000 * (step + 1), int(rng.integers(0, 40)))
        same_but_aside()
    assert plain.cols is not None
    size = int(rng.integers(1, 20))
    blocks = list(aside.blocks(size))
    assert [len(b) for b in blocks[:-1]] == [size] * (len(blocks) - 1)
    assert_same_posts(PostColumns.concat(blocks), plain.cols)
    if rows in (0, 10**6):  # every value on disk, or none
        assert (values.written_bytes > 0) is (rows == 0)


def assert_same_posts_column(a: PostColumns, b: PostColumns, name: str) -> None:
    x, y = getattr(a, name), getattr(b, name)
    assert x.dtype == y.dtype, name
    np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cold_cases_come_out_earliest_first_and_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cold = ColdCases()
    times = []
    for b in range(5):
        n = int(rng.integers(0, 300))
        t = np.round(rng.random(n) * 50, 1)  # ties across and within batches
        cold.add(t, 1000 * b + np.arange(n))
        times.append(t)
    arrival = dict(zip(
        (1000 * b + i for b, t in enumerate(times) for i in range(len(t))),
        np.concatenate(times).tolist(),
        strict=True,
    ))  # fmt: skip
    assert len(cold) == len(arrival)
    seen: list[int] = []
    last = -np.inf
    while cold:
        n = int(rng.integers(1, 80))
        ids = cold.earliest(n).tolist()
        assert len(ids) >= min(n, len(arrival) - len(seen))  # ties may bring more
        when = [arrival[i] for i in ids]
        assert min(when) >= last  # nothing earlier was left behind
        last = max(when)
        seen += ids
        assert len(cold) == len(arrival) - len(seen)
    assert sorted(seen) == sorted(arrival)


def _eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw what the hook needs of every post as its case opens (as before)."""
    hook = Followups.hook

    def eager_hook(self: Followups, team: str) -> followups.Followup:
        self._eager = True
        return hook(self, team)

    monkeypatch.setattr(Followups, "hook", eager_hook)


def _slow_jury(policy: PlatformPolicy) -> PlatformPolicy:
    """A jury a fiftieth the size: a third of the cases wait to the end."""
    return tweak(policy, jury__pool_size=20)


@pytest.mark.parametrize("warm", [1, 7, 4096])
@pytest.mark.parametrize("slow", [False, True])
def test_drawing_late_what_the_hook_needs_changes_nothing(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    strike_host: HostPolicy,
    monkeypatch: pytest.MonkeyPatch,
    warm: int,
    slow: bool,
) -> None:
    policy = _slow_jury(jury_only) if slow else jury_only
    monkeypatch.setattr(followups, "WARM_CASES", warm)
    late = simulate(quick_sampled, policy, [strike_host], seed=1)
    with monkeypatch.context() as m:
        _eager(m)
        early = simulate(quick_sampled, policy, [strike_host], seed=1)
    same(late, early)


def test_an_overloaded_jury_holds_the_draws_of_few_posts(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    strike_host: HostPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(followups, "WARM_CASES", 16)  # a small world's long line
    sim = Simulation(quick_sampled, _slow_jury(jury_only), [strike_host], seed=0)
    log = sim.run()
    cases = log.cases["jury"]
    waiting = int((cases["status_name"] == "pending").sum())
    drawn = len(sim.followups._posts)
    assert waiting > 10 * followups.WARM_CASES  # the test is about a long line
    # drawn: the cases near the head, not the line (every open case, before)
    assert drawn <= len(cases) - waiting + 2 * followups.WARM_CASES
    assert drawn < waiting / 4


@pytest.mark.parametrize("by_hour", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("size", [1, 997, None])
def test_a_thinned_day_staged_in_slices_is_the_whole_day(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    suspending_host: HostPolicy,
    strike_host: HostPolicy,
    seed: int,
    size: int | None,
    by_hour: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thinned day's drawn posts staged a slice at a time (a billion posts a day
    draw ten million), drawn whole or by the hour (a day drawing more than
    ``WHOLE_DAY_DRAWN``), give the run of the day staged whole, up to a suspension too."""
    if by_hour:
        monkeypatch.setattr(thinning, "WHOLE_DAY_DRAWN", 0)
    thin = tweak(quick_sampled, content__thinning="auto")
    for host in (strike_host, suspending_host):
        whole = simulate(thin, jury_only, [host], seed=seed, slice_posts=None, spill_rows=None)
        parts = simulate(thin, jury_only, [host], seed=seed, slice_posts=size, spill_rows=0)
        same(whole, parts)
    assert whole.summary["enforcement"]["suspended"] is True


def test_a_thinned_day_comes_in_parts_that_are_its_rows() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    posts = Posts(
        np.arange(n), rng.random(n), rng.integers(0, 5, n).astype(np.int8), rng.random(n),
        np.full(n, 0.1), rng.random(n),
    )  # fmt: skip
    day = ThinDay(3, posts, rng.random(n), np.ones((24, 5), dtype=np.int64), 5000)
    assert day.parts(None) == [day] and day.parts(n) == [day]
    parts = day.parts(300)
    assert [len(p.posts) for p in parts] == [300, 300, 300, 100]
    for name in ("post_id", "created_at", "cls", "reach", "decay", "score_u"):
        joined = np.concatenate([getattr(p.posts, name) for p in parts])
        np.testing.assert_array_equal(joined, getattr(posts, name))
    np.testing.assert_array_equal(np.concatenate([p.reported_at for p in parts]), day.reported_at)
    assert all(p.day == 3 and p.made == 5000 and p.untouched is day.untouched for p in parts)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pending_cases_from_columns_are_their_records(seed: int) -> None:
    """A queue's pending cases (millions in an overloaded jury) are built from columns,
    exactly the log their record tuples give."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50))
    cols = {
        "post_id": rng.integers(0, 10**10, n),
        "arrived": rng.random(n) * 100,
        "cls": rng.integers(0, 5, n).astype(np.int8),
        "violating": rng.random(n) < 0.5,
        "priority": np.where(rng.random(n) < 0.5, rng.random(n), 0.0),
        "kind": rng.integers(0, 3, n).astype(np.int8),
    }
    records = [
        (i, t, np.nan, np.nan, PENDING, 0, 0, c, v, p, k)
        for i, t, c, v, p, k in zip(*(cols[k].tolist() for k in cols), strict=True)
    ]
    a, b = CaseLog.pending(**cols), CaseLog.from_records(records)
    for name in ("post_id", "arrived", "started", "left", "status", "remove_votes", "votes",
                 "cls", "violating", "priority", "kind"):  # fmt: skip
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    order = rng.permutation(n)
    np.testing.assert_array_equal(a.take(order).post_id, cols["post_id"][order])
