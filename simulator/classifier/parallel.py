"""Scoring texts on several cores: the one step of text mode that dominates its time.

The main process scores one share of the texts while worker processes score
the others. Workers load the fitted pipeline from a private temporary file
the parent wrote (a path is all that crosses at start-up, so a worker that
dies while starting can never leave the parent blocked on a pipe), and scores
are identical to scoring in one process, so results do not depend on the
number of workers. A worker that dies raises a
:class:`~simulator.errors.ModsimError`; it never hangs the run.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from simulator.classifier.training import TrainedClassifier
from simulator.errors import ModsimError
from simulator.spawning import GUARD_FIX, spawn_context

MIN_TEXTS_TO_SPLIT = 2_000
"""Below this, shipping texts to a worker costs more than it saves."""

_worker_pipeline: Any = None


def _init(pipeline_file: str) -> None:
    global _worker_pipeline
    # Written a moment ago by our own parent process, in a private folder: not
    # untrusted input.
    _worker_pipeline = pickle.loads(Path(pipeline_file).read_bytes())


def _score(texts: list[str]) -> np.ndarray:
    return np.asarray(_worker_pipeline.predict_proba(texts)[:, 1], dtype=np.float64)


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
        if workers > 1:
            context = spawn_context(f"{workers - 1} scoring worker process(es)")
            self._folder = Path(tempfile.mkdtemp(prefix="modsim-scorer-"))
            model = self._folder / "pipeline.pickle"
            model.write_bytes(pickle.dumps(classifier.pipeline, protocol=pickle.HIGHEST_PROTOCOL))
            self._pool = ProcessPoolExecutor(
                max_workers=workers - 1,
                mp_context=context,
                initializer=_init,
                initargs=(str(model),),
            )

    @property
    def workers(self) -> int:
        return self._workers

    def score(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if self._pool is None or len(items) < MIN_TEXTS_TO_SPLIT:
            return self._classifier.score(items)
        parts = np.array_split(np.arange(len(items)), self._workers)
        try:
            futures: list[Future[np.ndarray]] = [
                self._pool.submit(_score, [items[i] for i in part]) for part in parts[1:]
            ]
            mine = self._classifier.score([items[i] for i in parts[0]])
            theirs = [f.result() for f in futures]
        except BrokenProcessPool as exc:
            self.close()
            raise ModsimError(
                f"a scoring worker process stopped ({exc}); if this comes from a script, "
                f"{GUARD_FIX}"
            ) from None
        return np.concatenate([mine, *theirs])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> ParallelScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
