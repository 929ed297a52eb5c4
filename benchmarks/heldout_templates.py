"""Which model ranks phrasings it never saw: the default classifier's choice, reproduced.

    python benchmarks/heldout_templates.py [--corpora 3] [--folds 4]

Cross-validation with whole templates held out (``GroupKFold`` by template id)
over the synthetic corpus's *training* templates only, on the quick world's
corpus (80% English, 20% French, 5% evasive, 2,000 texts a class): the
selection measure that does not look at the corpus's held-out templates. Each
fold fits the features on its own training texts, so a held-out template's
words are as new to the model as they are in ``classifier evaluate``. Printed:
each candidate's mean ROC-AUC and its paired difference from the default
(naive Bayes) with the standard error over folds. Then, for information only,
each candidate's ROC-AUC on the held-out templates. No candidate looks at
``tests/data/real_world_like.csv``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.naive_bayes import BernoulliNB
from sklearn.pipeline import FeatureUnion

from simulator.classifier.pipeline import LogOddsNB, build_features
from simulator.stream.texts import TextGenerator

LANGUAGES = {"en": 0.8, "fr": 0.2}


def _binary() -> FeatureUnion:
    words = CountVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, binary=True)
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, binary=True)
    return FeatureUnion([("word", words), ("char", chars)])


def _margin(model: object, x: object) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(x))
    jll = model.predict_joint_log_proba(x)  # type: ignore[attr-defined]
    return np.asarray(jll[:, 1] - jll[:, 0])


# name -> (features, model); "tfidf" is the default pipeline's features
CANDIDATES: dict[str, tuple[str, Callable[[], object]]] = {
    "naive Bayes, alpha 0.03 (default)": ("tfidf", lambda: LogOddsNB(alpha=0.03)),
    "naive Bayes, alpha 0.01": ("tfidf", lambda: LogOddsNB(alpha=0.01)),
    "naive Bayes, alpha 0.1": ("tfidf", lambda: LogOddsNB(alpha=0.1)),
    "naive Bayes, alpha 0.3": ("tfidf", lambda: LogOddsNB(alpha=0.3)),
    "naive Bayes, binary counts, alpha 0.1": ("binary", lambda: LogOddsNB(alpha=0.1)),
    "Bernoulli naive Bayes, alpha 0.1": ("binary", lambda: BernoulliNB(alpha=0.1)),
    "logistic regression by SGD, alpha 5e-5 (before)": (
        "tfidf",
        lambda: SGDClassifier(loss="log_loss", alpha=5e-5, max_iter=50, tol=1e-4, random_state=0),
    ),
}
FEATURES = {"tfidf": build_features, "binary": _binary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=int, default=3, help="training corpora (seeds 1..N)")
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    generator = TextGenerator(LANGUAGES, evasion_rate=0.05)
    grouped: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for seed in range(1, args.corpora + 1):
        train = generator.corpus(2000, np.random.default_rng(seed), split="train")
        folds = GroupKFold(args.folds, shuffle=True, random_state=seed)
        for a, b in folds.split(train, groups=train["template_id"]):
            fit, test = train.iloc[a], train.iloc[b]
            for kind, make in FEATURES.items():
                features = make()
                x_fit = features.fit_transform(fit["text"].tolist())
                x_test = features.transform(test["text"].tolist())
                for name, (wanted, model) in CANDIDATES.items():
                    if wanted == kind:
                        fitted = model().fit(x_fit, fit["violating"])  # type: ignore[attr-defined]
                        auc = roc_auc_score(test["violating"], _margin(fitted, x_test))
                        grouped[name].append(float(auc))
        print(f"corpus {seed}: {args.folds} folds done", flush=True)

    train = generator.corpus(2000, np.random.default_rng(0), split="train")
    heldout = generator.corpus(1000, np.random.default_rng(100), split="heldout")
    default = np.array(grouped[next(iter(CANDIDATES))])
    print(f"\n{'candidate':50} {'grouped CV':>10} {'vs default':>17} {'held-out':>9}")
    for name, (kind, model) in CANDIDATES.items():
        scores = np.array(grouped[name])
        diff = scores - default
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        features = FEATURES[kind]()
        fitted = model().fit(  # type: ignore[attr-defined]
            features.fit_transform(train["text"].tolist()), train["violating"]
        )
        auc = roc_auc_score(
            heldout["violating"], _margin(fitted, features.transform(heldout["text"].tolist()))
        )
        print(f"{name:50} {scores.mean():10.4f} {diff.mean():+9.4f} ± {se:.4f} {auc:9.4f}")


if __name__ == "__main__":
    main()
