"""The classifier in use: `modsim classifier train/evaluate`, model files named by a policy,
threshold targets, and the classifier section of every run's summary and report."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from helpers import ROOT, tweak
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from typer.testing import CliRunner

from simulator.api import simulate
from simulator.classifier import TrainedClassifier, threshold_for, train_synthetic
from simulator.classifier.modelfile import _bundle
from simulator.classifier.pipeline import build_pipeline
from simulator.cli import app
from simulator.config import PlatformPolicy, Scenario
from simulator.errors import ModsimError
from simulator.report.markdown import MARKDOWN_ENV, render_markdown
from simulator.report.run import run_inputs
from simulator.stages.prefilter import SCORE_SAMPLE_PER_CLASS, resolve_thresholds
from simulator.stream.texts import TextGenerator

runner = CliRunner()


def tiny(quick: Scenario, mode: str) -> Scenario:
    """Two days, 2,000 users, many violating posts: a text-mode run in a few seconds."""
    return tweak(
        quick,
        days=2,
        surges=[],
        population__daily_active_users=[
            {"date": "2021-03-01", "users": 2000},
            {"date": "2021-03-03", "users": 2000},
        ],
        content__class_shares={
            "violent_threat": 0.05,
            "incitement": 0.05,
            "violent_news": 0.1,
            "heated_political": 0.3,
            "benign": 0.5,
        },
        content__texts__mode=mode,
    )


def write_yaml(path: Path, model: object) -> Path:
    path.write_text(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))  # type: ignore[attr-defined]
    return path


def labelled_csv(path: Path, seed: int, per_class: int = 250) -> Path:
    """A user's own labelled file: their column names, their label words."""
    corpus = TextGenerator({"en": 0.7, "fr": 0.3}, evasion_rate=0.05).corpus(
        per_class, np.random.default_rng(seed)
    )
    pd.DataFrame(
        {"body": corpus["text"], "verdict": np.where(corpus["violating"], "remove", "keep")}
    ).to_csv(path, index=False)
    return path


def own_model_policy(path: Path, model: str, **prefilter: object) -> Path:
    doc = {
        "kind": "PlatformPolicy",
        "version": 1,
        "name": "own-model",
        "prefilter": {
            "enabled": True,
            "model": {"source": "file", "path": model},
            "timing": "pre_publication",
            "review_team": "staff",
            "auto_remove_above": {"precision": 0.98},
            "review_above": {"recall": 0.95},
            **prefilter,
        },
        "reports": {"review_team": "staff"},
        "staff": {"reviewers": 2, "reviews_per_hour": 60},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("seed", [0, 1])
def test_model_trained_on_users_csv_runs_a_policy_end_to_end(
    tmp_path: Path, quick: Scenario, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a project laid out as the README's: policies/, models/
    (tmp_path / "policies").mkdir()
    data = labelled_csv(tmp_path / "labelled.csv", seed)
    model = tmp_path / "models" / "ours.skops"  # models/ does not exist yet
    train = [
        "classifier", "train", "--data", str(data), "--text-col", "body",
        "--label-col", "verdict", "--positive-label", "remove", "--out", "models/ours.skops",
        "--seed", str(seed), "--candidates", "svm-c0.1,sgd-log", "--folds", "3",
    ]  # fmt: skip
    res = runner.invoke(app, train)
    assert res.exit_code == 0, res.output
    assert model.is_file() and "ROC-AUC" in res.output

    # the policy names the model as train suggested: relative to the policy file
    said = re.search(r"path: (\S+)\}", " ".join(res.output.split()))
    assert said and said[1] == "../models/ours.skops"
    policy = own_model_policy(tmp_path / "policies" / "policy.yaml", said[1])
    scenario = write_yaml(tmp_path / "scenario.yaml", tiny(quick, "text"))
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        ["run", str(scenario), "-p", str(policy), "--no-host", "--seed", str(seed),
         "--out", str(out), "--posts", "all"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    c = summary["classifier"]
    assert c["enabled"] and c["score_mode"] == "text"
    assert c["model"]["trained_on"] == str(data)
    assert c["model"]["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    auto, review = c["thresholds"]
    assert auto["target"] == {"precision": 0.98} and review["target"] == {"recall": 0.95}
    # targets are met on the stream's mix, on the model's scores for stream-like texts: the
    # run's own posts realise them up to sampling (the run's posts and the measured sample)
    realised = {r["name"]: r for r in c["in_run"]["at_thresholds"]}
    at_auto, at_review = realised["auto_remove_above"], realised["review_above"]
    assert at_auto["precision"] > 0.9
    if not review["capped"]:
        n = at_review["flagged_violating"] / at_review["recall"]  # violating posts made
        error = 4 * np.sqrt(0.95 * 0.05 * (1 / n + 1 / (2 * SCORE_SAMPLE_PER_CLASS)))
        assert abs(at_review["recall"] - 0.95) < error
    # the scores in the run are the model's: exactly the posts at or above the resolved
    # removal threshold were removed by the prefilter
    posts = pd.read_parquet(out / "posts.parquet")
    by_prefilter = posts["removed_by"] == "prefilter"
    assert (by_prefilter == (posts["score"] >= auto["score"])).all()
    assert c["in_run"]["auto_removed"] == int(by_prefilter.sum()) > 0
    assert c["in_run"]["auto_removed_violating"] == int((by_prefilter & posts["violating"]).sum())
    report = (out / "report.md").read_text()
    assert "## Prefilter classifier" in report and "score mode text" in report
    assert f"became the raw score {auto['score']:.4f}" in report
    assert str(data) in report


class Payload:
    """Stands in for whatever a malicious model file might smuggle in."""

    def __init__(self) -> None:
        self.armed = True


@pytest.fixture(scope="module")
def small_model() -> TrainedClassifier:
    return train_synthetic(np.random.default_rng(3), n_per_class=150)


def test_untrusted_model_file_is_refused_with_exit_code_2(
    tmp_path: Path, small_model: TrainedClassifier
) -> None:
    bundle = _bundle(small_model)
    bundle["metadata"] = {"extra": Payload()}
    evil = tmp_path / "evil.skops"
    sio.dump(bundle, evil)

    res = runner.invoke(app, ["classifier", "evaluate", str(evil)])
    assert res.exit_code == 2
    assert "untrusted types" in res.output and "Payload" in res.output
    assert "Traceback" not in res.output

    policy = own_model_policy(tmp_path / "policy.yaml", "evil.skops")
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(policy), "--out", str(out)]
    )
    assert res.exit_code == 2 and "untrusted types" in res.output
    assert not out.exists()  # refused before anything was written


def _spoiled(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    """A model bundle of trusted types only, with content modsim cannot use."""
    n = len(bundle["validation"]["score"])
    if kind == "unfitted":
        bundle["pipeline"] = build_pipeline(0)
    elif kind == "numeric":
        bundle["pipeline"] = Pipeline([("model", LogisticRegression())]).fit(
            np.arange(10.0).reshape(5, 2), [0, 1, 0, 1, 0]
        )
    elif kind == "empty":
        bundle["validation"] = {column: [] for column in bundle["validation"]}
    elif kind == "nan":
        bundle["validation"]["score"] = [float("nan")] * n
    elif kind == "above-one":
        bundle["validation"]["score"] = [2.0] * n
    elif kind == "no-violating":
        bundle["validation"]["violating"] = [False] * n
    return bundle


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unfitted", "pipeline is not fitted"),
        ("numeric", "pipeline does not score texts"),
        ("empty", "validation sample is empty"),
        ("nan", "validation sample: column 'score' must hold scores in [0, 1]; row 1 is nan"),
        ("above-one", "validation sample: column 'score' must hold scores in [0, 1]; row 1 is 2.0"),
        ("no-violating", "validation sample has no violating rows"),
    ],
)
def test_model_files_with_unusable_content_exit_2_naming_the_file(
    tmp_path: Path, small_model: TrainedClassifier, kind: str, message: str
) -> None:
    path = tmp_path / f"{kind}.skops"
    sio.dump(_spoiled(_bundle(small_model), kind), path)
    res = runner.invoke(app, ["classifier", "evaluate", str(path)])
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert f"{kind}.skops: model file's {message}" in flat
    assert "Traceback" not in res.output

    policy = own_model_policy(tmp_path / "policy.yaml", path.name)
    out = tmp_path / "run"
    res = runner.invoke(
        app, ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(policy), "--out", str(out)]
    )
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "Traceback" not in res.output
    assert not out.exists()  # refused before anything was written


def test_a_foreign_file_named_as_model_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "model.skops"
    foreign.write_bytes(b"PK\x03\x04 this is not a model")
    res = runner.invoke(app, ["classifier", "evaluate", str(foreign)])
    assert res.exit_code == 2 and "not a readable modsim model file" in res.output


@pytest.mark.parametrize("seed", [4, 5])
def test_train_synthetic_reports_heldout_auc_below_in_template(tmp_path: Path, seed: int) -> None:
    model, measures = tmp_path / "m.skops", tmp_path / "m.json"
    res = runner.invoke(
        app,
        ["classifier", "train", "--per-class", "300", "--languages", "en=0.7,fr=0.3",
         "--evasion-rate", "0.05", "--seed", str(seed), "--out", str(model)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "held-out templates" in res.output
    res = runner.invoke(
        app, ["classifier", "evaluate", str(model), "-t", "0.9", "--json", str(measures)]
    )
    assert res.exit_code == 0, res.output
    m = json.loads(measures.read_text())
    assert 0.75 < m["roc_auc_heldout_template"] < m["roc_auc_in_template"] - 0.02
    assert [row["threshold"] for row in m["thresholds"]] == [0.9]
    # a second train into the same file is refused unless --force
    again = runner.invoke(app, ["classifier", "train", "--per-class", "50", "--out", str(model)])
    assert again.exit_code == 2 and "--force" in again.output


def test_train_rejects_options_of_the_other_route(tmp_path: Path) -> None:
    data = labelled_csv(tmp_path / "d.csv", 0, per_class=20)
    res = runner.invoke(
        app,
        ["classifier", "train", "--data", str(data), "--languages", "en=1",
         "--out", str(tmp_path / "m.skops")],
    )  # fmt: skip
    assert res.exit_code == 2 and "synthetic corpus" in res.output
    res = runner.invoke(
        app, ["classifier", "train", "--data", str(data), "--out", str(tmp_path / "m.skops")]
    )
    assert res.exit_code == 2 and "no column 'text'" in res.output


@pytest.mark.parametrize("target", [0.9, 0.95, 0.99])
def test_precision_and_recall_targets_resolve_on_the_validation_sample(
    small_model: TrainedClassifier, ai_first: PlatformPolicy, target: float
) -> None:
    v = small_model.validation
    pol = tweak(
        ai_first,
        prefilter__auto_remove_above={"precision": target, "mix": "validation"},
        prefilter__review_above={"recall": target, "mix": "validation"},
    )
    auto, review = resolve_thresholds(pol.prefilter, v)
    assert auto.score == threshold_for(v, precision=target)
    assert review.score == threshold_for(v, recall=target)
    flagged, y = v["score"] >= auto.score, v["violating"]
    assert (flagged & y).sum() / flagged.sum() >= target
    assert (v["score"] >= review.score)[y].mean() >= target
    # a raw score stays a raw score
    raw = tweak(pol, prefilter__auto_remove_above=0.97)
    assert resolve_thresholds(raw.prefilter, v)[0].score == 0.97


def test_targets_that_cannot_be_met_fail_clearly(
    small_model: TrainedClassifier, ai_first: PlatformPolicy
) -> None:
    v = small_model.validation.assign(score=np.linspace(0, 1, len(small_model.validation)))
    # scores unrelated to the labels: no threshold reaches precision 1
    v = v.assign(violating=np.resize([True, False], len(v)))
    pol = tweak(ai_first, prefilter__auto_remove_above={"precision": 1.0, "mix": "validation"})
    with pytest.raises(ModsimError, match=r"prefilter\.auto_remove_above: no threshold reaches"):
        resolve_thresholds(pol.prefilter, v, pol.name)
    crossed = tweak(
        ai_first,
        prefilter__auto_remove_above={"recall": 0.99, "mix": "validation"},
        prefilter__review_above={"recall": 0.1, "mix": "validation"},
    )
    auto, review = resolve_thresholds(crossed.prefilter, small_model.validation)
    # a review target above the removal threshold leaves no review band, instead of failing
    assert review.capped and review.score == auto.score
    assert not auto.capped


def test_runs_without_prefilter_say_so(quick_sampled: Scenario, jury_only: PlatformPolicy) -> None:
    r = simulate(quick_sampled, jury_only, seed=1)
    assert r.summary["classifier"] == {"enabled": False, "score_mode": "sampled"}
    assert "This policy has no AI prefilter" in render_markdown(r)


def test_a_run_report_states_the_calibration_verdict(
    quick_sampled: Scenario, ai_first: PlatformPolicy
) -> None:
    pol = tweak(ai_first, prefilter__model__train_per_class=300)
    r = simulate(quick_sampled, pol, seed=2)
    rel = r.summary["classifier"]["reliability"]
    assert rel["level"] == 0.99 and rel["min_posts"] == 30
    assert 0 < rel["bins_within"] <= rel["bins_tested"] <= 10
    assert rel["calibrated"] == (rel["bins_within"] == rel["bins_tested"])
    assert len(rel["outside"]) == rel["bins_tested"] - rel["bins_within"]
    verdict = "within" if rel["calibrated"] else "not within"
    report = render_markdown(r)
    assert f"**Calibration: {verdict} sampling error of the diagonal.**" in report
    assert (
        f"In {rel['bins_within']} of the {rel['bins_tested']} score bins of at least 30 "
        "validation posts" in report
    )
    # the HTML report's inputs say it too, and a failed bin is named in the Markdown
    assert f"calibrated {verdict} sampling error" in " ".join(run_inputs(r.summary))
    failed = {
        **rel,
        "calibrated": False,
        "bins_within": rel["bins_tested"] - 1,
        "outside": [
            {"bin_low": 0.1, "bin_high": 0.2, "mean_predicted": 0.15, "observed_rate": 0.3,
             "count": 400}
        ],
    }  # fmt: skip
    summary = {**r.summary, "classifier": {**r.summary["classifier"], "reliability": failed}}
    assert "calibrated not within sampling error" in " ".join(run_inputs(summary))
    md = MARKDOWN_ENV.get_template("_classifier.md.j2").render(s=summary)
    assert "**Calibration: not within sampling error of the diagonal.**" in md
    assert "Outside: scores 0.1-0.2, mean 0.150 against 30.0% violating (400 posts)." in md


def test_sampled_run_reports_its_mode_and_validation_measures(
    quick_sampled: Scenario, ai_first: PlatformPolicy
) -> None:
    pol = tweak(
        ai_first,
        prefilter__model__train_per_class=300,
        prefilter__auto_remove_above=0.95,
        prefilter__review_above=0.6,
    )
    r = simulate(quick_sampled, pol, seed=2)
    c = r.summary["classifier"]
    assert c["score_mode"] == "sampled" and c["model"]["trained_on"] == "synthetic"
    assert [t["score"] for t in c["thresholds"]] == [0.95, 0.6]
    assert c["validation"]["roc_auc_heldout_template"] < c["validation"]["roc_auc_in_template"]
    removed = r.summary["violating"]["removed_by"]["prefilter"]
    wrong = r.summary["legitimate"]["wrongly_removed_by"]["prefilter"]
    assert c["in_run"]["auto_removed_violating"] == removed
    assert c["in_run"]["auto_removed_legitimate"] == wrong
    report = render_markdown(r)
    assert "score mode sampled" in report and "no texts were scored" in report
