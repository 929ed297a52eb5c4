"""Scoring texts on several cores: the one step of text mode that dominates its time.

The main process scores one share of the texts while worker processes score
the others. Workers are started with the fitted pipeline handed over in
memory (never through a model file), and scores are identical to scoring in
one process, so results do not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np

from simulator.classifier.training import TrainedClassifier

MIN_TEXTS_TO_SPLIT = 2_000
"""Below this, shipping texts to a worker costs more than it saves."""

_worker_pipeline: Any = None


def _init(pipeline_bytes: bytes) -> None:
    global _worker_pipeline
    # Our own in-memory object from our own parent process: not untrusted input.
    _worker_pipeline = pickle.loads(pipeline_bytes)


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
        if workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=workers - 1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(pickle.dumps(classifier.pipeline),),
            )

    @property
    def workers(self) -> int:
        return self._workers

    def score(self, texts: Sequence[str]) -> np.ndarray:
        items = list(texts)
        if self._pool is None or len(items) < MIN_TEXTS_TO_SPLIT:
            return self._classifier.score(items)
        parts = np.array_split(np.arange(len(items)), self._workers)
        futures: list[Future[np.ndarray]] = [
            self._pool.submit(_score, [items[i] for i in part]) for part in parts[1:]
        ]
        mine = self._classifier.score([items[i] for i in parts[0]])
        return np.concatenate([mine, *(f.result() for f in futures)])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ParallelScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
