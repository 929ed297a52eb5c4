"""Which trained model a run needs, decided without loading scikit-learn.

A run whose prefilter (or notice sweep) uses the synthetic-corpus classifier
trains it from its seed, the scenario's languages and evasion rate, and the
texts per class: :data:`SyntheticKey`. An experiment's parent process groups
its cells by that key to build each model once
(:mod:`simulator.experiments.models`); it must not pay for importing the
classifier to do so, as it never trains one itself.
"""

from __future__ import annotations

from typing import Any

from simulator.config.policy import PlatformPolicy, Prefilter
from simulator.config.scenario import Scenario

SyntheticKey = tuple[Any, ...]
"""What a synthetic-corpus classifier is trained from: seed, languages, evasion rate,
texts per class (training is deterministic given these); or, for one model per area,
an :data:`~simulator.stages.area_models.AreaKey`."""


def corpus_key(cfg: Prefilter, scenario: Scenario, seed: int) -> SyntheticKey:
    """The key of the classifier ``cfg`` would train on ``scenario``'s corpus with ``seed``."""
    texts = scenario.content.texts
    languages = tuple(sorted(texts.languages.items()))
    return (seed, languages, texts.evasion_rate, cfg.model.train_per_class)


def synthetic_key(policy: PlatformPolicy, scenario: Scenario, seed: int) -> SyntheticKey | None:
    """The key of the synthetic-corpus classifier a run trains, or None if it trains none."""
    cfg = policy.prefilter
    if not (cfg.enabled or policy.notices.sweep.enabled) or cfg.model.source != "synthetic":
        return None
    if cfg.areas is not None:
        from simulator.stages.area_models import area_models_key

        return area_models_key(policy, scenario, seed)  # text models per area, or cards
    if not scenario.taxonomy.is_default:
        return None  # one model knows the default classes only: a card, nothing to train
    return corpus_key(cfg, scenario, seed)


def needs_stream_scores(cfg: Prefilter, scenario: Scenario) -> bool:
    """Whether a run measures its classifier's scores on stream-like texts
    (:func:`~simulator.stages.prefilter.score_model_for`): in scale mode, or for
    targets on the stream's mix."""
    sampled = scenario.content.texts.mode == "sampled"
    return sampled or (bool(cfg.stream_targets()) and scenario.content.class_shares is not None)


__all__ = ["SyntheticKey", "corpus_key", "needs_stream_scores", "synthetic_key"]
