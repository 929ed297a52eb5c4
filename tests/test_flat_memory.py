"""What keeps a large run's memory down without changing a result: the harmful view
rate summed a block at a time, the held posts settled a block at a
time at the end, the per-post frame taking its table's arrays over."""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pandas as pd
import pytest
from helpers import assert_same_posts, random_posts

from simulator import runlog
from simulator.api import simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.enforcement.harm import view_rates
from simulator.queueing.backlog import Backlog
from simulator.results import RunResult
from simulator.stages.platform import PlatformState, PostColumns
from simulator.stream.synthetic import views_at


def _posts(seed: int, n: int, decays: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    created = rng.uniform(0, 100, n)
    reach = rng.lognormal(3, 2, n)
    if decays == 1:  # a held table's single decay: one value broadcast
        decay = np.broadcast_to(np.array([0.3]), (n,))
    else:
        decay = rng.choice(np.linspace(0.05, 1.5, decays), n)
    removed = np.where(rng.random(n) < 0.4, created + rng.exponential(10, n), np.inf)
    return created, reach, decay, removed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decays", [1, 3])
@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_view_rates_a_block_at_a_time_are_one_sum_bit_for_bit(
    seed: int, decays: int, block: int
) -> None:
    # The platform asks this of a subset of its held table (``rows``), the harm
    # watch of the posts it keeps: the same floats, whatever the block size.
    created, reach, decay, removed = _posts(seed, 3_000, decays)
    rows = np.flatnonzero(np.random.default_rng(seed + 100).random(len(created)) < 0.7)
    taken = (created[rows], reach[rows], decay[rows], removed[rows])
    # several times (one reference time per span), and one time alone (its own)
    for times in ([0.0, 13.7, 55.0, 99.9, 250.0], [55.0], [250.0]):
        whole = view_rates(np.array(times), *taken, block=1 << 30)
        got = view_rates(np.array(times), created, reach, decay, removed, rows, block=block)
        assert got.tobytes() == whole.tobytes()  # the same floats, not close ones


def test_view_rates_no_post_made_yet() -> None:
    created, reach, decay, removed = _posts(1, 50, 3)
    rows = np.arange(50)
    assert view_rates(np.array([-1.0]), created, reach, decay, removed, rows)[0] == 0.0
    assert view_rates(np.array([10.0]), created, reach, decay, removed, rows[:0])[0] == 0.0


# The held table ------------------------------------------------------------------


def _table(rng: np.random.Generator, first: int, n: int, scored: bool) -> PostColumns:
    return random_posts(
        rng,
        first,
        n,
        times={
            "reported_at": (0.5, 48),
            "case_at": (0.5, 48),
            "removed_at": (0.3, 48),
            "restored_at": (0.1, 60),
        },
        ints={"removed_by": (1, 4)},
        scored=1.0 if scored else None,
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scored", [None, 0, 2])
def test_the_held_table_grows_by_a_days_parts_at_once(
    quick_sampled: Scenario, seed: int, scored: int | None
) -> None:
    rng = np.random.default_rng(seed)
    first = _table(rng, 0, 40, scored == 0)
    parts = [_table(rng, 100 * i, int(rng.integers(0, 50)), scored == i) for i in range(1, 4)]
    one_by_one = PlatformState(48, quick_sampled.taxonomy)
    at_once = PlatformState(48, quick_sampled.taxonomy)
    for state in (one_by_one, at_once):
        state.add(_table(np.random.default_rng(seed), 0, 40, scored == 0))
    held = at_once.cols
    for part in parts:
        one_by_one.add(part)
    at_once.add(*parts)
    assert at_once.cols is held  # grown in place
    assert one_by_one.cols is not None and held is not None
    assert_same_posts(held, one_by_one.cols)
    assert_same_posts(held, PostColumns.concat([first, *parts]))
    # a column holding one value is still held as that value
    assert held.decay.strides == (0,) and held.flagged_at.strides == (0,)
    assert (held.score.strides == (0,)) is (scored is None)
    fresh = PlatformState(48, quick_sampled.taxonomy)
    fresh.add(*parts)  # the first parts held
    assert fresh.cols is not None
    assert_same_posts(fresh.cols, PostColumns.concat(parts))


@pytest.mark.parametrize("seed", range(3))
def test_the_per_post_frame_is_the_one_built_from_copies(
    quick_sampled: Scenario, seed: int
) -> None:
    """The frame takes its table's arrays over (NaN after the end, in place): the
    frame a copy of every time column would give, with the end one time or per row."""
    rng = np.random.default_rng(seed)
    tax = quick_sampled.taxonomy
    for end in (30.0, rng.random(60) * 50):
        cols = _table(rng, 0, 60, False)
        kept = {name: getattr(cols, name).copy() for name in PostColumns.NUMERIC}
        frame = cols.frame(end, False, taxonomy=tax)

        def nan_after(times: np.ndarray, end: float | np.ndarray = end) -> np.ndarray:
            return np.where(times <= end, times, np.nan)

        removed = np.where(kept["removed_at"] <= end, kept["removed_at"], np.inf)
        for name in ("reported_at", "flagged_at", "case_at", "restored_at"):
            np.testing.assert_array_equal(frame[name].to_numpy(), nan_after(kept[name]))
        np.testing.assert_array_equal(frame["removed_at"].to_numpy(), nan_after(removed))
        channel = np.where(np.isfinite(removed), kept["removed_by"], 0)
        np.testing.assert_array_equal(frame["removed_by"].cat.codes.to_numpy(), channel)
        age = np.minimum(removed, end) - kept["created_at"]
        expected = views_at(kept["reach"], kept["decay"], age)
        assert np.array_equal(frame["views"].to_numpy(), expected)  # bit for bit
        assert frame["removed_at"].notna().sum() == np.isfinite(removed).sum() > 0


# The end of a run ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_held_posts_settled_in_blocks_are_settled_whole(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    suspending_host: HostPolicy,
    seed: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The posts held at the end settle a few at a time: the same tables, the same
    rows for the per-post table, in the same order."""

    def run() -> tuple[RunResult, pd.DataFrame]:
        rows: list[pd.DataFrame] = []
        result = simulate(quick_sampled, jury_only, [suspending_host], seed=seed, sink=rows.append)
        return result, pd.concat(rows, ignore_index=True)

    whole, whole_rows = run()
    monkeypatch.setattr(runlog, "SETTLE_ROWS", 7)
    blocks, block_rows = run()
    assert json.dumps(whole.summary, sort_keys=True) == json.dumps(blocks.summary, sort_keys=True)
    pd.testing.assert_frame_equal(whole.violating, blocks.violating)
    for team in whole.cases:
        pd.testing.assert_frame_equal(whole.cases[team], blocks.cases[team])
    pd.testing.assert_frame_equal(whole_rows, block_rows)
    assert len(whole.violating) > 7


def test_a_grown_backlog_lets_its_old_index_go() -> None:
    backlog = Backlog()
    seq = 0
    for seq in range(70_000):  # more rows than are scanned: an index is built
        backlog.append((seq, seq % 997, float(seq), 0.0, 0, False, 0))
    assert backlog.take_post(3)
    index = weakref.ref(backlog._keys)
    assert index() is not None and len(backlog._keys) > 0
    capacity = backlog.capacity
    while backlog.capacity == capacity:  # beyond the capacity: the array grows
        seq += 1
        backlog.append((seq, seq % 997, float(seq), 0.0, 0, False, 0))
        backlog.flush()
    gc.collect()
    assert index() is None  # an empty slice of it kept it alive before
    taken = backlog.take_post(3)
    assert [row[1] for row in taken] == [3] * len(taken)
    assert [row[0] for row in taken] == list(range(3 + 997 * 71, seq + 1, 997))
