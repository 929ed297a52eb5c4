"""AI prefilter: a classifier scores every post; thresholds remove or queue it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.classifier import ScoreModel, TrainedClassifier, load_model, train_synthetic
from simulator.classifier.parallel import ParallelScorer
from simulator.config.policy import Prefilter
from simulator.config.scenario import Scenario
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts


@dataclass(frozen=True)
class PrefilterOutcome:
    """Per-post results of the prefilter (``inf`` where nothing happens)."""

    score: np.ndarray
    auto_removed_at: np.ndarray
    flagged_at: np.ndarray


class PrefilterStage:
    """Scores posts with a classifier (text mode) or its score model (scale mode)."""

    def __init__(
        self, cfg: Prefilter, classifier: TrainedClassifier, mode: str, workers: int = 1
    ) -> None:
        self._cfg = cfg
        self._classifier = classifier
        self._mode = mode
        self._score_model = ScoreModel.from_validation(classifier.validation)
        self._scorer: ParallelScorer | None = None
        if mode == "text" and workers > 1:
            self._scorer = ParallelScorer(classifier, workers)

    def close(self) -> None:
        """End any scoring worker processes."""
        if self._scorer is not None:
            self._scorer.close()

    @property
    def classifier(self) -> TrainedClassifier:
        return self._classifier

    def scores(self, posts: Posts) -> np.ndarray:
        if self._mode == "text":
            if posts.text is None:
                raise ValueError("text mode needs post texts")
            # Generated texts repeat often; score each distinct text once.
            codes, unique = pd.factorize(pd.Series(posts.text, dtype=object), sort=False)
            score = self._scorer.score if self._scorer else self._classifier.score
            scores = np.asarray(score(list(unique)), dtype=np.float64)
            return scores[codes]
        return self._score_model.sample(posts.cls, posts.score_u)

    def apply(self, posts: Posts) -> PrefilterOutcome:
        n = len(posts)
        score = self.scores(posts) if n else np.empty(0)
        delay = 0.0 if self._cfg.timing == "pre_publication" else self._cfg.delay_minutes / 60.0
        when = posts.created_at + delay
        auto = np.where(score >= self._cfg.auto_remove_above, when, np.inf)
        flag = np.where((score >= self._cfg.review_above) & ~np.isfinite(auto), when, np.inf)
        return PrefilterOutcome(score, auto, flag)


@lru_cache(maxsize=8)
def _synthetic(
    seed: int, languages: tuple[tuple[str, float], ...], evasion: float, n: int
) -> TrainedClassifier:
    rng = SeedTree(seed).rng("classifier")
    return train_synthetic(rng, n_per_class=n, languages=dict(languages), evasion_rate=evasion)


def classifier_for(cfg: Prefilter, scenario: Scenario, seeds: SeedTree) -> TrainedClassifier:
    """The policy's classifier: loaded from its skops file, or trained on the
    scenario's synthetic corpus (cached per seed and corpus settings, so every
    policy on the same scenario and seed shares one model)."""
    if cfg.model.source == "file":
        assert cfg.model.path is not None
        return load_model(Path(cfg.model.path))
    texts = scenario.content.texts
    return _synthetic(
        seeds.seed,
        tuple(sorted(texts.languages.items())),
        texts.evasion_rate,
        cfg.model.train_per_class,
    )
