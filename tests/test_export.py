"""Excel export: a results folder's tables, one sheet each, as the CSVs hold them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import tweak
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.config import PlatformPolicy, Scenario
from simulator.experiments.execution import Execution
from simulator.folders.run import write_run

runner = CliRunner()


@pytest.fixture(scope="module")
def folders(
    tmp_path_factory: pytest.TempPathFactory, quick_sampled: Scenario, jury_only: PlatformPolicy
) -> tuple[Path, Path]:
    world = tweak(quick_sampled, days=2, surges=[])
    base = tmp_path_factory.mktemp("export")
    run = base / "run"
    write_run(simulator.simulate(world, jury_only, seed=2), run)
    cmp = base / "cmp"
    small = tweak(jury_only, name="small jury", jury__pool_size=20)
    simulator.compare(world, [jury_only, small], seeds=2, out=cmp, execution=Execution(workers=1))
    return run, cmp


@pytest.mark.parametrize("which", [0, 1], ids=["run", "compare"])
def test_every_csv_table_is_a_sheet_with_the_same_values(folders, which, tmp_path) -> None:
    folder = folders[which]
    out = tmp_path / "book.xlsx"
    result = runner.invoke(app, ["export", str(folder), "--xlsx", str(out)])
    assert result.exit_code == 0, result.output
    book = pd.read_excel(out, sheet_name=None)
    assert next(iter(book)) == "about"
    for csv in folder.glob("*.csv"):
        expected = pd.read_csv(csv)
        got = book[csv.stem]
        assert list(got.columns) == list(expected.columns)
        assert len(got) == len(expected)
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), expected, check_dtype=False, check_exact=False
        )
    about = dict(zip(book["about"]["about"], book["about"]["value"], strict=True))
    assert about["kind"] == ("run" if which == 0 else "compare")
    if which == 0:  # the per-case Parquet log is left out, and said so
        assert "cases_jury.parquet" in about["left out"]
        summary = json.loads((folder / "summary.json").read_text())
        flat = dict(zip(book["summary"]["field"], book["summary"]["value"], strict=True))
        assert flat["legitimate.wrongly_removed"] == summary["legitimate"]["wrongly_removed"]


def test_bad_requests_are_clear_errors(folders, tmp_path: Path) -> None:
    run, _ = folders
    taken = tmp_path / "taken.xlsx"
    taken.write_bytes(b"mine")
    result = runner.invoke(app, ["export", str(run), "--xlsx", str(taken)])
    assert result.exit_code == 2 and "--force" in result.output
    assert taken.read_bytes() == b"mine"  # nothing of the user's is lost
    result = runner.invoke(app, ["export", str(run), "--xlsx", str(tmp_path / "b.csv")])
    assert result.exit_code == 2 and ".xlsx" in result.output
    result = runner.invoke(app, ["export", str(tmp_path), "--xlsx", str(tmp_path / "c.xlsx")])
    assert result.exit_code == 2 and "not a results folder" in result.output
    assert not (tmp_path / "c.xlsx").exists()
