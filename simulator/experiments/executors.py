"""Executors: where the cells of an experiment run.

The design (which cells) is separate from the executor (where they run), as
in EMA Workbench. Every executor is a context manager with one method,
:meth:`Executor.run`, that yields an :class:`Outcome` per item *as it
completes*. Callers key outcomes by index, never by arrival order or worker,
and each cell carries its own seed, so results do not depend on the executor.

* :class:`SerialExecutor`: in this process, one cell after another.
* :class:`ProcessExecutor`: local worker processes (``spawn``, chosen here
  rather than forced at import, so callers' start method is left alone; a
  script that would start them at its top level, with no main guard, gets a
  clear error instead: :mod:`simulator.spawning`).
* :class:`DaskExecutor`: a dask.distributed cluster, by scheduler address or
  an existing ``Client`` / ``LocalCluster``.

Which one an experiment uses is its :class:`~simulator.experiments.execution.Execution`'s choice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from simulator.errors import ModsimError
from simulator.spawning import spawn_context

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of item ``index``, or the error that stopped it (a crashed worker)."""

    index: int
    value: R | None = None
    error: str | None = None


class Executor:
    """Base class: a context manager that runs a function over items."""

    name = "executor"

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = False) -> None:
        """Release workers; ``cancel`` drops work not yet started."""

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """Runs items one after another in this process."""

    name = "serial"

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        for i, item in enumerate(items):
            try:
                value = fn(item)
            except Exception as exc:
                yield Outcome(i, error=f"{type(exc).__name__}: {exc}")
            else:
                yield Outcome(i, value)


class ProcessExecutor(Executor):
    """Runs items in local worker processes."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessExecutor:
        context = spawn_context(f"{self.workers} worker processes")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            # On Ctrl-C the workers got the signal too; do not wait for them.
            self._pool.shutdown(wait=not cancel, cancel_futures=True)
            self._pool = None

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        if self._pool is None:
            raise RuntimeError("use the executor in a `with` block")
        index: dict[Future[R], int] = {
            self._pool.submit(fn, item): i for i, item in enumerate(items)
        }
        for future in as_completed(index):
            try:
                value = future.result()
            except Exception as exc:  # a worker died (killed, out of memory)
                yield Outcome(index[future], error=f"{type(exc).__name__}: {exc}")
            else:
                yield Outcome(index[future], value)


class DaskExecutor(Executor):
    """Runs items on a dask.distributed cluster.

    ``target`` is a scheduler address (``tcp://host:8786``), or a
    ``distributed.Client`` or cluster object to use as is. Workers must be
    able to import ``simulator`` (same version as here).
    """

    name = "dask"

    def __init__(self, target: Any, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout
        self._client: Any = None
        self._own = False

    def __enter__(self) -> DaskExecutor:
        from distributed import Client

        if isinstance(self.target, Client):
            self._client = self.target
        else:
            try:
                self._client = Client(self.target, timeout=self.timeout)
            except (OSError, TimeoutError) as exc:
                raise ModsimError(
                    f"cannot reach the dask scheduler at {self.target}: {exc}"
                ) from None
            self._own = True
        return self

    @property
    def workers(self) -> int | None:
        """The cluster's worker threads once connected (what a search evaluates
        at once by default, as with local processes), else None."""
        if self._client is None:
            return None
        info = self._client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or None

    def close(self, cancel: bool = False) -> None:
        if self._client is not None and self._own:
            self._client.close()
        self._client = None

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        from distributed import as_completed as dask_completed

        if self._client is None:
            raise RuntimeError("use the executor in a `with` block")
        futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in dask_completed(futures):
                try:
                    value = future.result()
                except Exception as exc:
                    yield Outcome(index[future.key], error=f"{type(exc).__name__}: {exc}")
                else:
                    yield Outcome(index[future.key], value)
        finally:
            # Interrupted or done: cancel what is left so the cluster stops working for us.
            self._client.cancel([f for f in futures if not f.done()])
