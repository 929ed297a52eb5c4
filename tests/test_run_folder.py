"""A run's results folder: one writer at a time, ``summary.json`` last, the same
``posts.parquet`` whatever the chunk size, temporary files no two writers share,
and files that follow the umask (issue 19, items 1, 2 and 9)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import ROOT
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from simulator.cli import app
from simulator.errors import ModsimError
from simulator.folders.atomic import CLAIM, PARTIAL, temporary, write_atomic
from simulator.folders.experiment import ResultStore
from simulator.folders.load import load_results
from simulator.folders.run import ParquetSink, RunWriter

runner = CliRunner()
POLICY = ROOT / "policies/jury-only.yaml"
HOST = ROOT / "policies/host-notice-and-strike.yaml"


def run_args(world: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(world), "-p", str(POLICY), "-H", str(HOST), "--out", str(out), "-q", *extra]


def leftovers(folder: Path) -> list[str]:
    """Claims and temporary files: what a writer must never leave behind."""
    return [p.name for p in folder.iterdir() if p.name == CLAIM or p.name.endswith(PARTIAL)]


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick world's week in scale mode (scores drawn, no texts), as a file."""
    path = tmp_path_factory.mktemp("world") / "week.yaml"
    text = (ROOT / "scenarios/quick.yaml").read_text()
    path.write_text(text.replace("mode: text", "mode: sampled"))
    return path


# One writer per folder -----------------------------------------------------------------
@pytest.mark.parametrize("force", [False, True], ids=["plain", "--force"])
def test_a_second_writer_into_the_same_folder_is_refused(
    tiny_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, force: bool
) -> None:
    """While one `modsim run` writes, another process into the same --out exits 2
    (even with --force, which must not wipe a folder being written) and the
    first one's folder comes out whole."""
    out = tmp_path / "out"
    second: list[subprocess.CompletedProcess[str]] = []
    real_call = ParquetSink.__call__

    def start_a_second_writer(self: ParquetSink, frame: Any) -> None:
        if not second:  # the first writer holds the folder now
            cmd = run_args(tiny_world, out, "--posts", "all") + (["--force"] if force else [])
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            second.append(
                subprocess.run(
                    [sys.executable, "-m", "simulator", *cmd],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
            )
        real_call(self, frame)

    monkeypatch.setattr(ParquetSink, "__call__", start_a_second_writer)
    first = runner.invoke(app, run_args(tiny_world, out, "--posts", "all"))
    assert first.exit_code == 0, first.output
    assert second and second[0].returncode == 2, second[0].stderr
    assert f"{out}: another modsim is writing to this folder" in second[0].stderr
    assert "Traceback" not in second[0].stderr
    # The first writer's folder is complete and the same as an undisturbed run's.
    monkeypatch.setattr(ParquetSink, "__call__", real_call)
    clean = tmp_path / "clean"
    assert runner.invoke(app, run_args(tiny_world, clean, "--posts", "all")).exit_code == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(p.name for p in clean.iterdir())
    for name in files:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert leftovers(out) == []


def test_the_claim_is_exclusive_and_released(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with RunWriter(out):
        assert (out / CLAIM).is_file()
        with pytest.raises(ModsimError, match="another modsim is writing to this folder"):
            RunWriter(out, force=True).claim()
        assert (out / CLAIM).is_file(), "the refused writer took the first one's claim away"
    assert not (out / CLAIM).exists()
    with pytest.raises(RuntimeError), RunWriter(out, force=True):
        raise RuntimeError("a failing run")
    assert not (out / CLAIM).exists()


def test_an_experiment_never_wipes_a_run_being_written(tmp_path: Path) -> None:
    with RunWriter(tmp_path / "out") as writer:
        (writer.root / "daily.csv").write_text("day\n")
        with pytest.raises(ModsimError, match="another modsim is writing to this folder"):
            ResultStore.open(writer.root, force=True)
        assert (writer.root / "daily.csv").is_file() and (writer.root / CLAIM).is_file()


def test_a_folder_with_other_files_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModsimError, match="not empty"):
        RunWriter(tmp_path).claim()
    assert (tmp_path / "notes.txt").read_text() == "mine" and leftovers(tmp_path) == []
    with RunWriter(tmp_path, force=True):
        assert [p.name for p in tmp_path.iterdir()] == [CLAIM]


# summary.json last ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failure", "code"), [(RuntimeError("report bug"), 1), (KeyboardInterrupt(), 130)]
)
def test_a_run_that_fails_writing_its_report_does_not_look_complete(
    tiny_world: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    code: int,
) -> None:
    import simulator.report.html as html

    def fail(*_: Any) -> str:
        raise failure

    monkeypatch.setattr(html, "render_html", fail)
    out = tmp_path / "out"
    res = runner.invoke(app, run_args(tiny_world, out, "--posts", "all"))
    assert res.exit_code == code, res.output
    left = sorted(p.name for p in out.iterdir())
    assert "posts.parquet" in left and "daily.csv" in left  # it got as far as the report
    assert "summary.json" not in left and leftovers(out) == []
    with pytest.raises(ModsimError, match="not a results folder"):
        load_results(out)
    monkeypatch.undo()
    again = runner.invoke(app, run_args(tiny_world, out, "--posts", "all", "--force"))
    assert again.exit_code == 0, again.output
    assert load_results(out).kind == "run"


# posts.parquet whatever the chunk size --------------------------------------------------
@pytest.mark.parametrize("posts", ["all", "touched"])
def test_posts_table_is_the_same_for_every_chunk_size(
    week: Path, tmp_path: Path, posts: str
) -> None:
    tables = {}
    # chunks of 1, 3 and 7 days; and days made 500 posts at a time with tables
    # spilled to disk beyond 64 rows (the memory options: never the results)
    for name, extra in (
        ("1", ()),
        ("3", ()),
        ("7", ()),
        ("sliced", ("--slice-posts", "500", "--spill-rows", "64")),
    ):
        out = tmp_path / f"chunk{name}"
        chunk = name if name.isdigit() else "1"
        args = run_args(week, out, "--chunk-days", chunk, "--posts", posts, *extra)
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        tables[name] = out / "posts.parquet"
    first = pd.read_parquet(tables["1"])
    assert first["post_id"].is_unique and first["post_id"].is_monotonic_increasing
    assert len(first) > 1000
    for name in ("3", "7", "sliced"):
        assert_frame_equal(pd.read_parquet(tables[name]), first)
        assert tables[name].read_bytes() == tables["1"].read_bytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_sink_sorts_batches_in_any_order(tmp_path: Path, seed: int) -> None:
    """Overlapping, unsorted and out-of-order batches, across several row
    groups: the file holds every row once, by post_id."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.permutation(300_000)
    cls = pd.Categorical.from_codes(ids % 3, categories=["a", "b", "c", "unused"])
    frame = pd.DataFrame({"post_id": ids, "x": ids * 2.0, "cls": cls})
    sink = ParquetSink(tmp_path / "posts.parquet")
    cuts = np.sort(rng.choice(np.arange(1, len(ids)), size=40, replace=False))
    for part in np.split(np.arange(len(ids)), cuts):
        sink(frame.iloc[part])
    assert sink.close(ok=True) == tmp_path / "posts.parquet"
    got = pd.read_parquet(tmp_path / "posts.parquet")
    want = frame.sort_values("post_id", ignore_index=True)
    assert_frame_equal(got, want)
    assert leftovers(tmp_path) == []


# Temporary files and permissions --------------------------------------------------------
def test_two_writers_of_one_file_never_share_a_temporary_name(tmp_path: Path) -> None:
    """A writer that starts while another is writing the same file (as two
    processes would): each fills its own temporary file, so the file ends
    whole (the last writer's) and nothing is left behind."""
    target = tmp_path / "posts.parquet"

    def outer(path: Path) -> None:
        with path.open("w") as f:
            f.write("outer, first half; ")
            f.flush()
            write_atomic(target, lambda p: p.write_text("inner, whole"))
            f.write("outer, second half")

    write_atomic(target, outer)
    assert target.read_text() == "outer, first half; outer, second half"
    assert [p.name for p in tmp_path.iterdir()] == ["posts.parquet"]
    a, b = temporary(target), temporary(target)
    assert a != b and a.name.startswith(".posts.parquet.") and a.name.endswith(PARTIAL)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_results_follow_the_umask(tiny_world: Path, tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        res = runner.invoke(app, run_args(tiny_world, tmp_path / "out", "--posts", "all"))
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out").iterdir()}
    assert "posts.parquet" in modes and "report.html" in modes
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)


def test_python_dash_m_simulator_runs_text_mode_on_worker_processes(tmp_path: Path) -> None:
    """`python -m simulator` is the package's __main__: the worker processes that score
    texts import it again, so it must not start the CLI when they do (it was refused as
    a script that starts workers at its top level)."""
    text = (ROOT / "scenarios/quick.yaml").read_text().replace("days: 7", "days: 1")
    world = tmp_path / "tiny-text.yaml"
    world.write_text(text.split("surges:")[0])
    assert "mode: text" in world.read_text()
    out = tmp_path / "out"
    cmd = ["run", str(world), "-p", str(ROOT / "policies/ai-first.yaml"), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "simulator", *cmd, "-q", "--workers", "2"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "summary.json").is_file()
