"""Choosing a pipeline for a team's own labelled data, by cross-validation on its training split.

No single text classifier is best on every corpus: on small, noisy tweet sets a
strongly regularised model ranks best, on larger ones a looser one, and class
weights matter when one class is rare. :data:`CANDIDATES` is a small declared
set -- the plain baseline (TF-IDF word 1-2 and ``char_wb`` 2-5 grams, logistic
regression with default settings) and tuned variants: sublinear term
frequencies, balanced class weights, a grid of regularisation strengths for
logistic regression and a linear SVM, logistic and modified-Huber losses by
SGD, and complement naive Bayes. :func:`select_pipeline` scores each by
stratified k-fold cross-validation on the training split only, picks the
highest mean ROC-AUC, refits it on the whole split and calibrates it.

ROC-AUC is the selection score because it is what `classifier evaluate` and the
benchmark report, and it does not depend on the class mix (a team's labelled
sample rarely has the stream's); average precision, which does, is shown
beside it. Both are rank measures, so cross-validation scores raw margins and
calibration is needed only once, on the chosen pipeline: sigmoid calibration on
out-of-fold margins of a model then fitted on the whole split
(``ensemble=False``), so calibration never changes the ranking it was chosen for.

Feature matrices are shared: each fold vectorises the texts once per feature
set, and every candidate using that set fits on the same matrix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from simulator.classifier.pipeline import CALIBRATION_FOLDS

FeatureSet = Literal["plain", "sublinear"]

SCORING = "roc_auc"
"""The selection score (mean over folds); see the module docstring for why."""

DEFAULT_FOLDS = 5
BASELINE = "baseline"


def build_features(kind: FeatureSet) -> FeatureUnion:
    """Word 1-2 and ``char_wb`` 2-5 gram TF-IDF: scikit-learn's defaults (``plain``) or with
    sublinear term frequencies (``sublinear``: a word said five times is not five times
    the evidence, which matters in short, repetitive posts)."""
    sublinear = kind == "sublinear"
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=sublinear)),
            (
                "char",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=sublinear),
            ),
        ]
    )


@dataclass(frozen=True)
class Candidate:
    """One declared pipeline: a feature set and a linear model (built unfitted, seeded);
    ``description`` names the model."""

    name: str
    description: str
    features: FeatureSet
    model: Callable[[int], ClassifierMixin]

    def build(self, random_state: int) -> Pipeline:
        """The pipeline uncalibrated: features, then the model (for cross-validation)."""
        return Pipeline(
            [("features", build_features(self.features)), ("classifier", self.model(random_state))]
        )


def _baseline(random_state: int) -> ClassifierMixin:
    # scikit-learn's defaults (lbfgs, C=1), with iterations enough to converge
    return LogisticRegression(max_iter=2000, random_state=random_state)


def _lr(c: float) -> Callable[[int], ClassifierMixin]:
    # liblinear: the same objective as the default lbfgs, in a third of the time on sparse n-grams
    return lambda rs: LogisticRegression(
        C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=rs
    )


def _svm(c: float) -> Callable[[int], ClassifierMixin]:
    return lambda rs: LinearSVC(C=c, class_weight="balanced", random_state=rs)


def _sgd(loss: str, alpha: float) -> Callable[[int], ClassifierMixin]:
    return lambda rs: SGDClassifier(
        loss=loss, alpha=alpha, class_weight="balanced", max_iter=200, tol=1e-4, random_state=rs
    )


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(BASELINE, "logistic regression C=1", "plain", _baseline),
    Candidate("lr-c0.25", "logistic regression C=0.25, balanced", "sublinear", _lr(0.25)),
    Candidate("lr-c1", "logistic regression C=1, balanced", "sublinear", _lr(1.0)),
    Candidate("lr-c4", "logistic regression C=4, balanced", "sublinear", _lr(4.0)),
    Candidate("svm-c0.02", "linear SVM C=0.02, balanced", "sublinear", _svm(0.02)),
    Candidate("svm-c0.1", "linear SVM C=0.1, balanced", "sublinear", _svm(0.1)),
    Candidate("svm-c0.5", "linear SVM C=0.5, balanced", "sublinear", _svm(0.5)),
    Candidate(
        "sgd-log",
        "SGD, logistic loss, alpha=1e-4, balanced",
        "sublinear",
        _sgd("log_loss", 1e-4),
    ),
    Candidate(
        "sgd-huber",
        "SGD, modified Huber, alpha=1e-4, balanced",
        "sublinear",
        _sgd("modified_huber", 1e-4),
    ),
    Candidate(
        "cnb",
        "complement naive Bayes, alpha=0.3",
        "sublinear",
        lambda rs: ComplementNB(alpha=0.3),
    ),
)
"""Every pipeline :func:`select_pipeline` may choose, the baseline first (it wins ties)."""

QUICK: tuple[str, ...] = (BASELINE, "lr-c1", "svm-c0.1", "sgd-log")
"""The candidates of ``--quick``: one of each model family, at a middling strength."""


def candidate_names() -> list[str]:
    return [c.name for c in CANDIDATES]


def candidates_named(names: Sequence[str] | None) -> tuple[Candidate, ...]:
    """The declared candidates with these names, in declaration order (all when ``None``);
    a ``ValueError`` naming any unknown name and the known ones."""
    if names is None:
        return CANDIDATES
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in candidate_names()]
    if unknown:
        raise ValueError(f"unknown candidate(s) {unknown}; known: {candidate_names()}")
    if not wanted:
        raise ValueError(f"no candidates named; known: {candidate_names()}")
    return tuple(c for c in CANDIDATES if c.name in wanted)


def _margins(model: Any, x: Any) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(x), dtype=np.float64)
    return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


def _fold_scores(
    candidates: Sequence[Candidate],
    texts: Sequence[str],
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    random_state: int,
) -> list[tuple[float, float]]:
    """(ROC-AUC, average precision) of each candidate on one fold."""
    matrices = {}
    for kind in dict.fromkeys(c.features for c in candidates):
        features = build_features(kind)
        matrices[kind] = (
            features.fit_transform([texts[i] for i in train]),
            features.transform([texts[i] for i in test]),
        )
    out = []
    for c in candidates:
        x_train, x_test = matrices[c.features]
        model = c.model(random_state).fit(x_train, y[train])
        s = _margins(model, x_test)
        out.append((float(roc_auc_score(y[test], s)), float(average_precision_score(y[test], s))))
    return out


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_pipeline`: the calibrated, refitted choice and its CV table."""

    pipeline: Pipeline
    chosen: str
    folds: int
    table: list[dict[str, Any]]
    """One row per candidate: candidate, features, description, roc_auc_mean, roc_auc_sd,
    average_precision_mean, average_precision_sd, chosen."""

    def to_metadata(self) -> dict[str, Any]:
        """The model file's record of the choice."""
        return {
            "selection": {
                "scoring": SCORING,
                "folds": self.folds,
                "chosen": self.chosen,
                "calibration": f"sigmoid, {CALIBRATION_FOLDS}-fold out-of-fold margins",
                "table": [dict(row) for row in self.table],
            }
        }


def default_jobs(folds: int) -> int:
    """Processes for cross-validation: one per fold, at most the CPUs this process may use."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(folds, usable or 1))


def calibrated(candidate: Candidate, random_state: int) -> Pipeline:
    """``candidate``'s pipeline with its model wrapped in sigmoid calibration (unfitted)."""
    calibration = CalibratedClassifierCV(
        candidate.model(random_state),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=random_state),
        ensemble=False,
    )
    return Pipeline([("features", build_features(candidate.features)), ("classifier", calibration)])


def select_pipeline(
    texts: Sequence[str],
    violating: np.ndarray,
    random_state: int,
    candidates: Sequence[str] | None = None,
    folds: int = DEFAULT_FOLDS,
    n_jobs: int = 1,
) -> Selection:
    """Cross-validate ``candidates`` (names; all of :data:`CANDIDATES` when ``None``) on
    ``texts``, choose the highest mean ROC-AUC (earlier declared wins a tie), and return
    it refitted on every text and calibrated."""
    chosen_from = candidates_named(candidates)
    y = np.asarray(violating, dtype=bool)
    items = list(texts)
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    fewest = int(min(y.sum(), (~y).sum()))
    if fewest < max(folds, CALIBRATION_FOLDS):
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {max(folds, CALIBRATION_FOLDS)} "
            f"texts of each kind; the training split has {fewest} of one"
        )
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state).split(
        np.zeros(len(items)), y
    )
    per_fold = Parallel(n_jobs=n_jobs)(
        delayed(_fold_scores)(chosen_from, items, y, train, test, random_state)
        for train, test in splits
    )
    scores = np.asarray(per_fold, dtype=np.float64)  # fold x candidate x (auc, ap)
    means, sds = scores.mean(axis=0), scores.std(axis=0, ddof=1)
    best = int(np.argmax(means[:, 0]))  # first of the maxima: the earlier declared
    table = [
        {
            "candidate": c.name,
            "features": c.features,
            "description": c.description,
            "roc_auc_mean": float(means[i, 0]),
            "roc_auc_sd": float(sds[i, 0]) if math.isfinite(sds[i, 0]) else 0.0,
            "average_precision_mean": float(means[i, 1]),
            "average_precision_sd": float(sds[i, 1]) if math.isfinite(sds[i, 1]) else 0.0,
            "chosen": i == best,
        }
        for i, c in enumerate(chosen_from)
    ]
    winner = chosen_from[best]
    pipeline = calibrated(winner, random_state).fit(items, y)
    return Selection(pipeline, winner.name, folds, table)
