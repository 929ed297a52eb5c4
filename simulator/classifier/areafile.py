"""Model files holding one model per policy area (:class:`~simulator.classifier.areas.AreaModels`).

The same skops archive and allow-list as a one-model file
(:mod:`simulator.classifier.modelfile`); the bundle says ``kind: areas`` and
holds the shared feature step, each area's model and validation sample, and
which class belongs to which area. :func:`load_area_models` checks what it
loads as :func:`~simulator.classifier.modelfile.load_model` does: every area's
model must score the probe texts as probabilities, and every validation sample
must have both kinds of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from simulator.classifier.areas import AreaModels
from simulator.classifier.modelfile import (
    AREAS_KIND,
    FORMAT,
    FORMAT_VERSION,
    PROBE_TEXTS,
    read_bundle,
    validation_from,
)
from simulator.errors import ModelFileError
from simulator.folders.atomic import write_atomic


def _columns(validation: pd.DataFrame) -> dict[str, list[Any]]:
    return {
        "score": [float(v) for v in validation["score"]],
        "violating": [bool(v) for v in validation["violating"]],
        "label": [None if pd.isna(v) else str(v) for v in validation["label"]],
        "in_template": [bool(v) for v in validation["in_template"]],
    }


def save_area_models(models: AreaModels, path: Path) -> None:
    """Write ``models`` to a skops file at ``path`` (atomically, as a one-model file)."""
    bundle = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": AREAS_KIND,
        "features": models.features,
        "classifiers": dict(models.classifiers),
        "validation": {a: _columns(v) for a, v in models.validation.items()},
        "class_areas": dict(models.class_areas),
        "metadata": dict(models.metadata),
    }
    write_atomic(Path(path), lambda p: sio.dump(bundle, p))


def _check_model(model: Any, matrix: Any, path: Path, area: str) -> Any:
    where = f"{path}: area {area!r}:"
    classes = getattr(model, "classes_", None)
    if classes is None or np.asarray(classes).tolist() != [False, True]:
        raise ModelFileError(f"{where} its model must tell the area's posts (True) from others")
    try:
        proba = np.asarray(model.predict_proba(matrix), dtype=np.float64)
    except Exception as exc:
        raise ModelFileError(
            f"{where} its model does not score texts: {type(exc).__name__}: {exc}"
        ) from None
    if proba.shape != (len(PROBE_TEXTS), 2) or not np.all((proba >= 0) & (proba <= 1)):
        raise ModelFileError(f"{where} its model gives no probabilities for the probe texts")
    return model


def load_area_models(path: Path) -> AreaModels:
    """Read a file written by :func:`save_area_models`; a one-model file, a foreign file,
    an untrusted type or unusable content is a :class:`ModelFileError`."""
    path = Path(path)
    bundle = read_bundle(path)
    if bundle.get("kind") != AREAS_KIND:
        raise ModelFileError(
            f"{path}: holds one model (violating or not), not one per policy area; train "
            "per-area models with `modsim classifier train --scenario SCENARIO` (a scenario "
            "declaring `content.areas`) or with --data and per-area labels"
        )
    features = bundle.get("features")
    if not isinstance(features, FeatureUnion):
        raise ModelFileError(f"{path}: model file holds no feature step")
    try:
        check_is_fitted(features)
        matrix = features.transform(list(PROBE_TEXTS))
    except (NotFittedError, Exception) as exc:
        raise ModelFileError(
            f"{path}: model file's feature step does not turn texts into features: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    raw_models, raw_validation = bundle.get("classifiers"), bundle.get("validation")
    if not isinstance(raw_models, dict) or not raw_models:
        raise ModelFileError(f"{path}: model file names no policy area")
    if not isinstance(raw_validation, dict) or set(raw_validation) != set(raw_models):
        raise ModelFileError(f"{path}: model file's validation samples do not match its areas")
    classifiers = {str(a): _check_model(m, matrix, path, str(a)) for a, m in raw_models.items()}
    validation = {a: validation_from(raw_validation[a], path) for a in classifiers}
    class_areas = bundle.get("class_areas")
    if not isinstance(class_areas, dict) or not all(
        isinstance(k, str) and (v is None or v in classifiers) for k, v in class_areas.items()
    ):
        raise ModelFileError(f"{path}: model file's class_areas must map classes to its areas")
    return AreaModels(features, classifiers, validation, class_areas, bundle["metadata"])
