"""Scale mode: draw each post's classifier score instead of scoring a text.

Scoring millions of texts is the slow part of a large run. The score model
replaces it with the classifier's *measured* behaviour: for every content class
it keeps the sorted validation scores, and a post of that class gets the
empirical quantile function evaluated at a uniform draw. The marginal score
distribution of each class is therefore what the real classifier produced on
texts it never trained on -- including its mistakes on the hard classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from simulator.taxonomy import CLASSES, DEFAULT, VIOLATING, Taxonomy

MAX_POINTS = 4097
"""Longest quantile table kept per class; longer samples are summarised by quantiles."""


SCORE_SAMPLE_PER_CLASS = 2000
"""Texts per class scored for real to measure the scale-mode score model.

With 2,000 a class, the Kolmogorov-Smirnov distance between the measured and
the true score distribution is below about 0.03 (95%), far below what a
run's stage outcomes can resolve."""


def stream_like_texts(
    languages: Mapping[str, float],
    evasion_rate: float,
    taxonomy: Taxonomy,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[str]]:
    """:data:`SCORE_SAMPLE_PER_CLASS` texts of every class of ``taxonomy``, drawn as a
    stream draws them (a run passes its own ``score_model`` seed key, so the sample
    shifts no other draw): the class codes and the texts."""
    from simulator.stream.texts import TextGenerator

    generator = TextGenerator(languages, evasion_rate=evasion_rate, taxonomy=taxonomy)
    classes = np.repeat(np.arange(taxonomy.n_classes, dtype=np.int8), SCORE_SAMPLE_PER_CLASS)
    return classes, generator.generate(classes, rng, split="all")


def _quantile_table(scores: np.ndarray, max_points: int) -> np.ndarray:
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    if ordered.size > max_points:
        ordered = np.quantile(ordered, np.linspace(0.0, 1.0, max_points))
    return ordered


def _even(size: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, size) if size > 1 else np.zeros(1)


class ScoreModel:
    """Per-class score distributions; :meth:`sample` is their quantile function.

    Each class has a table of scores at probabilities ``grid`` (evenly spaced
    from 0 to 1 unless given), and the quantile function interpolates linearly
    between them, so the distribution between two table entries is uniform.
    A model measured on a sample keeps its sorted scores; a model built from a
    stated distribution (a classifier card) gives a grid dense where its tails
    need it.

    ``kind`` is ``"class"`` when the validation labels were class names, or
    ``"violating"`` when only violating / non-violating was known (every class
    then shares its group's distribution).
    """

    def __init__(
        self,
        quantiles: Mapping[int, np.ndarray],
        kind: str = "class",
        grids: Mapping[int, np.ndarray] | None = None,
        taxonomy: Taxonomy = DEFAULT,
    ) -> None:
        self.taxonomy = taxonomy
        """The classes the codes stand for (a model file's are the default taxonomy's)."""
        missing = sorted(set(range(taxonomy.n_classes)) - set(quantiles))
        if missing:
            raise ValueError(f"score model needs a distribution for every class, missing {missing}")
        tables: dict[int, np.ndarray] = {}
        for code, table in quantiles.items():
            arr = np.asarray(table, dtype=np.float64)
            if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ValueError(
                    f"class {code}: quantile table must be a non-empty 1-d finite array"
                )
            if np.any(np.diff(arr) < 0):
                raise ValueError(f"class {code}: quantile table must be sorted ascending")
            tables[int(code)] = arr
        self._tables = tables
        self._grids = {code: _even(t.size) for code, t in tables.items()}
        for code, grid in (grids or {}).items():
            g = np.asarray(grid, dtype=np.float64)
            key = int(code)
            if key not in tables or g.shape != tables[key].shape:
                raise ValueError(f"class {code}: a grid needs a quantile table of its length")
            if g.size > 1 and (g[0] != 0.0 or g[-1] != 1.0 or np.any(np.diff(g) <= 0)):
                raise ValueError(f"class {code}: a grid must rise strictly from 0 to 1")
            self._grids[key] = g
        self._kind = kind

    @property
    def kind(self) -> str:
        return self._kind

    def quantiles(self, code: int) -> np.ndarray:
        """The sorted score table of one class (a copy)."""
        return self._tables[int(code)].copy()

    def grid(self, code: int) -> np.ndarray:
        """The probabilities the score table of one class is given at (a copy)."""
        return self._grids[int(code)].copy()

    def share_at_or_above(self, code: int, threshold: float | np.ndarray) -> np.ndarray:
        """Exact share of the class's scores at or above ``threshold`` (the model's own
        distribution, not a sample of it); vectorised over thresholds."""
        table, grid = self._tables[int(code)], self._grids[int(code)]
        t = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
        if table.size == 1:
            return np.where(t <= table[0], 1.0, 0.0)
        # the first table entry at or above t; below it the quantile function rises
        # linearly from the previous entry, so the probability below t is interpolated
        i = np.searchsorted(table, t, side="left")
        inside = (i > 0) & (i < table.size)
        j = np.clip(i, 1, table.size - 1)
        lo, hi = table[j - 1], table[j]
        step = np.where(hi > lo, (t - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
        below = grid[j - 1] + step * (grid[j] - grid[j - 1])
        below = np.where(inside, below, np.where(i == 0, 0.0, 1.0))
        return np.clip(1.0 - below, 0.0, 1.0)

    @classmethod
    def from_validation(cls, validation: pd.DataFrame, max_points: int = MAX_POINTS) -> ScoreModel:
        """Per class code when labels are class names, else per violating / non-violating group.

        Classes absent from a class-labelled sample fall back to their group's pooled scores.
        """
        for column in ("score", "violating"):
            if column not in validation.columns:
                raise ValueError(f"validation table has no {column!r} column")
        scores = validation["score"].to_numpy(dtype=np.float64)
        violating = validation["violating"].to_numpy(dtype=bool)
        groups: dict[bool, np.ndarray] = {flag: scores[violating == flag] for flag in (True, False)}
        labels = validation["label"] if "label" in validation.columns else None
        by_class = (
            labels is not None and bool(labels.notna().all()) and bool(labels.isin(CLASSES).all())
        )
        tables: dict[int, np.ndarray] = {}
        for code, name in enumerate(CLASSES):
            own = scores[(labels == name).to_numpy()] if by_class and labels is not None else None
            if own is not None and own.size:
                tables[code] = _quantile_table(own, max_points)
                continue
            pooled = groups[bool(VIOLATING[code])]
            if pooled.size == 0:
                side = "violating" if VIOLATING[code] else "non-violating"
                raise ValueError(f"validation has no {side} rows to model class {name!r} from")
            tables[code] = _quantile_table(pooled, max_points)
        return cls(tables, kind="class" if by_class else "violating")

    @classmethod
    def from_class_scores(
        cls,
        scores: np.ndarray,
        classes: np.ndarray,
        taxonomy: Taxonomy,
        max_points: int = MAX_POINTS,
    ) -> ScoreModel:
        """Per class of ``taxonomy``, the scores of its posts (``classes``: their codes);
        every class must have some."""
        s = np.asarray(scores, dtype=np.float64)
        codes = np.asarray(classes)
        tables = {}
        for code, name in enumerate(taxonomy.classes):
            own = s[codes == code]
            if not own.size:
                raise ValueError(f"no scores of class {name!r} to model it from")
            tables[code] = _quantile_table(own, max_points)
        return cls(tables, kind="class", taxonomy=taxonomy)

    def sample(self, classes: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Scores for posts of ``classes`` at uniform draws ``u`` (same length), monotone in u."""
        codes = np.asarray(classes)
        draws = np.asarray(u, dtype=np.float64)
        if codes.shape != draws.shape or codes.ndim != 1:
            raise ValueError(
                "classes and u must be 1-d arrays of the same length, "
                f"got shapes {codes.shape} and {draws.shape}"
            )
        out = np.empty(draws.shape, dtype=np.float64)
        for code in np.unique(codes):
            rows = codes == code
            key = int(code)
            if key not in self._tables:
                raise ValueError(
                    f"unknown class code {key}; expected 0..{self.taxonomy.n_classes - 1}"
                )
            out[rows] = np.interp(draws[rows], self._grids[key], self._tables[key])
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (class names -> sorted score lists)."""
        names = self.taxonomy.classes
        out: dict[str, Any] = {
            "kind": self._kind,
            "quantiles": {names[code]: self._tables[code].tolist() for code in range(len(names))},
        }
        uneven = {
            names[code]: g.tolist()
            for code, g in self._grids.items()
            if not np.array_equal(g, _even(g.size))
        }
        if uneven:
            out["grids"] = uneven
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], taxonomy: Taxonomy = DEFAULT) -> ScoreModel:
        """Inverse of :meth:`to_dict` (for a model of ``taxonomy``'s classes)."""
        try:
            raw = data["quantiles"]
            tables = {
                taxonomy.index[name]: np.asarray(v, dtype=np.float64) for name, v in raw.items()
            }
            grids = {
                taxonomy.index[name]: np.asarray(v, dtype=np.float64)
                for name, v in dict(data.get("grids") or {}).items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a score model dictionary: {exc}") from exc
        return cls(tables, kind=str(data.get("kind", "class")), grids=grids, taxonomy=taxonomy)

    def __repr__(self) -> str:
        sizes = {self.taxonomy.classes[c]: t.size for c, t in self._tables.items()}
        return f"ScoreModel(kind={self._kind!r}, points={sizes})"
