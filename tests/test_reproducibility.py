"""Exact reproducibility, provenance, and what an interrupted run leaves behind.

Everything goes through the real command (``modsim run``) and compares the
files it writes byte for byte: same inputs and seed must give the same bytes,
whatever the chunk size; the summary and the report must say which versions,
seed and input files (by hash) produced them; Ctrl-C must leave no file that
looks complete and must say how to carry on.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from importlib import metadata
from pathlib import Path

import pytest
from helpers import ROOT
from typer.testing import CliRunner

from simulator.cli import app
from simulator.folders.run import ParquetSink

SEEDS = [1, 2, 3]
POLICY = ROOT / "policies/jury-only.yaml"
HOST = ROOT / "policies/host-notice-and-strike.yaml"

runner = CliRunner()


@pytest.fixture(scope="module")
def sampled_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick world in scale mode (scores drawn, no texts), as a file."""
    text = (ROOT / "scenarios/quick.yaml").read_text()
    path = tmp_path_factory.mktemp("world") / "quick-sampled.yaml"
    path.write_text(text.replace("mode: text", "mode: sampled"))
    return path


def modsim_run(scenario: Path, out: Path, *extra: str, policy: Path = POLICY) -> None:
    res = runner.invoke(
        app,
        ["run", str(scenario), "-p", str(policy), "-H", str(HOST), "--out", str(out), "-q", *extra],
    )
    assert res.exit_code == 0, res.output


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("seed", SEEDS)
def test_two_runs_write_byte_identical_files(
    sampled_world: Path, tmp_path: Path, seed: int
) -> None:
    modsim_run(sampled_world, tmp_path / "a", "--seed", str(seed), "--posts", "all")
    modsim_run(sampled_world, tmp_path / "b", "--seed", str(seed), "--posts", "all")
    a, b = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert "summary.json" in a and "posts.parquet" in a
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with seed {seed}"


def test_a_different_seed_changes_the_summary(sampled_world: Path, tmp_path: Path) -> None:
    """Negative control: the byte comparisons above would pass if the seed were ignored."""
    modsim_run(sampled_world, tmp_path / "a", "--seed", "1", "--posts", "none")
    modsim_run(sampled_world, tmp_path / "b", "--seed", "2", "--posts", "none")
    a = json.loads((tmp_path / "a/summary.json").read_text())
    b = json.loads((tmp_path / "b/summary.json").read_text())
    assert a["posts"] != b["posts"]


@pytest.mark.parametrize("seed", SEEDS)
def test_scale_mode_summary_is_byte_identical_across_chunk_sizes(
    sampled_world: Path, tmp_path: Path, seed: int
) -> None:
    outs = []
    for chunk in (1, 3, 7):
        out = tmp_path / f"chunk{chunk}"
        modsim_run(sampled_world, out, "--seed", str(seed), "--chunk-days", str(chunk))
        outs.append(out)
    first = files_of(outs[0])
    for out in outs[1:]:
        other = files_of(out)
        for name in ("summary.json", "report.md", "daily.csv", "cases_jury.parquet"):
            assert first[name] == other[name], f"{name} depends on the chunk size"


def test_text_mode_with_trained_prefilter_is_byte_identical(tmp_path: Path) -> None:
    """The classifier is trained at run start: training must be seeded too."""
    world = tmp_path / "small-text.yaml"
    text = (ROOT / "scenarios/quick.yaml").read_text().replace("days: 7", "days: 2")
    text = text.split("surges:")[0]  # the surge lies after day 2
    world.write_text(
        text.replace("users: 20000", "users: 5000").replace("users: 30000", "users: 6000")
    )
    policy = tmp_path / "ai.yaml"
    policy.write_text(
        (ROOT / "policies/jury-plus-ai.yaml")
        .read_text()
        .replace("train_per_class: 2000", "train_per_class: 150")
    )
    assert "train_per_class: 150" in policy.read_text()
    modsim_run(world, tmp_path / "a", "--seed", "4", policy=policy)
    modsim_run(world, tmp_path / "b", "--seed", "4", policy=policy)
    summary = json.loads((tmp_path / "a/summary.json").read_text())
    assert summary["run"]["text_mode"] == "text"
    assert summary["violating"]["removed_by"]["prefilter"] > 0  # the prefilter did act
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_summary_and_report_record_versions_seed_and_input_hashes(
    sampled_world: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    modsim_run(sampled_world, out, "--seed", "7")
    inputs = json.loads((out / "summary.json").read_text())["inputs"]
    report = (out / "report.md").read_text()
    assert inputs["seed"] == 7 and "seed 7" in report
    for path in (sampled_world, POLICY, HOST):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entry = next(f for f in inputs["files"] if f["file"] == str(path))
        assert entry["sha256"] == digest
        assert f"{path} (sha256 {digest})" in report
    for dist in ("numpy", "pandas", "scikit-learn"):
        assert inputs["versions"][dist] == metadata.version(dist)
        assert f"{dist} {metadata.version(dist)}" in report


def test_ctrl_c_leaves_no_complete_looking_output_and_says_how_to_resume(
    sampled_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    real_call = ParquetSink.__call__
    calls = []

    def interrupt_on_third_chunk(self: ParquetSink, frame: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_call(self, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(ParquetSink, "__call__", interrupt_on_third_chunk)
    args = ["--seed", "3", "--chunk-days", "1", "--posts", "all"]
    res = runner.invoke(
        app,
        ["run", str(sampled_world), "-p", str(POLICY), "-H", str(HOST), "--out", str(out), *args],
    )
    assert res.exit_code == 130
    assert "interrupted" in res.output and "to resume:" in res.output
    assert len(calls) == 3  # it stopped where it was interrupted
    # Nothing half-written, nothing that looks like a finished run.
    left = [p.name for p in out.iterdir()] if out.exists() else []
    assert not [n for n in left if n.endswith(".partial")], left
    assert "summary.json" not in left and "posts.parquet" not in left
    # The printed command carries on to the very result an uninterrupted run gives.
    command = shlex.split(res.output.split("to resume:", 1)[1].split("  (", 1)[0])
    assert command[:2] == ["modsim", "run"] and "--seed" in command
    monkeypatch.setattr(ParquetSink, "__call__", real_call)
    resumed = runner.invoke(app, command[1:])
    assert resumed.exit_code == 0, resumed.output
    modsim_run(sampled_world, tmp_path / "clean", *args)
    assert (out / "summary.json").read_bytes() == (tmp_path / "clean/summary.json").read_bytes()


def test_text_mode_summary_is_byte_identical_for_one_and_two_workers(tmp_path: Path) -> None:
    """--workers splits each day's distinct texts across processes; the scores,
    and so every figure, must not depend on it. Two days of the quick world give
    ~10,000 posts a day, enough distinct texts for the split to happen."""
    world = tmp_path / "two-days.yaml"
    text = (ROOT / "scenarios/quick.yaml").read_text().replace("days: 7", "days: 2")
    world.write_text(text.split("surges:")[0])
    policy = tmp_path / "ai.yaml"
    policy.write_text(
        (ROOT / "policies/ai-first.yaml")
        .read_text()
        .replace("train_per_class: 2000", "train_per_class: 150")
    )
    modsim_run(world, tmp_path / "one", "--seed", "6", "--workers", "1", policy=policy)
    modsim_run(world, tmp_path / "two", "--seed", "6", "--workers", "2", policy=policy)
    one = (tmp_path / "one/summary.json").read_bytes()
    assert one == (tmp_path / "two/summary.json").read_bytes()
    summary = json.loads(one)
    assert summary["run"]["text_mode"] == "text"
    # ~10,000 posts a day, about half of them distinct texts: above the
    # 2,000 distinct texts per call from which ParallelScorer splits the work.
    assert summary["posts"]["created"] > 15_000
