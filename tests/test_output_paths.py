"""Output paths modsim cannot write: every command exits 2 naming the path and
the reason, never with a traceback (issue 19, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT
from typer.testing import CliRunner

from simulator.cli import app

runner = CliRunner()
POLICY = ROOT / "policies/jury-only.yaml"
HOST = ROOT / "policies/host-notice-and-strike.yaml"
EXAMPLE = ROOT / "examples/parler-not-suspended.yaml"


@pytest.fixture(scope="module")
def run_folder(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    args = ["run", str(tiny_world), "-p", str(POLICY), "--no-host", "-q", "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(params=["under a file", "in /proc"])
def unwritable(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """A path that cannot be created, and the reason the system gives."""
    if request.param == "under a file":
        (tmp_path / "afile").write_text("not a folder\n")
        return tmp_path / "afile" / "sub", "Not a directory"
    return Path("/proc/modsim-cannot-write-here"), "No such file or directory"


def _refused(args: list[str], path: Path, reason: str) -> None:
    r = runner.invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert str(path) in r.output and reason in r.output, r.output


def test_run_out(tiny_world: Path, unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    args = ["run", str(tiny_world), "-p", str(POLICY), "--no-host", "-q", "--out", str(path)]
    _refused(args, path, reason)


def test_batch_out(unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    _refused(["batch", str(ROOT / "batches/jury-size.yaml"), "--out", str(path)], path, reason)


def test_optimize_out(unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    _refused(["optimize", str(EXAMPLE), "-q", "--out", str(path)], path, reason)


def test_robustness_out(unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    _refused(["robustness", str(EXAMPLE), "-q", "--out", str(path)], path, reason)


def test_calibrate_out(unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    example = ROOT / "examples/parler-calibration.yaml"
    _refused(["calibrate", str(example), "-q", "--out", str(path)], path, reason)


def test_report_out(run_folder: Path, unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    html = path.with_name("x.html")  # beside `path`: in the file's "folder", or in /proc
    _refused(["report", str(run_folder), "-o", str(html)], html, reason)


def test_schema_out(unwritable: tuple[Path, str]) -> None:
    path, reason = unwritable
    _refused(["schema", "--out", str(path)], path, reason)
