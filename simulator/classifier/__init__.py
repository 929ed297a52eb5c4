"""The AI prefilter's classifier: build, train, evaluate, save and load it, and model its scores.

* :func:`build_pipeline` -- TF-IDF word + character n-grams, naive Bayes, calibration.
* :func:`train_synthetic`, :func:`train_on_file` -- a :class:`TrainedClassifier` with a
  scored validation sample.
* :func:`select_pipeline` -- for a team's own data: the pipeline chosen among declared
  candidates by cross-validation on the training split (what :func:`train_on_file` uses).
* :func:`validate_on_file` -- measure a model on a labelled file of one's own.
* :func:`evaluate` -- a :class:`ClassifierReport`; :func:`threshold_for` states a threshold
  as a target precision or recall.
* :func:`save_model`, :func:`load_model` -- skops files, loaded against an explicit allow-list.
* :class:`ScoreModel` -- scale mode: per-class score distributions instead of real texts.

Names are imported on first use: a text-scoring worker process unpickles a
pipeline made of :mod:`simulator.classifier.pipeline`'s estimators, and would
otherwise import training, evaluation and the model-file code (pandas, skops:
about a second of CPU) before it scores anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.classifier.evaluation import (
        ClassifierReport,
        evaluate,
        mix_weights,
        threshold_for,
    )
    from simulator.classifier.modelfile import load_model, save_model
    from simulator.classifier.pipeline import build_pipeline
    from simulator.classifier.scoremodel import ScoreModel
    from simulator.classifier.selection import Selection, select_pipeline
    from simulator.classifier.training import (
        TrainedClassifier,
        train_on_file,
        train_synthetic,
        validate_on_file,
    )

_EXPORTS = {
    "ClassifierReport": "simulator.classifier.evaluation",
    "evaluate": "simulator.classifier.evaluation",
    "mix_weights": "simulator.classifier.evaluation",
    "threshold_for": "simulator.classifier.evaluation",
    "load_model": "simulator.classifier.modelfile",
    "save_model": "simulator.classifier.modelfile",
    "build_pipeline": "simulator.classifier.pipeline",
    "ScoreModel": "simulator.classifier.scoremodel",
    "Selection": "simulator.classifier.selection",
    "select_pipeline": "simulator.classifier.selection",
    "TrainedClassifier": "simulator.classifier.training",
    "train_on_file": "simulator.classifier.training",
    "train_synthetic": "simulator.classifier.training",
    "validate_on_file": "simulator.classifier.training",
}

__all__ = [
    "ClassifierReport",
    "ScoreModel",
    "Selection",
    "TrainedClassifier",
    "build_pipeline",
    "evaluate",
    "load_model",
    "mix_weights",
    "save_model",
    "select_pipeline",
    "threshold_for",
    "train_on_file",
    "train_synthetic",
    "validate_on_file",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simulator.classifier' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
