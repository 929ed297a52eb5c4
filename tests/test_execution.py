"""One execution-options object for every experiment (issue 16): the
:class:`Execution` a caller builds is the one that runs the cells of compare,
batch, optimize, robustness and calibrate, and its progress callback hears each of them
the same way; the CLI shows one bar for all of them, off with ``--quiet``."""

from __future__ import annotations

import importlib
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, Counting, optimization_doc, tweak, write_doc
from pandas.testing import assert_frame_equal
from rich.console import Console

from simulator.config import load_file
from simulator.errors import ModsimError
from simulator.experiments import compare, run_batch
from simulator.experiments.execution import Execution, Tick
from simulator.experiments.executors import (
    DaskExecutor,
    Outcome,
    ProcessExecutor,
    SerialExecutor,
)
from simulator.experiments.robustness import robustness
from simulator.studies import calibrate, optimize

POLICY = str(ROOT / "policies/jury-only.yaml")
OTHER = str(ROOT / "policies/jury-plus-ai.yaml")
HOST = str(ROOT / "policies/host-notice-and-strike.yaml")
# The module, not the Typer app that `simulator.cli` exports under the same name.
cli_app = importlib.import_module("simulator.cli.app")


def _compare(tiny_world: Path, execution: Execution) -> Any:
    return compare(tiny_world, [POLICY, OTHER], [HOST], seeds=2, execution=execution)


def _batch(tiny_world: Path, execution: Execution, folder: Path) -> Any:
    doc = {
        "kind": "Batch",
        "version": 1,
        "name": "tiny",
        "scenarios": [str(tiny_world)],
        "policies": [POLICY, OTHER],
        "hosts": [HOST],
        "seeds": 2,
    }
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return run_batch(path, execution=execution)


def _optimize(tiny_world: Path, execution: Execution, folder: Path) -> Any:
    doc = optimization_doc(
        scenario=str(tiny_world),
        search={"jury.pool_size": {"choices": [20, 640]}},
        trials=2,
        seeds={"min": 2, "max": 2, "step": 1},
    )
    return optimize(write_doc(folder, doc), execution=execution)


def _robustness(tiny_world: Path, execution: Execution) -> Any:
    scenario = load_file(tiny_world).model
    policy = tweak(load_file(POLICY).model, jury__pool_size=60)
    return robustness(
        scenario,
        [policy],
        {"jury.active_share": (0.01, 0.2)},
        [load_file(HOST).model],
        samples=2,
        seeds=1,
        execution=execution,
    )


def _calibrate(tiny_world: Path, execution: Execution, folder: Path) -> Any:
    doc = {
        "kind": "Calibration",
        "version": 1,
        "name": "tiny",
        "scenario": str(tiny_world),
        "policy": POLICY,
        "hosts": [HOST],
        "free": {"jury.active_share": {"low": 0.01, "high": 0.2}},
        "targets": [
            {
                "name": "backlog",
                "metric": "jury_backlog_max",
                "observed": 10,
                "tolerance": 5,
                "trust": "H",
            }
        ],
        "trials": 2,
        "seeds": 2,
    }
    return calibrate(write_doc(folder, doc, "cal.yaml"), execution=execution)


def _runs(kind: str, result: Any) -> int:
    """The runs an experiment says it made."""
    if kind in ("compare", "batch"):
        return len(result.cells) - result.resumed
    if kind in ("optimize", "calibrate"):
        return int(result.runs)
    return int(result.new_runs)


EXPERIMENTS: dict[str, Callable[[Path, Execution, Path], Any]] = {
    "compare": lambda world, ex, _: _compare(world, ex),
    "batch": _batch,
    "optimize": _optimize,
    "robustness": lambda world, ex, _: _robustness(world, ex),
    "calibrate": _calibrate,
}
UNITS = {
    "compare": "cells",
    "batch": "cells",
    "optimize": "candidates",
    "robustness": "runs",
    "calibrate": "candidates",
}


@pytest.mark.parametrize("kind", list(EXPERIMENTS))
def test_each_experiment_runs_on_the_execution_it_is_given(
    kind: str, tiny_world: Path, tmp_path: Path
) -> None:
    executor = Counting()
    ticks: list[Tick] = []
    result = EXPERIMENTS[kind](
        tiny_world, Execution(executor=executor, progress=ticks.append), tmp_path
    )
    # Every run went through the executor given, and nothing else ran.
    assert executor.ran, "the given executor ran nothing"
    assert len(executor.ran) == _runs(kind, result)
    # Progress: one unit, a fixed total, done counts that never go down and end at it.
    assert ticks, "progress never heard"
    assert {t.unit for t in ticks} == {UNITS[kind]}
    total = ticks[-1].total
    assert {t.total for t in ticks} == {total}
    done = [t.done for t in ticks]
    assert done == sorted(done) and done[-1] == total
    assert all(0 <= t.failed <= t.done for t in ticks)
    if kind in ("optimize", "calibrate"):
        assert total == 2 and ticks[-1].note == f"{result.runs} runs"
    else:
        assert total == len(executor.ran)


@pytest.mark.parametrize("kind", ["compare", "batch"])
def test_results_do_not_depend_on_how_the_execution_was_built(
    kind: str, tiny_world: Path, tmp_path: Path
) -> None:
    by_workers = EXPERIMENTS[kind](tiny_world, Execution(workers=1), tmp_path)
    by_executor = EXPERIMENTS[kind](tiny_world, Execution(executor=SerialExecutor()), tmp_path)
    assert len(by_workers.table)
    assert_frame_equal(by_workers.table, by_executor.table)
    assert_frame_equal(by_workers.cells, by_executor.cells)
    assert_frame_equal(by_workers.summary, by_executor.summary)


def test_a_failed_cell_is_counted_in_the_progress(tiny_world: Path) -> None:
    class FirstDies(SerialExecutor):
        """Runs every cell here, but the first one's worker dies."""

        def run(self, fn: Any, items: Any) -> Any:
            yield Outcome(0, error="BrokenProcessPool: a worker died")
            for i, item in enumerate(items[1:], start=1):
                yield Outcome(i, fn(item))

    ticks: list[Tick] = []
    result = _compare(tiny_world, Execution(executor=FirstDies(), progress=ticks.append))
    assert len(result.failed) == 1
    assert [(t.done, t.failed) for t in ticks] == [(0, 0), (1, 1), (2, 1), (3, 1), (4, 1)]


def test_the_executor_follows_the_options() -> None:
    assert isinstance(Execution(workers=1).executor_for(10), SerialExecutor)
    local = Execution(workers=4).executor_for(3)
    assert isinstance(local, ProcessExecutor) and local.workers == 3  # never more than runs
    assert isinstance(Execution(workers=4).executor_for(1), SerialExecutor)
    default = Execution().executor_for()
    expected = os.cpu_count() or 1
    assert (default.workers if isinstance(default, ProcessExecutor) else 1) == expected
    dask = Execution(scheduler="tcp://127.0.0.1:1").executor_for(10)
    assert isinstance(dask, DaskExecutor) and dask.target == "tcp://127.0.0.1:1"
    given = Counting()
    assert Execution(executor=given).executor_for(10) is given


def test_contradictory_or_impossible_options_are_refused() -> None:
    with pytest.raises(ModsimError, match="workers must be at least 1, got 0"):
        Execution(workers=0)
    with pytest.raises(ModsimError, match="an executor, or workers and a scheduler"):
        Execution(workers=2, executor=SerialExecutor())
    with pytest.raises(ModsimError, match="an executor, or workers and a scheduler"):
        Execution(scheduler="tcp://127.0.0.1:1", executor=SerialExecutor())


def test_an_execution_is_frozen_and_its_progress_optional() -> None:
    execution = Execution(workers=2)
    with pytest.raises(AttributeError):
        execution.workers = 3  # type: ignore[misc]
    execution.update(1, 2)  # no progress callback: nothing to tell, nothing fails
    heard: list[Tick] = []
    Execution(progress=heard.append).update(1, 2, 1, "runs", "note")
    assert heard == [Tick(1, 2, 1, "runs", "note")]


# The CLI's one bar ----------------------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The CLI's stderr as a terminal, written to a string."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=160, emoji=False)
    monkeypatch.setattr(cli_app, "err_console", console)
    return out


def test_the_bar_shows_label_counts_failures_and_a_line_per_unit(terminal: io.StringIO) -> None:
    with cli_app.progress_bar("optimize") as tick:
        assert tick is not None
        tick(Tick(0, 10, unit="candidates"))
        tick(Tick(7, 10, 2, "candidates", "13 runs"))
        tick(Tick(3, 5, unit="runs"))
    shown = terminal.getvalue()
    assert "optimize" in shown
    # Columns line up across the lines, so a count may be padded.
    assert re.search(r"7/10\s+candidates, 2 failed, 13 runs", shown), shown
    assert re.search(r"3/5\s+runs, 0 failed", shown), shown


def test_quiet_turns_the_bar_off_for_every_experiment(terminal: io.StringIO) -> None:
    with cli_app.execution("batch", 2, None, quiet=False) as shown:
        assert shown.progress is not None and shown.workers == 2
    with cli_app.execution("batch", 2, None, quiet=True) as quiet:
        assert quiet.progress is None and quiet.workers == 2
    with cli_app.progress_bar("run", enabled=False) as none:
        assert none is None


def test_a_run_counts_days_on_the_same_bar() -> None:
    run_cli = importlib.import_module("simulator.cli.run")
    heard: list[Tick] = []
    in_days = run_cli._in_days(heard.append, 7)
    for day in range(1, 8):
        in_days(min(1.0, 24.0 * day / (24.0 * 7)))  # what the engine says after each day
    assert [(t.done, t.total, t.unit) for t in heard] == [(d, 7, "days") for d in range(1, 8)]
