"""Calibrating the synthetic-corpus model, and checking that its scores mean what they say.

The default model's validation sample is half fresh texts of templates it
trained on (scored with near certainty) and half texts of held-out templates
(scored with far less, and clustered: a held-out phrasing the model misses puts
every text of it at a low score). Calibrated over random folds of its training
texts -- the first kind only -- the model learnt that a middling score is rare
and almost always right: on the validation sample, scores of 0.1-0.2 were 28%
violating. Folds that held out templates instead (isotonic on their out-of-fold
scores) still left bins off by whole templates, which are what varies between
one set of held-out templates and another. So :func:`fit_calibrated` fits the
model on the training texts, then an isotonic map of its scores on a
*calibration sample* drawn like the validation sample -- fresh texts, of the
same training and held-out templates in the same proportion -- with
scikit-learn's ``CalibratedClassifierCV`` over the frozen model. An isotonic map
is a step function: alone it gave the default model 64 distinct scores, a fifth
of its validation texts exactly 1.0, and a precision target of 0.6 became a
threshold realising 0.64, for want of a threshold in between. So each step is
tilted by the rank of its knot, with weight :data:`TIE_BREAK`: scores
stay within 0.001 of the isotonic map's, and rank as the model does (every
ROC-AUC, held-out templates included, is the model's own).

:func:`reliability_table` is the check: per score bin, the violating share
observed beside the bin's mean score, with a Wilson interval around the
observed share at a family-wise level (Bonferroni over the bins tested), and
whether the mean score lies inside it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from simulator.classifier.pipeline import build_features, build_model

RELIABILITY_BINS = 10
RELIABILITY_LEVEL = 0.99
"""Family-wise confidence of the reliability check (Bonferroni over the bins tested)."""
MIN_BIN_POSTS = 30
"""Bins with fewer posts are shown but not tested: their interval says little."""
TIE_BREAK = 1e-3
"""Weight of the knot's rank in a calibrated score (the rest is the isotonic map's)."""


def fit_calibrated(
    random_state: int,
    texts: Sequence[str],
    violating: np.ndarray,
    calibration_texts: Sequence[str],
    calibration_violating: np.ndarray,
    calibration_weight: np.ndarray | None = None,
) -> Pipeline:
    """The pipeline fitted on ``texts``, its scores mapped to probabilities by an isotonic
    regression fitted on the (weighted) calibration sample, which the model never trained on."""
    features = build_features()
    matrix = features.fit_transform(list(texts))
    calibrated = fit_calibrated_model(
        random_state,
        matrix,
        violating,
        features.transform(list(calibration_texts)),
        calibration_violating,
        calibration_weight,
    )
    return Pipeline([("features", features), ("classifier", calibrated)])


def fit_calibrated_model(
    random_state: int,
    matrix: Any,
    violating: np.ndarray,
    calibration_matrix: Any,
    calibration_violating: np.ndarray,
    calibration_weight: np.ndarray | None = None,
) -> CalibratedClassifierCV:
    """:func:`fit_calibrated` on texts already turned into features (the model alone):
    what lets several models (one per policy area) share one fitted feature step."""
    model = build_model(random_state).fit(matrix, np.asarray(violating, dtype=bool))
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="isotonic")
    with warnings.catch_warnings():
        # the weights are meant for the calibration alone: the frozen model is not refitted
        warnings.filterwarnings("ignore", message=".*sample weights will only be used")
        calibrated.fit(
            calibration_matrix,
            np.asarray(calibration_violating, dtype=bool),
            sample_weight=calibration_weight,
        )
    _break_ties(calibrated)
    return calibrated


def _break_ties(calibrated: CalibratedClassifierCV) -> None:
    """Tilt each isotonic map's steps by the knots' rank (see the module doc).

    The map interpolates linearly between its knots (the ends of its steps), so moving
    the ``k``-th of ``K`` knots (from 1) to ``(1 - w) * value + w * k / (K + 1)`` makes it strictly
    increasing between the first and last knot, within ``w`` of the step function. The
    rank, not the margin, so that the tilt does not flatten where the margins are large
    (naive Bayes log-odds run to hundreds, where a logistic function is 0 or 1).
    """
    for pair in calibrated.calibrated_classifiers_:
        for isotonic in pair.calibrators:
            n_knots = len(isotonic.X_thresholds_)
            rank = np.arange(1, n_knots + 1) / (n_knots + 1)  # within (0, 1): no score is 0 or 1
            isotonic.y_thresholds_ = (1 - TIE_BREAK) * isotonic.y_thresholds_ + TIE_BREAK * rank
            # its interpolating function is built from the knots when its state is set
            isotonic.__setstate__(isotonic.__getstate__())


def wilson_interval(successes: int, n: int, level: float) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion at confidence ``level``."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


RELIABILITY_COLUMNS = (
    "bin_low",
    "bin_high",
    "mean_predicted",
    "observed_rate",
    "count",
    "interval_low",
    "interval_high",
    "tested",
    "within",
)


def reliability_table(
    violating: np.ndarray,
    scores: np.ndarray,
    bins: int = RELIABILITY_BINS,
    level: float = RELIABILITY_LEVEL,
    min_posts: int = MIN_BIN_POSTS,
) -> pd.DataFrame:
    """Observed violating share against mean score, per equal-width score bin.

    Every non-empty bin is a row. A bin with at least ``min_posts`` posts is
    ``tested``: its observed share gets a Wilson interval at confidence
    ``1 - (1 - level) / m`` (``m`` bins tested, Bonferroni, so that all of them
    hold together at ``level``), and ``within`` says whether the bin's mean
    score lies inside it. Posts in a bin have different scores, so their count
    varies less than a binomial at the mean score would: the test is
    conservative (it fails a calibrated model less often than ``1 - level``).
    """
    y = np.asarray(violating, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(s, edges[1:-1], right=False), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    n_tested = int((counts >= min_posts).sum())
    per_bin = 1.0 - (1.0 - level) / max(n_tested, 1)
    rows = []
    for b in np.flatnonzero(counts).tolist():
        mask = which == b
        count = int(counts[b])
        mean = float(s[mask].mean())
        hits = int(y[mask].sum())
        tested = count >= min_posts
        low, high = wilson_interval(hits, count, per_bin) if tested else (np.nan, np.nan)
        rows.append(
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "mean_predicted": mean,
                "observed_rate": hits / count,
                "count": count,
                "interval_low": low,
                "interval_high": high,
                "tested": tested,
                "within": bool(low <= mean <= high) if tested else None,
            }
        )
    return pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))


def within_sampling_error(table: pd.DataFrame) -> bool | None:
    """True when every tested bin's mean score lies in its interval; None when none was tested."""
    tested = table[table["tested"].astype(bool)]
    if tested.empty:
        return None
    return bool(tested["within"].astype(bool).all())
