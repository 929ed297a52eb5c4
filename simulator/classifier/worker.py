"""What a text-scoring worker process runs: load the fitted pipeline, score texts.

Kept apart from :mod:`simulator.classifier.parallel` (and light: pickle and
numpy only) because a spawned worker imports the module of the function it
runs: importing the parallel scorer's own module would bring in training,
pandas and the model-file code, a second of CPU before the worker scores
anything. Unpickling the pipeline imports what the pipeline itself is made of
(scikit-learn's estimators and :mod:`simulator.classifier.pipeline`), and no more.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

_pipeline: Any = None


def load(pipeline_file: str) -> None:
    """The worker's initializer: read the fitted pipeline the parent wrote."""
    global _pipeline
    # Written a moment ago by our own parent process, in a private folder: not
    # untrusted input.
    _pipeline = pickle.loads(Path(pipeline_file).read_bytes())


def score(texts: list[str]) -> np.ndarray:
    """P(violating) for each text, as float64 (as ``TrainedClassifier.score``)."""
    return np.asarray(_pipeline.predict_proba(texts)[:, 1], dtype=np.float64)


def ready() -> None:
    """Nothing: done once a worker has run :func:`load` (the parent's sign that
    the workers can take texts)."""
