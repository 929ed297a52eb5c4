"""Training the classifier: on the synthetic corpus, or on a user's labelled file.

Both routes return a :class:`TrainedClassifier`: the fitted pipeline plus a
validation sample the pipeline never trained on, scored for real. Everything
downstream -- evaluation, score thresholds stated as precision or recall, the
scale-mode score model -- is computed from that validation sample.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from simulator.classifier.calibration import fit_calibrated
from simulator.classifier.pipeline import CALIBRATION_FOLDS
from simulator.classifier.selection import DEFAULT_FOLDS, select_pipeline
from simulator.errors import DataFileError
from simulator.stream.texts import TextGenerator
from simulator.taxonomy import CLASSES, VIOLATING_CLASSES

VALIDATION_COLUMNS: tuple[str, ...] = ("score", "violating", "label", "in_template")

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
"""What a 0/1 label column may write for 1 (lower-cased)."""
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})
"""... and for 0."""
_MAX_ROWS_IN_MESSAGE = 5
CALIBRATION_SAMPLE_FACTOR = 3
"""The synthetic model's held-out-template calibration texts, in validation samples."""


def modsim_version() -> str:
    """The installed modsim version (``"unknown"`` when run from a bare checkout)."""
    try:
        return _metadata.version("modsim")
    except _metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class TrainedClassifier:
    """A fitted pipeline with its scored validation sample and provenance.

    ``validation`` has columns ``score`` (P(violating)), ``violating`` (bool),
    ``label`` (class name, or None for user data without class names) and
    ``in_template`` (False for synthetic texts from held-out templates).
    """

    pipeline: Pipeline
    validation: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(violating) for each text, as float64."""
        if isinstance(texts, str):
            raise TypeError("score() takes a sequence of texts, not a single string")
        items = list(texts)
        if not items:
            return np.empty(0, dtype=np.float64)
        proba = self.pipeline.predict_proba(items)
        return np.asarray(proba[:, 1], dtype=np.float64)


def _seed_info(rng: np.random.Generator) -> dict[str, Any] | None:
    seq = getattr(rng.bit_generator, "seed_seq", None)
    if not isinstance(seq, np.random.SeedSequence):
        return None
    entropy = seq.entropy
    return {
        "entropy": int(entropy) if isinstance(entropy, int | np.integer) else str(entropy),
        "spawn_key": [int(k) for k in seq.spawn_key],
    }


def base_metadata(rng: np.random.Generator, random_state: int) -> dict[str, Any]:
    return {
        "seed": _seed_info(rng),
        "random_state": random_state,
        "created_with": f"modsim {modsim_version()}",
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def validation_frame(
    scores: np.ndarray, violating: np.ndarray, labels: Sequence[str | None], in_template: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "score": np.asarray(scores, dtype=np.float64),
            "violating": np.asarray(violating, dtype=bool),
            "label": pd.Series(list(labels), dtype=object),
            "in_template": np.asarray(in_template, dtype=bool),
        }
    )


@dataclass(frozen=True)
class SyntheticSamples:
    """The corpus texts a synthetic classifier is trained, calibrated and validated on."""

    train: pd.DataFrame
    """Texts of the training templates."""
    validation: pd.DataFrame
    """Fresh texts of the training templates, then texts of held-out templates."""
    in_template: np.ndarray
    """Per validation row, whether its template was trained on."""
    calibration: pd.DataFrame
    """A sample drawn like the validation sample, its held-out part larger."""
    calibration_weight: np.ndarray
    """Per calibration row, its weight (the seen part weighted up to match)."""


def draw_synthetic(
    generator: TextGenerator, n_per_class: int, rng: np.random.Generator
) -> SyntheticSamples:
    """Draw a synthetic classifier's samples from ``generator``, in a fixed order.

    Validation holds fresh texts from the training templates and texts from
    held-out templates, ``max(200, n_per_class // 2)`` of each class for each.
    Calibration has held-out-template texts :data:`CALIBRATION_SAMPLE_FACTOR`
    times the validation sample's, so that the isotonic map's own noise is small
    beside the validation sample's (the reliability check compares the two); and
    seen-template texts, scored near 0 or 1 and adding little noise, as many as
    the validation sample's, weighted up to match.
    """
    train = generator.corpus(n_per_class, rng, split="train")
    n_val = max(200, n_per_class // 2)
    seen = generator.corpus(n_val, rng, split="train")
    unseen = generator.corpus(n_val, rng, split="heldout")
    cal_seen = generator.corpus(n_val, rng, split="train")
    cal_unseen = generator.corpus(CALIBRATION_SAMPLE_FACTOR * n_val, rng, split="heldout")
    return SyntheticSamples(
        train=train,
        validation=pd.concat([seen, unseen], ignore_index=True),
        in_template=np.r_[np.ones(len(seen), bool), np.zeros(len(unseen), bool)],
        calibration=pd.concat([cal_seen, cal_unseen], ignore_index=True),
        calibration_weight=np.r_[
            np.full(len(cal_seen), float(CALIBRATION_SAMPLE_FACTOR)), np.ones(len(cal_unseen))
        ],
    )


def synthetic_metadata(
    generator: TextGenerator, samples: SyntheticSamples, n_per_class: int, evasion_rate: float
) -> dict[str, Any]:
    """What a synthetic classifier's metadata says of its corpus and samples."""
    return {
        "source": "synthetic",
        "n_train": len(samples.train),
        "n_validation": len(samples.validation),
        "n_per_class": n_per_class,
        "languages": dict(
            zip(generator.languages, generator.language_weights.tolist(), strict=True)
        ),
        "evasion_rate": evasion_rate,
        "n_calibration": len(samples.calibration),
        "calibration": "isotonic, on a sample drawn like the validation sample",
    }


def train_synthetic(
    rng: np.random.Generator,
    n_per_class: int = 2000,
    languages: Mapping[str, float] | None = None,
    evasion_rate: float = 0.0,
) -> TrainedClassifier:
    """Train on texts from the corpus's *training* templates, calibrated and validated
    on the samples of :func:`draw_synthetic` (see :mod:`simulator.classifier.calibration`)."""
    if n_per_class < 10:
        raise ValueError(f"n_per_class must be at least 10, got {n_per_class}")
    generator = TextGenerator(languages, evasion_rate=evasion_rate)
    random_state = int(rng.integers(0, 2**31 - 1))
    samples = draw_synthetic(generator, n_per_class, rng)
    cal = samples.calibration
    pipeline = fit_calibrated(
        random_state,
        samples.train["text"].tolist(),
        samples.train["violating"].to_numpy(dtype=bool),
        cal["text"].tolist(),
        cal["violating"].to_numpy(dtype=bool),
        samples.calibration_weight,
    )
    clf = TrainedClassifier(pipeline, pd.DataFrame(columns=list(VALIDATION_COLUMNS)))
    val = samples.validation
    validation = validation_frame(
        clf.score(val["text"].tolist()),
        val["violating"].to_numpy(),
        val["label"].tolist(),
        samples.in_template,
    )
    meta = base_metadata(rng, random_state) | synthetic_metadata(
        generator, samples, n_per_class, evasion_rate
    )
    return TrainedClassifier(pipeline, validation, meta)


# --- user data -------------------------------------------------------------------------


def rows_at(mask: np.ndarray) -> str:
    """1-based data-row numbers (the header is not a row) for an error message."""
    idx = np.flatnonzero(mask) + 1
    shown = ", ".join(str(i) for i in idx[:_MAX_ROWS_IN_MESSAGE])
    more = f" and {len(idx) - _MAX_ROWS_IN_MESSAGE} more" if len(idx) > _MAX_ROWS_IN_MESSAGE else ""
    return f"data row{'s' if len(idx) > 1 else ''} {shown}{more}"


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype=object, keep_default_na=True)
        if suffix == ".tsv":
            return pd.read_csv(path, sep="\t", dtype=object, keep_default_na=True)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(f"{path}: the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        # pyarrow's ArrowInvalid is a ValueError: a corrupt or foreign Parquet file.
        raise DataFileError(f"{path}: cannot read as {suffix[1:].upper()}: {exc}") from exc
    raise DataFileError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .parquet")


def read_table(path: Path) -> pd.DataFrame:
    """A labelled file as :func:`train_on_file` reads it (every column as text, for CSV)."""
    return _read_table(Path(path))


def _parse_labels(
    values: pd.Series, path: Path, column: str, positive_labels: Collection[str] | None
) -> tuple[np.ndarray, list[str | None]]:
    """Turn a label column into (violating, class names or None)."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataFileError(f"{path}: column {column!r} has missing labels at {rows_at(missing)}")
    n = len(values)
    if positive_labels is not None:
        positives = {str(p).strip() for p in positive_labels}
        as_text = values.astype(str).str.strip()
        absent = sorted(positives - set(as_text))
        if absent:
            raise DataFileError(
                f"{path}: column {column!r}: positive label(s) {absent} never occur; "
                f"labels found: {sorted(set(as_text))[:20]}"
            )
        names = as_text.tolist()
        labels: list[str | None] = list(names) if set(names) <= set(CLASSES) else [None] * n
        return as_text.isin(positives).to_numpy(dtype=bool), labels
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool), [None] * n
    if pd.api.types.is_numeric_dtype(values):
        numeric = values.to_numpy(dtype=float)
        bad = ~np.isin(numeric, (0.0, 1.0))
        if bad.any():
            raise DataFileError(
                f"{path}: column {column!r} must hold 0/1, true/false or class names; "
                f"found other values at {rows_at(bad)}"
            )
        return numeric == 1.0, [None] * n
    text = values.astype(str).str.strip()
    lowered = text.str.lower()
    if lowered.isin(TRUE_WORDS | FALSE_WORDS).all():
        return lowered.isin(TRUE_WORDS).to_numpy(dtype=bool), [None] * n
    known = text.isin(CLASSES).to_numpy()
    if known.all():
        class_names: list[str | None] = list(text)
        return text.isin(VIOLATING_CLASSES).to_numpy(dtype=bool), class_names
    unknown = sorted(set(text[~known]))[:10]
    raise DataFileError(
        f"{path}: column {column!r} has labels that are neither booleans nor class names "
        f"{list(CLASSES)}: {unknown} at {rows_at(~known)}; pass positive_labels to name the "
        "violating ones"
    )


def _text_column(table: pd.DataFrame, path: Path, text_col: str, label_col: str) -> pd.Series:
    """The text column, after checking both columns exist and every text is a string."""
    for column in (text_col, label_col):
        if column not in table.columns:
            raise DataFileError(
                f"{path}: no column {column!r}; columns found: {[str(c) for c in table.columns]}"
            )
    if table.empty:
        raise DataFileError(f"{path}: no data rows (column {text_col!r} is empty)")
    texts = table[text_col]
    bad_text = texts.isna().to_numpy() | ~texts.map(lambda v: isinstance(v, str)).to_numpy()
    if bad_text.any():
        raise DataFileError(
            f"{path}: column {text_col!r} has missing or non-text values at {rows_at(bad_text)}"
        )
    return texts


def fingerprint(path: Path) -> str:
    """``sha256:`` and the hex digest of the file's bytes: which data a model was trained on."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def train_on_file(
    path: Path,
    text_col: str,
    label_col: str,
    rng: np.random.Generator,
    positive_labels: Collection[str] | None = None,
    validation_share: float = 0.25,
    *,
    language_col: str | None = None,
    candidates: Sequence[str] | None = None,
    folds: int = DEFAULT_FOLDS,
    n_jobs: int = 1,
) -> TrainedClassifier:
    """Train on a labelled CSV/TSV or Parquet file, validating on a stratified share of it.

    Labels may be booleans (or 0/1, true/false, yes/no), class names from
    :data:`simulator.taxonomy.CLASSES` (the violating classes map to True), or
    any strings with ``positive_labels`` naming the violating ones. The pipeline
    is chosen among ``candidates`` (names from
    :data:`~simulator.classifier.selection.CANDIDATES`, all by default) by
    ``folds``-fold cross-validation on the training share
    (:func:`~simulator.classifier.selection.select_pipeline`). ``language_col``,
    if given, must exist; it is recorded, for evaluating per language later.
    """
    if not 0.0 < validation_share < 1.0:
        raise ValueError(
            f"validation_share must be strictly between 0 and 1, got {validation_share}"
        )
    path = Path(path)
    table = _read_table(path)
    texts = _text_column(table, path, text_col, label_col)
    if language_col is not None and language_col not in table.columns:
        raise DataFileError(
            f"{path}: no column {language_col!r}; columns found: {[str(c) for c in table.columns]}"
        )
    violating, labels = _parse_labels(table[label_col], path, label_col, positive_labels)

    min_per_side = max(CALIBRATION_FOLDS, folds) + 1
    for flag, name in ((True, "violating"), (False, "non-violating")):
        count = int((violating == flag).sum())
        if count < min_per_side + 1:
            raise DataFileError(
                f"{path}: column {label_col!r} has {count} {name} rows; training needs at least "
                f"{min_per_side + 1} of each (found labels of one kind only?)"
            )

    validation_mask = np.zeros(len(table), dtype=bool)
    for flag in (True, False):
        rows = np.flatnonzero(violating == flag)
        k = round(len(rows) * validation_share)
        k = min(max(k, 1), len(rows) - min_per_side)
        validation_mask[rng.permutation(rows)[:k]] = True

    random_state = int(rng.integers(0, 2**31 - 1))
    train_texts = texts[~validation_mask].tolist()
    selection = select_pipeline(
        train_texts, violating[~validation_mask], random_state, candidates, folds, n_jobs
    )
    clf = TrainedClassifier(selection.pipeline, pd.DataFrame(columns=list(VALIDATION_COLUMNS)))
    val_labels = [lab for lab, keep in zip(labels, validation_mask, strict=True) if keep]
    validation = validation_frame(
        clf.score(texts[validation_mask].tolist()),
        violating[validation_mask],
        val_labels,
        np.ones(int(validation_mask.sum()), dtype=bool),
    )
    meta = (
        base_metadata(rng, random_state)
        | {
            "source": str(path),
            "fingerprint": fingerprint(path),
            "text_col": text_col,
            "label_col": label_col,
            "language_col": language_col,
            "positive_labels": sorted(positive_labels) if positive_labels is not None else None,
            "n_train": len(train_texts),
            "n_validation": len(validation),
            "validation_share": validation_share,
        }
        | selection.to_metadata()
    )
    return TrainedClassifier(selection.pipeline, validation, meta)


def validate_on_file(
    clf: TrainedClassifier,
    path: Path,
    text_col: str,
    label_col: str,
    positive_labels: Collection[str] | None = None,
) -> TrainedClassifier:
    """``clf`` with its validation sample replaced by every row of a labelled file, scored.

    For measuring a model on a test set of one's own (the labels are read as
    in :func:`train_on_file`); the pipeline is unchanged.
    """
    path = Path(path)
    table = _read_table(path)
    texts = _text_column(table, path, text_col, label_col)
    violating, labels = _parse_labels(table[label_col], path, label_col, positive_labels)
    validation = validation_frame(
        clf.score(texts.tolist()), violating, labels, np.ones(len(table), dtype=bool)
    )
    meta = dict(clf.metadata) | {"evaluated_on": str(path), "n_validation": len(validation)}
    return TrainedClassifier(clf.pipeline, validation, meta)
