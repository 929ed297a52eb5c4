"""Scoring texts on several cores: the one step of text mode that dominates its time.

Each call's texts are cut into chunks that this process takes from the start
and the worker processes from the end, until they meet: a worker that is
still starting, or slowed by other jobs on the machine, simply takes fewer,
and none takes any before it has loaded the model. Workers load the fitted
pipeline from a private temporary file the parent wrote (a path is all that
crosses at start-up, so a worker that dies while starting can never leave the
parent blocked on a pipe), and scores are identical to scoring in one
process, so results do not depend on the number of workers nor on where the
processes met. A worker that dies raises a
:class:`~simulator.errors.ModsimError`; it never hangs the run.
"""

from __future__ import annotations

import math
import pickle
import shutil
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from simulator.classifier import worker
from simulator.classifier.training import TrainedClassifier
from simulator.errors import ModsimError
from simulator.spawning import GUARD_FIX, spawn_context

MIN_TEXTS_TO_SPLIT = 2_000
"""Below this, shipping texts to a worker costs more than it saves."""
CHUNK_TEXTS = 500
"""Texts per chunk, about 60 ms of scoring: small enough that this process
rarely waits long for a worker's last chunk, large enough that a chunk's fixed
cost (a few milliseconds per call of the pipeline) stays a small part of it."""
MAX_CHUNKS = 1_000
"""Chunks per call at most: larger calls get larger chunks."""
QUEUED_PER_WORKER = 2
"""Chunks in hand per worker process: one it scores, one waiting for it."""


class ParallelScorer:
    """Scores with ``classifier`` across ``workers`` processes (this one included).

    A context manager: the worker processes end when it closes.
    """

    def __init__(self, classifier: TrainedClassifier, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._classifier = classifier
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._folder: Path | None = None
        self._ready: Future[None] | None = None
        if workers > 1:
            context = spawn_context(f"{workers - 1} scoring worker process(es)")
            self._folder = Path(tempfile.mkdtemp(prefix="modsim-scorer-"))
            model = self._folder / "pipeline.pickle"
            model.write_bytes(pickle.dumps(classifier.pipeline, protocol=pickle.HIGHEST_PROTOCOL))
            self._pool = ProcessPoolExecutor(
                max_workers=workers - 1,
                mp_context=context,
                initializer=worker.load,
                initargs=(str(model),),
            )
            # Starts a worker now, so that it loads while this process goes on;
            # done once one has loaded the model.
            self._ready = self._pool.submit(worker.ready)

    @property
    def workers(self) -> int:
        return self._workers

    def score(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if self._pool is None or self._ready is None or len(items) < MIN_TEXTS_TO_SPLIT:
            return self._classifier.score(items)
        size = max(CHUNK_TEXTS, math.ceil(len(items) / MAX_CHUNKS))
        split = _Split(math.ceil(len(items) / size))
        feeder = _Feeder(self._pool, self._ready, items, size, split, self._workers - 1)
        feeder.start()
        mine: dict[int, np.ndarray] = {}
        try:
            # This process takes its share of the chunks no worker has taken yet, as
            # if every process were as fast, in one call of the pipeline; then its
            # share of what is left, and so on, until it meets the workers.
            while feeder.error is None and (taken := split.take_front(self._workers)):
                mine[taken.start] = self._classifier.score(
                    items[taken.start * size : taken.stop * size]
                )
        finally:
            feeder.stop()
        if isinstance(feeder.error, BrokenProcessPool):
            self.close()
            raise ModsimError(
                f"a scoring worker process stopped ({feeder.error}); if this comes from a "
                f"script, {GUARD_FIX}"
            ) from None
        if feeder.error is not None:
            raise feeder.error
        parts = {**mine, **feeder.scores}
        scores = np.concatenate([parts[k] for k in sorted(parts)])
        assert len(scores) == len(items), "every chunk is scored once"
        return scores

    def close(self) -> None:
        """End the worker processes and remove the model's folder, without waiting
        for them: a worker that exits takes a moment, seconds on a loaded machine,
        that the run need not spend waiting. A thread of this process waits for
        them and then removes the folder (a worker reads the model from it when it
        starts); the interpreter waits for that thread before it exits."""
        pool, folder = self._pool, self._folder
        self._pool = self._folder = self._ready = None
        if pool is None and folder is None:
            return
        try:
            threading.Thread(target=_end, args=(pool, folder), name="modsim-scorer-close").start()
        except RuntimeError:  # no new threads while the interpreter shuts down
            _end(pool, folder)

    def __enter__(self) -> ParallelScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Split:
    """One call's chunks ``0 .. n-1``, taken from the start by this process and
    from the end by the workers; each is taken once."""

    def __init__(self, n: int) -> None:
        self._front, self._back = 0, n
        self._lock = threading.Lock()

    def take_front(self, processes: int) -> range:
        """A ``1 / processes`` share of the chunks nobody has taken yet (at least one),
        or an empty range once there are none."""
        with self._lock:
            take = math.ceil((self._back - self._front) / processes)
            self._front += take
            return range(self._front - take, self._front)

    def take_back(self) -> int | None:
        """The last chunk nobody has taken yet, or None."""
        with self._lock:
            if self._back <= self._front:
                return None
            self._back -= 1
            return self._back


class _Feeder(threading.Thread):
    """Hands the workers chunks from the end of a call, a few at a time, once a
    worker has loaded the model, until the chunks run out or :meth:`stop`."""

    def __init__(
        self,
        pool: ProcessPoolExecutor,
        ready: Future[None],
        items: list[str],
        size: int,
        split: _Split,
        worker_processes: int,
    ) -> None:
        super().__init__(name="modsim-scorer-feeder", daemon=True)
        self._pool, self._ready = pool, ready
        self._items, self._size, self._split = items, size, split
        self._depth = QUEUED_PER_WORKER * worker_processes
        self._stopped: Future[None] = Future()
        self.scores: dict[int, np.ndarray] = {}
        self.error: BaseException | None = None

    def stop(self) -> None:
        """Take no more chunks; return once the workers' chunks are scored."""
        if not self._stopped.done():
            self._stopped.set_result(None)
        self.join()

    def run(self) -> None:
        try:
            wait([self._ready, self._stopped], return_when=FIRST_COMPLETED)
            if self._ready.done():
                self._ready.result()  # a worker that died while starting raises here
            else:
                return  # this process scored every chunk before a worker was ready
            chunk_of: dict[Future[np.ndarray], int] = {}
            while True:
                while len(chunk_of) < self._depth and not self._stopped.done():
                    k = self._split.take_back()
                    if k is None:
                        break
                    texts = self._items[k * self._size : (k + 1) * self._size]
                    chunk_of[self._pool.submit(worker.score, texts)] = k
                if not chunk_of:
                    return
                finished, _ = wait(chunk_of, return_when=FIRST_COMPLETED)
                for future in finished:
                    self.scores[chunk_of.pop(future)] = future.result()
        except BaseException as exc:  # handed to the calling thread, which raises it
            self.error = exc


def _end(pool: ProcessPoolExecutor | None, folder: Path | None) -> None:
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
