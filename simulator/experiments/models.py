"""Trained models built once per experiment and shipped to the workers.

A policy whose prefilter uses the synthetic-corpus classifier trains it for
each replication seed (training is deterministic given the seed, the
scenario's languages and evasion rate, and the texts per class). Left to
themselves, two worker processes would each train every seed's model, so a
second worker would save almost nothing. :class:`ModelShelf` instead builds
each distinct model once, as tasks on the experiment's own executor (so
several train at once), with its scores on stream-like texts when the runs
need them, and sends the pickled models along with the cells that use them;
a worker installs a model before its first run that needs it. Results are
identical to training in each worker: only where the work happens changes.

Only executors that run cells in other processes
(:class:`~simulator.experiments.executors.ProcessExecutor`,
:class:`~simulator.experiments.executors.DaskExecutor`) get models shipped;
any other runs the cells as they are (in this process the prefilter's own
cache already trains each model once).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.experiments.design import Cell, run_cell
from simulator.experiments.executors import DaskExecutor, Executor, Outcome, ProcessExecutor
from simulator.folders.experiment import STATUS_FAILED, CellResult

if TYPE_CHECKING:
    from simulator.stages.prefilter import SyntheticKey

# The prefilter (and scikit-learn) is imported where a model is built or installed,
# so that importing an experiment stays cheap.


@dataclass(frozen=True)
class Shipped:
    """A cell and the pickled models its run uses (None: it trains none, or
    building them failed and the run will say why)."""

    cell: Cell
    models: bytes | None = None


@dataclass(frozen=True)
class _Build:
    cell: Cell
    scores: bool


def run_shipped(task: Shipped) -> CellResult:
    """Install the cell's models in this process, then run it (never raises)."""
    if task.models is not None:
        from simulator.stages.prefilter import install_models

        try:
            install_models(task.models)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            return CellResult(task.cell.cell_id, STATUS_FAILED, error=error)
    return run_cell(task.cell)


def _build(task: _Build) -> bytes:
    from simulator.stages.prefilter import export_models

    c = task.cell
    return export_models(c.policy, c.scenario, c.seed, task.scores)


def _needs_scores(cell: Cell) -> bool:
    from simulator.stages.prefilter import needs_stream_scores

    return needs_stream_scores(cell.policy.prefilter, cell.scenario)


def _key(cell: Cell) -> SyntheticKey | None:
    from simulator.stages.prefilter import synthetic_key

    return synthetic_key(cell.policy, cell.scenario, cell.seed)


class ModelShelf:
    """The models of one experiment: each built once, on first need, and kept
    (pickled) for every later cell that uses it, across rounds of a search."""

    def __init__(self) -> None:
        self._built: dict[SyntheticKey, bytes] = {}

    def __len__(self) -> int:
        return len(self._built)

    def run(self, executor: Executor, cells: Sequence[Cell]) -> Iterator[Outcome[CellResult]]:
        """Run ``cells`` on ``executor`` (outcomes as they complete, indexed as
        ``cells``), first building on it the models not built yet."""
        if not isinstance(executor, ProcessExecutor | DaskExecutor):
            yield from executor.run(run_cell, cells)
            return
        groups: dict[SyntheticKey, list[Cell]] = {}
        for cell in cells:
            key = _key(cell)
            if key is not None and key not in self._built:
                groups.setdefault(key, []).append(cell)
        builds = [
            _Build(group[0], any(_needs_scores(c) for c in group)) for group in groups.values()
        ]
        keys = list(groups)
        # A model that fails to build is not kept: its cells train it themselves
        # and fail with the error, recorded as any failed run is.
        for outcome in executor.run(_build, builds) if builds else ():
            if outcome.value is not None:
                self._built[keys[outcome.index]] = outcome.value
        tasks = [Shipped(c, self._built.get(k) if (k := _key(c)) else None) for c in cells]
        yield from executor.run(run_shipped, tasks)


__all__ = ["ModelShelf", "Shipped", "run_shipped"]
