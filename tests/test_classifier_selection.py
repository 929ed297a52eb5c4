"""Own-data training chooses its pipeline by cross-validation: `classifier train --data`
prints the table and the choice, the model file remembers them with the columns, and
`classifier evaluate --data` reads the remembered columns."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from simulator.classifier import TrainedClassifier, load_model, save_model, train_on_file
from simulator.classifier.selection import (
    BASELINE,
    CANDIDATES,
    QUICK,
    calibrated,
    candidates_named,
    select_pipeline,
)
from simulator.cli import app
from simulator.errors import DataFileError
from simulator.stream.texts import TextGenerator

runner = CliRunner()

FEW = [BASELINE, "svm-c0.5", "sgd-log"]


def imbalanced(seed: int, n: int, violating_share: float = 0.05) -> pd.DataFrame:
    """Posts of which ``violating_share`` violate, a third of them evasively spelt: the
    rare class is where class weights matter."""
    corpus = TextGenerator({"en": 0.6, "fr": 0.4}, evasion_rate=0.3).corpus(
        n // 2, np.random.default_rng(seed)
    )
    k = round(n * violating_share)
    picked = pd.concat(
        [
            corpus[corpus["violating"]].sample(k, random_state=seed),
            corpus[~corpus["violating"]].sample(n - k, random_state=seed),
        ]
    )
    return picked.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley and McNeil's (1982) standard error of a ROC-AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(np.sqrt(var))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choice_has_the_highest_cv_score_and_holds_out_at_least_as_well_as_the_baseline(
    seed: int,
) -> None:
    train, test = imbalanced(seed, 1200), imbalanced(seed + 100, 1500)
    y_train = train["violating"].to_numpy()
    picked = select_pipeline(train["text"].tolist(), y_train, seed, candidates=FEW, folds=3)

    assert [row["candidate"] for row in picked.table] == FEW
    means = [row["roc_auc_mean"] for row in picked.table]
    chosen = [row["candidate"] for row in picked.table if row["chosen"]]
    assert chosen == [picked.chosen] == [FEW[int(np.argmax(means))]]
    assert all(row["roc_auc_sd"] > 0 for row in picked.table)
    # at a 5% violating share the unweighted baseline ranks worse than a class-weighted model
    assert picked.chosen != BASELINE

    (baseline,) = candidates_named([BASELINE])
    plain = calibrated(baseline, seed).fit(train["text"].tolist(), y_train)
    y = test["violating"].to_numpy()
    auc_plain = roc_auc_score(y, plain.predict_proba(test["text"].tolist())[:, 1])
    auc_chosen = roc_auc_score(y, picked.pipeline.predict_proba(test["text"].tolist())[:, 1])
    noise = 2 * auc_standard_error(auc_plain, int(y.sum()), int((~y).sum()))
    assert auc_chosen >= auc_plain - noise, (auc_chosen, auc_plain, noise)


def test_the_calibrated_choice_ranks_as_the_choice_refitted_on_every_text() -> None:
    """Calibration is fitted on out-of-fold margins of one model fitted on every text: it
    maps scores monotonically, so the ranking selection chose is the ranking used."""
    data = imbalanced(3, 600, violating_share=0.2)
    texts, y = data["text"].tolist(), data["violating"].to_numpy()
    picked = select_pipeline(texts, y, 3, candidates=["svm-c0.1"], folds=3)
    (svm,) = candidates_named(["svm-c0.1"])
    raw = svm.build(3).fit(texts, y).decision_function(texts)
    proba = picked.pipeline.predict_proba(texts)[:, 1]
    assert np.all((proba > 0) & (proba < 1))
    assert np.array_equal(np.argsort(raw, kind="stable"), np.argsort(proba, kind="stable"))


def test_same_seed_gives_the_same_choice_and_scores() -> None:
    data = imbalanced(4, 600, violating_share=0.2)
    texts, y = data["text"].tolist(), data["violating"].to_numpy()
    few = ["svm-c0.1", "sgd-log", "cnb"]
    first = select_pipeline(texts, y, 11, candidates=few, folds=3)
    again = select_pipeline(texts, y, 11, candidates=few, folds=3, n_jobs=2)
    other = select_pipeline(texts, y, 12, candidates=few, folds=3)
    assert first.table == again.table and first.chosen == again.chosen
    probe = texts[:50]
    assert np.array_equal(first.pipeline.predict_proba(probe), again.pipeline.predict_proba(probe))
    # the seed is used: other folds give other scores
    assert first.table != other.table


def test_unknown_candidates_and_too_few_rows_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown candidate\(s\) \['forest'\]; known: .*baseline"):
        candidates_named(["baseline", "forest"])
    with pytest.raises(ValueError, match="no candidates named"):
        candidates_named([])
    assert [c.name for c in candidates_named(None)] == [c.name for c in CANDIDATES]
    assert [c.name for c in candidates_named(list(reversed(QUICK)))] == list(QUICK)
    texts = ["kill them all", "nice day"] * 4
    y = np.array([True, False] * 4)
    with pytest.raises(ValueError, match="5-fold cross-validation needs at least 5 texts"):
        select_pipeline(texts, y, 0, folds=5)


# --- the command line ----------------------------------------------------------------------


def write_labelled(path: Path, seed: int, n: int = 600) -> Path:
    """A team's file: its own column names and label words, with a language column."""
    data = imbalanced(seed, n, violating_share=0.2)
    pd.DataFrame(
        {
            "body": data["text"],
            "verdict": np.where(data["violating"], "remove", "keep"),
            "lang": data["language"],
        }
    ).to_csv(path, index=False)
    return path


def train_args(data: Path, model: Path, *extra: str) -> list[str]:
    return [
        "classifier", "train", "--data", str(data), "--text-col", "body",
        "--label-col", "verdict", "--positive-label", "remove", "--out", str(model),
        "--folds", "3", "--jobs", "1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("own")
    data = write_labelled(folder / "labelled.csv", 5)
    model = folder / "ours.skops"
    res = runner.invoke(app, train_args(data, model, "--quick", "--language-col", "lang"))
    assert res.exit_code == 0, res.output
    return data, model, res.output


def test_train_prints_the_cv_table_and_the_model_file_records_the_choice(
    trained: tuple[Path, Path, str],
) -> None:
    data, model, output = trained
    assert "3-fold cross-validation" in output and "ROC-AUC ± sd" in output
    meta = load_model(model).metadata
    record = meta["selection"]
    assert record["scoring"] == "roc_auc" and record["folds"] == 3
    assert [row["candidate"] for row in record["table"]] == list(QUICK)
    assert f"chosen: {record['chosen']} (highest mean ROC-AUC)" in output
    best = max(record["table"], key=lambda row: row["roc_auc_mean"])
    assert record["chosen"] == best["candidate"] and best["chosen"]
    for row in record["table"]:
        assert f"{row['roc_auc_mean']:.3f} ± {row['roc_auc_sd']:.3f}" in output
    assert (meta["text_col"], meta["label_col"], meta["language_col"]) == (
        "body",
        "verdict",
        "lang",
    )
    assert meta["positive_labels"] == ["remove"]
    assert meta["fingerprint"] == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()


def test_evaluate_reads_the_columns_the_model_remembers(
    trained: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, model, _ = trained
    test = write_labelled(tmp_path / "test.csv", 6, n=300)
    remembered = runner.invoke(app, ["classifier", "evaluate", str(model), "--data", str(test)])
    assert remembered.exit_code == 0, remembered.output
    explicit = runner.invoke(
        app,
        ["classifier", "evaluate", str(model), "--data", str(test), "--text-col", "body",
         "--label-col", "verdict", "--positive-label", "remove"],
    )  # fmt: skip
    assert explicit.exit_code == 0, explicit.output
    assert remembered.output == explicit.output
    assert "300 texts" in remembered.output

    # the remembered language column gives measures per language, which the JSON keeps
    measures = tmp_path / "measures.json"
    res = runner.invoke(
        app,
        ["classifier", "evaluate", str(model), "--data", str(test), "--json", str(measures)],
    )
    assert res.exit_code == 0 and "Per language (lang)" in res.output
    rows = json.loads(measures.read_text())["by_language"]
    languages = pd.read_csv(test)["lang"]
    assert {r["language"]: r["n"] for r in rows} == languages.value_counts().to_dict()
    assert all(0.5 < r["ROC-AUC"] <= 1 for r in rows)
    missing = runner.invoke(
        app,
        ["classifier", "evaluate", str(model), "--data", str(test), "--language-col", "idiom"],
    )
    assert missing.exit_code == 2 and f"{test}: no column 'idiom'" in missing.output

    # a flag still overrides what the model remembers
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(test).rename(columns={"body": "message"}).to_csv(renamed, index=False)
    res = runner.invoke(
        app, ["classifier", "evaluate", str(model), "--data", str(renamed), "--text-col", "message"]
    )
    assert res.exit_code == 0, res.output
    assert "300 texts" in res.output


@pytest.mark.parametrize("column", ["body", "verdict"])
def test_evaluate_on_a_file_without_a_remembered_column_exits_2(
    trained: tuple[Path, Path, str], tmp_path: Path, column: str
) -> None:
    _, model, _ = trained
    test = write_labelled(tmp_path / "test.csv", 7, n=100)
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(test).drop(columns=column).to_csv(lacking, index=False)
    res = runner.invoke(app, ["classifier", "evaluate", str(model), "--data", str(lacking)])
    assert res.exit_code == 2
    flag = "--text-col" if column == "body" else "--label-col"
    assert f"{lacking}: no column {column!r}" in res.output
    assert f"{model} was trained with" in res.output and flag in res.output
    assert "Traceback" not in res.output


def test_same_seed_trains_the_same_model_file_choice(tmp_path: Path) -> None:
    data = write_labelled(tmp_path / "labelled.csv", 8, n=400)
    records = []
    for name in ("a", "b"):
        res = runner.invoke(
            app, train_args(data, tmp_path / f"{name}.skops", "--candidates", "svm-c0.1,sgd-log")
        )
        assert res.exit_code == 0, res.output
        clf = load_model(tmp_path / f"{name}.skops")
        records.append((clf.metadata["selection"], clf.validation["score"].tolist()))
    assert records[0] == records[1]
    assert [row["candidate"] for row in records[0][0]["table"]] == ["svm-c0.1", "sgd-log"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--candidates", "baseline,forest"], "--candidates: unknown candidate(s) ['forest']"),
        (["--quick", "--candidates", "baseline"], "give --quick or --candidates, not both"),
        (["--language-col", "idiom"], "no column 'idiom'"),
    ],
)
def test_bad_selection_options_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    data = write_labelled(tmp_path / "labelled.csv", 9, n=100)
    res = runner.invoke(app, train_args(data, tmp_path / "m.skops", *extra))
    assert res.exit_code == 2, res.output
    assert message in res.output.replace("\n", "")
    assert not (tmp_path / "m.skops").exists()


def test_selection_options_need_data(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["classifier", "train", "--out", str(tmp_path / "m.skops"), "--quick", "--folds", "3"]
    )
    assert res.exit_code == 2
    assert "--quick, --folds only apply to --data" in res.output


def test_train_on_file_checks_the_language_column(tmp_path: Path) -> None:
    data = write_labelled(tmp_path / "labelled.csv", 10, n=100)
    with pytest.raises(DataFileError, match=r"labelled.csv: no column 'language'; columns found"):
        train_on_file(
            data, "body", "verdict", np.random.default_rng(0), {"remove"}, language_col="language"
        )


def test_sample_writes_a_labelled_csv_shaped_like_a_teams_export(tmp_path: Path) -> None:
    out = tmp_path / "labelled.csv"
    args = ["classifier", "sample", "--out", str(out), "--per-class", "20", "--seed", "3"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["body", "verdict", "language"] and len(table) == 100
    # two of the five classes violate
    assert (table["verdict"] == "remove").sum() == 40 and set(table["verdict"]) == {
        "remove",
        "keep",
    }
    assert set(table["language"]) <= {"en", "fr"}
    again = tmp_path / "again.csv"
    assert runner.invoke(app, [*args[:3], str(again), *args[4:]]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "exists" in refused.output


@pytest.mark.parametrize("name", [c.name for c in CANDIDATES])
def test_every_candidate_saves_to_a_model_file_that_loads(tmp_path: Path, name: str) -> None:
    """A chosen pipeline must pass the model file's allow-list and content checks."""
    data = imbalanced(12, 200, violating_share=0.3)
    texts, y = data["text"].tolist(), data["violating"].to_numpy()
    (candidate,) = candidates_named([name])
    pipeline = calibrated(candidate, 0).fit(texts, y)
    validation = pd.DataFrame(
        {
            "score": pipeline.predict_proba(texts)[:, 1],
            "violating": y,
            "label": pd.Series([None] * len(y), dtype=object),
            "in_template": np.ones(len(y), dtype=bool),
        }
    )
    save_model(TrainedClassifier(pipeline, validation, {"source": "test"}), tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    assert np.allclose(loaded.score(texts[:20]), pipeline.predict_proba(texts[:20])[:, 1])
