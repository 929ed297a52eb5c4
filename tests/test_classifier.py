"""Tests for the violent-content classifier library (simulator.classifier)."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from simulator.classifier import (
    ClassifierReport,
    ScoreModel,
    TrainedClassifier,
    evaluate,
    load_model,
    mix_weights,
    save_model,
    threshold_for,
    train_on_file,
    train_synthetic,
)
from simulator.classifier.modelfile import _bundle
from simulator.classifier.pipeline import build_pipeline
from simulator.errors import DataFileError, ModelFileError
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import CLASSES, N_CLASSES

N_PER_CLASS = 400  # small enough for seconds, large enough for stable AUCs


@pytest.fixture(scope="module", params=[0, 1, 2])
def trained(request: pytest.FixtureRequest) -> TrainedClassifier:
    return train_synthetic(np.random.default_rng(request.param), n_per_class=N_PER_CLASS)


def test_heldout_templates_are_harder_but_still_useful(trained: TrainedClassifier) -> None:
    report = evaluate(trained)
    assert report.roc_auc_in_template is not None and report.roc_auc_heldout_template is not None
    assert report.roc_auc_heldout_template < report.roc_auc_in_template - 0.02
    assert report.roc_auc_heldout_template > 0.75


def test_calibration_mean_matches_observed_rate(trained: TrainedClassifier) -> None:
    v = trained.validation
    n = len(v)
    observed = v["violating"].mean()
    # sampling error of the observed rate (4 sigma) plus a small allowance for model bias
    tolerance = 4 * np.sqrt(observed * (1 - observed) / n) + 0.03
    assert abs(v["score"].mean() - observed) < tolerance
    report = evaluate(trained)
    assert report.expected_calibration_error < 0.1


def test_validation_and_metadata(trained: TrainedClassifier) -> None:
    v = trained.validation
    assert list(v.columns) == ["score", "violating", "label", "in_template"]
    assert v["score"].between(0, 1).all()
    assert set(v["label"]) == set(CLASSES)
    assert v["in_template"].any() and (~v["in_template"]).any()
    assert trained.metadata["source"] == "synthetic"
    assert trained.metadata["n_train"] == N_PER_CLASS * N_CLASSES
    assert trained.metadata["created_with"].startswith("modsim")
    scores = trained.score(["I will kill the senator tonight", "Lovely pancakes this morning"])
    assert scores.dtype == np.float64 and scores[0] > scores[1]


def test_report_tables_and_serialisation(trained: TrainedClassifier) -> None:
    report = evaluate(trained, thresholds=(0.3, 0.5, 0.9))
    assert isinstance(report, ClassifierReport)
    assert list(report.thresholds["threshold"]) == [0.3, 0.5, 0.9]
    assert report.thresholds["recall"].is_monotonic_decreasing
    assert set(report.class_rates["label"]) == set(CLASSES)
    assert report.calibration["count"].sum() == report.n_validation
    news = report.class_rates.query("label == 'violent_news' and threshold == 0.5")
    assert float(news["error_rate"].iloc[0]) == float(news["flagged_share"].iloc[0])
    json.dumps(report.to_dict())
    md = report.to_markdown()
    assert "ROC-AUC" in md and "violent_news" in md


def test_save_load_round_trip_gives_identical_scores(
    trained: TrainedClassifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    save_model(trained, path)
    loaded = load_model(path)
    texts = TextGenerator({"en": 0.5, "fr": 0.5}, evasion_rate=0.2).generate(
        np.arange(N_CLASSES, dtype=np.int8).repeat(40), np.random.default_rng(9)
    )
    np.testing.assert_array_equal(loaded.score(texts), trained.score(texts))
    pd.testing.assert_frame_equal(loaded.validation, trained.validation)
    assert loaded.metadata == trained.metadata


class Payload:
    """Stands in for whatever a malicious model file might smuggle in."""

    def __init__(self) -> None:
        self.armed = True


def _dangerous() -> None:  # pragma: no cover - never called
    raise AssertionError("loaded an untrusted function")


@pytest.mark.parametrize("smuggled", [Payload(), _dangerous], ids=["object", "function"])
def test_untrusted_types_are_refused(
    trained: TrainedClassifier, tmp_path: Path, smuggled: object
) -> None:
    bundle = _bundle(trained)
    bundle["metadata"] = {"extra": smuggled}
    path = tmp_path / "evil.skops"
    sio.dump(bundle, path)
    with pytest.raises(
        ModelFileError, match=r"evil\.skops: refusing .*untrusted types: .*test_classifier"
    ):
        load_model(path)


@pytest.mark.parametrize(
    "content",
    [
        np.random.default_rng(0).bytes(2048),
        pickle.dumps({"pipeline": "not a model"}),
        b"",
    ],
    ids=["random-bytes", "pickle", "empty"],
)
def test_files_that_are_not_skops_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"model\.skops: not a readable modsim model file"):
        load_model(path)


def test_truncated_and_missing_and_foreign_files_are_refused(
    trained: TrainedClassifier, tmp_path: Path
) -> None:
    good = tmp_path / "good.skops"
    save_model(trained, good)
    cut = tmp_path / "cut.skops"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"cut\.skops"):
        load_model(cut)
    with pytest.raises(ModelFileError, match=r"absent\.skops: model file not found"):
        load_model(tmp_path / "absent.skops")
    foreign = tmp_path / "foreign.skops"
    sio.dump({"weights": [1, 2, 3]}, foreign)
    with pytest.raises(ModelFileError, match=r"foreign\.skops: not a modsim classifier file"):
        load_model(foreign)


def _bad_pipeline(kind: str) -> Pipeline:
    """Pipelines made only of trusted types that modsim still cannot use."""
    if kind == "unfitted":
        return build_pipeline(0)
    if kind == "numeric":
        numbers = np.arange(20.0).reshape(10, 2)
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(
            numbers, np.arange(10) % 2
        )
    if kind == "three-classes":
        texts = ["alpha beta", "gamma delta", "epsilon zeta"] * 4
        return Pipeline([("words", TfidfVectorizer()), ("model", LogisticRegression())]).fit(
            texts, ["x", "y", "z"] * 4
        )
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def small() -> TrainedClassifier:
    return train_synthetic(np.random.default_rng(3), n_per_class=150)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unfitted", "pipeline is not fitted"),
        ("numeric", "pipeline does not score texts: ValueError: could not convert string"),
        (
            "three-classes",
            r"pipeline must tell violating \(True\) from non-violating.*'x', 'y', 'z'",
        ),
    ],
)
def test_pipelines_modsim_cannot_use_are_refused_on_load(
    small: TrainedClassifier, tmp_path: Path, kind: str, message: str
) -> None:
    bundle = _bundle(small)
    bundle["pipeline"] = _bad_pipeline(kind)
    path = tmp_path / f"{kind}.skops"
    sio.dump(bundle, path)
    with pytest.raises(ModelFileError, match=rf"{kind}\.skops: model file's {message}"):
        load_model(path)


def _bad_validation(n: int, kind: str) -> dict[str, list[object]]:
    rows = np.arange(n)
    sample: dict[str, list[object]] = {
        "score": [float(v) for v in np.linspace(0.0, 1.0, n)],
        "violating": [bool(v) for v in rows % 2 == 0],
        "label": [None] * n,
        "in_template": [True] * n,
    }
    if kind == "empty":
        return {column: [] for column in sample}
    if kind in ("nan", "above-one", "negative", "text-score", "bool-score"):
        bad = {"nan": float("nan"), "above-one": 1.5, "negative": -0.1}
        bad |= {"text-score": "0.5", "bool-score": True}
        sample["score"][n // 2] = bad[kind]
    elif kind == "no-violating":
        sample["violating"] = [False] * n
    elif kind == "no-legitimate":
        sample["violating"] = [True] * n
    elif kind == "text-flags":
        sample["violating"][1] = "yes"
    elif kind == "numeric-labels":
        sample["label"][0] = 3
    return sample


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "validation sample is empty"),
        ("nan", r"column 'score' must hold scores in \[0, 1\]; row 6 is nan"),
        ("above-one", r"column 'score' must hold scores in \[0, 1\]; row 6 is 1\.5"),
        ("negative", r"column 'score' .* row 6 is -0\.1"),
        ("text-score", r"column 'score' .* row 6 is '0\.5'"),
        ("bool-score", r"column 'score' .* row 6 is True"),
        ("no-violating", "has no violating rows; thresholds stated as precision or recall"),
        ("no-legitimate", "has no non-violating rows"),
        ("text-flags", r"column 'violating' must hold booleans; row 2 is 'yes'"),
        ("numeric-labels", r"column 'label' must hold class names or nulls; row 1 is 3"),
    ],
)
def test_validation_samples_modsim_cannot_use_are_refused_on_load(
    small: TrainedClassifier, tmp_path: Path, kind: str, message: str
) -> None:
    bundle = _bundle(small)
    bundle["validation"] = _bad_validation(11, kind)
    path = tmp_path / f"{kind}.skops"
    sio.dump(bundle, path)
    with pytest.raises(ModelFileError, match=rf"{kind}\.skops: model file's validation sample"):
        load_model(path)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_saved_models_follow_the_umask_as_results_do(
    small: TrainedClassifier, tmp_path: Path, umask: int
) -> None:
    old = os.umask(umask)
    try:
        save_model(small, tmp_path / "model.skops")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.skops").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]  # no temporary left


# --- training on a user's file ---------------------------------------------------------------


# one fast pipeline, three folds: these tests are about reading files, not choosing pipelines
ONE_PIPELINE: dict[str, Any] = {"candidates": ["svm-c0.1"], "folds": 3}


def _labelled_corpus(seed: int, n_per_class: int = 150) -> pd.DataFrame:
    return TextGenerator().corpus(n_per_class, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_train_on_csv_with_class_names(tmp_path: Path, seed: int) -> None:
    df = _labelled_corpus(seed)
    path = tmp_path / "posts.csv"
    df.rename(columns={"text": "body", "label": "category"}).to_csv(path, index=False)
    clf = train_on_file(path, "body", "category", np.random.default_rng(seed), **ONE_PIPELINE)
    v = clf.validation
    assert len(v) == pytest.approx(0.25 * len(df), abs=2)
    assert set(v["label"]) <= set(CLASSES)
    report = evaluate(clf)
    assert report.roc_auc is not None and report.roc_auc > 0.8
    assert report.roc_auc_heldout_template is None
    assert clf.metadata["source"] == str(path)


def test_train_on_parquet_with_booleans_and_custom_labels(tmp_path: Path) -> None:
    df = _labelled_corpus(3)
    flags = tmp_path / "flags.parquet"
    df[["text", "violating"]].to_parquet(flags)
    clf = train_on_file(flags, "text", "violating", np.random.default_rng(0), **ONE_PIPELINE)
    assert clf.validation["label"].isna().all()
    assert ScoreModel.from_validation(clf.validation).kind == "violating"

    custom = tmp_path / "custom.csv"
    df.assign(tag=np.where(df["violating"], "remove", "keep")).to_csv(custom, index=False)
    clf2 = train_on_file(
        custom, "text", "tag", np.random.default_rng(0), positive_labels={"remove"}, **ONE_PIPELINE
    )
    assert clf2.validation["violating"].mean() == pytest.approx(0.4, abs=0.02)

    ones = tmp_path / "ones.csv"
    df.assign(y=df["violating"].astype(int)).to_csv(ones, index=False)
    clf3 = train_on_file(ones, "text", "y", np.random.default_rng(0), **ONE_PIPELINE)
    assert clf3.validation["violating"].mean() == pytest.approx(0.4, abs=0.02)


def test_bad_user_files_raise_data_file_errors(tmp_path: Path) -> None:
    df = _labelled_corpus(4, n_per_class=20)
    path = tmp_path / "posts.csv"
    df.to_csv(path, index=False)
    rng = np.random.default_rng(0)
    with pytest.raises(DataFileError, match=r"posts\.csv: no column 'message'"):
        train_on_file(path, "message", "label", rng)
    with pytest.raises(DataFileError, match=r"posts\.csv: no column 'class'"):
        train_on_file(path, "text", "class", rng)

    bad = df.copy()
    bad.loc[[3, 8], "label"] = "spam"
    bad_path = tmp_path / "bad_labels.csv"
    bad.to_csv(bad_path, index=False)
    with pytest.raises(
        DataFileError, match=r"bad_labels\.csv: column 'label' .*'spam'.*data rows 4, 9"
    ):
        train_on_file(bad_path, "text", "label", rng)

    one = tmp_path / "one_class.csv"
    df.assign(label="benign").to_csv(one, index=False)
    with pytest.raises(DataFileError, match=r"one_class\.csv: column 'label' has 0 violating rows"):
        train_on_file(one, "text", "label", rng)

    with pytest.raises(DataFileError, match=r"positive label\(s\) \['remove'\] never occur"):
        train_on_file(path, "text", "label", rng, positive_labels=["remove"])

    missing = df.copy()
    missing.loc[5, "text"] = None
    missing_path = tmp_path / "missing.csv"
    missing.to_csv(missing_path, index=False)
    with pytest.raises(DataFileError, match=r"column 'text' has missing .*data row 6"):
        train_on_file(missing_path, "text", "label", rng)

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFileError, match=r"empty\.csv: the file is empty"):
        train_on_file(empty, "text", "label", rng)
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(DataFileError, match=r"header\.csv: no data rows"):
        train_on_file(header_only, "text", "label", rng)
    with pytest.raises(DataFileError, match=r"nowhere\.csv: file not found"):
        train_on_file(tmp_path / "nowhere.csv", "text", "label", rng)
    with pytest.raises(DataFileError, match=r"unsupported file type '\.xlsx'"):
        (tmp_path / "a.xlsx").write_text("x")
        train_on_file(tmp_path / "a.xlsx", "text", "label", rng)


# --- score model ----------------------------------------------------------------------------


def test_score_model_reproduces_each_class_distribution(trained: TrainedClassifier) -> None:
    model = ScoreModel.from_validation(trained.validation)
    assert model.kind == "class"
    rng = np.random.default_rng(42)
    n = 4000  # per class: KS detects a gap of ~0.03 in the CDF against ~800 reference scores
    codes = np.repeat(np.arange(N_CLASSES, dtype=np.int8), n)
    drawn = model.sample(codes, rng.random(codes.size))
    v = trained.validation
    for code, name in enumerate(CLASSES):
        reference = v.loc[v["label"] == name, "score"].to_numpy()
        assert stats.ks_2samp(drawn[codes == code], reference).pvalue > 1e-3, name
    # the check has power: another class's distribution is rejected outright
    threat = v.loc[v["label"] == "violent_threat", "score"].to_numpy()
    assert stats.ks_2samp(drawn[codes == CLASSES.index("benign")], threat).pvalue < 1e-6


def test_score_model_is_monotone_in_u_and_round_trips(trained: TrainedClassifier) -> None:
    model = ScoreModel.from_validation(trained.validation)
    u = np.linspace(0.0, 0.999999, 2001)
    for code in range(N_CLASSES):
        s = model.sample(np.full(u.size, code, dtype=np.int8), u)
        assert np.all(np.diff(s) >= 0)
        assert s[0] == model.quantiles(code)[0]
    restored = ScoreModel.from_dict(json.loads(json.dumps(model.to_dict())))
    codes = np.random.default_rng(1).integers(0, N_CLASSES, 500).astype(np.int8)
    draws = np.random.default_rng(2).random(500)
    np.testing.assert_array_equal(restored.sample(codes, draws), model.sample(codes, draws))


def test_score_model_falls_back_to_violating_groups() -> None:
    validation = pd.DataFrame(
        {
            "score": [0.1, 0.2, 0.3, 0.8, 0.9],
            "violating": [False, False, False, True, True],
            "label": [None] * 5,
            "in_template": [True] * 5,
        }
    )
    model = ScoreModel.from_validation(validation)
    assert model.kind == "violating"
    np.testing.assert_array_equal(model.quantiles(0), [0.8, 0.9])
    np.testing.assert_array_equal(model.quantiles(4), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same length"):
        model.sample(np.zeros(3, dtype=np.int8), np.zeros(2))


# --- thresholds ----------------------------------------------------------------------------


def _precision_recall(v: pd.DataFrame, t: float) -> tuple[float, float]:
    flagged = v["score"] >= t
    tp = (flagged & v["violating"]).sum()
    return tp / max(int(flagged.sum()), 1), tp / v["violating"].sum()


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_threshold_for_precision_is_the_smallest_reaching_it(
    trained: TrainedClassifier, target: float
) -> None:
    v = trained.validation
    t = threshold_for(v, precision=target)
    assert _precision_recall(v, t)[0] >= target
    lower = np.unique(v.loc[v["score"] < t, "score"])
    assert all(_precision_recall(v, s)[0] < target for s in lower[-50:])


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_threshold_for_recall_is_the_largest_keeping_it(
    trained: TrainedClassifier, target: float
) -> None:
    v = trained.validation
    t = threshold_for(v, recall=target)
    assert _precision_recall(v, t)[1] >= target
    higher = np.unique(v.loc[v["score"] > t, "score"])
    if higher.size:
        assert _precision_recall(v, higher[0])[1] < target


STREAM_SHARES = dict(zip(CLASSES, [0.002, 0.008, 0.02, 0.2, 0.77], strict=True))


@pytest.mark.parametrize("target", [0.5, 0.8])
def test_a_precision_target_on_the_stream_mix_holds_at_that_mix(
    trained: TrainedClassifier, target: float
) -> None:
    v = trained.validation
    w = mix_weights(v, STREAM_SHARES)
    for name, share in STREAM_SHARES.items():  # each class carries its stream share
        assert w[(v["label"] == name).to_numpy()].sum() == pytest.approx(share)

    def precision_at_mix(th: float) -> float:
        flagged = (v["score"] >= th).to_numpy()
        return float(w[flagged & v["violating"].to_numpy()].sum() / w[flagged].sum())

    t = threshold_for(v, precision=target, weights=w)
    assert precision_at_mix(t) >= target
    lower = np.unique(v.loc[v["score"] < t, "score"])
    assert all(precision_at_mix(s) < target for s in lower[-50:])
    # Violating posts are rarer in the stream: the same precision needs a stricter cut.
    plain = threshold_for(v, precision=target)
    assert t > plain
    # Weights that keep the sample's own mix change nothing.
    assert threshold_for(v, precision=target, weights=np.full(len(v), 3.0)) == plain


def test_reweighting_needs_every_class_and_only_classes(trained: TrainedClassifier) -> None:
    v = trained.validation
    with pytest.raises(ValueError, match=r"no posts of class \['benign'\]"):
        mix_weights(v[v["label"] != "benign"], STREAM_SHARES)
    odd = v.assign(label=np.where(v["label"] == "benign", "spam", v["label"]))
    with pytest.raises(ValueError, match=r"labels \['spam'\] that are not content classes"):
        mix_weights(odd, STREAM_SHARES)


def test_threshold_for_explains_impossible_targets() -> None:
    v = pd.DataFrame({"score": [0.9, 0.8, 0.1], "violating": [False, True, False]})
    with pytest.raises(ValueError, match=r"no threshold reaches precision 0\.900"):
        threshold_for(v, precision=0.9)
    with pytest.raises(ValueError, match="exactly one"):
        threshold_for(v, precision=0.5, recall=0.5)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
        threshold_for(v, recall=1.5)
    assert threshold_for(v, recall=1.0) == 0.8


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_the_default_models_naive_bayes_is_a_scikit_learn_estimator() -> None:
    from sklearn.utils.estimator_checks import check_estimator

    from simulator.classifier.pipeline import LogOddsNB

    check_estimator(
        LogOddsNB(),
        expected_failed_checks={
            # the check draws features of either sign; naive Bayes takes counts or TF-IDF
            # weights only (MultinomialNB refuses negative input, as it should)
            "check_decision_proba_consistency": "negative features, which MultinomialNB refuses"
        },
    )


def test_log_odds_order_posts_as_naive_bayes_probabilities_do() -> None:
    from simulator.classifier.pipeline import LogOddsNB

    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(200, 12)).astype(float)
    y = x[:, 0] + rng.normal(0, 1, 200) > 1
    nb = LogOddsNB().fit(x, y)
    margin = nb.decision_function(x)
    proba = nb.predict_proba(x)[:, 1]
    assert margin.shape == (200,)
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), proba, rtol=1e-9, atol=1e-12)
    assert np.array_equal(margin > 0, nb.predict(x))
