"""AI prefilter: a classifier scores every post; thresholds remove or queue it.

Three things happen once per run, before any post is scored:

* the classifier is found: trained on the scenario's synthetic corpus, or
  loaded from the policy's skops file (both cached, so every policy on the
  same scenario and seed, and a second look at the same file, share one model),
  or built from the policy's classifier card (its stated score distributions;
  scores are then always drawn, as in scale mode, since a card has no texts
  to score);
* thresholds stated as a target (``{precision: 0.95}``) become raw scores
  (:func:`resolve_thresholds`): by default on the stream's expected class mix,
  with the classifier's scores on stream-like texts (the score model below)
  or a card's stated ones; with ``mix: validation`` on the classifier's
  validation sample as it is;
* in scale mode (``texts.mode: sampled``), or for targets on the stream's
  mix, the score model is measured: a
  fresh sample of the scenario's own texts, drawn like the stream draws them
  and never trained on, is scored for real, and each post's score is then a
  draw from its class's measured distribution. Measuring on stream-like texts
  (rather than on the validation sample, which over-weights held-out
  templates and, for a user's model, is the user's data) is what makes the
  two modes agree.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.classifier import (
    ScoreModel,
    TrainedClassifier,
    load_model,
    mix_weights,
    threshold_for,
    train_synthetic,
)
from simulator.classifier.card import CardClassifier, threshold_on_mix
from simulator.classifier.parallel import ParallelScorer
from simulator.classifier.scoremodel import SCORE_SAMPLE_PER_CLASS, stream_like_texts
from simulator.config.card import ClassifierCard
from simulator.config.policy import AreaScreen, PlatformPolicy, Prefilter, ScoreTarget
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.seeding import SeedTree
from simulator.stages.trained import (
    AREAS_KEY,
    Recent,
    SyntheticKey,
    corpus_key,
    needs_stream_scores,
    synthetic_key,
)
from simulator.stream.synthetic import Posts, hourly_class_probs, hourly_rates
from simulator.taxonomy import CLASSES, TEXT_MODELS_DEFAULT_ONLY, VIOLATING, Taxonomy

KNOWN_TEXTS_KEPT = 500_000
"""Distinct texts whose scores a text-mode run keeps for later days (about 100 MB)."""


@dataclass(frozen=True)
class PrefilterOutcome:
    """Per-post results of the prefilter (``inf`` where nothing happens)."""

    score: np.ndarray
    auto_removed_at: np.ndarray
    flagged_at: np.ndarray
    flag_team: np.ndarray | None = None
    """Per post, the team a flag goes to (a :data:`~simulator.stages.platform.TEAMS`
    index, -1 where not flagged); None: the prefilter's ``review_team`` for every flag."""


@dataclass(frozen=True)
class ResolvedThreshold:
    """A policy threshold as the raw score it became for this classifier."""

    name: str
    score: float
    target: ScoreTarget | None = None
    capped: bool = False
    """The review target landed above the removal threshold and was lowered to it."""

    def to_dict(self) -> dict[str, Any]:
        target = None
        if self.target is not None:
            target = self.target.model_dump(exclude_none=True, exclude_defaults=True)
        return {"name": self.name, "score": self.score, "target": target, "capped": self.capped}


def _meet(
    target: ScoreTarget,
    validation: pd.DataFrame | None,
    stream_mix: Mapping[str, float] | None,
    stream_scores: ScoreModel | None,
    positive: np.ndarray | None = None,
) -> float:
    """The raw score meeting ``target`` (see :func:`resolve_thresholds`)."""
    if target.mix == "validation":
        if validation is None:  # a card: the policy's own validator refuses this
            raise ValueError("a card has no validation sample; state the target on the stream")
        return threshold_for(validation, precision=target.precision, recall=target.recall)
    if stream_mix is None:
        raise ValueError(
            "a target on the stream's class mix (the default) needs a scenario with "
            "content.class_shares; for a replayed stream, add `mix: validation` to the "
            "target or give a raw score"
        )
    if stream_scores is not None:
        shares = [stream_mix[c] for c in stream_scores.taxonomy.classes]
        return threshold_on_mix(
            stream_scores,
            shares,
            precision=target.precision,
            recall=target.recall,
            positive=positive,
        )
    assert validation is not None
    weights = mix_weights(validation, stream_mix)
    return threshold_for(
        validation, precision=target.precision, recall=target.recall, weights=weights
    )


def resolve_thresholds(
    cfg: Prefilter | AreaScreen,
    validation: pd.DataFrame | None,
    policy: str = "",
    stream_mix: Mapping[str, float] | None = None,
    stream_scores: ScoreModel | None = None,
    positive: np.ndarray | None = None,
    where: str = "prefilter",
) -> tuple[ResolvedThreshold, ResolvedThreshold]:
    """``(auto_remove_above, review_above)`` as raw scores for a classifier.

    A raw score stays as given. A target with ``mix: validation`` is met on
    the classifier's ``validation`` sample
    (:func:`~simulator.classifier.threshold_for`). A target on the stream's mix
    (the default) is met on ``stream_mix`` (class -> share, see
    :func:`stream_mix`): exactly on ``stream_scores`` when given (the
    classifier's score model on stream-like texts, or a card's;
    :func:`~simulator.classifier.card.threshold_on_mix`), else on the
    validation sample reweighted to that mix. Raises a
    :class:`~simulator.errors.ModsimError` when a target cannot be met. A
    review target that lands above the removal threshold is lowered to it
    (``capped``): no post is then sent to review by score alone.
    """
    policy_at = f"policy {policy!r}: " if policy else ""
    out: list[ResolvedThreshold] = []
    for name in ("auto_remove_above", "review_above"):
        value = getattr(cfg, name)
        if not isinstance(value, ScoreTarget):
            out.append(ResolvedThreshold(name, float(value)))
            continue
        try:
            score = _meet(value, validation, stream_mix, stream_scores, positive)
        except ValueError as exc:
            raise ModsimError(f"{policy_at}{where}.{name}: {exc}") from None
        out.append(ResolvedThreshold(name, score, value))
    auto, review = out
    if review.score > auto.score:
        # Only targets get here (the config refuses crossed raw scores). A target must
        # survive a model update, so rather than fail, the review band is simply empty:
        # everything above the review threshold is removed anyway.
        review = ResolvedThreshold(review.name, auto.score, review.target, capped=True)
    return auto, review


class PrefilterStage:
    """Scores posts with a classifier (text mode) or its score model (scale mode)."""

    per_area = False
    """One model for every area (see :mod:`simulator.stages.area_prefilter`)."""

    def area_summary(self) -> None:
        """Nothing per area: the summary's ``classifier`` section describes the one model."""
        return None

    def __init__(
        self,
        cfg: Prefilter,
        classifier: TrainedClassifier | CardClassifier,
        mode: str,
        score_model: ScoreModel | None = None,
        policy: str = "",
        scorer: ParallelScorer | None = None,
        mix: Mapping[str, float] | None = None,
    ) -> None:
        self._cfg = cfg
        self._classifier = classifier
        self._scorer = scorer  # text mode on several processes; the stage closes it
        self._known: dict[str, float] = {}
        self.adjust: Callable[[Posts, np.ndarray], np.ndarray] | None = None
        """Set by the run's accounts: authors who adapt lower their posts' scores."""
        validation: pd.DataFrame | None = None
        if isinstance(classifier, CardClassifier):
            self._mode = "sampled"  # a card has no text model: its scores are drawn
            score_model = classifier.score_model
            self._score_model = score_model
        else:
            self._mode = mode
            self._score_model = score_model or ScoreModel.from_validation(classifier.validation)
            validation = classifier.validation
        self._auto, self._review = resolve_thresholds(
            cfg, validation, policy, mix, stream_scores=score_model
        )

    def close(self) -> None:
        """End any scoring worker processes."""
        if self._scorer is not None:
            self._scorer.close()

    @property
    def classifier(self) -> TrainedClassifier | CardClassifier:
        return self._classifier

    @property
    def draws_scores(self) -> bool:
        """Whether scores are drawn from the score model (scale mode, or a card)
        rather than computed from texts."""
        return self._mode == "sampled"

    @property
    def score_model(self) -> ScoreModel:
        """The per-class score distributions scale mode (and a card) draws from."""
        return self._score_model

    @property
    def thresholds(self) -> tuple[ResolvedThreshold, ResolvedThreshold]:
        """``(auto_remove_above, review_above)`` as raw scores."""
        return self._auto, self._review

    def scores(self, posts: Posts) -> np.ndarray:
        if self._mode == "text":
            assert isinstance(self._classifier, TrainedClassifier)
            if posts.text is None:
                raise ValueError("text mode needs post texts")
            score = self._text_scores(posts.text)
        else:
            score = self._score_model.sample(posts.cls, posts.score_u)
        return score if self.adjust is None else self.adjust(posts, score)

    def _text_scores(self, texts: list[str]) -> np.ndarray:
        # Generated texts repeat often, within a day and across days (a third of a
        # day's distinct texts were seen before in the quick world): score each
        # distinct text once per run. A text's score does not depend on the texts
        # scored with it, so this changes no figure.
        codes, unique = pd.factorize(pd.Series(texts, dtype=object), sort=False)
        assert isinstance(self._classifier, TrainedClassifier)
        known = self._known
        fresh = [t for t in unique if t not in known]
        score = self._scorer.score if self._scorer else self._classifier.score
        scored = dict(zip(fresh, np.asarray(score(fresh), dtype=np.float64).tolist(), strict=True))
        values = np.array([known.get(t, scored.get(t)) for t in unique], dtype=np.float64)
        if len(known) + len(scored) <= KNOWN_TEXTS_KEPT:
            known.update(scored)
        return values[codes]

    def apply(self, posts: Posts) -> PrefilterOutcome:
        n = len(posts)
        score = self.scores(posts) if n else np.empty(0)
        delay = 0.0 if self._cfg.timing == "pre_publication" else self._cfg.delay_minutes / 60.0
        when = posts.created_at + delay
        auto = np.where(score >= self._auto.score, when, np.inf)
        flag = np.where((score >= self._review.score) & ~np.isfinite(auto), when, np.inf)
        return PrefilterOutcome(score, auto, flag)


def prefilter_stage(
    policy: PlatformPolicy,
    scenario: Scenario,
    seeds: SeedTree,
    classifier: TrainedClassifier | None = None,
    workers: int = 1,
) -> PrefilterStage:
    """The policy's prefilter for this scenario and seed, ready to score posts."""
    cfg = policy.prefilter
    clf = classifier_for(cfg, scenario, seeds) if classifier is None else classifier
    if cfg.model.source == "card":  # the policy's card, whatever model a caller passed
        clf = classifier_for(cfg, scenario, seeds)
    mode = scenario.content.texts.mode
    scorer = None
    if isinstance(clf, TrainedClassifier) and mode == "text" and workers > 1:
        scorer = ParallelScorer(clf, workers)
    try:
        # The workers score the stream-like sample too, when the run measures one.
        score_model = _stream_scores(cfg, clf, scenario, seeds, scorer)
        return PrefilterStage(
            cfg, clf, mode, score_model, policy.name, scorer=scorer, mix=stream_mix(scenario)
        )
    except BaseException:
        if scorer is not None:
            scorer.close()
        raise


def _stream_scores(
    cfg: Prefilter,
    clf: TrainedClassifier | CardClassifier,
    scenario: Scenario,
    seeds: SeedTree,
    scorer: ParallelScorer | None = None,
) -> ScoreModel | None:
    """The classifier's scores on stream-like texts, where the run needs them: in scale
    mode (posts draw from them) and for targets on the stream's mix (met on them, so
    that the precision stated is the one the stream's own kind of text gets)."""
    if isinstance(clf, CardClassifier):
        return clf.score_model
    if not needs_stream_scores(cfg, scenario):
        return None
    return score_model_for(clf, scenario, seeds, scorer.score if scorer else None)


def stream_mix(scenario: Scenario) -> dict[str, float] | None:
    """The class mix the scenario's stream is expected to have over the whole run, by
    class name (None without ``content.class_shares``; for a replayed log, the shares
    as given: the mix the log is expected to have).

    Surges raise the violating share, and volume weights each hour: the class
    shares alone (the mix outside surges) would set a precision target the run
    then overshoots (0.4% violating posts outside surges in the Parler-like
    scenario, 0.66% over the run).
    """
    if scenario.content.class_shares is None:
        return None
    classes = scenario.taxonomy.classes
    if scenario.stream.is_file:  # no arrival model: the shares are the whole mix
        shares = np.asarray(scenario.class_shares())
        return {name: float(s) for name, s in zip(classes, shares / shares.sum(), strict=True)}
    rates, probs = hourly_rates(scenario), hourly_class_probs(scenario)
    total = rates.sum()
    # A world expected to make no post (the library runs one; the CLI refuses it):
    # the mix a post would have, each hour alike, so a target still has a meaning.
    mix = rates @ probs / total if total > 0 else probs.mean(axis=0)
    return {name: float(share) for name, share in zip(classes, mix, strict=True)}


def check_prefilter(policy: PlatformPolicy, scenario: Scenario, seed: int) -> None:
    """Fail early (model file, threshold targets) before a caller writes anything.

    Builds what the run will build; the caches make the run reuse it.
    """
    if not policy.prefilter.enabled:
        return
    seeds = SeedTree(seed)
    clf = classifier_for(policy.prefilter, scenario, seeds)
    resolve_thresholds(
        policy.prefilter,
        None if isinstance(clf, CardClassifier) else clf.validation,
        policy.name,
        stream_mix(scenario),
        _stream_scores(policy.prefilter, clf, scenario, seeds),
    )


# Finding the classifier ------------------------------------------------------------


_SYNTHETIC: Recent[SyntheticKey, TrainedClassifier] = Recent(8)


def _synthetic(key: SyntheticKey) -> TrainedClassifier:
    hit = _SYNTHETIC.get(key)
    if hit is None:
        seed, languages, evasion, n = key
        rng = SeedTree(seed).rng("classifier")
        hit = train_synthetic(rng, n_per_class=n, languages=dict(languages), evasion_rate=evasion)
        _SYNTHETIC.put(key, hit)
    return hit


def export_models(policy: PlatformPolicy, scenario: Scenario, seed: int, scores: bool) -> bytes:
    """The synthetic classifier a run of ``policy`` on ``scenario`` with ``seed``
    trains (built here, or found in this process's cache), with its scores on
    stream-like texts if ``scores``, pickled for :func:`install_models` in
    another process: what lets an experiment train each model once."""
    key = synthetic_key(policy, scenario, seed)
    if key is None:
        raise ValueError(f"policy {policy.name!r} trains no synthetic classifier")
    if policy.prefilter.areas is not None:
        from simulator.stages.area_models import export_area_models

        return export_area_models(policy, scenario, seed, scores)
    seeds = SeedTree(seed)
    clf = _synthetic(key)
    model = score_model_for(clf, scenario, seeds) if scores else None
    return pickle.dumps((key, clf, model), protocol=pickle.HIGHEST_PROTOCOL)


def install_models(blob: bytes) -> None:
    """Make this process's runs use the models :func:`export_models` pickled,
    unless it already holds them (the results are the same either way)."""
    # Pickled by export_models in a process of the same experiment: not untrusted input.
    key, clf, model = pickle.loads(blob)
    from simulator.stages.area_models import install_area_models

    if key[0] == AREAS_KEY:
        install_area_models(key, clf, model)
        return
    if key in _SYNTHETIC:
        return
    _SYNTHETIC.put(key, clf)
    if model is not None:
        seed, languages, evasion, _ = key
        _SCORE_MODELS.put((id(clf), seed, languages, evasion, SCORE_SAMPLE_PER_CLASS), (clf, model))


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> TrainedClassifier:
    # keyed on the file's identity and stamp, so an edited file is read again
    clf = load_model(Path(path))
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    meta = dict(clf.metadata) | {"model_file": path, "model_sha256": digest}
    return TrainedClassifier(clf.pipeline, clf.validation, meta)


def load_model_cached(path: Path) -> TrainedClassifier:
    """:func:`~simulator.classifier.load_model`, once per file version; adds the file's sha256."""
    resolved = Path(path).resolve()
    if not resolved.is_file():
        return load_model(resolved)  # raises the library's clear "not found" error
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def card_classifier(
    card_json: str, taxonomy: Taxonomy, positive: tuple[bool, ...] | None = None
) -> CardClassifier:
    """A card (as JSON: a card is not hashable) as a score model for ``taxonomy``,
    flagging ``positive`` (default: the violating classes), built once per process:
    every run of an experiment with the same card and scenario classes shares it."""
    card = ClassifierCard.model_validate_json(card_json)
    flags = None if positive is None else np.array(positive, dtype=bool)
    return CardClassifier.from_card(card, taxonomy, flags)


def classifier_for(
    cfg: Prefilter, scenario: Scenario, seeds: SeedTree
) -> TrainedClassifier | CardClassifier:
    """The policy's classifier: built from its card, loaded from its skops file, or
    trained on the scenario's synthetic corpus (cached per seed and corpus settings,
    so every policy on the same scenario and seed shares one model)."""
    if cfg.model.source == "card":
        assert cfg.model.card is not None
        return card_classifier(cfg.model.card.model_dump_json(), scenario.taxonomy)
    if not scenario.taxonomy.is_default:
        raise ValueError(TEXT_MODELS_DEFAULT_ONLY)
    if cfg.model.source == "file":
        assert cfg.model.path is not None
        return load_model_cached(Path(cfg.model.path))
    return _synthetic(corpus_key(cfg, scenario, seeds.seed))


# Scale mode ------------------------------------------------------------------------

_SCORE_MODELS: Recent[tuple[Any, ...], tuple[TrainedClassifier, ScoreModel]] = Recent(8)


def score_model_for(
    clf: TrainedClassifier,
    scenario: Scenario,
    seeds: SeedTree,
    score: Callable[[list[str]], np.ndarray] | None = None,
) -> ScoreModel:
    """The classifier's per-class score distributions on texts like the scenario's stream.

    The sample comes from the run's own seed tree (key ``score_model``), so it
    shifts no other draw, and is the same for every policy sharing the model.
    ``score`` scores the sample (default ``clf.score``; a
    :class:`~simulator.classifier.parallel.ParallelScorer`'s gives the same scores).
    """
    texts = scenario.content.texts
    key = (
        id(clf),
        seeds.seed,
        tuple(sorted(texts.languages.items())),
        texts.evasion_rate,
        SCORE_SAMPLE_PER_CLASS,
    )
    hit = _SCORE_MODELS.get(key)
    # the entry holds the classifier itself, so its id cannot be reused while cached
    if hit is not None and hit[0] is clf:
        return hit[1]
    classes, sample = stream_like_texts(
        texts.languages, texts.evasion_rate, scenario.taxonomy, seeds.rng("score_model")
    )
    measured = pd.DataFrame(
        {
            "score": (score or clf.score)(sample),
            "violating": VIOLATING[classes],
            "label": np.array(CLASSES, dtype=object)[classes],
        }
    )
    model = ScoreModel.from_validation(measured)
    _SCORE_MODELS.put(key, (clf, model))
    return model
