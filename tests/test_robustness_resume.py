"""A robustness study with an output folder keeps every finished run and, run
again, runs only what is left: the same answer as an uninterrupted study."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from helpers import Counting, optimization_doc, tweak, write_doc
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.errors import ModsimError
from simulator.experiments.execution import Execution
from simulator.experiments.robustness import RobustnessResult, robustness
from simulator.folders.experiment import ResultStore


@pytest.fixture
def study(quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy) -> Any:
    """A tiny study: 2 inputs, 2 Morris trajectories (6 scenarios), 2 seeds."""
    return partial(
        robustness,
        quick_sampled,
        [tweak(jury_only, jury__pool_size=60)],
        uncertain={"jury.active_share": (0.01, 0.2), "reach.half_life_hours": (4.0, 8.0)},
        hosts=[strike_host],
        constraints=["jury_backlog_max <= 50"],
        samples=2,
        seeds=2,
    )


def _same_tables(a: RobustnessResult, b: RobustnessResult) -> None:
    assert_frame_equal(a.runs, b.runs)
    assert_frame_equal(a.table, b.table)
    assert_frame_equal(a.sensitivity, b.sensitivity)


def _manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "experiment.json").read_text(encoding="utf-8"))


def test_an_interrupted_study_resumes_without_repeating_runs(tmp_path: Path, study: Any) -> None:
    whole = Counting()
    reference = study(out=tmp_path / "fresh", execution=Execution(executor=whole))
    assert len(whole.ran) == len(set(whole.ran)) == reference.new_runs  # each run once
    assert reference.resumed_runs == 0
    assert len(reference.sensitivity), "the study should rank something"

    out = tmp_path / "out"
    first = Counting(stop_after=4)
    with pytest.raises(KeyboardInterrupt):
        study(out=out, execution=Execution(executor=first))
    kept = {p.stem for p in (out / "cells").glob("*.json")}
    assert kept == set(first.ran) and len(kept) == 4  # every finished run was kept
    assert _manifest(out) == {"kind": "robustness", "name": "robustness"}

    second = Counting()
    ticks: list[tuple[int, int]] = []
    resumed = study(
        out=out,
        execution=Execution(executor=second, progress=lambda t: ticks.append((t.done, t.total))),
    )
    assert not set(second.ran) & kept, "a finished run was repeated"
    assert len(second.ran) == len(set(second.ran)) == len(whole.ran) - 4
    assert set(second.ran) | kept == set(whole.ran)
    assert (resumed.resumed_runs, resumed.new_runs) == (4, len(second.ran))
    # Progress counts every cell: the ones found first, then each one run.
    total = ticks[-1][1]
    assert ticks[0][0] >= 4 and ticks[-1] == (total, total)
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    _same_tables(resumed, reference)

    third = Counting()
    again = study(out=out, execution=Execution(executor=third))
    assert third.ran == [] and again.new_runs == 0
    assert again.resumed_runs == len(whole.ran)
    _same_tables(again, reference)


def test_a_search_folder_keeps_its_manifest_and_a_foreign_folder_is_refused(
    tmp_path: Path, study: Any
) -> None:
    small = partial(study, samples=2, seeds=1)
    search = tmp_path / "search"
    ResultStore.open(search).write_manifest({"kind": "optimization", "name": "small jury"})
    before = (search / "experiment.json").read_bytes()
    ran = Counting()
    small(out=search, execution=Execution(executor=ran))
    assert (search / "experiment.json").read_bytes() == before
    assert {p.stem for p in (search / "cells").glob("*.json")} == set(ran.ran)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ModsimError, match="not empty"):
        small(out=foreign, execution=Execution(executor=Counting()))
    assert (foreign / "notes.txt").is_file()
    wiped = Counting()
    small(out=foreign, force=True, execution=Execution(executor=wiped))
    assert not (foreign / "notes.txt").exists()
    assert _manifest(foreign)["kind"] == "robustness"
    assert len(wiped.ran) == len(ran.ran)


def test_equal_cells_run_once(study: Any) -> None:
    # Every point rounds to a jury of 60: four scenarios, one run.
    ran = Counting()
    result = study(
        uncertain={"jury.pool_size": (60, 60.4)},
        samples=2,
        seeds=1,
        execution=Execution(executor=ran),
    )
    assert len(ran.ran) == result.new_runs == 1
    assert result.points == 4 and (result.runs["seeds"] == 1).all()


def _counts(output: str) -> tuple[int, int]:
    found = re.search(
        r"\((\d+) found finished, (\d+) run now\)", output.split("robustness runs")[1]
    )
    assert found, output
    return int(found[1]), int(found[2])


def test_cli_robustness_resumes_from_its_out_folder(tmp_path: Path) -> None:
    doc = optimization_doc(
        robustness={"uncertain": {"jury.active_share": {"low": 0.01, "high": 0.2}}, "samples": 2}
    )
    path = write_doc(tmp_path, doc)
    out = tmp_path / "rob"
    runner = CliRunner()
    command = ["robustness", str(path), "--out", str(out), "-w", "1", "-q"]
    res = runner.invoke(app, command)
    assert res.exit_code == 0, res.output
    found, now = _counts(res.output)
    assert found == 0 and now > 0
    assert (out / "robustness.csv").is_file()
    # The folder is a robustness study to `modsim report`, which rebuilds its report.
    html = (out / "report.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").read_text(encoding="utf-8") == html
    assert 'id="tbl-robustness"' in html and 'id="fig-sensitivity"' in html
    res = runner.invoke(app, command)
    assert res.exit_code == 0, res.output
    assert _counts(res.output) == (now, 0)
    res = runner.invoke(app, [*command, "--force"])
    assert res.exit_code == 0, res.output
    assert _counts(res.output) == (0, now)


def test_cli_optimize_keeps_its_robustness_runs_in_the_search_folder(tmp_path: Path) -> None:
    doc = optimization_doc(
        trials=2,
        search={"jury.pool_size": {"choices": [320, 640]}},
        robustness={"uncertain": {"jury.active_share": {"low": 0.01, "high": 0.2}}, "samples": 2},
    )
    path = write_doc(tmp_path, doc)
    out = tmp_path / "search"
    runner = CliRunner()
    command = ["optimize", str(path), "--out", str(out), "--robustness", "-w", "1", "-q"]
    res = runner.invoke(app, command)
    assert res.exit_code == 0, res.output
    found, now = _counts(res.output)
    assert found == 0 and now > 0
    assert _manifest(out)["kind"] == "optimization"
    assert (out / "study.db").is_file() and (out / "robustness.csv").is_file()
    res = runner.invoke(app, command)
    assert res.exit_code == 0, res.output
    assert _counts(res.output) == (now, 0)
    assert "0 runs now" in res.output  # the search resumed as well
