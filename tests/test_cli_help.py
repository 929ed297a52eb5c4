"""The command line as a new user meets it: --version, help that says what to
type and shows examples, commands in a sensible order, progress in a log."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import bundled, tweak
from typer.testing import CliRunner

import simulator
from simulator import format as fmt
from simulator.cli import app
from simulator.cli.app import plain_progress
from simulator.cli.help import EXAMPLES, ORDER
from simulator.experiments.execution import Tick

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
WIDE = {"COLUMNS": "200"}

COMMANDS = [
    ["init"],
    ["run"],
    ["validate"],
    ["compare"],
    ["batch"],
    ["diff"],
    ["export"],
    ["explain"],
    ["report"],
    ["optimize"],
    ["robustness"],
    ["calibrate"],
    ["schema"],
    ["classifier", "train"],
    ["classifier", "evaluate"],
    ["classifier", "sample"],
]


def test_version_everywhere() -> None:
    installed = metadata.version("modsim")
    assert simulator.__version__ == installed
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"modsim {installed}"


def test_notebooks_can_complete_every_public_name() -> None:
    names = dir(simulator)
    assert set(simulator.__all__) <= set(names) and "__version__" in names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_says_what_to_type_and_shows_examples(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    # placeholders for people, never Python types
    assert not re.search(r"<(bool|str|int|float|path|list\[|Path)", result.output), result.output
    examples = EXAMPLES[command[-1]]
    assert "Examples:" in result.output
    for example in examples:
        assert example.startswith("modsim " + " ".join(command))
        assert " ".join(example.split()) in " ".join(result.output.split())


def test_commands_are_listed_in_the_order_a_user_needs_them() -> None:
    result = runner.invoke(app, ["--help"], env=WIDE)
    listed = re.findall(r"^│ (\w+) ", result.output, flags=re.M)
    listed = [c for c in listed if c in ORDER]
    assert listed == [c for c in ORDER if c in listed] and listed[:2] == ["init", "run"]
    assert "--install-completion" in result.output  # shell completion is on offer


def test_readme_examples_are_the_helps() -> None:
    """The README's commands table and each command's help show the same example."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `modsim ([\w-]+(?: [\w-]+)?).*\| `(modsim [^`]+)` \|$", text, re.M)
    assert len(rows) >= 10
    for command, example in rows:
        name = command.split()[-1] if command.startswith("classifier") else command.split()[0]
        assert example in EXAMPLES[name], f"README example for {command} is not in its help"


def test_progress_in_a_log_is_a_plain_line_per_tenth() -> None:
    lines: list[str] = []
    tick = plain_progress("batch", lines.append)
    for done in range(0, 201):
        tick(Tick(done, 200, failed=1 if done > 50 else 0))
    tick(Tick(200, 200, failed=1))  # the end is said once
    assert len(lines) == 11
    assert lines[0].startswith("batch: 0 of 200 cells")
    assert lines[-1].startswith("batch: 200 of 200 cells, 1 failed")
    # a second unit (a search's robustness runs) gets its own lines
    tick(Tick(0, 4, unit="runs"))
    assert lines[-1].startswith("batch: 0 of 4 runs")


def test_a_piped_compare_prints_progress_lines(tmp_path: Path) -> None:
    world = tweak(
        bundled("scenarios/quick.yaml"), content__texts__mode="sampled", days=2, surges=[]
    )
    scenario = tmp_path / "world.yaml"
    scenario.write_text(yaml.safe_dump(world.model_dump(mode="json", exclude_none=True)))
    policy, other = ROOT / "policies/jury-only.yaml", ROOT / "policies/jury-plus-card-weak.yaml"
    args = ["compare", str(scenario), "-p", str(policy), "-p", str(other), "--seeds", "2"]
    args += ["--no-host", "-w", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert re.search(r"^compare: 4 of 4 cells, \d+ s$", result.output, re.M), result.output


def test_a_batch_ends_with_its_results_table(tmp_path: Path) -> None:
    world = tweak(
        bundled("scenarios/quick.yaml"), content__texts__mode="sampled", days=2, surges=[]
    )
    (tmp_path / "world.yaml").write_text(
        yaml.safe_dump(world.model_dump(mode="json", exclude_none=True))
    )
    (tmp_path / "b.yaml").write_text(
        "kind: Batch\nversion: 1\nname: b\nscenarios: [world.yaml]\n"
        f"policies: [{ROOT / 'policies/jury-only.yaml'}]\nhosts: [[]]\nseeds: 2\n"
        "sweep:\n  jury.pool_size: [20, 400]\n"
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(tmp_path / "b.yaml"), "-w", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Mean over 2 seeds per setting" in result.output
    summary = pd.read_csv(out / "summary.csv")
    views = summary[summary["metric"] == "views_before_removal"].set_index("jury.pool_size")
    for size in (20, 400):
        row = next(line for line in result.output.splitlines() if f"│ {size} " in line)
        assert fmt.compact(float(views.loc[size, "mean"])) in row
