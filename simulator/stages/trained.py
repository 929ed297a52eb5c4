"""Which trained model a run needs, decided without loading scikit-learn.

A run whose prefilter (or notice sweep) uses the synthetic-corpus classifier
trains it from its seed, the scenario's languages and evasion rate, and the
texts per class: :data:`SyntheticKey`. An experiment's parent process groups
its cells by that key to build each model once
(:mod:`simulator.experiments.models`); it must not pay for importing the
classifier to do so, as it never trains one itself.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

from simulator.config.policy import PlatformPolicy, Prefilter
from simulator.config.scenario import Scenario
from simulator.taxonomy import Taxonomy

SyntheticKey = tuple[Any, ...]
"""What a synthetic-corpus classifier is trained from: seed, languages, evasion rate,
texts per class (training is deterministic given these); or, for one model per area,
an :data:`AreaKey`."""

AREAS_KEY = "areas"
"""First item of an :data:`AreaKey`: what tells it from a one-model key."""

AreaKey = tuple[str, int, Taxonomy, tuple[tuple[str, float], ...], float, int]
"""What synthetic per-area models are trained from: the marker, seed, taxonomy,
languages, evasion rate and texts per class. Training is deterministic given these."""


K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """The values of the ``size`` keys used last (a trained model, its measured scores):
    what a process keeps so that runs sharing a model build it once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        hit = self._kept.get(key)
        if hit is not None:
            self._kept.move_to_end(key)
        return hit

    def put(self, key: K, value: V) -> None:
        self._kept[key] = value
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._kept


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
        return area_models_key(policy, scenario, seed)  # text models per area, or cards
    if not scenario.taxonomy.is_default:
        return None  # one model knows the default classes only: a card, nothing to train
    return corpus_key(cfg, scenario, seed)


def area_corpus_key(scenario: Scenario, seed: int, per_class: int) -> AreaKey:
    """The key of the per-area models trained on ``scenario``'s corpus with ``seed``."""
    texts = scenario.content.texts
    languages = tuple(sorted(texts.languages.items()))
    return (AREAS_KEY, seed, scenario.taxonomy, languages, texts.evasion_rate, per_class)


def area_models_key(policy: PlatformPolicy, scenario: Scenario, seed: int) -> AreaKey | None:
    """The key of the synthetic per-area models a run of ``policy`` trains, or None."""
    cfg = policy.prefilter
    # a notice's sweep scores posts with the areas' models even with the prefilter off
    if not (cfg.enabled or policy.notices.sweep.enabled) or cfg.areas is None:
        return None
    refs = [s.model for s in cfg.areas.values() if s.model is not None]
    synthetic = [r for r in refs if r.source == "synthetic"]
    if not synthetic:
        return None
    return area_corpus_key(scenario, seed, synthetic[0].train_per_class)


def needs_stream_scores(cfg: Prefilter, scenario: Scenario) -> bool:
    """Whether a run measures its classifier's scores on stream-like texts
    (:func:`~simulator.stages.prefilter.score_model_for`): in scale mode, or for
    targets on the stream's mix."""
    sampled = scenario.content.texts.mode == "sampled"
    return sampled or (bool(cfg.stream_targets()) and scenario.content.class_shares is not None)


__all__ = [
    "AREAS_KEY",
    "AreaKey",
    "Recent",
    "SyntheticKey",
    "area_corpus_key",
    "area_models_key",
    "corpus_key",
    "needs_stream_scores",
    "synthetic_key",
]
