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
"""

from simulator.classifier.evaluation import ClassifierReport, evaluate, mix_weights, threshold_for
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
