"""Checks of documents that change others (a search's overrides and searched
values, a batch's sweeps) and of the world a scenario makes (issue 19, items 8, 10).

Each bad value is reported at its own line in the search or batch file, by
``modsim validate`` and before ``optimize``, ``robustness`` or ``batch`` run
anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, optimization_doc, write_doc
from typer.testing import CliRunner

from simulator.checks import check_run, check_scenario
from simulator.cli import app
from simulator.config import load_file
from simulator.document_checks import check_batch, check_optimization

CORPUS = ROOT / "tests" / "malformed"
runner = CliRunner()


def loaded(path: Path) -> Any:
    return load_file(path)


def test_the_bundled_search_and_batch_pass_their_checks() -> None:
    assert check_optimization(loaded(ROOT / "examples" / "parler-not-suspended.yaml")) == []
    assert check_batch(loaded(ROOT / "batches" / "jury-size.yaml")) == []
    for scenario in (ROOT / "scenarios").glob("*.yaml"):
        assert check_scenario(loaded(scenario)) == []


@pytest.mark.parametrize("command", ["optimize", "robustness"])
def test_a_bad_override_stops_the_search_before_any_run_with_file_and_line(
    tmp_path: Path, command: str
) -> None:
    bad = CORPUS / "search-override-days-zero.yaml"
    out = tmp_path / "out"
    res = runner.invoke(app, [command, str(bad), "--out", str(out), "-w", "1", "-q"])
    assert res.exit_code == 2, res.output
    # It used to say "<input>: days: ..." after creating the results folder.
    assert f"{bad}:8: overrides.scenario.days: " in res.output
    assert "<input>" not in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_overrides_that_must_change_together_are_applied_together(tmp_path: Path) -> None:
    # Either override alone breaks the jury's rules (4 of 3 votes; 2 of 5 under
    # unanimity is fine, but 4 votes to remove out of 3 is not): together they hold.
    doc = optimization_doc(
        overrides={"jury.votes_per_case": 3, "jury.votes_to_remove": 2, "jury.rule": "threshold"}
    )
    assert check_optimization(loaded(write_doc(tmp_path, doc))) == []
    doc["overrides"] = {"jury.votes_per_case": 3}
    (finding,) = check_optimization(loaded(write_doc(tmp_path, doc)))
    assert finding.field == "overrides.jury.votes_per_case"
    assert "votes_to_remove (4) exceeds votes_per_case (3)" in finding.message


def test_a_searched_choice_the_field_cannot_take_is_named_by_index(tmp_path: Path) -> None:
    doc = optimization_doc(search={"jury.pool_size": {"choices": [20, True, -3]}})
    path = write_doc(tmp_path, doc)
    found = {f.field: f for f in check_optimization(loaded(path))}
    assert set(found) == {"search.jury.pool_size.choices[1]", "search.jury.pool_size.choices[2]"}
    assert (
        "got true (true and false are booleans" in found["search.jury.pool_size.choices[1]"].message
    )
    assert all(f.file == str(path) and f.line is not None for f in found.values())


def test_a_searched_combination_the_policy_refuses_is_left_to_the_search(tmp_path: Path) -> None:
    # votes_to_remove 9 exceeds the base's 5 votes, but the search also varies
    # votes_per_case: only the search can tell which pairs are feasible.
    doc = optimization_doc(
        search={
            "jury.votes_per_case": {"choices": [5, 9]},
            "jury.votes_to_remove": {"choices": [4, 9]},
        }
    )
    assert check_optimization(loaded(write_doc(tmp_path, doc))) == []


def test_a_bad_sweep_value_stops_the_batch_before_any_run_with_its_line(tmp_path: Path) -> None:
    bad = CORPUS / "batch-sweep-value-negative.yaml"
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", str(bad), "--out", str(out), "-w", "1", "-q"])
    assert res.exit_code == 2, res.output
    assert f"{bad}:10: sweep.jury.pool_size[1]: " in res.output
    assert not out.exists()


def test_sweep_values_that_clash_only_in_combination_are_found(tmp_path: Path) -> None:
    batch = tmp_path / "b.yaml"
    batch.write_text(
        "kind: Batch\nversion: 1\nname: b\n"
        f"scenarios: [{ROOT / 'scenarios/quick.yaml'}]\n"
        f"policies: [{ROOT / 'policies/jury-only.yaml'}]\n"
        "sweep:\n  jury.votes_per_case: [5, 3]\n  jury.votes_to_remove: [4]\n"
    )
    (finding,) = check_batch(loaded(batch))
    # Either value of the pair is at fault; the message names both.
    assert (finding.line, finding.field) == (8, "sweep.jury.votes_to_remove[0]")
    assert "votes_to_remove (4) exceeds votes_per_case (3)" in finding.message
    assert "jury.votes_per_case = 3, jury.votes_to_remove = 4" in finding.message
    zipped = batch.read_text() + "combine: zip\n"
    batch.write_text(zipped.replace("[4]", "[4, 2]"))
    assert check_batch(loaded(batch)) == []


def test_a_scenario_without_posts_is_refused_before_a_run(tmp_path: Path) -> None:
    empty = CORPUS / "scenario-zero-users.yaml"
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["run", str(empty), "-p", str(ROOT / "policies/jury-only.yaml"), "--no-host",
              "--out", str(out)]
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert f"{empty}:7: population.daily_active_users: the world is empty" in res.output
    assert not out.exists()
    findings = check_run(loaded(empty), loaded(ROOT / "policies/jury-only.yaml"))
    assert [f.level for f in findings if "world is empty" in f.message] == ["error"]


def test_a_scenario_with_a_few_posts_is_not_an_empty_world(tmp_path: Path) -> None:
    # 2 users x 0.5 posts a day x 2 days: about 2 posts, a small world but not empty.
    text = (CORPUS / "scenario-zero-users.yaml").read_text().replace("users: 0", "users: 2")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert check_scenario(loaded(path)) == []


def test_a_sweep_value_that_breaks_another_field_is_blamed_on_its_own_line(
    tmp_path: Path,
) -> None:
    # 3 days end before the quick scenario's surge: the error is the surge's,
    # the value at fault is days' second.
    batch = tmp_path / "b.yaml"
    batch.write_text(
        "kind: Batch\nversion: 1\nname: b\n"
        f"scenarios: [{ROOT / 'scenarios/quick.yaml'}]\n"
        f"policies: [{ROOT / 'policies/jury-only.yaml'}]\n"
        "sweep:\n  scenario.days:\n    - 7\n    - 3\n"
    )
    (finding,) = check_batch(loaded(batch))
    assert (finding.line, finding.field) == (9, "sweep.scenario.days[1]")
    assert "is invalid: surges[0]" in finding.message and "outside the scenario" in finding.message
