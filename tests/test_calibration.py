"""`modsim calibrate` (kind: Calibration): a fit recovers known parameters,
resumes after an interruption with the same answer, does not depend on the
number of workers, measures what its targets name, and refuses bad input
with file, line and field."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import Counting, tweak, write_doc
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from simulator.api import simulate
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file
from simulator.config.calibration import SUMMARY_PATH, Calibration, Target
from simulator.document_checks import check_calibration
from simulator.experiments.calibration import (
    UNDEFINED_ERROR,
    calibrate,
    load_calibration_problem,
    target_error,
)
from simulator.experiments.calibration_analysis import tensions_table
from simulator.experiments.execution import Execution
from simulator.experiments.executors import SerialExecutor
from simulator.experiments.fields import apply_point
from simulator.experiments.measures import RUN_END, measure
from simulator.folders.load import load_results

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

PPU = "scenario.population.posts_per_user_per_day"
REPORTS = "scenario.audience.reports_per_1000_views.heated_political"
TRUE = {PPU: 0.5, REPORTS: 1.0}


def toy_doc(**changes: Any) -> dict[str, Any]:
    """Two days of the quick world in scale mode: two free scenario fields with
    strong effects (posts per user -> posts; reports of heated talk -> jury cases)."""
    doc: dict[str, Any] = {
        "kind": "Calibration",
        "version": 1,
        "name": "toy",
        "scenario": str(ROOT / "scenarios/quick.yaml"),
        "policy": str(ROOT / "policies/jury-only.yaml"),
        "overrides": {
            "scenario.days": 2,
            "scenario.surges": [],
            "scenario.content.texts.mode": "sampled",
        },
        "free": {PPU: {"low": 0.2, "high": 1.0}, REPORTS: {"low": 0.1, "high": 3.0}},
        "targets": [
            {
                "name": "posts",
                "metric": "posts.created",
                "observed": 1,
                "tolerance": 2000,
                "trust": "H",
                "source": "made by the test",
            },
            {
                "name": "cases",
                "metric": "review.jury.cases",
                "observed": 1,
                "tolerance": 50,
                "trust": "H",
            },
        ],
        "trials": 40,
        "seeds": 2,
    }
    doc.update(changes)
    return doc


def observed_at_truth(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its targets' observed values simulated at :data:`TRUE`
    (same seeds as the calibration's)."""
    problem = load_calibration_problem(Calibration.model_validate(doc), None)
    sc, pol, hosts = apply_point(problem.scenario, problem.policy, problem.hosts, TRUE)
    runs = [measure(simulate(sc, pol, hosts, s), problem.spec.targets) for s in problem.seeds]
    targets = [
        {**t, "observed": float(np.mean([r[t["name"]] for r in runs]))} for t in doc["targets"]
    ]
    return {**doc, "targets": targets}


def test_a_toy_calibration_recovers_the_parameters_it_was_made_with() -> None:
    doc = observed_at_truth(toy_doc())
    result = calibrate(
        Calibration.model_validate(doc), execution=Execution(executor=SerialExecutor())
    )
    assert result.accepted >= 2, result.candidates[["distance", PPU, REPORTS]]
    ranges = result.ranges.set_index("parameter")
    for path, true in TRUE.items():
        low, high = ranges.loc[path, "low"], ranges.loc[path, "high"]
        assert low <= true <= high, (path, low, high)
        # The targets pin the fields down: the accepted range is a small part of the prior.
        assert ranges.loc[path, "share_of_prior"] < 0.3
    fit = result.fit.set_index("target")
    for t in doc["targets"]:
        assert fit.loc[t["name"], "within"], fit
        assert abs(fit.loc[t["name"], "median"] - t["observed"]) <= t["tolerance"]
    # Accepted candidates are exactly those with every H/M target within tolerance.
    c = result.candidates
    within = (c["posts | error"].abs() <= 1) & (c["cases | error"].abs() <= 1)
    assert (c["accepted"] == within).all()


def small(tmp_path: Path, **changes: Any) -> Path:
    doc = toy_doc(**{"trials": 8, **changes})
    for t in doc["targets"]:
        t["observed"] = {"posts": 21500.0, "cases": 380.0}[t["name"]]
    return write_doc(tmp_path, doc, "cal.yaml")


def _same(a: Any, b: Any) -> None:
    cols = ["candidate", PPU, REPORTS, "distance", "posts", "cases", "accepted"]
    assert_frame_equal(a.candidates[cols], b.candidates[cols])
    assert_frame_equal(a.fit, b.fit)
    assert_frame_equal(a.ranges, b.ranges)


def test_an_interrupted_calibration_resumes_to_the_same_answer(tmp_path: Path) -> None:
    path = small(tmp_path)
    whole = calibrate(path, out=tmp_path / "whole", execution=Execution(executor=Counting()))
    out = tmp_path / "out"
    first = Counting(stop_after=11)  # in the second batch of 4 candidates x 2 seeds
    with pytest.raises(KeyboardInterrupt):
        calibrate(path, out=out, execution=Execution(executor=first))
    assert not (out / "calibration.json").exists()  # nothing looks complete
    kept = {p.stem for p in (out / "cells").glob("*.json")}
    assert len(kept) == 11
    second = Counting()
    resumed = calibrate(path, out=out, execution=Execution(executor=second))
    assert not set(second.ran) & kept, "a finished run was repeated"
    assert resumed.resumed == 4
    _same(whole, resumed)
    # Read back from the folder, the same tables; `modsim report` renders it.
    folder = load_results(out)
    _same(whole, folder.result)  # type: ignore[union-attr]
    res = runner.invoke(app, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Accepted ranges of the free fields" in md and "posts_per_user_per_day" in md


def test_the_answer_does_not_depend_on_the_workers(tmp_path: Path) -> None:
    path = small(tmp_path)
    one = calibrate(path, execution=Execution(workers=1))
    two = calibrate(path, execution=Execution(workers=2))
    _same(one, two)


def test_the_cli_prints_the_fit_and_writes_the_report(tmp_path: Path) -> None:
    path = small(tmp_path, trials=4)
    out = tmp_path / "out"
    res = runner.invoke(app, ["calibrate", str(path), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "Fit per target" in res.output and "Accepted ranges" in res.output
    for name in ("candidates.csv", "fit.csv", "calibration.json", "fit.png", "report.html"):
        assert (out / name).is_file(), name
    dry = runner.invoke(app, ["calibrate", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "nothing was run" in " ".join(dry.output.split())
    # The same command again: nothing left to do, no note. A changed question:
    # a fresh study, and the user is told.
    again = runner.invoke(app, ["calibrate", str(path), "--out", str(out), "--workers", "1"])
    assert again.exit_code == 0 and "fresh study" not in again.output
    changed = small(tmp_path, trials=4, free={PPU: {"low": 0.3, "high": 0.9}})
    res = runner.invoke(app, ["calibrate", str(changed), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "fresh study was started" in " ".join(res.output.split())


BAD = [
    ({"free": {"jury.pool_sized": {"low": 1, "high": 9}}}, "free.jury.pool_sized", "not a field"),
    ({"free": {PPU: {"low": 0.5, "high": 0.5}}}, f"free.{PPU}", "the range is empty"),
    ({"free": {PPU: {"low": -1.0, "high": 0.5}}}, f"free.{PPU}.low", "greater than 0"),
    (
        {
            "targets": [
                {"name": "x", "metric": "posts.made", "observed": 1, "tolerance": 1, "trust": "H"}
            ]
        },
        "targets[0].metric",
        "unknown summary path",
    ),
    (
        {
            "targets": [
                {
                    "name": "x",
                    "metric": "posts.created",
                    "observed": 1,
                    "tolerance": 0,
                    "trust": "H",
                }
            ]
        },
        "targets[0].tolerance",
        "greater than 0",
    ),
    (
        {
            "targets": [
                {
                    "name": "x",
                    "metric": "posts.created",
                    "observed": 1,
                    "tolerance": -2,
                    "trust": "H",
                }
            ]
        },
        "targets[0].tolerance",
        "greater than 0",
    ),
    (
        {
            "targets": [
                {
                    "name": "x",
                    "metric": "posts.created",
                    "observed": 1,
                    "tolerance": 1,
                    "trust": "high",
                }
            ]
        },
        "targets[0].trust",
        "'H', 'M' or 'L'",
    ),
    (
        {
            "targets": [
                {
                    "name": "x",
                    "event": "removed",
                    "enforcer": "nobody",
                    "observed": "2021-03-02T00:00:00Z",
                    "tolerance": 1,
                    "trust": "H",
                }
            ]
        },
        "targets[0].enforcer",
        "no enforcer is named 'nobody'",
    ),
    (
        {"free": {"hosts.0.notices.min_posts": {"low": 1, "high": 9, "integer": True}}},
        "free.hosts.0.notices.min_posts",
        "there is no enforcer 0",
    ),
    ({"seeds": 0}, "seeds", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_exits_2_with_file_line_and_field(
    tmp_path: Path, change: dict[str, Any], field: str, message: str
) -> None:
    path = write_doc(tmp_path, toy_doc(**change), "bad.yaml")
    res = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    found = re.search(rf"{re.escape(str(path))}:(\d+): {re.escape(field)}: ", res.output)
    assert found, res.output
    assert message in res.output, res.output
    # The line named is the one that holds the field's key.
    key = field.split("[")[0] if "." not in field else field.rsplit(".", 1)[-1]
    if field.startswith("free.") and field.count(".") <= 2 + field.startswith("free.hosts"):
        key = field.removeprefix("free.")
    text = path.read_text(encoding="utf-8").splitlines()[int(found.group(1)) - 1]
    assert f"{key}:" in text, (text, key)
    assert not (tmp_path / "o").exists()  # refused before anything was written


# What a target measures ----------------------------------------------------------------
def _watcher(host: HostPolicy) -> HostPolicy:
    """A host that hears of many posts, writes at once and never suspends."""
    return tweak(
        host,
        name="watcher",
        detection__outside_reports_per_million_views=2000.0,
        detection__audit__sample_size=0,
        detection__press__enabled=False,
        notices__every_hours=None,
        notices__min_posts=1,
        suspension__emergency__enabled=False,
        strikes__strikes_to_suspend=1000,
        strikes__warning_at=None,
    )


def _target(**kw: Any) -> Target:
    return Target.model_validate({"name": "t", "tolerance": 24, "trust": "H", **kw})


def test_measures_read_events_notices_and_backlogs_from_the_run(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    sc = tweak(quick_sampled, days=3, surges=[])
    host = _watcher(strike_host)
    # A store that delists at its first strike, half a day after its notice.
    store = tweak(
        host,
        name="store",
        effect="delist",
        notices__remediation_hours=6,
        strikes__strikes_to_suspend=1,
        suspension__notice_period_days=0.5,
    )
    result = simulate(sc, jury_only, [host, store], 1)
    delisted = result.summary["enforcement"]["enforcers"][1]
    assert delisted["removed_at"] is not None
    enforcer = result.summary["enforcement"]["enforcers"][0]
    assert enforcer["first_notice"] is not None
    first = dt.datetime.fromisoformat(enforcer["first_notice"])
    end = dt.datetime.fromisoformat(result.summary["run"]["end"])
    targets = [
        _target(name="first", event="first_notice", enforcer="watcher", observed=first),
        _target(name="never", event="removed", enforcer="watcher", observed=first),
        _target(name="all", noticed_by=end, enforcer="watcher", observed=0),
        _target(
            name="none yet",
            noticed_by=first - dt.timedelta(minutes=1),
            enforcer="watcher",
            observed=0,
        ),
        _target(name="backlog", backlog_at=end - dt.timedelta(hours=5), observed=0),
        _target(name="cases", metric="jury_cases", observed=0),
        _target(name="cases path", metric="review.jury.cases", observed=0),
    ]
    targets += [
        _target(name="final", event="final_notice", enforcer="store", observed=first),
        _target(name="strike notice", event="removal_notice", enforcer="store", observed=first),
        _target(name="delisted", event="removed", enforcer="store", observed=first),
        _target(name="no final", event="final_notice", enforcer="watcher", observed=first),
    ]
    m = measure(result, targets)
    notice = dt.datetime.fromisoformat(delisted["removal_notice_at"])
    assert m["final"] == m["strike notice"] == pytest.approx(notice.timestamp() / 3600)
    assert m["delisted"] == pytest.approx(m["final"] + 12)  # the half-day notice period
    assert math.isnan(m["no final"])
    assert m["first"] == pytest.approx(first.timestamp() / 3600)
    assert math.isnan(m["never"])  # did not happen: nan, never a made-up time
    assert m["all"] == enforcer["posts_noticed"] > 0
    assert m["none yet"] == 0
    b = result.backlog
    hour = (
        end - dt.timedelta(hours=5) - dt.datetime.fromisoformat(result.summary["run"]["start"])
    ) / dt.timedelta(hours=1)
    assert m["backlog"] == float(b[(b["team"] == "jury") & (b["hour"] <= hour)]["waiting"].iloc[-1])
    assert m["cases"] == m["cases path"] == result.summary["review"]["jury"]["cases"]
    assert m[RUN_END] == pytest.approx(end.timestamp() / 3600)


def test_an_event_that_did_not_happen_counts_one_tolerance_after_the_run() -> None:
    at = dt.datetime(2021, 1, 10, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    t = _target(event="removed", enforcer="h", observed=at, tolerance=24)
    obs = at.timestamp() / 3600
    # One seed on time, one never (its run ended 12 h after the observed time).
    fit = target_error(t, [obs, math.nan], [obs + 100, obs + 12])
    assert fit["missing"] == 1
    assert fit["mean"] == pytest.approx(obs + (12 + 24) / 2)
    assert fit["error"] == pytest.approx(18 / 24)
    # A metric no seed could measure is a stated penalty, not a silent zero.
    undefined = target_error(_target(metric="latency_p90_hours", observed=5), [math.nan], [0.0])
    assert undefined["error"] == UNDEFINED_ERROR


def test_targets_pulling_against_each_other_are_named() -> None:
    spec = Calibration.model_validate(toy_doc())
    x = np.linspace(-2, 2, 12)
    frame = pd.DataFrame(
        {
            "state": "COMPLETE",
            "posts | error": x,
            "cases | error": -x + 0.01 * np.sin(x),  # raising one lowers the other
        }
    )
    table = tensions_table(spec, frame)
    assert list(table[["first", "second"]].iloc[0]) == ["posts", "cases"]
    assert table["rho"].iloc[0] == pytest.approx(-1.0)
    # Errors moving together are no tension.
    together = frame.assign(**{"cases | error": x})
    assert tensions_table(spec, together).empty


def test_every_numeric_leaf_of_a_run_summary_is_a_valid_summary_path(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    result = simulate(tweak(quick_sampled, days=1, surges=[]), jury_only, [strike_host], 0)
    leaves: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            leaves.append(path)

    summary = {
        k: v
        for k, v in result.summary.items()
        if k in ("posts", "violating", "legitimate", "review", "jurors", "appeals", "cost")
    }
    summary["enforcement"] = {
        k: v for k, v in result.summary["enforcement"].items() if k != "enforcers"
    }
    walk(summary, "")
    missing = [p for p in leaves if not SUMMARY_PATH.match(p)]
    assert not missing


def test_the_bundled_calibration_passes_its_checks() -> None:
    loaded = load_file(ROOT / "examples" / "parler-calibration.yaml")
    assert check_calibration(loaded) == []  # type: ignore[arg-type]
    spec = loaded.model
    assert isinstance(spec, Calibration)
    # Every target names its source, and the enforcers are the document's hosts.
    assert all(t.source for t in spec.targets)
    assert {t.trust for t in spec.targets} <= {"H", "M"}
