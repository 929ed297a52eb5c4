"""A classifier card as a score model, and what it implies on a stream's class mix.

:func:`card_score_model` turns a card (:mod:`simulator.config.card`) into a
:class:`~simulator.classifier.scoremodel.ScoreModel`: per-class quantile
tables that scale mode samples from. Stated distributions (binormal, beta)
are tabulated on a probability grid dense in both tails, where precision at a
high threshold is decided; tables of operating points (table, roc) become
piecewise-linear CDFs between their thresholds, which a score model
represents exactly.

The figures a card implies are computed from the score model itself, exactly,
with no sample: the share of each class at or above a threshold
(:meth:`ScoreModel.share_at_or_above`), precision and recall on a class mix
(:func:`figures_on_mix`), ROC-AUC on a mix (:func:`auc_on_mix`), and the
threshold meeting a target precision or recall (:func:`threshold_on_mix`).
Between two entries of the tables every class's share is linear in the
threshold, so these are exact up to floating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from simulator.classifier.scoremodel import ScoreModel
from simulator.config.card import BetaCard, BinormalCard, ClassifierCard, Rates
from simulator.taxonomy import DEFAULT, Taxonomy

PROBIT_GRID = np.linspace(-8.5, 8.5, 4095)
"""Probit-scale points of the probability grid for stated distributions: dense
in the tails (probabilities down to 1e-17), 0.004 apart in the body."""


def _probability_grid() -> tuple[np.ndarray, np.ndarray]:
    """``(z, u)``: probit points and their probabilities ``u = Phi(z)``, from 0 to 1.

    Near 1, floats cannot tell ``Phi(z)`` apart for z above about 8: of equal
    probabilities only the last (z = inf, score 1) is kept, so the grid rises strictly.
    """
    z = np.concatenate([[-np.inf], PROBIT_GRID, [np.inf]])
    u = special.ndtr(z)
    keep = np.r_[np.diff(u) > 0, True]
    return z[keep], u[keep]


def _binormal_tables(
    card: BinormalCard, z: np.ndarray, classes: tuple[str, ...], positive: np.ndarray
) -> dict[int, np.ndarray]:
    # score = Phi(mean + sd * z) at u = Phi(z): exact at every grid point
    tables = {}
    for code, name in enumerate(classes):
        d = card.distribution(name, bool(positive[code]))
        tables[code] = special.ndtr(d.mean + d.sd * z)
    return tables


def _beta_tables(
    card: BetaCard, u: np.ndarray, classes: tuple[str, ...], positive: np.ndarray
) -> dict[int, np.ndarray]:
    tables = {}
    for code, name in enumerate(classes):
        shape = card.distribution(name, bool(positive[code]))
        # the inverse is monotone in exact arithmetic; keep it so in floats
        tables[code] = np.maximum.accumulate(special.betaincinv(shape.a, shape.b, u))
    return tables


def _strictly_rising(values: list[float]) -> np.ndarray:
    """Probabilities made strictly increasing by the least nudge: an interval with no
    mass (equal CDF values) becomes a jump of the quantile function."""
    out = np.asarray(values, dtype=np.float64)
    for i in range(1, out.size):
        if out[i] <= out[i - 1]:
            out[i] = np.nextafter(out[i - 1], 2.0)
    if out[-1] > 1.0:  # nudged past 1 by a run of equal values at the top
        raise ValueError("too many operating points with equal rates to tabulate")
    return out


def _rate_tables(rates: Rates) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quantile tables ``(scores, grid)`` of the violating and the legitimate group: the
    CDF is 1 - rate at each threshold, 0 at score 0, 1 at score 1, linear between."""
    scores = np.array([0.0] + [r[0] for r in rates] + [1.0])
    violating = _strictly_rising([0.0] + [1.0 - r[1] for r in rates] + [1.0])
    legitimate = _strictly_rising([0.0] + [1.0 - r[2] for r in rates] + [1.0])
    return scores, violating, scores.copy(), legitimate


def card_score_model(
    card: ClassifierCard, taxonomy: Taxonomy = DEFAULT, positive: np.ndarray | None = None
) -> ScoreModel:
    """The per-class score distributions a card states, as a score model.

    ``positive`` marks the classes the card flags (default: every violating
    class of ``taxonomy``). A card for one policy area flags that area's
    classes; a post of another area scores as the card's legitimate posts do
    (its own ``classes`` entry if it has one, else the non-violating group).
    """
    pos = taxonomy.violating if positive is None else np.asarray(positive, dtype=bool)
    spec = card.spec
    if isinstance(spec, BinormalCard | BetaCard):
        z, u = _probability_grid()
        if isinstance(spec, BinormalCard):
            tables = _binormal_tables(spec, z, taxonomy.classes, pos)
        else:
            tables = _beta_tables(spec, u, taxonomy.classes, pos)
        return ScoreModel(tables, kind="class", grids=dict.fromkeys(tables, u), taxonomy=taxonomy)
    v_scores, v_grid, l_scores, l_grid = _rate_tables(spec.rates())
    n = taxonomy.n_classes
    return ScoreModel(
        {c: v_scores if pos[c] else l_scores for c in range(n)},
        kind="violating",
        grids={c: v_grid if pos[c] else l_grid for c in range(n)},
        taxonomy=taxonomy,
    )


# What a score model implies on a class mix ------------------------------------------


def _mix(shares: Sequence[float], positive: np.ndarray) -> np.ndarray:
    w = np.asarray(shares, dtype=np.float64)
    if w.shape != positive.shape or np.any(w < 0) or not w[positive].sum() > 0:
        raise ValueError("a class mix needs one share per class and some violating posts")
    return w / w.sum()


def _positive(model: ScoreModel, positive: np.ndarray | None) -> np.ndarray:
    return model.taxonomy.violating if positive is None else np.asarray(positive, dtype=bool)


def _counts(
    model: ScoreModel, w: np.ndarray, t: np.ndarray, positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(violating, all) shares of the stream at or above each threshold in ``t``."""
    at = np.vstack([model.share_at_or_above(c, t) for c in range(positive.size)])
    weighted = w[:, None] * at
    return weighted[positive].sum(axis=0), weighted.sum(axis=0)


@dataclass(frozen=True)
class Figures:
    """Precision, recall and the share of posts flagged, at one threshold on one mix."""

    threshold: float
    precision: float | None
    recall: float
    flagged_share: float
    false_positive_rate: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "precision": self.precision,
            "recall": self.recall,
            "flagged_share": self.flagged_share,
            "false_positive_rate": self.false_positive_rate,
        }


def figures_on_mix(
    model: ScoreModel,
    shares: Sequence[float],
    threshold: float,
    positive: np.ndarray | None = None,
) -> Figures:
    """What flagging at ``score >= threshold`` gives on a stream of class mix ``shares``
    (``positive``: the classes that count as hits; default the violating ones)."""
    pos = _positive(model, positive)
    w = _mix(shares, pos)
    tp, flagged = _counts(model, w, np.array([threshold]), pos)
    positives = float(w[pos].sum())
    negatives = 1.0 - positives
    fp = float(flagged[0] - tp[0])
    return Figures(
        threshold=float(threshold),
        precision=float(tp[0] / flagged[0]) if flagged[0] > 0 else None,
        recall=float(tp[0] / positives),
        flagged_share=float(flagged[0]),
        false_positive_rate=fp / negatives if negatives > 0 else 0.0,
    )


def _knots(model: ScoreModel, w: np.ndarray) -> np.ndarray:
    """Every score where some class's share stops being linear in the threshold."""
    tables = [model.quantiles(c) for c in range(w.size) if w[c] > 0]
    return np.unique(np.clip(np.concatenate([[0.0, 1.0], *tables]), 0.0, 1.0))


def auc_on_mix(
    model: ScoreModel, shares: Sequence[float], positive: np.ndarray | None = None
) -> float:
    """ROC-AUC of violating against legitimate posts on a class mix (exact: the ROC
    curve is a straight line between consecutive knots)."""
    pos = _positive(model, positive)
    w = _mix(shares, pos)
    knots = _knots(model, w)
    # at each knot, and just above it (an atom at the knot is flagged at it, not above)
    t = np.sort(np.concatenate([knots, np.nextafter(knots, 2.0)]))
    tp, flagged = _counts(model, w, t, pos)
    positives = float(w[pos].sum())
    tpr = np.concatenate([[1.0], tp / positives, [0.0]])
    fpr = np.concatenate([[1.0], (flagged - tp) / (1.0 - positives), [0.0]])
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2.0))


def threshold_on_mix(
    model: ScoreModel,
    shares: Sequence[float],
    *,
    precision: float | None = None,
    recall: float | None = None,
    positive: np.ndarray | None = None,
) -> float:
    """The raw threshold meeting a target on a class mix, as
    :func:`~simulator.classifier.evaluation.threshold_for` defines it: with
    ``precision`` the lowest threshold whose precision reaches it, with
    ``recall`` the highest whose recall stays at or above it.

    Both conditions are linear in the threshold between two knots
    (``tp - p * flagged >= 0``, ``tp - r * positives >= 0``), so the answer is
    a knot or a linear root between two.
    """
    if (precision is None) == (recall is None):
        raise ValueError("give exactly one of precision= or recall=")
    pos = _positive(model, positive)
    w = _mix(shares, pos)
    knots = _knots(model, w)
    above = np.nextafter(knots, 2.0)
    tp_at, flagged_at = _counts(model, w, knots, pos)
    tp_up, flagged_up = _counts(model, w, above, pos)  # just above each knot
    if recall is not None:
        positives = float(w[pos].sum())
        g_at, g_up = tp_at - recall * positives, tp_up - recall * positives
        ok = np.flatnonzero(g_at >= -1e-12)
        k = int(ok[-1])  # recall never rises with the threshold: the last knot that keeps it
        if k + 1 < knots.size and g_up[k] > 0:
            return _root(knots[k], knots[k + 1], g_up[k], g_at[k + 1])
        return float(knots[k])
    assert precision is not None
    g_at = tp_at - precision * flagged_at
    g_up = tp_up - precision * flagged_up
    reached = (g_at >= -1e-12 * flagged_at) & (flagged_at > 0)
    for k in range(knots.size):
        if reached[k]:
            return float(knots[k])
        if k + 1 == knots.size:
            break
        if flagged_up[k] > 0 and g_up[k] >= 0:  # reached just above this knot
            return float(above[k])
        if flagged_at[k + 1] > 0 and g_at[k + 1] >= 0:  # reached inside the interval
            return _root(knots[k], knots[k + 1], g_up[k], g_at[k + 1])
    best = np.where(flagged_at > 0, tp_at / np.where(flagged_at > 0, flagged_at, 1.0), 0.0)
    raise ValueError(
        f"no threshold reaches precision {precision:.3f} on the stream's class mix "
        f"(best is {best.max():.3f})"
    )


def _root(a: float, b: float, ga: float, gb: float) -> float:
    """Where a function linear on (a, b], from ``ga`` just above a to ``gb`` at b, is 0."""
    if gb == ga:
        return float(b)
    return float(min(b, max(a, a + (b - a) * (0.0 - ga) / (gb - ga))))


@dataclass(frozen=True)
class CardClassifier:
    """A prefilter's classifier given by a card: its score model and provenance."""

    card: ClassifierCard
    score_model: ScoreModel
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_card(
        cls,
        card: ClassifierCard,
        taxonomy: Taxonomy = DEFAULT,
        positive: np.ndarray | None = None,
    ) -> CardClassifier:
        meta = {"source": "card", "form": card.form, "name": card.name}
        return cls(card, card_score_model(card, taxonomy, positive), meta)
