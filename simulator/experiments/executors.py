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
  an existing ``Client`` / ``LocalCluster``. A worker that dies is replaced
  by dask (its task retried, then failed as ``KilledWorker``); a cluster left
  with no worker at all for a while fails what is left instead of waiting
  for a worker that may never come.

The two that run items elsewhere (:class:`RemoteExecutor`s) also take work
one item at a time: :meth:`~RemoteExecutor.submit` while
:meth:`~RemoteExecutor.completed` is being read, so that work which needs an
earlier result (a cell and the model it is shipped) starts as soon as that
result is in, with no round waiting for its slowest task.

Which one an experiment uses is its :class:`~simulator.experiments.execution.Execution`'s choice.
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


class WorkersGone(Exception):
    """Raised by :meth:`RemoteExecutor._wait` when no worker is left to run the
    futures waited for: they, and anything submitted later, fail with its message."""


class RemoteExecutor(Executor):
    """Base class of executors that run items in other processes, one
    submission at a time: each :meth:`submit` gets a ticket, and
    :meth:`completed` yields an :class:`Outcome` per ticket (its ``index``) as
    it completes, including items submitted while it is being read, until
    none is left."""

    def __init__(self) -> None:
        self._tickets: dict[Any, int] = {}  # pending future -> ticket
        self._issued = 0
        self._gone: str | None = None  # why no worker is left (WorkersGone), if so
        self._refused: deque[int] = deque()  # tickets submitted after that: failed at once
        # Futures put here by their own done-callbacks: a wait takes what is
        # done instead of scanning every pending future.
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def _future(self, fn: Callable[[T], R], item: T) -> Any:
        raise NotImplementedError

    def _still_waiting(self) -> None:
        """Called when :data:`poll_seconds` passed with nothing done; raise
        :class:`WorkersGone` if nothing pending can ever be."""

    poll_seconds: float | None = None
    """How long a wait blocks before :meth:`_still_waiting` (None: for ever)."""

    def _cancel(self, futures: list[Any]) -> None:
        """Drop ``futures`` (no worker is left to run them)."""

    def submit(self, fn: Callable[[T], R], item: T) -> int:
        """Start ``fn(item)``; its outcome will come from :meth:`completed` with
        the ticket returned here as its ``index``."""
        ticket = self._issued
        self._issued += 1
        if self._gone is not None:
            self._refused.append(ticket)
        else:
            future = self._future(fn, item)
            self._tickets[future] = ticket
            future.add_done_callback(self._done.put)
        return ticket

    def _wait(self) -> list[Any]:
        """Block until a pending future is done; return those done by then.
        Raise :class:`WorkersGone` if none can be, ever."""
        while True:
            try:
                first = self._done.get(timeout=self.poll_seconds)
            except queue.Empty:
                self._still_waiting()
                continue
            done = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    done.append(self._done.get_nowait())
            # A future of an earlier use of this executor, cancelled at its close, is not ours.
            done = [f for f in done if f in self._tickets]
            if done:
                return done

    def completed(self) -> Iterator[Outcome[Any]]:
        while self._tickets or self._refused:
            if self._refused:
                yield Outcome(self._refused.popleft(), error=self._gone)
                continue
            try:
                done = self._wait()
            except WorkersGone as exc:
                # Nothing left can run: what is pending fails (and what comes later)
                self._gone = f"{type(exc).__name__}: {exc}"
                self._refused.extend(sorted(self._tickets.values()))
                self._cancel(list(self._tickets))
                self._tickets.clear()
                continue
            # Earliest ticket first among those done together: the order the
            # caller sees then depends only on what finished when.
            for future in sorted(done, key=self._tickets.__getitem__):
                ticket = self._tickets.pop(future)
                try:
                    value = future.result()
                except Exception as exc:  # a worker died (killed, out of memory)
                    yield Outcome(ticket, error=f"{type(exc).__name__}: {exc}")
                else:
                    yield Outcome(ticket, value)

    def run(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[Outcome[R]]:
        index = {self.submit(fn, item): i for i, item in enumerate(items)}
        for outcome in self.completed():
            if outcome.index in index:  # not an item of a run left unfinished before
                yield Outcome(index[outcome.index], outcome.value, outcome.error)


class ProcessExecutor(RemoteExecutor):
    """Runs items in local worker processes."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
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
        self._tickets.clear()

    def _future(self, fn: Callable[[T], R], item: T) -> Future[R]:
        if self._pool is None:
            raise RuntimeError("use the executor in a `with` block")
        try:
            return self._pool.submit(fn, item)
        except BrokenProcessPool as exc:
            # A worker died before this was submitted: it fails as the running ones did.
            failed: Future[R] = Future()
            failed.set_exception(exc)
            return failed


NO_WORKERS_TIMEOUT = 60.0
"""Seconds a dask cluster may have no worker while items wait, by default."""
POLL_SECONDS = 5.0
"""How often a wait for dask items checks that the cluster still has workers."""


class DaskExecutor(RemoteExecutor):
    """Runs items on a dask.distributed cluster.

    ``target`` is a scheduler address (``tcp://host:8786``), or a
    ``distributed.Client`` or cluster object to use as is. Workers must be
    able to import ``simulator`` (same version as here).

    A cluster with no worker for ``no_workers_timeout`` seconds while items
    are pending (every worker died, with no nanny to restart it, or was
    stopped) fails those items and any submitted later: their outcomes carry
    the error, and the caller keeps what finished. ``None`` takes dask's
    ``distributed.scheduler.no-workers-timeout`` setting if it is set (for
    instance through ``DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT``),
    else :data:`NO_WORKERS_TIMEOUT`. A cluster whose workers come later (a
    batch system's queue) needs a longer one.
    """

    name = "dask"

    def __init__(
        self, target: Any, timeout: float = 30.0, no_workers_timeout: float | None = None
    ) -> None:
        super().__init__()
        self.target = target
        self.timeout = timeout
        self.no_workers_timeout = no_workers_timeout
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
        if self._client is not None:
            # Interrupted or done: cancel what is left so the cluster stops working for us.
            if self._tickets:
                self._client.cancel(list(self._tickets))
            if self._own:
                self._client.close()
        self._tickets.clear()
        self._client = None

    def _future(self, fn: Callable[[T], R], item: T) -> Any:
        if self._client is None:
            raise RuntimeError("use the executor in a `with` block")
        return self._client.submit(fn, item, pure=False)

    def _wait(self) -> list[Any]:
        self._patience_now = self._patience()
        self.poll_seconds = min(POLL_SECONDS, self._patience_now)
        self._alone_since: float | None = None  # when the cluster was first seen with no worker
        return super()._wait()

    def _still_waiting(self) -> None:
        if self._workers_now():
            self._alone_since = None
            return
        now = time.monotonic()
        if self._alone_since is None:
            self._alone_since = now
        elif now - self._alone_since >= self._patience_now:
            raise WorkersGone(
                f"the dask cluster at {self._address()} has had no worker for "
                f"{self._patience_now:g} s (they died or were stopped); the items not "
                "finished were not run"
            )

    def _patience(self) -> float:
        """Seconds a cluster may stay with no worker while items are pending."""
        if self.no_workers_timeout is not None:
            return float(self.no_workers_timeout)
        import dask
        from dask.utils import parse_timedelta

        configured = dask.config.get("distributed.scheduler.no-workers-timeout", None)
        if configured is None:
            return NO_WORKERS_TIMEOUT
        return float(parse_timedelta(configured, default="s"))

    def _workers_now(self) -> int:
        """Workers the scheduler knows now (0 if it cannot be asked)."""
        try:
            return len(self._client.nthreads())
        except Exception:  # the scheduler is gone too: no worker will come through it
            return 0

    def _address(self) -> str:
        try:
            return str(self._client.scheduler.address)
        except Exception:
            return str(self.target)

    def _cancel(self, futures: list[Any]) -> None:
        if self._client is not None and futures:
            # the scheduler may be gone too: nothing runs them anyway
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
