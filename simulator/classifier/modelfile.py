"""Classifier model files: skops archives, loaded only against an explicit allow-list.

A model file holds a plain bundle -- the fitted pipeline, the validation sample
as lists, and the provenance metadata. Pickle and joblib would run whatever code
a file names, so a model file from someone else could take over the machine;
skops instead lists every type a file would instantiate, and :func:`load_model`
instantiates a file only when every type skops does not already trust is on
:data:`ALLOWED_TYPES` -- the few sklearn internals our own pipeline uses.
Anything else is refused with a :class:`~simulator.errors.ModelFileError`
naming the file and the offending types.

Trusted types can still hold nonsense -- an unfitted pipeline, one that takes
numbers rather than texts, a validation sample with no violating rows or with
scores outside [0, 1] -- so a loaded file's content is checked too
(:func:`check_pipeline`, :func:`validation_from`) and refused with the same
error, naming the file and what is wrong, before anything uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from simulator.classifier.training import VALIDATION_COLUMNS, TrainedClassifier
from simulator.errors import ModelFileError
from simulator.folders.atomic import write_atomic

FORMAT = "modsim-classifier"
FORMAT_VERSION = 1

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        # private helpers CalibratedClassifierCV keeps after fitting
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # the synthetic-corpus model: isotonic calibration of a frozen, already fitted model
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.frozen._frozen.FrozenEstimator",
        # the seeded calibration folds
        "sklearn.model_selection._split.StratifiedKFold",
        # the synthetic-corpus model's naive Bayes, with its log-odds as decision_function
        "simulator.classifier.pipeline.LogOddsNB",
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
    """Write ``clf`` to a skops file at ``path`` (atomically: a failed save
    leaves no file; with the umask's permissions, as results have)."""
    bundle = _bundle(clf)
    write_atomic(Path(path), lambda p: sio.dump(bundle, p))


# What a loaded file must hold ---------------------------------------------------------

PROBE_TEXTS: tuple[str, ...] = (
    "I will find you and hurt you.",
    "Le conseil municipal vote le budget jeudi.",
    "",
    "l0l   ¿qué? 🙂",
)
"""Texts a loaded pipeline must score, as probabilities, before modsim uses it."""


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_pipeline(pipeline: Any, path: Path) -> Pipeline:
    """``pipeline`` if it is a fitted violating / non-violating classifier of texts whose
    probabilities on :data:`PROBE_TEXTS` lie in [0, 1]; else a :class:`ModelFileError`."""
    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{path}: model file holds no fitted pipeline")
    try:
        check_is_fitted(pipeline)
    except NotFittedError:
        raise ModelFileError(f"{path}: model file's pipeline is not fitted") from None
    classes = getattr(pipeline, "classes_", None)
    if classes is None or np.asarray(classes).tolist() != [False, True]:
        raise ModelFileError(
            f"{path}: model file's pipeline must tell violating (True) from non-violating "
            f"(False) posts; its classes are {_shown(classes)}"
        )
    try:
        proba = np.asarray(pipeline.predict_proba(list(PROBE_TEXTS)), dtype=np.float64)
    except Exception as exc:
        # whatever step chokes on a text, it means one thing to the user
        raise ModelFileError(
            f"{path}: model file's pipeline does not score texts: {type(exc).__name__}: {exc}"
        ) from None
    expected = (len(PROBE_TEXTS), 2)
    if proba.shape != expected:
        raise ModelFileError(
            f"{path}: model file's pipeline gives probabilities of shape {proba.shape} "
            f"for {expected[0]} texts; expected {expected}"
        )
    if not np.all((proba >= 0.0) & (proba <= 1.0)):  # NaN fails both comparisons
        raise ModelFileError(
            f"{path}: model file's pipeline gives scores outside [0, 1]: {_shown(proba[:, 1])}"
        )
    return pipeline


def _is_score(value: Any) -> bool:
    # NaN fails both comparisons
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


_COLUMNS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("score", _is_score, "scores in [0, 1]"),
    ("violating", lambda v: isinstance(v, bool), "booleans"),
    ("label", lambda v: v is None or isinstance(v, str), "class names or nulls"),
    ("in_template", lambda v: isinstance(v, bool), "booleans"),
)


def validation_from(raw: Any, path: Path) -> pd.DataFrame:
    """A loaded bundle's validation sample as a frame, if thresholds can be set on it:
    non-empty, every score in [0, 1], and both violating and non-violating rows (a
    precision or recall target and scale mode's score model need both); else a
    :class:`ModelFileError` naming the column and row."""
    if not isinstance(raw, dict) or set(raw) != set(VALIDATION_COLUMNS):
        raise ModelFileError(f"{path}: model file has no valid validation sample")
    lengths = {len(v) for v in raw.values() if isinstance(v, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in raw.values()):
        raise ModelFileError(f"{path}: model file's validation columns differ in length")
    if not raw["score"]:
        raise ModelFileError(f"{path}: model file's validation sample is empty")
    for column, ok, expected in _COLUMNS:
        bad = next((i for i, v in enumerate(raw[column]) if not ok(v)), None)
        if bad is not None:
            raise ModelFileError(
                f"{path}: model file's validation sample: column {column!r} must hold "
                f"{expected}; row {bad + 1} is {_shown(raw[column][bad])}"
            )
    for flag, name in ((True, "violating"), (False, "non-violating")):
        if flag not in raw["violating"]:
            raise ModelFileError(
                f"{path}: model file's validation sample has no {name} rows; thresholds "
                "stated as precision or recall, and scale mode, need both kinds"
            )
    return pd.DataFrame(
        {
            "score": np.asarray(raw["score"], dtype=np.float64),
            "violating": np.asarray(raw["violating"], dtype=bool),
            "label": pd.Series(raw["label"], dtype=object),
            "in_template": np.asarray(raw["in_template"], dtype=bool),
        }
    )


def read_bundle(path: Path) -> dict[str, Any]:
    """A model file's bundle (any kind), read against the allow-list, its format, version
    and metadata checked; else a :class:`ModelFileError`."""
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
    if not isinstance(bundle.get("metadata"), dict):
        raise ModelFileError(f"{path}: model file has no metadata mapping")
    return bundle


AREAS_KIND = "areas"
"""A bundle's ``kind`` when it holds one model per policy area (absent: one model)."""


def load_model(path: Path) -> TrainedClassifier:
    """Read a model written by :func:`save_model`, refusing any type not on the allow-list
    and any content modsim could not use."""
    path = Path(path)
    bundle = read_bundle(path)
    if bundle.get("kind") == AREAS_KIND:
        areas = bundle.get("classifiers")
        names = list(areas) if isinstance(areas, dict) else []
        raise ModelFileError(
            f"{path}: holds one model per policy area ({', '.join(map(str, names))}), not one "
            "model: name it per area (prefilter.areas.<area>.model: {source: file, path: ...})"
        )
    validation = validation_from(bundle.get("validation"), path)
    return TrainedClassifier(
        check_pipeline(bundle.get("pipeline"), path), validation, bundle["metadata"]
    )
