"""`modsim diff`: two results folders side by side, inputs field by field and
every headline figure, paired seed by seed when the seeds match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, tweak
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.config import PlatformPolicy, Scenario
from simulator.experiments.design import headline_metrics
from simulator.experiments.diff import EVERY_SETTING
from simulator.experiments.execution import Execution
from simulator.folders.run import write_run

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def world(quick_sampled: Scenario) -> Scenario:
    return tweak(quick_sampled, days=2, surges=[])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, world: Scenario, jury_only: PlatformPolicy):
    """The same run with a quarter of the jury (A) and the bundled jury (B)."""
    small = tweak(jury_only, name="small jury", jury__pool_size=20)
    base = tmp_path_factory.mktemp("diff")
    a, b = base / "a", base / "b"
    write_run(simulator.simulate(world, small, seed=4), a)
    write_run(simulator.simulate(world, jury_only, seed=4), b)
    return a, b


def test_two_runs_differ_in_the_fields_that_changed_and_in_their_figures(runs) -> None:
    a, b = runs
    d = simulator.diff_results(a, b)
    changed = {(r["field"], r["a"], r["b"]) for _, r in d.inputs.iterrows()}
    assert ("jury.pool_size", 20, jury_pool(b)) in changed
    assert ("name", "small jury", "jury-only") in changed
    assert {r["field"] for _, r in d.inputs.iterrows()} == {"jury.pool_size", "name"}
    ha = headline_metrics(json.loads((a / "summary.json").read_text()))
    hb = headline_metrics(json.loads((b / "summary.json").read_text()))
    fig = d.figures.set_index("metric")
    finite = [m for m in fig.index if np.isfinite(ha[m]) and np.isfinite(hb[m])]
    assert (fig.loc[finite, "pairs"] == 1).all()
    assert (fig.drop(index=finite)["pairs"] == 0).all()  # "never" in both: nothing to pair
    for m in ("wrongful_removals", "views_before_removal", "jury_backlog_max"):
        assert fig.loc[m, "a"] == ha[m] and fig.loc[m, "b"] == hb[m]
        assert fig.loc[m, "difference"] == pytest.approx(hb[m] - ha[m])
    # a jury 20 strong falls behind where the bundled one does not
    assert fig.loc["jury_backlog_max", "difference"] < 0


def jury_pool(folder: Path) -> int:
    docs = json.loads((folder / "summary.json").read_text())["inputs"]["documents"]
    return int(docs[1]["jury"]["pool_size"])


def test_the_cli_prints_both_tables_and_writes_them(runs, tmp_path: Path) -> None:
    a, b = runs
    result = runner.invoke(app, ["diff", str(a), str(b), "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "jury.pool_size" in result.output and "paired over 1 seed" in result.output
    figures = pd.read_csv(tmp_path / "figures.csv")
    assert set(figures["metric"]) >= {"wrongful_removals", "views_before_removal"}
    assert len(pd.read_csv(tmp_path / "inputs.csv")) == 2


def test_folders_from_before_documents_were_recorded_compare_file_hashes(
    runs, tmp_path: Path
) -> None:
    a, b = runs
    old = []
    for src in (a, b):
        dst = tmp_path / src.name
        dst.mkdir()
        for f in src.iterdir():
            dst.joinpath(f.name).write_bytes(f.read_bytes())
        s = json.loads((dst / "summary.json").read_text())
        del s["inputs"]["documents"]
        for i, f in enumerate(s["inputs"]["files"]):
            f["sha256"] = f"{src.name}{i}"  # two different files
        (dst / "summary.json").write_text(json.dumps(s))
        old.append(dst)
    d = simulator.diff_results(*old)
    assert set(d.inputs["field"]) == {"sha256"} and len(d.inputs) >= 2


def test_comparisons_pair_each_policy_seed_by_seed(
    tmp_path: Path, world: Scenario, jury_only: PlatformPolicy
) -> None:
    small = tweak(jury_only, name="small jury", jury__pool_size=20)
    slower = tweak(world, reach__half_life_hours=world.reach.half_life_hours * 2)
    folders = []
    for name, sc in (("a", world), ("b", slower)):
        out = tmp_path / name
        simulator.compare(sc, [small, jury_only], seeds=3, out=out, execution=Execution(workers=1))
        folders.append(out)
    d = simulator.diff_results(*folders)
    assert d.figures["setting"].nunique() == 2  # each policy with itself
    assert d.figures["setting"].str.contains("small jury").any()
    assert (d.figures.loc[d.figures["metric"] == "views_before_removal", "pairs"] == 3).all()
    # the scenario change both policies share is listed once, not once per policy
    assert d.inputs[["setting", "field"]].values.tolist() == [
        [EVERY_SETTING, "reach.half_life_hours"]
    ]
    # the paired difference is the mean of the seed-by-seed differences
    ta, tb = (pd.read_csv(f / "results.csv") for f in folders)
    key = ["policy", "replication", "metric"]
    both = ta.merge(tb, on=key, suffixes=("_a", "_b"))
    views = both[(both["metric"] == "views_before_removal") & (both["policy"] == "jury-only")]
    expected = float(np.mean(views["value_b"] - views["value_a"]))
    got = d.figures[
        d.figures["setting"].str.contains("jury-only")
        & (d.figures["metric"] == "views_before_removal")
    ]
    assert float(got["difference"].iloc[0]) == pytest.approx(expected)
    assert got["ci_low"].iloc[0] < expected < got["ci_high"].iloc[0]


def test_different_seeds_are_compared_unpaired_and_said_so(
    runs, tmp_path: Path, world: Scenario, jury_only: PlatformPolicy
) -> None:
    a, _ = runs
    other = tmp_path / "seed9"
    write_run(simulator.simulate(world, jury_only, seed=9), other)
    d = simulator.diff_results(a, other)
    assert (d.figures["pairs"] == 0).all() and d.figures["ci_low"].isna().all()
    assert any("seeds" in n for n in d.notes)


def test_not_a_results_folder_is_a_clear_error(runs, tmp_path: Path) -> None:
    a, _ = runs
    result = runner.invoke(app, ["diff", str(a), str(tmp_path)])
    assert result.exit_code == 2 and "not a results folder" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "x.yaml").write_text(yaml.safe_dump({"a": 1}))
    result = runner.invoke(app, ["diff", str(a), str(ROOT / "no-such-folder")])
    assert result.exit_code == 2 and "no such results folder" in result.output
