"""The default model on sentences written apart from the corpus templates.

``tests/data/real_world_like.csv`` holds posts and news sentences written by
hand, in English and French, in the manner of the posts quoted in court filings
about 6 January 2021 and of news reports of the same events (invented names,
never a real person's): threats and incitement against the hard legitimate
cases -- news of violence, quotes condemned, heated politics, sarcasm, violent
metaphors, dates and places. They were written, and the model measured on them,
before the corpus grew; they were not changed afterwards. None is in the
training corpus, and their wording shares little with it (checked below).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import default_model
from sklearn.metrics import roc_auc_score

from simulator.classifier import TrainedClassifier, evaluate
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import CLASSES, VIOLATING_CLASSES

DATA = Path(__file__).parent / "data" / "real_world_like.csv"
LANGUAGES = ("en", "fr")


@pytest.fixture(scope="module")
def sentences() -> pd.DataFrame:
    frame = pd.read_csv(DATA)
    frame["violating"] = frame["label"].isin(VIOLATING_CLASSES)
    return frame


@pytest.fixture(scope="module", params=[0, 1, 2])
def model(request: pytest.FixtureRequest) -> TrainedClassifier:
    return default_model(request.param)


def _four_grams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}


def test_the_set_is_well_formed_and_balanced(sentences: pd.DataFrame) -> None:
    assert list(sentences.columns[:4]) == ["text", "language", "label", "kind"]
    assert set(sentences["label"]) == set(CLASSES)
    assert not sentences["text"].duplicated().any()
    for language in LANGUAGES:
        rows = sentences[sentences["language"] == language]
        assert len(rows) >= 100
        assert 0.4 <= rows["violating"].mean() <= 0.6
        # every hard legitimate kind is there, not only easy benign posts
        assert (rows["label"] == "violent_news").sum() >= 20
        assert (rows["label"] == "heated_political").sum() >= 20


def test_no_sentence_comes_from_the_corpus(sentences: pd.DataFrame) -> None:
    generator = TextGenerator(dict.fromkeys(LANGUAGES, 0.5))
    corpus = generator.corpus(20_000, np.random.default_rng(0))
    texts = set(corpus["text"].str.lower())
    assert not any(t.lower() in texts for t in sentences["text"])
    seen = set().union(*map(_four_grams, corpus["text"]))
    shares = np.array(
        [len(_four_grams(t) & seen) / max(1, len(_four_grams(t))) for t in sentences["text"]]
    )
    # measured 3.1% before the corpus grew, 3.8% after, 5.7% with 1,145 templates (common
    # phrases: "if we have to"); a sentence copied from a template would share most of
    # its word 4-grams
    assert shares.mean() < 0.06
    assert shares.max() < 0.5


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_default_model_ranks_real_world_like_sentences(
    sentences: pd.DataFrame, model: TrainedClassifier, language: str
) -> None:
    rows = sentences[sentences["language"] == language]
    scores = model.score(rows["text"].tolist())
    assert roc_auc_score(rows["violating"], scores) >= 0.85


# Issue 18's targets: per-language ROC-AUC >= 0.85 on sentences written apart from the
# templates (above), and >= 0.95 on texts of held-out templates (below).
HELDOUT_TARGET = 0.95
"""Met since the corpus grew to 635 English and 510 French templates (from 285 and
208): 0.956-0.960 on seeds 0-2, 0.956-0.962 on seeds 0-5 (naive Bayes reached 0.923-0.931
before, and a floor of 0.91 stood below the target). What the model reaches less a
margin is the target itself now, so the one test below is both."""


def test_held_out_templates_meet_the_issue_target(model: TrainedClassifier) -> None:
    auc = evaluate(model).roc_auc_heldout_template
    assert auc is not None and auc >= HELDOUT_TARGET
