"""Rows that wait until they settle (:class:`simulator.spill.Settling`): the held
posts' report times. Each row is written to disk at most once, whatever the
settlements in between, and comes back in order, against a plain list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config import Scenario
from simulator.spill import Settling, Spill
from simulator.stages.platform import PlatformState, PostColumns

# An operation: ("add", rows), ("keep" | "take", a seed for the mask, the share settling)
ADD = st.tuples(st.just("add"), st.integers(0, 40))
SETTLE = st.tuples(st.sampled_from(["drop", "take"]), st.integers(0, 2**32 - 1), st.floats(0, 1))
OPERATIONS = st.lists(st.one_of(ADD, SETTLE), max_size=30)


def _values(first: int, n: int) -> dict[str, np.ndarray]:
    """Rows whose values say which row they are (two columns of two dtypes)."""
    ids = np.arange(first, first + n)
    return {"t": ids * 0.5, "k": (ids % 120).astype(np.int8)}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operations=OPERATIONS,
    rows=st.sampled_from([0, 1, 3, 50, None]),
    size=st.integers(1, 30),
)
def test_rows_settle_in_any_order_and_come_back_as_a_list_would(
    tmp_path: Path, operations: list[tuple], rows: int | None, size: int
) -> None:
    folder = tmp_path / "segments"
    folder.mkdir(exist_ok=True)
    settling = Settling(rows, lambda: folder)
    waiting: list[int] = []  # the reference: the rows waiting, in order
    added = 0
    for op in operations:
        if op[0] == "add":
            settling.append(_values(added, op[1]))
            waiting += range(added, added + op[1])
            added += op[1]
        else:
            rng = np.random.default_rng(op[1])
            mask = rng.random(len(waiting)) < op[2]
            if op[0] == "take":
                back = settling.take(mask)
                every = _values(0, added)
                ids = np.asarray(waiting, dtype=np.int64)[mask]
                for k, v in back.items():
                    assert v.dtype == every[k].dtype
                    np.testing.assert_array_equal(v, every[k][ids])
            else:
                settling.drop(mask)
            waiting = [w for w, m in zip(waiting, mask.tolist(), strict=True) if not m]
        assert len(settling) == len(waiting)
        # written once: never more than the rows appended, 9 bytes a row
        assert settling.written_bytes <= 9 * added
    if rows == 0:  # every row went to disk as it came, once
        assert settling.written_bytes == 9 * added
    if rows is None:
        assert settling.written_bytes == 0 and not any(folder.iterdir())
    parts = list(settling.drain())
    ids = np.asarray(waiting, dtype=np.int64)
    for k, expected in _values(0, added).items():
        got = np.concatenate([p[k] for p in parts]) if parts else np.empty(0, expected.dtype)
        np.testing.assert_array_equal(got, expected[ids])
    assert len(settling) == 0
    assert not any(folder.iterdir()), "a drained segment's file is gone"


def test_a_segment_goes_once_its_every_row_settled(tmp_path: Path) -> None:
    settling = Settling(2, lambda: tmp_path)
    for i in range(4):
        settling.append(_values(3 * i, 3))  # a segment of 3 rows each time
    assert len(list(tmp_path.iterdir())) == 4
    settling.drop(np.arange(12) < 6)  # the first two segments
    assert len(list(tmp_path.iterdir())) == 2
    back = settling.take(np.arange(6) % 3 == 1)  # a row of each remaining segment
    np.testing.assert_array_equal(back["t"], [3.5, 5.0])
    assert len(list(tmp_path.iterdir())) == 2
    settling.close()
    assert not any(tmp_path.iterdir())
    assert settling.written_bytes == 9 * 12


def test_a_mask_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    settling = Settling(0, lambda: tmp_path)
    settling.append(_values(0, 5))
    with pytest.raises(ValueError, match="mask of 4 rows over 5 waiting rows"):
        settling.drop(np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="columns"):
        settling.append({"t": np.zeros(2)})


def _posts(first: int, n: int) -> PostColumns:
    table = PostColumns.from_columns({"post_id": np.arange(first, first + n)}, n, False)
    table.reported_at = np.arange(first, first + n) * 0.25
    table.cls = (np.arange(n) % 2).astype(np.int8)
    return table


def test_held_report_times_are_written_once_whatever_the_settlements(
    tmp_path: Path, quick_sampled: Scenario
) -> None:
    """Each report time set aside goes to disk once, as its post is held: a
    settlement marks rows, it does not write the rest again (as the spill's
    tables, drained and appended anew at every settlement, did)."""
    with Spill(0, tmp_path) as spill:
        values = spill.settling("held.aside")
        state = PlatformState(48, quick_sampled.taxonomy, values)
        added = 0
        for day in range(6):
            state.add(_posts(added, 1000))
            added += 1000
            state.keep(np.ones(len(state.cols or []), dtype=bool))  # nothing settles
            n = len(state.cols or [])
            out = state.release(np.arange(n) % 7 == day)  # a few settle, read back
            np.testing.assert_array_equal(out.reported_at, out.post_id * 0.25)
            assert values.written_bytes == 8 * added
        assert state.cols is not None
        back = PostColumns.concat(list(state.blocks(333)))
        np.testing.assert_array_equal(back.reported_at, state.cols.post_id * 0.25)
        assert values.written_bytes == 8 * added
        assert spill.written_rows == 0  # the spill's own tables: none of it
