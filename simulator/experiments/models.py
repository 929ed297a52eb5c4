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
moment it is built, so a worker never idles while another trains. A
:class:`CellFlow` takes cells at any time while earlier ones run (a search
submits a candidate's next seeds, or a new candidate, as results come in).

Only executors that run cells in other processes
(:class:`~simulator.experiments.executors.RemoteExecutor`: local processes, a
dask cluster) get models shipped; any other runs the cells as they are, in this
process, where the prefilter's own cache already trains each model once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
        flow = self.flow(executor)
        tickets = flow.submit(cells)
        index = {ticket: i for i, ticket in enumerate(tickets)}
        while flow:
            outcome = flow.next()
            yield Outcome(index[outcome.index], outcome.value, outcome.error)

    def flow(self, executor: Executor) -> CellFlow:
        """Cells submitted to ``executor`` at any time, their outcomes as they
        complete (what lets a search start a candidate's next runs, or a new
        candidate, while others still run)."""
        return CellFlow(self, executor)


class CellFlow:
    """Cells submitted to one executor while earlier ones run, and their
    outcomes one at a time as they complete (``index``: the ticket
    :meth:`submit` gave). On a :class:`~simulator.experiments.executors.RemoteExecutor`
    the models a cell needs are built first, once (its :class:`ModelShelf`);
    any other executor runs the cells submitted so far in order when an outcome is
    asked for."""

    def __init__(self, shelf: ModelShelf, executor: Executor) -> None:
        self._shelf = shelf
        self._executor = executor
        self._issued = 0
        self._pending = 0
        self._queued: list[tuple[int, Cell]] = []  # not remote: run at the next ask
        self._local: Iterator[tuple[int, Outcome[CellResult]]] | None = None
        self._waiting: dict[SyntheticKey, list[tuple[int, Cell]]] = {}  # model building -> cells
        self._builds: dict[int, SyntheticKey] = {}  # executor ticket -> the model it builds
        self._runs: dict[int, int] = {}  # executor ticket -> our ticket
        self._completed: Iterator[Outcome[Any]] | None = None

    def __len__(self) -> int:
        """Cells submitted whose outcome was not taken yet."""
        return self._pending

    def submit(self, cells: Sequence[Cell]) -> list[int]:
        """Start ``cells`` (the models they need, not built or building yet, go
        first, each built with stream scores if any of them needs those); return
        their tickets."""
        tickets = list(range(self._issued, self._issued + len(cells)))
        self._issued += len(cells)
        self._pending += len(cells)
        if not isinstance(self._executor, RemoteExecutor):
            self._queued.extend(zip(tickets, cells, strict=True))
            return tickets
        ready: list[tuple[int, Cell]] = []
        fresh: dict[SyntheticKey, list[tuple[int, Cell]]] = {}
        for ticket, cell in zip(tickets, cells, strict=True):
            key = _key(cell)
            if key is None or key in self._shelf._built:
                ready.append((ticket, cell))
            elif key in self._waiting:
                self._waiting[key].append((ticket, cell))
            else:
                fresh.setdefault(key, []).append((ticket, cell))
        for key, group in fresh.items():  # the builds go first, the cells ready behind them
            scores = any(needs_stream_scores(c.policy.prefilter, c.scenario) for _, c in group)
            self._builds[self._executor.submit(_build, _Build(group[0][1], scores))] = key
            self._waiting[key] = group
        for ticket, cell in ready:
            self._ship(ticket, cell)
        return tickets

    def _ship(self, ticket: int, cell: Cell) -> None:
        assert isinstance(self._executor, RemoteExecutor)
        key = _key(cell)
        task = Shipped(cell, self._shelf._built.get(key) if key is not None else None)
        self._runs[self._executor.submit(run_shipped, task)] = ticket

    def next(self) -> Outcome[CellResult]:
        """The outcome of the next cell to complete (``index``: its ticket)."""
        if not self._pending:
            raise ValueError("no cell is pending")
        self._pending -= 1
        if not isinstance(self._executor, RemoteExecutor):
            return self._next_local()
        while True:
            if self._completed is None:
                self._completed = self._executor.completed()
            outcome = next(self._completed, None)
            if outcome is None:  # read to its end: a fresh reading for later submissions
                self._completed = None
                continue
            if outcome.index in self._builds:
                key = self._builds.pop(outcome.index)
                # A model that fails to build is not kept: its cells train it
                # themselves and fail with the error, recorded as any failed run is.
                if outcome.value is not None:
                    self._shelf._built[key] = outcome.value
                for ticket, cell in self._waiting.pop(key):
                    self._ship(ticket, cell)
            elif outcome.index in self._runs:
                return Outcome(self._runs.pop(outcome.index), outcome.value, outcome.error)

    def _next_local(self) -> Outcome[CellResult]:
        while True:
            if self._local is None:
                queued, self._queued = self._queued, []
                if not queued:
                    raise RuntimeError(f"{self._executor.name} gave fewer outcomes than items")
                outcomes = self._executor.run(run_cell, [cell for _, cell in queued])
                self._local = ((queued[o.index][0], o) for o in outcomes)
            found = next(self._local, None)
            if found is None:
                self._local = None
                continue
            ticket, outcome = found
            return Outcome(ticket, outcome.value, outcome.error)


__all__ = ["CellFlow", "ModelShelf", "Shipped", "run_shipped"]
