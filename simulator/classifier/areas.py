"""One classifier per policy area: what a prefilter screening each area with its own model uses.

A scenario that declares policy areas (terrorism, violence, hate...) has one
binary model per area, trained *one-vs-rest*: the area's own classes are its
positives; the legitimate classes **and every other area's violating classes**
are its negatives. So the hate model learns to tell hate speech from
terrorist propaganda and from harassment, not only from benign posts: a post of
another area scores low under it, and a post is flagged for the area whose
rule it breaks.

The models share one fitted feature step (TF-IDF word and character n-grams,
:func:`~simulator.classifier.pipeline.build_features`): features are computed
once per text, and each area's calibrated naive Bayes reads them
(:meth:`AreaModels.scores`). On the synthetic corpus every area is calibrated
like the one-model classifier (isotonic on a sample drawn like the validation
sample, :mod:`simulator.classifier.calibration`) and measured on texts of
templates it never trained on; on a team's own file
(:mod:`simulator.classifier.arealabels`) by sigmoid over folds of the training
share, measured on the held-back share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import FeatureUnion, Pipeline

from simulator.classifier.calibration import fit_calibrated_model
from simulator.classifier.pipeline import build_features
from simulator.classifier.training import (
    TrainedClassifier,
    base_metadata,
    draw_synthetic,
    synthetic_metadata,
    validation_frame,
)
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import Taxonomy


@dataclass(frozen=True)
class AreaModels:
    """A fitted feature step and, per policy area, a binary model on its features.

    ``validation[area]`` is the area's scored validation sample (columns as a
    :class:`~simulator.classifier.training.TrainedClassifier`'s; ``violating`` is
    True for the area's own posts). ``class_areas`` maps each class the models
    were trained on to its area (None for a legitimate class); it is empty for a
    file labelled by area alone.
    """

    features: FeatureUnion
    classifiers: Mapping[str, Any]
    validation: Mapping[str, pd.DataFrame]
    class_areas: Mapping[str, str | None] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def areas(self) -> tuple[str, ...]:
        """The policy areas covered, in the order trained."""
        return tuple(self.classifiers)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Every area's P(the text breaks that area's rule), shape ``(areas, texts)``."""
        items = list(texts)
        out = np.empty((len(self.classifiers), len(items)), dtype=np.float64)
        if not items:
            return out
        matrix = self.features.transform(items)
        for k, model in enumerate(self.classifiers.values()):
            out[k] = model.predict_proba(matrix)[:, 1]
        return out

    def classifier(self, area: str) -> TrainedClassifier:
        """The area's model as a one-model classifier (its pipeline, validation sample and
        metadata): what evaluation and thresholds read."""
        if area not in self.classifiers:
            raise KeyError(f"no model for area {area!r}; areas covered: {list(self.areas)}")
        pipeline = Pipeline([("features", self.features), ("classifier", self.classifiers[area])])
        meta = dict(self.metadata) | {"area": area}
        return TrainedClassifier(pipeline, self.validation[area], meta)


def area_targets(taxonomy: Taxonomy, labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Per area of ``taxonomy``, True for the rows (class names) of the area's classes:
    one-vs-rest, every other class (legitimate or another area's) False."""
    codes = taxonomy.codes(list(labels)).astype(np.int64)
    return {area.name: taxonomy.area_of[codes] == i for i, area in enumerate(taxonomy.areas)}


def class_areas_of(taxonomy: Taxonomy) -> dict[str, str | None]:
    """Each class of ``taxonomy`` and its area's name (None for a legitimate class)."""
    return {
        name: (taxonomy.areas[int(taxonomy.area_of[i])].name if taxonomy.violating[i] else None)
        for i, name in enumerate(taxonomy.classes)
    }


def train_synthetic_areas(
    rng: np.random.Generator,
    taxonomy: Taxonomy,
    n_per_class: int = 2000,
    languages: Mapping[str, float] | None = None,
    evasion_rate: float = 0.0,
) -> AreaModels:
    """One model per area of ``taxonomy``, on the corpus's texts of its classes.

    Drawn and split as :func:`~simulator.classifier.training.train_synthetic`
    draws them (training templates to train; fresh texts of training and of
    held-out templates to validate and, separately, to calibrate), once for
    every area: the areas differ only in which classes count as positive.
    """
    if n_per_class < 10:
        raise ValueError(f"n_per_class must be at least 10, got {n_per_class}")
    generator = TextGenerator(languages, evasion_rate=evasion_rate, taxonomy=taxonomy)
    random_state = int(rng.integers(0, 2**31 - 1))
    samples = draw_synthetic(generator, n_per_class, rng)
    train, cal, val = samples.train, samples.calibration, samples.validation

    features = build_features()
    matrix = features.fit_transform(train["text"].tolist())
    cal_matrix = features.transform(cal["text"].tolist())
    val_matrix = features.transform(val["text"].tolist())

    y_train = area_targets(taxonomy, train["label"].tolist())
    y_cal = area_targets(taxonomy, cal["label"].tolist())
    y_val = area_targets(taxonomy, val["label"].tolist())
    classifiers: dict[str, Any] = {}
    validation: dict[str, pd.DataFrame] = {}
    for area in taxonomy.area_names:
        model = fit_calibrated_model(
            random_state, matrix, y_train[area], cal_matrix, y_cal[area], samples.calibration_weight
        )
        classifiers[area] = model
        validation[area] = validation_frame(
            model.predict_proba(val_matrix)[:, 1],
            y_val[area],
            val["label"].tolist(),
            samples.in_template,
        )
    meta = base_metadata(rng, random_state) | synthetic_metadata(
        generator, samples, n_per_class, evasion_rate
    )
    meta |= {
        "per_area": True,
        "areas": list(taxonomy.area_names),
        "negatives": "one-vs-rest: legitimate classes and the other areas' classes",
    }
    return AreaModels(features, classifiers, validation, class_areas_of(taxonomy), meta)
