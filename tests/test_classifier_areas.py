"""One classifier per policy area: training on the corpus and on labelled files, model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT
from typer.testing import CliRunner

import simulator
from simulator.classifier import evaluate, load_model, save_model, train_synthetic
from simulator.classifier.areafile import load_area_models, save_area_models
from simulator.classifier.arealabels import train_areas_on_file
from simulator.classifier.areas import AreaModels, train_synthetic_areas
from simulator.cli import app
from simulator.config import Scenario
from simulator.errors import DataFileError, ModelFileError
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import Taxonomy

SCENARIO = ROOT / "scenarios" / "general-platform.yaml"
BILINGUAL = {"en": 0.5, "fr": 0.5}
# Held-out-template ROC-AUC, measured with 300 texts per class, EN/FR half and half, seeds
# 0-4: violence 0.933-0.946 (the five-class corpus's hard cases: news and heated politics
# quoting threats), harassment 0.976-0.983, terrorism 0.989-0.995, hate and spam 0.998-0.999;
# seed to seed the spread is about 0.005, so these bounds sit several spreads below the lowest.
HELDOUT_AUC_AT_LEAST = {
    "terrorism": 0.95,
    "violence": 0.90,
    "hate": 0.95,
    "harassment": 0.95,
    "spam": 0.95,
}


def general() -> Taxonomy:
    sc = simulator.load(SCENARIO)
    assert isinstance(sc, Scenario)
    return sc.taxonomy


@pytest.fixture(scope="module", params=[0, 1, 2])
def corpus_models(request: pytest.FixtureRequest) -> AreaModels:
    rng = np.random.default_rng(request.param)
    return train_synthetic_areas(rng, general(), n_per_class=300, languages=BILINGUAL)


def test_each_area_ranks_its_posts_first_on_heldout_templates(corpus_models: AreaModels) -> None:
    assert corpus_models.areas == general().area_names
    for area, bound in HELDOUT_AUC_AT_LEAST.items():
        report = evaluate(corpus_models.classifier(area))
        assert report.roc_auc_heldout_template is not None
        assert report.roc_auc_heldout_template > bound, area


def test_one_vs_rest_the_hate_model_scores_other_areas_posts_low(
    corpus_models: AreaModels,
) -> None:
    val = corpus_models.validation["hate"]
    mean = val.groupby("label")["score"].mean()
    # other areas' posts are the hate model's negatives: they score as legitimate ones do
    assert mean["terrorist_content"] < 0.1 < 0.5 < mean["hate_speech"]
    assert mean["harassment"] < 0.1
    assert val.loc[val["violating"], "label"].eq("hate_speech").all()


def test_scores_of_each_area_are_its_own_pipelines(corpus_models: AreaModels) -> None:
    texts = TextGenerator(BILINGUAL, taxonomy=general()).generate(
        np.arange(9, dtype=np.int8), np.random.default_rng(5)
    )
    together = corpus_models.scores(texts)
    for k, area in enumerate(corpus_models.areas):
        alone = corpus_models.classifier(area).score(texts)
        np.testing.assert_allclose(together[k], alone)


def test_an_area_model_file_round_trips_and_is_not_a_one_model_file(
    corpus_models: AreaModels, tmp_path: Path
) -> None:
    path = tmp_path / "areas.skops"
    save_area_models(corpus_models, path)
    loaded = load_area_models(path)
    texts = ["Join the Front, the cause needs fighters.", "Made soup for dinner."]
    np.testing.assert_array_equal(loaded.scores(texts), corpus_models.scores(texts))
    assert loaded.class_areas["hate_speech"] == "hate" and loaded.class_areas["benign"] is None
    with pytest.raises(ModelFileError, match="one model per policy area"):
        load_model(path)


def test_a_five_class_model_file_loads_as_before_and_is_not_an_area_file(tmp_path: Path) -> None:
    clf = train_synthetic(np.random.default_rng(0), n_per_class=50)
    path = tmp_path / "one.skops"
    save_model(clf, path)
    assert load_model(path).score(["hello"]).shape == (1,)
    with pytest.raises(ModelFileError, match="not one per policy area"):
        load_area_models(path)


# --- labelled files ----------------------------------------------------------------------


def _corpus(per_class: int, seed: int = 0) -> pd.DataFrame:
    gen = TextGenerator({"en": 1.0}, taxonomy=general())
    return gen.corpus(per_class, np.random.default_rng(seed))


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_labels_by_class_and_by_area_train_what_they_say(tmp_path: Path) -> None:
    df = _corpus(60)
    by_class = _write(df[["text"]].assign(cls=df["label"]), tmp_path / "cls.csv")
    # the same posts, but this team's hate rule also covers harassment
    hate_or_harassment = df["label"].isin(["hate_speech", "harassment"]).astype(int)
    multi = df[["text"]].assign(
        **{"label:hate": hate_or_harassment, "label:spam": (df["label"] == "spam").astype(int)}
    )
    by_area = _write(multi, tmp_path / "multi.csv")
    tax = general()
    one = train_areas_on_file(by_class, "text", np.random.default_rng(1), tax, class_col="cls")
    two = train_areas_on_file(by_area, "text", np.random.default_rng(1), tax)
    assert one.areas == tax.area_names and two.areas == ("hate", "spam")
    assert two.class_areas == {} and two.metadata["labels"] == "multi-label"
    probe = _corpus(40, seed=9)
    harassment = probe.loc[probe["label"] == "harassment", "text"].tolist()
    hate_k1, hate_k2 = one.areas.index("hate"), two.areas.index("hate")
    assert one.scores(harassment)[hate_k1].mean() < 0.2
    assert two.scores(harassment)[hate_k2].mean() > 0.6


def _train(*args: str) -> object:
    return CliRunner().invoke(app, ["classifier", "train", *args])


def test_the_cli_trains_per_area_from_a_class_column(tmp_path: Path) -> None:
    df = _corpus(40)
    data = _write(df[["text"]].assign(cls=df["label"]), tmp_path / "d.csv")
    out = tmp_path / "m.skops"
    res = _train(
        "--data", str(data), "--class-col", "cls", "--scenario", str(SCENARIO), "-o", str(out)
    )
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "one model per policy area (terrorism, violence, hate, harassment, spam)" in (
        res.output  # type: ignore[attr-defined]
    )
    assert load_area_models(out).areas == general().area_names


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (
            lambda d: d.assign(cls=d["cls"].replace("spam", "scam")),
            ["--class-col", "cls"],
            "class names the taxonomy lacks: ['scam']",
        ),
        (lambda d: d, ["--class-col", "klass"], "no column 'klass'"),
        (
            lambda d: d.drop(columns="cls").assign(**{"label:fraud": 0}),
            [],
            "column 'label:fraud' names area 'fraud', which the taxonomy lacks",
        ),
        (
            lambda d: d.drop(columns="cls").assign(**{"label:hate": "maybe"}),
            [],
            "column 'label:hate' must hold 0/1 or true/false",
        ),
        (
            lambda d: d.drop(columns="cls").assign(**{"label:hate": 0}),
            [],
            "area 'hate' has 0 posts of the area",
        ),
        (
            lambda d: d.assign(**{"label:hate": 0}),
            ["--class-col", "cls"],
            "give per-area labels one way",
        ),
        (lambda d: d, ["--class-col", "cls", "--quick"], "--quick: not for one model per"),
    ],
)
def test_bad_per_area_data_is_refused_with_exit_2(
    tmp_path: Path, edit: object, args: list[str], message: str
) -> None:
    df = _corpus(12)
    frame = edit(df[["text"]].assign(cls=df["label"]))  # type: ignore[operator]
    data = _write(frame, tmp_path / "d.csv")
    res = _train("--data", str(data), "--scenario", str(SCENARIO), "-o", str(tmp_path / "m"), *args)
    assert res.exit_code == 2, res.output  # type: ignore[attr-defined]
    assert message in " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "Traceback" not in res.output  # type: ignore[attr-defined]
    assert not (tmp_path / "m").exists()


def test_a_missing_text_column_is_a_data_file_error(tmp_path: Path) -> None:
    data = _write(pd.DataFrame({"body": ["a", "b"], "label:hate": [1, 0]}), tmp_path / "d.csv")
    with pytest.raises(DataFileError, match="no column 'text'"):
        train_areas_on_file(data, "text", np.random.default_rng(0), general())
