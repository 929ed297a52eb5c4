"""The default model's scores are probabilities: its reliability table is within sampling error.

The check (simulator.classifier.calibration.reliability_table): every score bin
of at least 30 validation posts gets a Wilson interval around its observed
violating share, at 99% family-wise (Bonferroni: 1 - 0.01/m per bin, m bins
tested), and the bin's mean score must lie inside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import default_model
from scipy import stats

from simulator.classifier import TrainedClassifier, evaluate
from simulator.classifier.calibration import (
    MIN_BIN_POSTS,
    reliability_table,
    wilson_interval,
    within_sampling_error,
)
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import N_CLASSES


@pytest.fixture(scope="module", params=[0, 1, 2])
def model(request: pytest.FixtureRequest) -> TrainedClassifier:
    return default_model(request.param)


def test_default_model_is_within_sampling_error_of_the_diagonal(model: TrainedClassifier) -> None:
    report = evaluate(model)
    table = report.calibration
    tested = table[table["tested"]]
    assert len(tested) >= 6  # the check covers most of the score range, not two bins
    assert report.calibrated is True, table.to_string()
    assert (tested["interval_low"] <= tested["mean_predicted"]).all()
    assert (tested["mean_predicted"] <= tested["interval_high"]).all()
    assert report.expected_calibration_error < 0.02


def test_a_miscalibrated_score_fails_the_same_check(model: TrainedClassifier) -> None:
    # squaring keeps the ranking (same ROC-AUC) but understates every middling probability
    squared = model.validation.assign(score=model.validation["score"] ** 2)
    report = evaluate(TrainedClassifier(model.pipeline, squared))
    assert report.roc_auc == pytest.approx(evaluate(model).roc_auc)
    assert report.calibrated is False
    assert not report.calibration.loc[report.calibration["tested"], "within"].all()


def test_the_report_states_the_verdict_and_how_it_was_reached(model: TrainedClassifier) -> None:
    report = evaluate(model)
    text = report.to_markdown()
    assert "Within sampling error of the diagonal: yes" in text
    assert "Bonferroni" in text and "99%" in text
    data = report.to_dict()
    assert data["calibrated"] is True
    assert {"interval_low", "interval_high", "tested", "within"} <= set(data["calibration"][0])


@pytest.mark.parametrize(("k", "n"), [(0, 40), (3, 40), (17, 35), (250, 1000), (999, 1000)])
@pytest.mark.parametrize("level", [0.9, 0.99, 0.999])
def test_wilson_interval_matches_scipy(k: int, n: int, level: float) -> None:
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    low, high = wilson_interval(k, n, level)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_intervals_are_bonferroni_corrected_over_the_bins_tested() -> None:
    rng = np.random.default_rng(0)
    scores = np.r_[np.full(200, 0.05), np.full(100, 0.45), np.full(400, 0.95), np.full(5, 0.65)]
    violating = rng.random(scores.size) < scores
    table = reliability_table(violating, scores, level=0.99)
    tested = table[table["tested"]]
    assert len(tested) == 3  # the 5-post bin is shown, not tested
    for row in tested.itertuples():
        hits = round(row.observed_rate * row.count)
        assert (row.interval_low, row.interval_high) == pytest.approx(
            wilson_interval(hits, row.count, 1 - 0.01 / 3)
        )
    small = table[~table["tested"]]
    assert small["count"].tolist() == [5] and small["within"].isna().all()


def test_no_bin_large_enough_means_not_tested() -> None:
    scores = np.linspace(0, 1, MIN_BIN_POSTS - 1)
    table = reliability_table(scores > 0.5, scores)
    assert within_sampling_error(table) is None
    assert within_sampling_error(pd.DataFrame(table.iloc[0:0])) is None


def test_calibrated_scores_rank_as_the_model_does(model: TrainedClassifier) -> None:
    # an isotonic map alone is a step function: a fifth of the validation texts scored
    # exactly 1.0, and precision targets fell between steps (tests/test_cards.py)
    texts = TextGenerator({"en": 0.8, "fr": 0.2}, evasion_rate=0.05).generate(
        np.repeat(np.arange(N_CLASSES, dtype=np.int8), 400), np.random.default_rng(3)
    )
    features, calibrated = model.pipeline.named_steps.values()
    margins = calibrated.calibrated_classifiers_[0].estimator.decision_function(
        features.transform(texts)
    )
    scores = model.score(texts)
    order = np.argsort(margins, kind="stable")
    assert np.all(np.diff(scores[order]) >= 0)
    assert len(np.unique(scores)) >= 0.99 * len(np.unique(margins))
    assert scores.min() > 0.0 and scores.max() < 1.0
