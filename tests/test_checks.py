"""Checks of a scenario and a policy together: the numbers they quote are right,
their warnings predict what the simulation then does, and the CLI shows them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, tweak
from typer.testing import CliRunner

from simulator.api import simulate
from simulator.checks import check_run, hourly_load, team_loads
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file

SEEDS = [1, 2, 3]
runner = CliRunner()


def plain(policy: PlatformPolicy) -> PlatformPolicy:
    """The jury the load estimate models: interchangeable jurors, cases opened by
    reports only (no re-reports after a keep, no sessions)."""
    return tweak(policy, jury__population=None, reports__rereports_after_keep=0)


def fluid_backlog(arrivals: np.ndarray, capacity: np.ndarray) -> float:
    """Backlog at the end if cases were a fluid: b <- max(0, b + in - out) each hour."""
    b = 0.0
    for a, c in zip(arrivals, capacity, strict=True):
        b = max(0.0, b + a - c)
    return b


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("reports_to_queue", [1, 3])
def test_estimated_case_count_matches_the_simulation(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int, reports_to_queue: int
) -> None:
    # A short half-life: nearly every report a post will get arrives before
    # the run ends, so the lifetime estimate is the right target.
    world = tweak(quick_sampled, reach__half_life_hours=0.25)
    policy = tweak(plain(jury_only), reports__reports_to_queue=reports_to_queue)
    arrivals, _ = hourly_load(world, policy)
    expected = float(arrivals.sum())
    # The estimate is of cases opened by reports; re-reports and appeals come on top.
    jury = simulate(world, policy, seed=seed).cases["jury"]
    cases = int((jury["kind_name"].astype(str) == "report").sum())
    # A count of rare independent events: Poisson, sd = sqrt(mean); 4 sd.
    assert expected > 100
    assert abs(cases - expected) < 4 * math.sqrt(expected) + 0.01 * expected


@pytest.mark.parametrize("seed", SEEDS)
def test_overload_warning_predicts_a_growing_backlog(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    world = tweak(quick_sampled, surges=[])
    jury_only = plain(jury_only)
    per_juror = team_loads(world, tweak(jury_only, jury__pool_size=1000))[0]
    load = team_loads(world, jury_only)[0].peak_per_hour
    # Pools at half and at three times the peak load.
    small_pool = round(1000 * 0.5 * load / per_juror.capacity_per_hour)
    big_pool = round(1000 * 3.0 * load / per_juror.capacity_per_hour)

    small = tweak(jury_only, jury__pool_size=small_pool)
    warnings = [f for f in check_run(world, small) if "never keep up" in f.message]
    assert len(warnings) == 1 and warnings[0].field == "jury.pool_size"
    arrivals, capacity = hourly_load(world, small)
    predicted = fluid_backlog(arrivals, capacity)
    backlog = simulate(world, small, seed=seed).summary["review"]["jury"]["backlog_end"]
    assert predicted > 200
    assert 0.7 * predicted < backlog < 1.3 * predicted

    big = tweak(jury_only, jury__pool_size=big_pool)
    assert not [f for f in check_run(world, big) if "never keep up" in f.message]
    r = simulate(world, big, seed=seed).summary["review"]["jury"]
    assert r["backlog_end"] < 0.05 * r["cases"]


def test_overload_warning_says_it_with_the_numbers() -> None:
    scenario = load_file(ROOT / "scenarios/parler-like.yaml")
    policy = load_file(ROOT / "policies/jury-only.yaml")
    (f,) = [f for f in check_run(scenario, policy) if "never keep up" in f.message]  # type: ignore[arg-type]
    assert f.level == "warning" and f.file == str(policy.path) and f.field == "jury.pool_size"
    text = (ROOT / "policies/jury-only.yaml").read_text().splitlines()
    assert f.line == 1 + next(i for i, t in enumerate(text) if t.strip().startswith("pool_size:"))
    load = team_loads(scenario.model, policy.model)[0]  # type: ignore[arg-type]
    assert f"{load.capacity_per_hour:,.0f} cases an hour" in f.message
    assert f"{load.peak_per_hour:,.0f} cases an hour" in f.message
    assert "1,000 jurors x 6.4% on duty x 40 votes/h / 5 votes per case" in f.message


def test_no_juror_ever_on_duty_is_an_error_that_run_refuses(
    quick: Scenario, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    text = (ROOT / "policies/jury-only.yaml").read_text()
    # Ten volunteers at 3% on duty: 0.3 jurors at an average hour.
    text = text.replace("active_share: 0.064", "active_share: 0.03")
    policy.write_text(text.replace("pool_size: 1000 ", "pool_size: 10   "))
    findings = check_run(quick, load_file(policy).model)  # type: ignore[arg-type]
    assert findings[0].level == "error" and "no juror is ever on duty" in findings[0].message
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(policy), "--out", str(out)]
    )
    assert res.exit_code == 2
    line = 1 + next(i for i, t in enumerate(text.splitlines()) if "active_share:" in t)
    assert f"{policy}:{line}: jury.active_share: no juror is ever on duty" in res.output
    assert "10 x 0.03 = 0.30 jurors" in res.output  # at most 0.49 in the busiest hour
    assert not out.exists()
    # ... and 10x the pool is enough.
    policy.write_text(text.replace("pool_size: 1000 ", "pool_size: 100  "))
    assert not [f for f in check_run(quick, load_file(policy).model) if f.level == "error"]  # type: ignore[arg-type]


def test_late_notice_response_warning_follows_the_numbers(
    quick: Scenario, jury_only: PlatformPolicy, strict_host: HostPolicy
) -> None:
    def late(policy: PlatformPolicy) -> list[str]:
        return [
            f.message
            for f in check_run(quick, policy, [strict_host])
            if "every notice" in f.message
        ]

    window = strict_host.notices.remediation_hours
    assert late(tweak(jury_only, notices__response_hours=window + 1))
    assert not late(tweak(jury_only, notices__response_hours=window))
    assert not late(tweak(jury_only, notices__response_hours=window + 1, notices__compliance=0.0))


def test_host_that_cannot_suspend_within_the_scenario_is_flagged(
    quick: Scenario, strict_host: HostPolicy, jury_only: PlatformPolicy
) -> None:
    def flagged(host: HostPolicy) -> bool:
        return any("cannot suspend" in f.message for f in check_run(quick, jury_only, [host]))

    slow = tweak(
        strict_host, suspension__notice_period_days=30.0, suspension__emergency__enabled=False
    )
    assert flagged(slow)
    assert not flagged(tweak(slow, suspension__notice_period_days=1.0))
    assert not flagged(tweak(slow, suspension__emergency__enabled=True))


def test_validate_checks_each_scenario_with_each_policy() -> None:
    files = [
        ROOT / "scenarios/parler-like.yaml",
        ROOT / "policies/jury-only.yaml",
        ROOT / "policies/ai-first.yaml",
    ]
    res = runner.invoke(app, ["validate", *map(str, files)])
    assert res.exit_code == 0, res.output  # warnings do not fail validation
    assert "the jury can never keep up at the scenario's peak" in res.output
    assert res.output.count("0 error(s)") == 2  # one line per scenario x policy pair
    assert "policies/ai-first.yaml: 0 error(s), 0 warning(s)" in res.output


def test_run_prints_and_records_the_warnings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    world = tmp_path / "quick-sampled.yaml"
    world.write_text(
        (ROOT / "scenarios/quick.yaml").read_text().replace("mode: text", "mode: sampled")
    )
    res = runner.invoke(
        app,
        [
            "run",
            str(world),
            "-p",
            str(ROOT / "policies/jury-only.yaml"),
            "-H",
            str(ROOT / "policies/host-strict-24h.yaml"),
            "--out",
            str(out),
            "-q",
            "--posts",
            "none",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "every notice becomes a strike" in res.output
    report = (out / "report.md").read_text()
    assert "every notice becomes a strike" in report


def test_missing_model_file_is_refused_before_the_results_folder_is_touched(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.yaml"
    text = (ROOT / "policies/jury-plus-ai.yaml").read_text()
    assert "source: synthetic" in text
    policy.write_text(text.replace("source: synthetic", "source: file, path: gone.skops"))
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(policy), "--out", str(out)]
    )
    assert res.exit_code == 2
    assert "prefilter.model.path: model file" in res.output and "gone.skops not found" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "blamed", "expected"),
    [
        (
            ["policies/jury-only.yaml", "-p", "scenarios/quick.yaml"],
            "policies/jury-only.yaml",
            "Scenario",
        ),
        (
            ["scenarios/quick.yaml", "-p", "scenarios/quick.yaml"],
            "scenarios/quick.yaml",
            "PlatformPolicy",
        ),
        (
            ["scenarios/quick.yaml", "-H", "policies/jury-only.yaml"],
            "policies/jury-only.yaml",
            "HostPolicy",
        ),
    ],
)
def test_run_refuses_a_file_of_the_wrong_kind_at_its_kind_line(
    tmp_path: Path, args: list[str], blamed: str, expected: str
) -> None:
    # Swapped arguments once reached the checks and stopped with an AttributeError.
    out = tmp_path / "out"
    full = [str(ROOT / a) if a.endswith(".yaml") else a for a in args]
    res = runner.invoke(app, ["run", *full, "--out", str(out)])
    assert res.exit_code == 2, res.output
    line = 1 + next(
        i for i, t in enumerate((ROOT / blamed).read_text().splitlines()) if t.startswith("kind:")
    )
    assert f"{ROOT / blamed}:{line}: kind: expected a {expected} document" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_account_fields_that_nothing_reads_are_named_where_a_scenario_sets_them(
    tmp_path: Path,
) -> None:
    """followers_median, followers_sigma and initial_age_days load (older scenarios
    keep working) but a scenario that sets one is warned at its line; the bundled
    Parler-like scenario sets none."""
    text = (ROOT / "scenarios/parler-like.yaml").read_text()
    assert "followers_median" not in text and "initial_age_days" not in text
    marked = text.replace(
        "  followers_reach_correlation: 0.5\n",
        "  followers_reach_correlation: 0.5\n  followers_median: 5000\n  initial_age_days: 3\n",
    )
    assert marked != text
    path = tmp_path / "old.yaml"
    path.write_text(marked)
    policy = load_file(ROOT / "policies/jury-three-strikes.yaml")
    findings = check_run(load_file(path), policy)
    inert = [f for f in findings if "has no effect" in f.message]
    assert [(f.level, f.field) for f in inert] == [
        ("warning", "accounts.followers_median"),
        ("warning", "accounts.initial_age_days"),
    ]
    line = marked.splitlines().index("  followers_median: 5000") + 1
    assert inert[0].file == str(path) and inert[0].line == line
    plain = check_run(load_file(ROOT / "scenarios/parler-like.yaml"), policy)
    assert not [f for f in plain if "has no effect" in f.message]
