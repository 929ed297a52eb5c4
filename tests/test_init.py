"""`modsim init`: a new project that validates, points editors at its schemas,
and never overwrites a user's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT
from typer.testing import CliRunner

from simulator.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "start, scenario", [("quick", "quick.yaml"), ("parler", "parler-like.yaml")]
)
def test_a_new_project_validates_and_finds_its_schemas(
    tmp_path: Path, start: str, scenario: str
) -> None:
    project = tmp_path / "mine"
    result = runner.invoke(app, ["init", str(project), "--from", start])
    assert result.exit_code == 0, result.output
    files = sorted(project.glob("*/*.yaml"))
    assert [f.name for f in files if f.parent.name == "scenarios"] == [scenario]
    assert len(files) == 4
    result = runner.invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 0, result.output
    for f in files:
        lines = f.read_text().splitlines()
        schema = lines[0].split("$schema=", 1)[1]
        assert (f.parent / schema).is_file(), f"{f}: its schema line points nowhere"
        # the bundled file, word for word, under a line that says where it came from
        bundled = (ROOT / f.parent.name / f.name).read_text().splitlines()
        assert lines[1].startswith("# Made by `modsim init`")
        assert [lines[0], *lines[2:]] == bundled


def test_init_never_writes_into_a_users_folder(tmp_path: Path) -> None:
    mine = tmp_path / "work"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["init", str(mine)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    result = runner.invoke(app, ["init", str(mine), "--force"])
    assert result.exit_code == 0 and (mine / "notes.txt").read_text() == "mine"
    assert "next:" in result.output and "modsim compare" in result.output
