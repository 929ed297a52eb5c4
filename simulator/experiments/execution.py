"""How an experiment runs: where its runs go, and who hears how far it got.

An :class:`Execution` is built once, as EMA Workbench builds an evaluator,
and handed as is to every experiment: :func:`~simulator.experiments.compare.compare`,
:func:`~simulator.experiments.batch.run_batch`,
:func:`~simulator.experiments.search.optimize` and
:func:`~simulator.experiments.robustness.robustness` (and the studies over
them). None of them takes workers, a scheduler, an executor or a progress
callback of its own::

    from simulator import Execution, compare
    compare("scenarios/quick.yaml", ["policies/jury-only.yaml", "policies/ai-first.yaml"],
            execution=Execution(workers=2, progress=print))

Progress is one callable for every experiment: it gets a :class:`Tick` each
time something finishes (cells of a batch or a comparison, runs of a
robustness study, candidates of a search), first with what was found
finished on disk, and ``done`` never goes down for one ``unit``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.errors import ModsimError
from simulator.experiments.executors import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
)


@dataclass(frozen=True)
class Tick:
    """How far an experiment has got: ``done`` of ``total`` ``unit`` finished
    (those found finished on disk included), ``failed`` of them failed.
    ``note`` says what else there is to say (a search: the runs so far)."""

    done: int
    total: int
    failed: int = 0
    unit: str = "cells"
    note: str = ""


Progress = Callable[[Tick], None]
"""What an experiment calls with each :class:`Tick`."""


@dataclass(frozen=True)
class Execution:
    """Where an experiment's runs go, and its progress callback.

    ``executor`` runs them if given (any :class:`~simulator.experiments.executors.Executor`);
    else a dask.distributed cluster at ``scheduler`` (an address or a
    ``Client``); else ``workers`` local processes (default: one per CPU,
    never more than there are runs; one runs them in this process).
    ``progress``, if given, is called with a :class:`Tick` as runs finish.
    Results do not depend on any of these: every run carries its own seed.
    """

    workers: int | None = None
    scheduler: Any = None
    executor: Executor | None = None
    progress: Progress | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ModsimError(f"workers must be at least 1, got {self.workers}")
        if self.executor is not None and (self.workers, self.scheduler) != (None, None):
            raise ModsimError("give an executor, or workers and a scheduler to build one: not both")

    def executor_for(self, tasks: int | None = None) -> Executor:
        """The executor for ``tasks`` runs (``None``: not known in advance)."""
        if self.executor is not None:
            return self.executor
        if self.scheduler is not None:
            return DaskExecutor(self.scheduler)
        n = self.workers if self.workers is not None else (os.cpu_count() or 1)
        if tasks is not None:
            n = min(n, tasks)
        return SerialExecutor() if n <= 1 else ProcessExecutor(n)

    def update(
        self, done: int, total: int, failed: int = 0, unit: str = "cells", note: str = ""
    ) -> None:
        """Tell ``progress`` (if any) how far the experiment has got."""
        if self.progress is not None:
            self.progress(Tick(done, total, failed, unit, note))


__all__ = ["Execution", "Progress", "Tick"]
