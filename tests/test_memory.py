"""Flat memory changes no result: days made in slices, settled rows and case logs
set aside on disk (issue 20). Each run here is compared with the same run held
whole in memory (``slice_posts=None, spill_rows=None``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import tweak

from simulator.api import simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.results import RunResult
from simulator.seeding import SeedTree
from simulator.spill import Spill
from simulator.stream.synthetic import Posts, SyntheticStream

TINY = {"slice_posts": 997, "spill_rows": 0}
"""Slices of under a thousand posts, every set-aside row on disk."""
WHOLE = {"slice_posts": None, "spill_rows": None}


def same(a: RunResult, b: RunResult) -> None:
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    for name in ("violating", "daily", "timeline", "within", "within_weekly", "backlog"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.cases.keys() == b.cases.keys()
    for team in a.cases:
        pd.testing.assert_frame_equal(a.cases[team], b.cases[team])


@pytest.fixture(autouse=True)
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Spills go under this test's own temporary directory (to check they are gone)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def spills(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("modsim-spill-*"))


# The stream ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [1, 333, 5_000, 10**9])
def test_a_day_in_slices_is_the_whole_day(quick_sampled: Scenario, seed: int, size: int) -> None:
    stream = SyntheticStream(quick_sampled, SeedTree(seed))
    for day in (0, 3):
        whole = stream.generate_day(day, 17)
        parts = list(stream.day_slices(day, 17, size))
        assert all(len(p) <= size for p in parts)
        joined = Posts.concat(parts)
        for column in ("post_id", "created_at", "cls", "reach", "decay", "score_u"):
            np.testing.assert_array_equal(getattr(joined, column), getattr(whole, column))


# The spill -------------------------------------------------------------------------


def test_a_spill_gives_rows_back_in_order_and_leaves_nothing(own_tmp: Path) -> None:
    with Spill(rows=3) as spill:
        for i in range(5):
            spill.append("t", {"x": np.arange(2) + 2 * i, "s": [f"a{i}", f"b{i}"]})
        assert spill.written_rows > 0 and spills(own_tmp)
        back = spill.take("t")
        assert back is not None
        np.testing.assert_array_equal(back["x"], np.arange(10))
        assert back["s"] == [f"{c}{i}" for i in range(5) for c in "ab"]
        assert spill.take("t") is None  # read once
    assert spills(own_tmp) == []


def test_a_spill_in_memory_never_touches_the_disk(own_tmp: Path) -> None:
    with Spill(rows=None) as spill:
        spill.append("t", {"x": np.arange(10**5)})
        assert spill.take("t")["x"].sum() == np.arange(10**5).sum()  # type: ignore[index]
        assert spill.written_rows == 0
    assert spills(own_tmp) == []


def test_columns_of_different_lengths_are_refused() -> None:
    with Spill() as spill, pytest.raises(ValueError, match="different lengths"):
        spill.append("t", {"x": np.arange(2), "y": np.arange(3)})


# Runs --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_slices_and_spills_change_nothing_without_enforcers(
    quick_sampled: Scenario, ai_first: PlatformPolicy, seed: int, own_tmp: Path
) -> None:
    # ai-first removes legitimate posts (wrongful removals) and takes appeals; its
    # prefilter trained on 200 texts a class (not 2,000: seconds a seed), as how the
    # days are sliced and spilled does not depend on the model's size
    policy = tweak(ai_first, prefilter__model__train_per_class=200)
    whole = simulate(quick_sampled, policy, seed=seed, **WHOLE)
    tiny = simulate(quick_sampled, policy, seed=seed, **TINY)
    same(whole, tiny)
    assert whole.summary["legitimate"]["wrongly_removed"] > 0
    assert spills(own_tmp) == []


def test_slices_and_spills_change_nothing_up_to_a_suspension(
    quick_sampled: Scenario, jury_only: PlatformPolicy, suspending_host: HostPolicy, own_tmp: Path
) -> None:
    whole = simulate(quick_sampled, jury_only, [suspending_host], seed=2, **WHOLE)
    assert whole.summary["enforcement"]["suspended"] is True
    for chunk_days in (1, 3):
        tiny = simulate(
            quick_sampled, jury_only, [suspending_host], seed=2, chunk_days=chunk_days, **TINY
        )
        same(whole, tiny)
    assert spills(own_tmp) == []


def test_slices_keep_the_posts_a_delisting_keeps(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    # A store that delists at its first failed deadline thins the days after it.
    store = tweak(
        strike_host,
        name="store",
        detection__outside_reports_per_million_views=1e6,
        detection__audit__sample_size=0,
        notices__every_hours=24.0,
        notices__min_posts=1,
        notices__remediation_hours=12.0,
        strikes__strikes_to_suspend=1,
        suspension__emergency__enabled=False,
        suspension__notice_period_days=0.0,
        effect="delist",
        new_user_share=0.5,
    )
    quiet = tweak(jury_only, reports__enabled=False, notices__compliance=0.0)
    whole = simulate(quick_sampled, quiet, [store], seed=3, **WHOLE)
    assert whole.summary["enforcement"]["posts_not_made_while_delisted"] > 0
    same(whole, simulate(quick_sampled, quiet, [store], seed=3, **TINY))


@pytest.mark.parametrize("table", ["touched", "all"])
def test_the_per_post_rows_are_the_same(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    strike_host: HostPolicy,
    table: str,
) -> None:
    host = tweak(strike_host, detection__outside_reports_per_million_views=300.0)
    short = tweak(quick_sampled, days=3, surges=[])
    rows: dict[str, list[pd.DataFrame]] = {"whole": [], "tiny": []}
    for name, memory in (("whole", WHOLE), ("tiny", TINY)):
        simulate(short, jury_only, [host], seed=4, table=table, sink=rows[name].append, **memory)
    a, b = (pd.concat(rows[k]).sort_values("post_id").reset_index(drop=True) for k in rows)
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, b)


def test_a_failing_run_leaves_no_spill(
    quick_sampled: Scenario, jury_only: PlatformPolicy, own_tmp: Path
) -> None:
    def progress(share: float) -> None:
        assert spills(own_tmp), "rows were set aside on disk by now"
        if share > 0.5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(quick_sampled, jury_only, seed=1, progress=progress, **TINY)
    assert spills(own_tmp) == []


def test_memory_settings_are_checked(quick_sampled: Scenario, jury_only: PlatformPolicy) -> None:
    with pytest.raises(ValueError, match="slice_posts"):
        simulate(quick_sampled, jury_only, slice_posts=0)
    with pytest.raises(ValueError, match="rows"):
        simulate(quick_sampled, jury_only, spill_rows=-1)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_restored_post_is_one_whose_appeal_was_upheld(
    quick_sampled: Scenario, jury_plus_ai: PlatformPolicy, seed: int
) -> None:
    # Authors appeal the prefilter's removals from the first day on; a post must
    # stay in memory until its appeal is heard, and the restoration reach it.
    world = tweak(quick_sampled, appeals__share_if_legitimate=0.4, appeals__share_if_violating=0.2)
    rows: list[pd.DataFrame] = []
    r = simulate(world, jury_plus_ai, seed=seed, table="all", sink=rows.append)
    posts = pd.concat(rows)
    restored = posts[posts["restored_at"].notna()]
    cases = pd.concat(list(r.cases.values()))
    upheld = cases[(cases["kind_name"] == "appeal") & (cases["status_name"] == "decided_keep")]
    assert len(restored) > 20
    assert set(zip(restored["post_id"], restored["restored_at"], strict=True)) <= set(
        zip(upheld["post_id"], upheld["left"], strict=True)
    )


def test_texts_come_back_from_the_spill(quick: Scenario, jury_only: PlatformPolicy) -> None:
    world = tweak(quick, days=2, surges=[])  # text mode: days come whole, texts spill
    whole = simulate(world, jury_only, seed=6, **WHOLE)
    tiny = simulate(world, jury_only, seed=6, **TINY)
    same(whole, tiny)
    assert "text" in tiny.violating and tiny.violating["text"].str.len().gt(0).all()
