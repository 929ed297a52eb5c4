"""The run pipeline's behaviour: properties that could fail, on small worlds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, tweak
from typer.testing import CliRunner

from simulator.api import simulate
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario

SEEDS = [1, 2, 3]


def removed_count(result) -> int:
    s = result.summary
    return s["violating"]["removed"] + s["legitimate"]["wrongly_removed"]


@pytest.mark.parametrize("seed", SEEDS)
def test_raising_auto_remove_threshold_never_removes_more(
    quick_sampled: Scenario, ai_first: PlatformPolicy, seed: int
) -> None:
    """Only the prefilter acts here (no reports, no review), so removals are
    exactly the posts scoring above the threshold: monotone on the same stream."""
    base = tweak(ai_first, reports__enabled=False, prefilter__review_above=0.0)
    counts = []
    for threshold in (0.5, 0.8, 0.95, 0.99):
        pol = tweak(base, prefilter__auto_remove_above=threshold)
        by_prefilter = simulate(quick_sampled, pol, seed=seed).summary
        counts.append(
            by_prefilter["violating"]["removed_by"]["prefilter"]
            + by_prefilter["legitimate"]["wrongly_removed_by"]["prefilter"]
        )
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


def test_no_violating_posts_means_no_notices_and_no_suspension(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strict_host: HostPolicy
) -> None:
    clean = tweak(
        quick_sampled,
        content__class_shares__violent_threat=0.0,
        content__class_shares__incitement=0.0,
    )
    result = simulate(clean, jury_only, [strict_host], seed=1)
    s = result.summary
    assert s["violating"]["count"] == 0
    assert s["enforcement"]["suspended"] is False
    assert s["enforcement"]["enforcers"][0]["notices"] == 0
    # ... whereas the same world with violations and a hair-trigger host does act.
    hair = tweak(strict_host, detection__outside_reports_per_million_views=2000.0)
    acted = simulate(quick_sampled, jury_only, [hair], seed=1).summary
    assert acted["enforcement"]["enforcers"][0]["notices"] > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_perfect_jurors_never_remove_legitimate_posts(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    perfect = tweak(
        jury_only,
        jury__accuracy={k: 1.0 for k in jury_only.jury.accuracy},
        jury__pool_size=5000,
        jury__population__sympathetic_share=0.0,  # sympathy would make them miss threats
    )
    s = simulate(quick_sampled, perfect, seed=seed).summary
    assert s["legitimate"]["wrongly_removed"] == 0
    assert s["review"]["jury"]["decision_accuracy"] == 1.0
    # ... and fallible jurors on the same stream do remove some.
    sloppy = tweak(perfect, jury__accuracy__heated_political=0.4, jury__accuracy__benign=0.4)
    assert simulate(quick_sampled, sloppy, seed=seed).summary["legitimate"]["wrongly_removed"] > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_more_jurors_never_lengthen_median_latency(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    # Reports for most violating posts, so that the median is finite.
    reported = tweak(
        quick_sampled,
        audience__sympathy__violent_threat=0.0,
        audience__sympathy__incitement=0.0,
        audience__reports_per_1000_views__violent_threat=200.0,
        audience__reports_per_1000_views__incitement=200.0,
    )
    medians = []
    for pool in (30, 60, 240):
        pol = tweak(
            jury_only,
            jury__pool_size=pool,
            jury__accuracy__violent_threat=0.99,
            jury__accuracy__incitement=0.99,
        )
        lat = simulate(reported, pol, seed=seed).summary["violating"]["latency_hours"]["p50"]
        medians.append(math.inf if lat is None else lat)
    assert medians == sorted(medians, reverse=True)
    assert medians[0] > medians[-1]


def test_chunk_size_changes_nothing(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    host = tweak(strike_host, detection__outside_reports_per_million_views=300.0)
    a = simulate(quick_sampled, jury_only, [host], seed=5, chunk_days=1)
    b = simulate(quick_sampled, jury_only, [host], seed=5, chunk_days=7)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    pd.testing.assert_frame_equal(a.cases["jury"], b.cases["jury"])


def test_every_policy_sees_the_same_stream(
    quick_sampled: Scenario, jury_only: PlatformPolicy, ai_first: PlatformPolicy
) -> None:
    # a prefilter of 200 training texts a class (not 2,000: seconds a seed) screens the
    # posts as well as any other: what is made does not depend on it
    cheap = tweak(ai_first, prefilter__model__train_per_class=200)
    a = simulate(quick_sampled, jury_only, seed=8).summary["posts"]
    b = simulate(quick_sampled, cheap, seed=8).summary["posts"]
    assert a == b


def test_suspension_stops_the_platform(
    quick_sampled: Scenario, jury_only: PlatformPolicy, suspending_host: HostPolicy
) -> None:
    r = simulate(quick_sampled, jury_only, [suspending_host], seed=2)
    e = r.summary["enforcement"]
    assert e["suspended"] is True
    end_hour = r.timeline.query("event == 'suspension'")["hour"].iloc[0]
    assert end_hour < quick_sampled.hours
    # Nothing is posted after the suspension; the lost posts are counted.
    assert (r.violating["created_at"] < end_hour).all()
    assert e["expected_posts_not_made"] > 0
    assert e["legitimate_posts_up_at_suspension"] > 0
    full = simulate(quick_sampled, jury_only, seed=2).summary["posts"]["created"]
    assert r.summary["posts"]["created"] < full


def test_latency_shares_are_consistent(quick_sampled: Scenario, jury_only: PlatformPolicy) -> None:
    r = simulate(quick_sampled, jury_only, seed=4)
    lat = (r.violating["removed_at"] - r.violating["created_at"]).to_numpy()
    end = quick_sampled.hours
    for row in r.within.itertuples():
        eligible = r.violating["created_at"].to_numpy() <= end - row.threshold_hours
        assert row.eligible == eligible.sum()
        assert row.removed_within == int((lat[eligible] <= row.threshold_hours).sum())
    shares = r.within["share"].dropna().to_numpy()
    assert (np.diff(shares) >= -0.05).all()  # longer windows: not (much) worse
    # Views before removal never exceed a post's lifetime reach.
    assert (r.violating["views"] <= r.violating["reach"] + 1e-9).all()


runner = CliRunner()


def test_cli_run_end_to_end_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "scenarios/quick.yaml"),
            "--policy",
            str(ROOT / "policies/jury-plus-ai.yaml"),
            "--host",
            str(ROOT / "policies/host-notice-and-strike.yaml"),
            "--seed",
            "3",
            "--out",
            str(out),
            "--posts",
            "all",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "summary.json",
        "report.md",
        "posts.parquet",
        "thresholds.csv",
        "daily.csv",
        "timeline.csv",
        "backlog.csv",
        "cases_jury.parquet",
    ):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    posts = pd.read_parquet(out / "posts.parquet")
    assert len(posts) == summary["posts"]["created"]
    assert posts["post_id"].is_unique
    assert int(posts["violating"].sum()) == summary["violating"]["count"]
    assert posts["text"].str.len().gt(0).all()
    report = (out / "report.md").read_text()
    assert "In plain words" in report and "Removal within each threshold" in report
    # A second run into the same folder is refused unless --force.
    again = runner.invoke(app, ["run", str(ROOT / "scenarios/quick.yaml"), "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_cli_bad_file_exit_code_2_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("kind: PlatformPolicy\nversion: 1\nname: p\njury:\n  pool_size: many\n")
    res = runner.invoke(
        app,
        ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(bad), "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2
    assert f"{bad}:5" in res.output and "jury.pool_size" in res.output
    assert not (tmp_path / "o").exists()  # nothing written for a bad input


def test_an_enormous_reach_spread_runs_and_every_rereport_follows_its_case(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    # reach.sigma 20 puts a re-report within float resolution of the decision it
    # follows; the run used to stop with "followup: a case at ... is before now".
    wild = tweak(quick_sampled, reach__sigma=20.0)
    result = simulate(wild, jury_only, seed=3)
    cases = result.cases["jury"]
    left = cases["left"].dropna()
    assert len(left) > 0
    assert (left >= cases.loc[left.index, "arrived"]).all()


def test_a_simulation_runs_once_and_its_queues_figures_are_in_the_log(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    """The queues are released at the end of a run (their backlogs can be gigabytes);
    what they tell is in the log, and a second run is refused rather than run on
    empty queues."""
    from simulator.engine import Simulation

    sim = Simulation(quick_sampled, jury_only, [], seed=4)
    assert set(sim.queues) == {"jury"}
    log = sim.run()
    assert sim.queues == {}
    assert log.capacity_hours["jury"] > 0
    assert 0 < log.busy_hours["jury"] <= log.capacity_hours["jury"]
    with pytest.raises(RuntimeError, match="runs once"):
        sim.run()
