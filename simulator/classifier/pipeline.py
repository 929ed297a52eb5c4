"""The violent-content classifier: TF-IDF word and character n-grams, a linear model, calibration.

A deliberately simple, fast, well-understood model. Word uni- and bigrams catch
phrasings; character n-grams within word boundaries (``char_wb``) survive the
misspellings, spacing and leetspeak evaders use. Logistic regression (fitted by SGD) keeps
training to seconds, and calibration turns its margins into probabilities, so
that a threshold of 0.9 means "about 90% of posts scored here violate" on data
like the validation set: sigmoid over random folds for a team's own data,
isotonic on a calibration sample drawn like the validation sample for the
synthetic corpus (:mod:`simulator.classifier.calibration`).
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

CALIBRATION_FOLDS = 3


def build_features() -> FeatureUnion:
    """The unfitted text features: word uni- and bigrams, character 2- to 5-grams."""
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    lowercase=True,
                    min_df=2,
                    sublinear_tf=True,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    lowercase=True,
                    min_df=2,
                    sublinear_tf=True,
                ),
            ),
        ]
    )


def build_model(random_state: int = 0) -> SGDClassifier:
    """The unfitted linear model on those features (not calibrated)."""
    # logistic loss by SGD: the same model as LogisticRegression at a tenth of the fitting time
    return SGDClassifier(
        loss="log_loss", alpha=5e-5, max_iter=50, tol=1e-4, random_state=random_state
    )


def build_pipeline(random_state: int = 0) -> Pipeline:
    """An unfitted pipeline: ``fit(texts, violating)``, then ``predict_proba(texts)[:, 1]``.

    The binary target is ``violating`` (bool), so column 1 of ``predict_proba``
    is P(violating).
    """
    calibrated = CalibratedClassifierCV(
        build_model(random_state),
        method="sigmoid",
        cv=StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=random_state),
    )
    return Pipeline([("features", build_features()), ("classifier", calibrated)])
