"""Training one model per policy area on a team's own labelled file.

Two ways to label posts by area:

* a *class* column of class names from a taxonomy (a scenario's
  ``content.areas`` and ``content.legitimate_classes``): each class belongs to
  one area or is legitimate, and a post is positive for its class's area only;
* *multi-label* columns ``label:<area>`` of 0/1 (or true/false): a post may
  break several areas' rules, or none. Every ``label:`` column must name an
  area of the taxonomy; the models cover the areas given.

Each area's model is one-vs-rest (see :mod:`simulator.classifier.areas`). One
stratified share of the rows is held back for every area's validation; the
feature step is fitted once on the rest, and each area's naive Bayes is
calibrated by sigmoid over folds of it, as the one-model default pipeline is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold

from simulator.classifier.areas import AreaModels, area_targets, class_areas_of
from simulator.classifier.pipeline import CALIBRATION_FOLDS, build_features, build_model
from simulator.classifier.training import (
    FALSE_WORDS,
    TRUE_WORDS,
    base_metadata,
    fingerprint,
    read_table,
    rows_at,
    validation_frame,
)
from simulator.errors import DataFileError
from simulator.taxonomy import Taxonomy

AREA_PREFIX = "label:"
"""Columns named ``label:<area>`` hold 0/1 labels of one area each."""

MIN_ROWS_PER_SIDE = CALIBRATION_FOLDS + 2
"""Positive and negative rows each area needs: calibration folds, and one to validate."""


def _columns(table: pd.DataFrame) -> list[str]:
    return [str(c) for c in table.columns]


def _require(table: pd.DataFrame, path: Path, column: str) -> pd.Series:
    if column not in table.columns:
        raise DataFileError(f"{path}: no column {column!r}; columns found: {_columns(table)}")
    values = table[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataFileError(f"{path}: column {column!r} has missing values at {rows_at(missing)}")
    return values


def _flags(values: pd.Series, path: Path, column: str) -> np.ndarray:
    lowered = values.astype(str).str.strip().str.lower()
    bad = ~lowered.isin(TRUE_WORDS | FALSE_WORDS).to_numpy()
    if bad.any():
        raise DataFileError(
            f"{path}: column {column!r} must hold 0/1 or true/false; found "
            f"{sorted(set(lowered[bad]))[:5]} at {rows_at(bad)}"
        )
    return lowered.isin(TRUE_WORDS).to_numpy(dtype=bool)


def area_labels(
    table: pd.DataFrame, path: Path, taxonomy: Taxonomy, class_col: str | None
) -> tuple[dict[str, np.ndarray], list[str | None]]:
    """Per area, which rows are its posts; and each row's class name (None for labels by
    area). From ``class_col`` when given, else from the ``label:<area>`` columns."""
    area_cols = [c for c in _columns(table) if c.startswith(AREA_PREFIX)]
    if class_col is not None:
        if area_cols:
            raise DataFileError(
                f"{path}: give per-area labels one way: a class column ({class_col!r}) or "
                f"{AREA_PREFIX}<area> columns ({area_cols}), not both"
            )
        names = _require(table, path, class_col).astype(str).str.strip()
        unknown = ~names.isin(taxonomy.classes).to_numpy()
        if unknown.any():
            raise DataFileError(
                f"{path}: column {class_col!r} has class names the taxonomy lacks: "
                f"{sorted(set(names[unknown]))[:10]} at {rows_at(unknown)}; expected one of "
                f"{list(taxonomy.classes)}"
            )
        return area_targets(taxonomy, names.tolist()), list(names)
    if not area_cols:
        raise DataFileError(
            f"{path}: no per-area labels: name a column of class names (--class-col) or give "
            f"{AREA_PREFIX}<area> columns of 0/1; columns found: {_columns(table)}"
        )
    targets: dict[str, np.ndarray] = {}
    for column in area_cols:
        area = column[len(AREA_PREFIX) :]
        if area not in taxonomy.area_names:
            raise DataFileError(
                f"{path}: column {column!r} names area {area!r}, which the taxonomy lacks; "
                f"its areas: {list(taxonomy.area_names)} (name the scenario with --scenario)"
            )
        targets[area] = _flags(_require(table, path, column), path, column)
    # in the taxonomy's order, whatever the file's
    ordered = {a: targets[a] for a in taxonomy.area_names if a in targets}
    return ordered, [None] * len(table)


def _split(keys: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Rows held back for validation: ``share`` of each stratum (rows with the same key)."""
    held = np.zeros(keys.shape[0], dtype=bool)
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        k = min(max(round(len(rows) * share), 1), len(rows) - 1) if len(rows) > 1 else 0
        held[rng.permutation(rows)[:k]] = True
    return held


def train_areas_on_file(
    path: Path,
    text_col: str,
    rng: np.random.Generator,
    taxonomy: Taxonomy,
    class_col: str | None = None,
    validation_share: float = 0.25,
) -> AreaModels:
    """One model per area, from a labelled CSV/TSV or Parquet file (see the module doc)."""
    if not 0.0 < validation_share < 1.0:
        raise ValueError(
            f"validation_share must be strictly between 0 and 1, got {validation_share}"
        )
    path = Path(path)
    table = read_table(path)
    if table.empty:
        raise DataFileError(f"{path}: no data rows")
    texts = _require(table, path, text_col)
    not_text = ~texts.map(lambda v: isinstance(v, str)).to_numpy()
    if not_text.any():
        raise DataFileError(
            f"{path}: column {text_col!r} has non-text values at {rows_at(not_text)}"
        )
    targets, labels = area_labels(table, path, taxonomy, class_col)
    keys = np.array(
        ["".join("1" if y[i] else "0" for y in targets.values()) for i in range(len(table))]
    )
    held = _split(keys, validation_share, rng)
    for area, y in targets.items():
        for flag, side in ((True, "posts of the area"), (False, "other posts")):
            n_train = int(((y == flag) & ~held).sum())
            n_val = int(((y == flag) & held).sum())
            if n_train < MIN_ROWS_PER_SIDE - 1 or n_val < 1:
                raise DataFileError(
                    f"{path}: area {area!r} has {int((y == flag).sum())} {side}; training "
                    f"needs at least {MIN_ROWS_PER_SIDE} of each kind per area"
                )
    random_state = int(rng.integers(0, 2**31 - 1))
    train_texts = texts[~held].tolist()
    features = build_features()
    matrix = features.fit_transform(train_texts)
    val_matrix = features.transform(texts[held].tolist())
    val_labels = [lab for lab, keep in zip(labels, held, strict=True) if keep]
    classifiers = {}
    validation = {}
    for area, y in targets.items():
        model = CalibratedClassifierCV(
            build_model(random_state),
            method="sigmoid",
            cv=StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=random_state),
        ).fit(matrix, y[~held])
        classifiers[area] = model
        validation[area] = validation_frame(
            model.predict_proba(val_matrix)[:, 1],
            y[held],
            val_labels,
            np.ones(int(held.sum()), dtype=bool),
        )
    meta = base_metadata(rng, random_state) | {
        "source": str(path),
        "fingerprint": fingerprint(path),
        "per_area": True,
        "areas": list(targets),
        "negatives": "one-vs-rest: legitimate posts and the other areas' posts",
        "text_col": text_col,
        "class_col": class_col,
        "labels": "class" if class_col is not None else "multi-label",
        "n_train": len(train_texts),
        "n_validation": int(held.sum()),
        "validation_share": validation_share,
    }
    class_areas = class_areas_of(taxonomy) if class_col is not None else {}
    return AreaModels(features, classifiers, validation, class_areas, meta)
