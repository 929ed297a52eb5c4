"""Experiments: sweep paths, designs, fair comparisons, executors, resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, bundled, tweak
from scipy import stats as sps
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import (
    Batch,
    HostPolicy,
    PlatformPolicy,
    Scenario,
    load_file,
    load_text,
    set_fields,
    sweep_target,
)
from simulator.config.batch import Range
from simulator.errors import ConfigError
from simulator.experiments import compare, run_batch
from simulator.experiments.design import expand, replication_seed
from simulator.experiments.execution import Execution
from simulator.experiments.executors import ProcessExecutor, SerialExecutor
from simulator.experiments.stats import interval_scale, mean_ci, summarize
from simulator.report.labels import metric_label
from simulator.seeding import SeedTree

runner = CliRunner()
SEEDS = [1, 2, 3]
BATCH_HEAD = "kind: Batch\nversion: 1\nname: b\nscenarios: [s.yaml]\npolicies: [p.yaml]\n"


def write(path: Path, model: Any) -> Path:
    path.write_text(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small worlds (scale mode, three days), three policies with cheap
    classifiers, two hosts."""
    d = tmp_path_factory.mktemp("inputs")
    quick = tweak(
        bundled("scenarios/quick.yaml"), content__texts__mode="sampled", days=3, surges=[]
    )
    cheap = {"prefilter__model__train_per_class": 50}
    return {
        "quick": write(d / "quick.yaml", tweak(quick, name="quick-sampled")),
        "busy": write(
            d / "busy.yaml",
            tweak(quick, name="busy", population__posts_per_user_per_day=1.0),
        ),
        "jury": ROOT / "policies/jury-only.yaml",
        "jury_ai": write(d / "jury-ai.yaml", tweak(bundled("policies/jury-plus-ai.yaml"), **cheap)),
        "ai_first": write(d / "ai-first.yaml", tweak(bundled("policies/ai-first.yaml"), **cheap)),
        "strike": ROOT / "policies/host-notice-and-strike.yaml",
        "strict": ROOT / "policies/host-strict-24h.yaml",
    }


# Sweep paths --------------------------------------------------------------------


def test_set_fields_changes_exactly_the_named_field(jury_only: PlatformPolicy) -> None:
    changed = set_fields(jury_only, {"jury.pool_size": 300})
    assert changed.jury.pool_size == 300
    assert changed.model_dump() == tweak(jury_only, jury__pool_size=300).model_dump()
    # The document prefix is optional.
    assert set_fields(jury_only, {"policy.jury.pool_size": 300}) == changed
    # List items by index, in a scenario.
    quick = bundled("scenarios/quick.yaml")
    assert set_fields(quick, {"surges.0.hours": 12.0}).surges[0].hours == 12.0


def test_set_fields_rejects_bad_values_and_paths_naming_the_path(
    jury_only: PlatformPolicy,
) -> None:
    with pytest.raises(ConfigError, match="greater than or equal to 0") as info:
        set_fields(jury_only, {"jury.pool_size": -5})
    assert info.value.field == "jury.pool_size"
    with pytest.raises(ConfigError, match="not a field of a PlatformPolicy"):
        set_fields(jury_only, {"jury.poolsize": 5})
    with pytest.raises(ConfigError, match="out of range"):
        set_fields(bundled("scenarios/quick.yaml"), {"surges.3.hours": 1.0})


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("jury.pool_size", "policy"),
        ("prefilter.auto_remove_above", "policy"),
        ("notices.response_hours", "policy"),
        ("notices.remediation_hours", "host"),
        ("suspension.emergency.enabled", "host"),
        ("population.posts_per_user_per_day", "scenario"),
        ("content.class_shares.incitement", "scenario"),
        ("scenario.days", "scenario"),
    ],
)
def test_sweep_paths_resolve_to_the_one_document_that_has_them(path: str, target: str) -> None:
    assert sweep_target(path)[0] == target


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("notices", "ambiguous: write policy.notices or host.notices"),
        ("name", "ambiguous"),
        ("jury.size", "not a field"),
        ("host.jury.pool_size", "not a field of a HostPolicy"),
        ("kind", "cannot be varied"),
        ("jury..pool_size", "expected a field path"),
    ],
)
def test_bad_sweep_paths_are_explained(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep_target(path)


def test_ranges_include_both_ends_and_round_counts() -> None:
    r = Range.model_validate({"from": 0.5, "to": 0.99, "steps": 10})
    values = r.values()
    assert len(values) == 10 and values[0] == 0.5 and values[-1] == 0.99
    assert np.allclose(np.diff(values), 0.49 / 9)
    log = Range.model_validate({"from": 10, "to": 1000, "steps": 3, "scale": "log"}).values()
    assert np.allclose(log, [10, 100, 1000])
    counts = Range.model_validate({"from": 1, "to": 3, "steps": 5, "integer": True}).values()
    assert counts == [1, 2, 3]  # 1, 1.5, 2, 2.5, 3 rounded, duplicates dropped


def test_batch_file_errors_point_at_the_line() -> None:
    with pytest.raises(ConfigError, match="not a field") as info:
        load_text(BATCH_HEAD + "sweep:\n  jury.poolsize: [1, 2]\n", "b.yaml")
    assert (info.value.line, info.value.field) == (7, "sweep.jury.poolsize")
    with pytest.raises(ConfigError, match="differ in length") as info:
        load_text(
            BATCH_HEAD + "combine: zip\nsweep:\n  jury.pool_size: [1, 2]\n  staff.reviewers: [1]\n",
            "b.yaml",
        )
    assert info.value.line == 7
    with pytest.raises(ConfigError, match="greater than or equal to 2") as info:
        load_text(BATCH_HEAD + "sweep:\n  jury.pool_size: {from: 1, to: 2, steps: 1}\n", "b.yaml")
    assert info.value.field == "sweep.jury.pool_size.steps"


def test_bundled_batch_validates_and_expands() -> None:
    path = ROOT / "batches/jury-size.yaml"
    batch = load_file(path).model
    assert isinstance(batch, Batch)
    assert [p["jury.pool_size"] for p in batch.points()] == [200, 1000, 5000]


# Design -------------------------------------------------------------------------


def test_design_is_the_full_product_with_stable_unique_ids(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    ai_first: PlatformPolicy,
    strike_host: HostPolicy,
    strict_host: HostPolicy,
) -> None:
    batch = load_text(
        BATCH_HEAD + "sweep:\n  jury.pool_size: [300, 600]\n  staff.reviewers: [10, 20, 30]\n"
    )
    assert isinstance(batch, Batch)
    busy = tweak(quick_sampled, name="busy", population__posts_per_user_per_day=1.0)
    args = ([quick_sampled, busy], [jury_only, ai_first], [[strike_host], [strict_host], []], 3)
    cells = expand(*args, base_seed=7, points=batch.points())
    assert len(cells) == 2 * 2 * 3 * (2 * 3) * 3
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == len(ids)
    assert ids == [c.cell_id for c in expand(*args, base_seed=7, points=batch.points())]
    # Changing one policy changes the ids of its cells only.
    edited = tweak(ai_first, staff__reviews_per_hour=50.0)
    again = expand(args[0], [jury_only, edited], *args[2:], base_seed=7, points=batch.points())
    for before, after in zip(cells, again, strict=True):
        assert (before.cell_id == after.cell_id) == (before.policy.name == "jury-only")


@pytest.mark.parametrize("base", SEEDS)
def test_replication_seeds_derive_from_the_base_and_are_shared_by_policies(
    quick_sampled: Scenario, jury_only: PlatformPolicy, ai_first: PlatformPolicy, base: int
) -> None:
    cells = expand([quick_sampled], [jury_only, ai_first], [[]], 4, base_seed=base)
    expected = [SeedTree(base).child("replication", i).seed for i in range(4)]
    assert [c.seed for c in cells] == expected * 2
    assert len(set(expected)) == 4
    assert replication_seed(base, 2) == expected[2]


def test_duplicate_names_and_runs_are_refused(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    renamed_same = tweak(jury_only, jury__pool_size=2000)
    with pytest.raises(ConfigError, match="two policies are named 'jury-only'"):
        expand([quick_sampled], [jury_only, renamed_same], [[]], 2)
    with pytest.raises(ConfigError, match="appears twice"):
        expand([quick_sampled], [jury_only], [[]], 2, points=[{"jury.rule": "threshold"}] * 2)


def test_zip_pairs_sweep_values() -> None:
    text = (
        BATCH_HEAD + "combine: zip\nsweep:\n  jury.pool_size: [1, 2]\n  staff.reviewers: [3, 4]\n"
    )
    batch = load_text(text)
    assert isinstance(batch, Batch)
    assert batch.points() == [
        {"jury.pool_size": 1, "staff.reviewers": 3},
        {"jury.pool_size": 2, "staff.reviewers": 4},
    ]


# Statistics ---------------------------------------------------------------------


def test_mean_ci_matches_the_t_interval_and_handles_never() -> None:
    s = mean_ci([1.0, 2.0, 3.0])
    half = sps.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert s["mean"] == 2.0 and np.isclose(s["ci_high"] - 2.0, half)
    assert np.isclose(2.0 - s["ci_low"], half)
    never = mean_ci([1.0, np.inf, 3.0, np.nan])
    assert never["n"] == 3 and never["n_never"] == 1 and never["mean"] == np.inf
    assert np.isnan(mean_ci([5.0])["ci_low"])


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_ci_covers_the_true_mean_95_percent_of_the_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    trials = 2000
    samples = rng.normal(3.0, 2.0, size=(trials, 5))
    covered = 0
    for row in samples:
        s = mean_ci(row)
        covered += s["ci_low"] <= 3.0 <= s["ci_high"]
    sd = np.sqrt(0.95 * 0.05 / trials)
    assert abs(covered / trials - 0.95) < 4 * sd


@pytest.mark.parametrize(
    "draw, true_mean",
    [
        (lambda rng, size: rng.gamma(2.0, 3.0, size), 6.0),
        (lambda rng, size: rng.poisson(3.0, size).astype(float), 3.0),
    ],
)
def test_log_scale_interval_stays_positive_and_covers_the_mean(draw, true_mean) -> None:
    # Skewed counts over 3 seeds: the plain t-interval crossed zero in most trials
    # ("4 (-5 to 13) wrongful removals"); the log-scale one never does and still
    # covers the true mean about 95% of the time.
    rng = np.random.default_rng(11)
    trials = 2000
    covered = linear_below_zero = 0
    for row in draw(rng, (trials, 3)):
        s = mean_ci(row, scale="log")
        assert s["ci_low"] >= 0 and s["ci_low"] <= s["mean"] <= s["ci_high"]
        covered += s["ci_low"] <= true_mean <= s["ci_high"]
        linear_below_zero += mean_ci(row)["ci_low"] < 0
    assert linear_below_zero > trials / 2
    sd = np.sqrt(0.95 * 0.05 / trials)
    assert abs(covered / trials - 0.95) < 4 * sd


def test_logit_interval_stays_within_zero_and_one() -> None:
    s = mean_ci([0.01, 0.0, 0.05], scale="logit")
    assert 0 <= s["ci_low"] < s["mean"] < s["ci_high"] <= 1
    assert mean_ci([0.01, 0.0, 0.05])["ci_low"] < 0  # the linear one leaves [0, 1]
    assert mean_ci([0.0, 0.0, 0.0], scale="logit")["ci_high"] == 0.0


def test_summaries_put_each_metric_on_its_own_scale() -> None:
    table = pd.DataFrame(
        {
            "policy": "p",
            "metric": ["wrongful_removals"] * 3 + ["removed_within_1h"] * 3,
            "value": [1.0, 3.0, 8.0, 0.01, 0.0, 0.05],
        }
    )
    s = summarize(table, ["policy"]).set_index("metric")
    assert s.loc["wrongful_removals", "ci_low"] > 0
    assert s.loc["removed_within_1h", "ci_low"] > 0 and s.loc["removed_within_1h", "ci_high"] < 1
    assert interval_scale("wrongful_removals") == "log"
    assert interval_scale("jury_utilisation") == "logit"


# Comparisons ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_compare_gives_every_policy_the_same_streams(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    """A copy of a policy under another name is the same rules on the same
    streams: paired differences are exactly zero, although each policy's
    own interval (over different streams) is not."""
    twin = tweak(jury_only, name="twin")
    small = tweak(jury_only, name="small jury", jury__pool_size=30, jury__active_share=0.03)
    result = compare(
        quick_sampled, [jury_only, twin, small], seeds=4, seed=seed, execution=Execution(workers=1)
    )
    t = result.table
    assert len(t) == 3 * 4 * t["metric"].nunique()
    assert not t.duplicated(["policy", "replication", "metric"]).any()
    posts = t[t["metric"] == "posts"].pivot(index="replication", columns="policy", values="value")
    assert (posts.nunique(axis=1) == 1).all()  # same stream for every policy, per seed
    assert posts["jury-only"].nunique() == 4  # ... and a new one per seed
    d = result.differences.set_index(["policy", "metric"])
    twin_d = d.loc["twin"]
    assert (twin_d.loc[twin_d["pairs"] > 0, ["mean", "ci_low", "ci_high"]] == 0).all().all()
    own = result.summary.set_index(["policy", "metric"]).loc[("jury-only", "violating_removed")]
    assert own["ci_high"] > own["ci_low"]
    # Too few jurors fall behind on the same streams, and remove less.
    assert d.loc[("small jury", "jury_backlog_max"), "ci_low"] > 0
    assert d.loc[("small jury", "violating_removed"), "ci_high"] < 0


def test_compare_command_prints_intervals_and_writes_tidy_tables(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(files["quick"]), "-p", str(files["jury"]), "-p", str(files["jury_ai"])]
    args += ["-H", str(files["strict"]), "--seeds", "3", "--workers", "1", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Mean over 3 seeds; Δ: paired difference from jury-only" in result.output
    # metrics named for people, and the table fits an 80-column terminal
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "violating posts" in rows and "violating_posts" not in rows
    assert rows["violating posts"].rstrip(" │").endswith(" 0")  # same streams: no difference
    assert max(len(line) for line in result.output.splitlines()) <= 80
    # a difference the seeds cannot tell from zero is in parentheses, a clear one not
    diffs = pd.read_csv(out / "differences.csv").set_index("metric")
    checked = 0
    for metric, d in diffs.iterrows():
        shown = rows[metric_label(str(metric))].rstrip(" │").split("│")[-1].strip()
        if d["pairs"] == 0 or d["mean"] == 0 or pd.isna(d["ci_low"]):
            continue
        assert shown.startswith("(") == (d["ci_low"] <= 0 <= d["ci_high"]), (metric, shown)
        assert shown.strip("()")[0] == ("+" if d["mean"] > 0 else "-"), (metric, shown)
        checked += 1
    assert checked >= 5
    table = pd.read_parquet(out / "results.parquet")
    assert set(table["policy"]) == {"jury-only", "jury-plus-ai"}
    per_cell = table.groupby("cell_id").size()
    assert len(per_cell) == 6 and len(table) == per_cell.sum()
    assert not table.duplicated(["policy", "replication", "metric"]).any()
    csv = pd.read_csv(out / "results.csv")
    assert np.allclose(csv["value"], table["value"], equal_nan=True)
    diffs = pd.read_csv(out / "differences.csv")
    assert set(diffs["policy"]) == {"jury-plus-ai"}
    # A folder that holds something else is never overwritten.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = runner.invoke(app, [*args[:-1], str(other)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert (other / "notes.txt").read_text() == "mine"


# Batches, executors, failures, resuming ----------------------------------------------


def batch_file(files: dict[str, Path], d: Path, seeds: int = 5, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "kind": "Batch",
        "version": 1,
        "name": "test batch",
        "scenarios": [str(files["quick"]), str(files["busy"])],
        "policies": [str(files["jury"]), str(files["jury_ai"]), str(files["ai_first"])],
        "hosts": [str(files["strike"]), str(files["strict"])],
        "seeds": seeds,
        "seed": 3,
    } | extra
    path = d / "batch.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def serial_run(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """2 scenarios x 3 policies x 2 hosts x 5 seeds, in this process."""
    d = tmp_path_factory.mktemp("serial")
    return run_batch(batch_file(files, d), execution=Execution(executor=SerialExecutor()))


def test_batch_has_one_row_per_cell_and_metric(serial_run: Any) -> None:
    cells = serial_run.cells
    assert len(cells) == 2 * 3 * 2 * 5 and (cells["status"] == "ok").all()
    assert cells["cell_id"].is_unique
    t = serial_run.table
    assert not t.duplicated(["cell_id", "metric"]).any()
    assert set(t["cell_id"]) == set(cells["cell_id"])
    s = serial_run.summary
    assert ((s["n"] <= 5) & (s["n_never"] <= s["n"])).all()
    assert len(s.drop_duplicates(["scenario", "policy", "host"])) == 12


def test_local_processes_give_the_serial_tables(
    files: dict[str, Path], tmp_path: Path, serial_run: Any
) -> None:
    """A smaller batch in worker processes: each cell's rows equal the same
    cell's rows from the serial run of the whole batch (ids and seeds come
    from identity, so neither the executor nor the batch around a cell matters)."""
    path = batch_file(
        files,
        tmp_path,
        seeds=2,
        scenarios=[str(files["quick"])],
        policies=[str(files["jury"]), str(files["jury_ai"])],
    )
    result = run_batch(path, execution=Execution(executor=ProcessExecutor(2)))
    assert len(result.cells) == 1 * 2 * 2 * 2
    ids = set(result.cells["cell_id"])
    expected = serial_run.table[serial_run.table["cell_id"].isin(ids)].reset_index(drop=True)
    assert expected["cell_id"].nunique() == len(ids)
    pd.testing.assert_frame_equal(result.table, expected)


def test_a_dask_cluster_gives_the_serial_tables(
    files: dict[str, Path], tmp_path: Path, serial_run: Any
) -> None:
    """Every policy and host on a dask cluster, two seeds of one world (a fifth of the
    serial batch): each cell's rows equal the same cell's from the serial run."""
    distributed = pytest.importorskip("distributed")
    path = batch_file(files, tmp_path, seeds=2, scenarios=[str(files["busy"])])
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        result = run_batch(
            path,
            execution=Execution(scheduler=cluster.scheduler_address),
            out=tmp_path / "out",
        )
    assert len(result.cells) == 1 * 3 * 2 * 2
    ids = set(result.cells["cell_id"])
    table = serial_run.table[serial_run.table["cell_id"].isin(ids)].reset_index(drop=True)
    cells = serial_run.cells[serial_run.cells["cell_id"].isin(ids)].reset_index(drop=True)
    assert cells["cell_id"].nunique() == len(ids)
    pd.testing.assert_frame_equal(result.table, table)
    pd.testing.assert_frame_equal(result.cells, cells)
    on_disk = pd.read_parquet(tmp_path / "out" / "results.parquet")
    pd.testing.assert_frame_equal(on_disk, table)


def test_a_failing_cell_is_recorded_and_loses_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    broken = tweak(
        bundled("policies/jury-plus-ai.yaml"),
        name="missing model",
        prefilter__model__source="file",
        prefilter__model__path=str(tmp_path / "no-such-model.skops"),
    )
    path = batch_file(
        files,
        tmp_path,
        seeds=2,
        scenarios=[str(files["quick"])],
        policies=[str(files["jury"]), str(write(tmp_path / "broken.yaml", broken))],
        hosts=[[]],
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(path), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 1
    assert "no-such-model.skops" in result.output
    cells = pd.read_csv(out / "cells.csv")
    assert list(cells["status"]) == ["ok", "ok", "failed", "failed"]
    assert cells["error"].iloc[2:].str.contains("no-such-model").all()
    table = pd.read_parquet(out / "results.parquet")
    assert set(table["policy"]) == {"jury-only"}
    # A re-run keeps the finished cells and tries the failed ones again.
    again = runner.invoke(app, ["batch", str(path), "--out", str(out), "--workers", "1"])
    assert again.exit_code == 1 and "2 found finished and skipped" in again.output


def test_bad_sweep_value_is_a_clear_error_with_file_and_line(
    files: dict[str, Path], tmp_path: Path
) -> None:
    path = batch_file(files, tmp_path, sweep={"jury.votes_per_case": [3, 2000]})
    result = runner.invoke(app, ["batch", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "batch.yaml:" in result.output and "votes_per_case" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_killed_batch_resumes_to_the_same_table(files: dict[str, Path], tmp_path: Path) -> None:
    """Kill a running batch (SIGKILL: no clean-up at all), run it again: every
    cell appears exactly once and the table equals an uninterrupted run's."""
    heavy = tweak(
        load_file(files["quick"]).model, name="heavy", population__posts_per_user_per_day=8.0
    )
    path = batch_file(
        files,
        tmp_path,
        seeds=2,  # eight cells: room to be killed after three and before the last
        scenarios=[str(write(tmp_path / "heavy.yaml", heavy))],
        policies=[str(files["jury"])],
        hosts=[str(files["strike"]), str(files["strict"])],
        sweep={"jury.pool_size": [500, 2000]},
    )
    total = 2 * 2 * 2
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simulator", "batch", str(path), "--out", str(out), "-w", "1"]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells_dir = out / "cells"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cells_dir.exists() and len(list(cells_dir.glob("*.json"))) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(cells_dir.glob("*.json")))
    assert 3 <= finished < total, "the batch should have been killed part-way"
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{finished} found finished and skipped" in rerun.stdout
    resumed = pd.read_parquet(out / "results.parquet")
    assert resumed["cell_id"].nunique() == total
    assert not resumed.duplicated(["cell_id", "metric"]).any()
    assert not list(out.rglob(".*.partial"))
    whole = run_batch(path, execution=Execution(executor=SerialExecutor()))
    pd.testing.assert_frame_equal(resumed, whole.table)
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["cells"] == total and manifest["parameters"] == ["jury.pool_size"]
