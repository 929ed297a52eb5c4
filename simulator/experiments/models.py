"""Trained models built once per experiment and shipped to the workers.

A policy whose prefilter uses the synthetic-corpus classifier trains it for
each replication seed (training is deterministic given the seed, the
scenario's languages and evasion rate, and the texts per class). Left to
themselves, two worker processes would each train every seed's model, so a
second worker would save almost nothing. :class:`ModelShelf` instead builds
each distinct model once, as a task on the experiment's own executor, with its
scores on stream-like texts when the runs need them, and sends the pickled
model along with the cells that use it; a worker installs a model before its
first run that needs it. Results are identical to training in each worker:
only where the work happens changes.

Nothing waits for a round to end: the builds go first, the cells that need no
model (or one built already) right behind them, and each model's cells the
moment it is built, so a worker never idles while another trains.

Only executors that run cells in other processes
(:class:`~simulator.experiments.executors.RemoteExecutor`: local processes, a
dask cluster) get models shipped; any other runs the cells as they are, in this
process, where the prefilter's own cache already trains each model once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from simulator.experiments.design import Cell, run_cell
from simulator.experiments.executors import Executor, Outcome, RemoteExecutor
from simulator.folders.experiment import STATUS_FAILED, CellResult
from simulator.stages.trained import SyntheticKey, needs_stream_scores, synthetic_key

# The prefilter (and scikit-learn) is imported where a model is built or installed,
# so that the parent of an experiment, which trains nothing, never loads them.


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


def _key(cell: Cell) -> SyntheticKey | None:
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
        ``cells``), building on it the models not built yet as they are needed."""
        if not isinstance(executor, RemoteExecutor):
            yield from executor.run(run_cell, cells)
            return
        waiting: dict[SyntheticKey, list[int]] = {}  # a model being built -> its cells
        ready: list[int] = []
        for i, cell in enumerate(cells):
            key = _key(cell)
            if key is None or key in self._built:
                ready.append(i)
            else:
                waiting.setdefault(key, []).append(i)
        builds: dict[int, SyntheticKey] = {}  # ticket -> the model it builds
        for key, group in waiting.items():
            scores = any(
                needs_stream_scores(cells[i].policy.prefilter, cells[i].scenario) for i in group
            )
            builds[executor.submit(_build, _Build(cells[group[0]], scores))] = key
        runs: dict[int, int] = {}  # ticket -> index in cells

        def ship(i: int) -> None:
            key = _key(cells[i])
            task = Shipped(cells[i], self._built.get(key) if key is not None else None)
            runs[executor.submit(run_shipped, task)] = i

        for i in ready:
            ship(i)
        for outcome in executor.completed():
            if outcome.index in builds:
                key = builds.pop(outcome.index)
                # A model that fails to build is not kept: its cells train it
                # themselves and fail with the error, recorded as any failed run is.
                if outcome.value is not None:
                    self._built[key] = outcome.value
                for i in waiting.pop(key):
                    ship(i)
            elif outcome.index in runs:
                yield Outcome(runs.pop(outcome.index), outcome.value, outcome.error)


__all__ = ["ModelShelf", "Shipped", "run_shipped"]
