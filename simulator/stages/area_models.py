"""The text models a prefilter per area uses (``prefilter.areas.<area>.model``).

Found once per run, and shared: every area naming ``source: synthetic`` reads
one :class:`~simulator.classifier.areas.AreaModels` trained on the scenario's
corpus (cached per seed, taxonomy, languages, evasion rate and texts per
class, so every policy on the same scenario and seed shares it, and an
experiment trains it once and ships it to its workers: :func:`export_area_models`);
``source: file`` loads a skops file of per-area models once per file version.

Each area's scores on stream-like texts (a fresh sample of every class, drawn
like the stream draws them, from the run's ``score_model`` seed key) are
measured once per model set: thresholds stated as targets are met on them,
and scale mode draws each post's score from them.
"""

from __future__ import annotations

import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

from simulator.classifier.areas import AreaModels
from simulator.classifier.scoremodel import ScoreModel, stream_like_texts
from simulator.config.policy import PlatformPolicy
from simulator.config.prefilter import AreaModelRef
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.seeding import SeedTree
from simulator.stages.trained import AreaKey, Recent, area_corpus_key, area_models_key

_TRAINED: Recent[AreaKey, AreaModels] = Recent(4)
_STREAM: Recent[tuple[Any, ...], tuple[AreaModels, dict[str, ScoreModel]]] = Recent(4)


def _synthetic(key: AreaKey) -> AreaModels:
    hit = _TRAINED.get(key)
    if hit is None:
        from simulator.classifier.areas import train_synthetic_areas

        _, seed, tax, languages, evasion, n = key
        rng = SeedTree(seed).rng("classifier")
        hit = train_synthetic_areas(
            rng, tax, n_per_class=n, languages=dict(languages), evasion_rate=evasion
        )
        _TRAINED.put(key, hit)
    return hit


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> AreaModels:
    from simulator.classifier.areafile import load_area_models

    return load_area_models(Path(path))


def area_models_for(ref: AreaModelRef, scenario: Scenario, seeds: SeedTree) -> AreaModels:
    """The per-area models ``ref`` names: trained on the corpus, or loaded from its file."""
    if ref.source == "synthetic":
        return _synthetic(area_corpus_key(scenario, seeds.seed, ref.train_per_class))
    assert ref.path is not None
    resolved = Path(ref.path).resolve()
    if not resolved.is_file():
        from simulator.classifier.areafile import load_area_models

        return load_area_models(resolved)  # raises the library's clear "not found" error
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


def model_row(models: AreaModels, area: str, where: str) -> int:
    """The row of ``area`` in ``models.scores``; a clear error when the models lack it."""
    if area not in models.areas:
        raise ModsimError(
            f"{where}.model: the model file has no model for area {area!r}; it covers "
            f"{list(models.areas)}"
        )
    return models.areas.index(area)


def stream_score_models(
    models: AreaModels, scenario: Scenario, seeds: SeedTree
) -> dict[str, ScoreModel]:
    """Each area's per-class score distributions on texts like the scenario's stream
    (:data:`~simulator.classifier.scoremodel.SCORE_SAMPLE_PER_CLASS` texts of each class)."""
    texts = scenario.content.texts
    tax = scenario.taxonomy
    key = (id(models), seeds.seed, tax, tuple(sorted(texts.languages.items())), texts.evasion_rate)
    hit = _STREAM.get(key)
    # the entry holds the models themselves, so their id cannot be reused while cached
    if hit is not None and hit[0] is models:
        return hit[1]
    classes, sample = stream_like_texts(
        texts.languages, texts.evasion_rate, tax, seeds.rng("score_model")
    )
    scores = models.scores(sample)
    out = {
        area: ScoreModel.from_class_scores(scores[k], classes, tax)
        for k, area in enumerate(models.areas)
    }
    _STREAM.put(key, (models, out))
    return out


def export_area_models(
    policy: PlatformPolicy, scenario: Scenario, seed: int, scores: bool
) -> bytes:
    """The synthetic per-area models a run of ``policy`` trains, with their scores on
    stream-like texts (always: a prefilter per area meets its targets on them), pickled
    for :func:`install_area_models` in another process."""
    key = area_models_key(policy, scenario, seed)
    if key is None:
        raise ValueError(f"policy {policy.name!r} trains no per-area models")
    del scores  # measured either way
    models = _synthetic(key)
    measured = stream_score_models(models, scenario, SeedTree(seed))
    return pickle.dumps((key, models, measured), protocol=pickle.HIGHEST_PROTOCOL)


def install_area_models(key: AreaKey, models: AreaModels, measured: dict[str, ScoreModel]) -> None:
    """Make this process's runs use models another process trained (unless it holds them)."""
    if key in _TRAINED:
        return
    _TRAINED.put(key, models)
    _, seed, tax, languages, evasion, _ = key
    _STREAM.put((id(models), seed, tax, languages, evasion), (models, measured))
