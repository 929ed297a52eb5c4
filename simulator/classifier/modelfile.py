"""Classifier model files: skops archives, loaded only against an explicit allow-list.

A model file holds a plain bundle -- the fitted pipeline, the validation sample
as lists, and the provenance metadata. Pickle and joblib would run whatever code
a file names, so a model file from someone else could take over the machine;
skops instead lists every type a file would instantiate, and :func:`load_model`
instantiates a file only when every type skops does not already trust is on
:data:`ALLOWED_TYPES` -- the few sklearn internals our own pipeline uses.
Anything else is refused with a :class:`~simulator.errors.ModelFileError`
naming the file and the offending types.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.pipeline import Pipeline

from simulator.classifier.training import VALIDATION_COLUMNS, TrainedClassifier
from simulator.errors import ModelFileError

FORMAT = "modsim-classifier"
FORMAT_VERSION = 1

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        # private helpers CalibratedClassifierCV keeps after fitting
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # the seeded calibration folds
        "sklearn.model_selection._split.StratifiedKFold",
    }
)
"""Types beyond skops's own defaults that a modsim model file may contain."""


def _bundle(clf: TrainedClassifier) -> dict[str, Any]:
    validation = clf.validation
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "pipeline": clf.pipeline,
        "validation": {
            "score": [float(v) for v in validation["score"]],
            "violating": [bool(v) for v in validation["violating"]],
            "label": [None if pd.isna(v) else str(v) for v in validation["label"]],
            "in_template": [bool(v) for v in validation["in_template"]],
        },
        "metadata": dict(clf.metadata),
    }


def save_model(clf: TrainedClassifier, path: Path) -> None:
    """Write ``clf`` to a skops file at ``path`` (atomically: a failed save leaves no file)."""
    path = Path(path)
    bundle = _bundle(clf)
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot write model file: {exc}") from exc
    os.close(fd)
    try:
        sio.dump(bundle, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot write model file: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _validation_from(raw: Any, path: Path) -> pd.DataFrame:
    if not isinstance(raw, dict) or set(raw) != set(VALIDATION_COLUMNS):
        raise ModelFileError(f"{path}: model file has no valid validation sample")
    lengths = {len(v) for v in raw.values() if isinstance(v, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in raw.values()):
        raise ModelFileError(f"{path}: model file's validation columns differ in length")
    return pd.DataFrame(
        {
            "score": np.asarray(raw["score"], dtype=np.float64),
            "violating": np.asarray(raw["violating"], dtype=bool),
            "label": pd.Series(raw["label"], dtype=object),
            "in_template": np.asarray(raw["in_template"], dtype=bool),
        }
    )


def load_model(path: Path) -> TrainedClassifier:
    """Read a model written by :func:`save_model`, refusing any type not on the allow-list."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        # A foreign, truncated or corrupt file can fail inside skops in many ways (zip, JSON,
        # key errors...); all of them mean the same thing to the user.
        raise ModelFileError(
            f"{path}: not a readable modsim model file (expected a skops archive): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    offending = sorted(set(untrusted) - ALLOWED_TYPES)
    if offending:
        raise ModelFileError(
            f"{path}: refusing to load a model file containing untrusted types: "
            f"{', '.join(offending)}"
        )
    try:
        bundle = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(
            f"{path}: cannot load model file: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a modsim classifier file (no {FORMAT!r} bundle)")
    version = bundle.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported "
            f"(this modsim reads version {FORMAT_VERSION})"
        )
    pipeline = bundle.get("pipeline")
    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{path}: model file holds no fitted pipeline")
    metadata = bundle.get("metadata")
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: model file has no metadata mapping")
    return TrainedClassifier(pipeline, _validation_from(bundle.get("validation"), path), metadata)
