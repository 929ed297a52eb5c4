"""Classifier cards: a prefilter described by what a team measured of its own model.

A card replaces a trained model file. It states the model's operating
characteristics, and modsim turns them into per-class score distributions
(:mod:`simulator.classifier.card`) from which every post's score is drawn, as
in scale mode. Four forms, each a block of its own (exactly one per card):

* ``binormal``: each class's scores are ``Phi(x)`` with ``x`` normal on the
  probit scale, stated as a ROC-AUC against the non-violating reference or as
  a mean (and sd); a group default for violating posts, per-class overrides
  for the hard classes;
* ``beta``: each class's scores follow a beta(a, b) distribution;
* ``table``: precision and recall at thresholds, on a stated prevalence (the
  violating share of the sample they were measured on);
* ``roc``: false- and true-positive rates at thresholds (a ROC curve with its
  score scale).

Everything that can be checked without running is checked here, so a bad
card is refused with its file, line and field: tables in threshold order,
recall (and the false-positive rate precision implies) never rising with the
threshold, precision that the prevalence allows, every class covered, and
ROC-AUC above 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from statistics import NormalDist
from typing import Annotated, Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from simulator.config.base import ConfigModel
from simulator.config.common import Probability

FORMS = ("binormal", "beta", "table", "roc")
"""The card forms, each a key of :class:`ClassifierCard`."""

_NORMAL = NormalDist()


def _auc_in_range(v: float | None) -> float | None:
    if v is not None and not 0.5 < v < 1.0:
        raise ValueError(
            f"expected a ROC-AUC above 0.5 and below 1, got {v}: "
            + (
                "at or below 0.5 the model ranks legitimate posts above violating ones "
                "as often as not (check the direction of its scores)"
                if v <= 0.5
                else "an AUC of 1 is a model that never errs; state what was measured"
            )
        )
    return v


class ProbitNormal(ConfigModel):
    """Scores `Phi(x)`, with `x` normal (mean, sd) on the probit scale."""

    mean: Annotated[float, Field(ge=-8.0, le=8.0, description="mean of x")] = -2.0
    sd: Annotated[float, Field(gt=0.0, le=10.0, description="standard deviation of x")] = 1.0


class Binormal(ConfigModel):
    """One class's (or group's) scores on the probit scale: a ROC-AUC or a mean.

    With ``auc``, the mean is placed so that a post of this class outscores a
    post of the non-violating reference with that probability.
    """

    auc: Annotated[
        float | None,
        Field(description="ROC-AUC against the non-violating reference (above 0.5, below 1)"),
    ] = None
    mean: Annotated[
        float | None, Field(ge=-8.0, le=8.0, description="mean of x on the probit scale")
    ] = None
    sd: Annotated[float, Field(gt=0.0, le=10.0, description="standard deviation of x")] = 1.0

    _auc = field_validator("auc")(_auc_in_range)

    @model_validator(mode="after")
    def _one_location(self) -> Binormal:
        if (self.auc is None) == (self.mean is None):
            raise ValueError("give exactly one of `auc` or `mean`")
        return self

    def located(self, reference: ProbitNormal) -> ProbitNormal:
        """This distribution as mean and sd, the AUC turned into a mean."""
        if self.mean is not None:
            return ProbitNormal(mean=self.mean, sd=self.sd)
        assert self.auc is not None
        spread = math.hypot(self.sd, reference.sd)
        mean = reference.mean + spread * _NORMAL.inv_cdf(self.auc)
        if not -8.0 <= mean <= 8.0:
            raise ValueError(
                f"auc {self.auc} puts the probit mean at {mean:.2f}, outside [-8, 8]: "
                "move the non-violating reference or narrow the sds"
            )
        return ProbitNormal(mean=mean, sd=self.sd)


def binormal_auc(a: ProbitNormal, b: ProbitNormal) -> float:
    """P(a post drawn from ``a`` outscores one drawn from ``b``)."""
    return _NORMAL.cdf((a.mean - b.mean) / math.hypot(a.sd, b.sd))


class BetaShape(ConfigModel):
    """Scores following a beta(a, b) distribution (mean a / (a + b))."""

    a: Annotated[float, Field(gt=0.0, le=10_000.0, description="first shape (weight near 1)")]
    b: Annotated[float, Field(gt=0.0, le=10_000.0, description="second shape (weight near 0)")]


_NONE: dict[str, Any] = {}
"""No per-class entries (pydantic copies a default per model)."""


def _uncovered(
    classes: Mapping[str, object],
    positive: Collection[str],
    all_classes: Collection[str],
    violating: object,
    non_violating: object,
) -> list[str]:
    """Classes with neither their own distribution nor a group default."""
    missing = []
    for name in all_classes:
        default = violating if name in positive else non_violating
        if classes.get(name) is None and default is None:
            missing.append(name)
    return missing


class BinormalCard(ConfigModel):
    """A card of binormal score distributions (probit scale), per group and class."""

    non_violating: Annotated[
        ProbitNormal,
        Field(
            description=(
                "the reference: scores of legitimate posts (every non-violating class "
                "without its own entry), and what each `auc` is measured against"
            )
        ),
    ] = ProbitNormal()
    violating: Annotated[
        Binormal | None,
        Field(description="default for the violating classes without their own entry"),
    ] = None
    classes: Annotated[
        dict[str, Binormal],
        Field(
            description="per-class entries, e.g. the hard legitimate classes (keyed by class name)"
        ),
    ] = _NONE

    @model_validator(mode="after")
    def _located(self) -> BinormalCard:
        if self.violating is not None and self.violating.mean is not None:
            auc = binormal_auc(self.violating.located(self.non_violating), self.non_violating)
            if auc <= 0.5:
                raise ValueError(
                    f"violating.mean ({self.violating.mean}) is at or below the non-violating "
                    f"reference (ROC-AUC {auc:.3f}, must be above 0.5)"
                )
        for name in self.classes:  # an AUC whose mean falls off the probit scale is refused here
            self.distribution(name, False)
        if self.violating is not None:
            self.distribution("", True)
        return self

    def problems(self, positive: Collection[str], all_classes: Collection[str]) -> list[str]:
        """What is wrong with this card for these classes, ``positive`` the ones it
        should flag (messages start with the field at fault)."""
        missing = _uncovered(
            self.classes, positive, all_classes, self.violating, self.non_violating
        )
        if missing:
            return [
                f"violating is needed: classes has no entry for {', '.join(missing)} "
                "(give a `violating` default or an entry for each class under `classes`)"
            ]
        out = []
        for name in all_classes:
            own = self.classes.get(name)
            if name in positive and own is not None and own.mean is not None:
                auc = binormal_auc(own.located(self.non_violating), self.non_violating)
                if auc <= 0.5:
                    out.append(
                        f"classes.{name}.mean ({own.mean}) puts violating posts at or below "
                        f"the non-violating reference (ROC-AUC {auc:.3f}, must be above 0.5)"
                    )
        return out

    def distribution(self, name: str, positive: bool) -> ProbitNormal:
        """The probit-scale distribution of class ``name`` (``positive``: a class
        the card flags, which falls back on ``violating``)."""
        own = self.classes.get(name)
        if own is not None:
            try:
                return own.located(self.non_violating)
            except ValueError as exc:
                raise ValueError(f"classes.{name}.{exc}") from None
        if positive:
            assert self.violating is not None
            try:
                return self.violating.located(self.non_violating)
            except ValueError as exc:
                raise ValueError(f"violating.{exc}") from None
        return self.non_violating


class BetaCard(ConfigModel):
    """A card of beta score distributions, per group and class."""

    violating: Annotated[
        BetaShape | None,
        Field(description="default for the violating classes without their own entry"),
    ] = None
    non_violating: Annotated[
        BetaShape | None,
        Field(description="default for the legitimate classes without their own entry"),
    ] = None
    classes: Annotated[
        dict[str, BetaShape], Field(description="per-class entries (keyed by class name)")
    ] = _NONE

    def problems(self, positive: Collection[str], all_classes: Collection[str]) -> list[str]:
        """What is wrong with this card for these classes, ``positive`` the ones it
        should flag (messages start with the field at fault)."""
        missing = _uncovered(
            self.classes, positive, all_classes, self.violating, self.non_violating
        )
        if missing:
            group = "violating" if set(missing) & set(positive) else "non_violating"
            return [
                f"{group} is needed: classes has no entry for {', '.join(missing)} (give a "
                "`violating` and a `non_violating` default, or an entry for each class)"
            ]
        legit = [c for c in all_classes if c not in positive]
        # the reference: the last legitimate class (benign in the default taxonomy)
        reference = self.distribution(legit[-1], False) if legit else None
        for name in sorted(positive):
            if reference is None:
                break
            auc = beta_auc(self.distribution(name, True), reference)
            if auc <= 0.5:
                where = f"classes.{name}" if self.classes.get(name) else "violating"
                return [
                    f"{where} gives {name} posts scores at or below {legit[-1]} ones (ROC-AUC "
                    f"{auc:.3f} against {legit[-1]}, must be above 0.5)"
                ]
        return []

    def distribution(self, name: str, positive: bool) -> BetaShape:
        own = self.classes.get(name)
        if own is not None:
            return own
        default = self.violating if positive else self.non_violating
        assert default is not None
        return default


def beta_auc(a: BetaShape, b: BetaShape, points: int = 4001) -> float:
    """P(a draw from beta ``a`` exceeds one from beta ``b``), by quadrature on ``a``'s quantiles."""
    from scipy import special  # only a beta card needs it

    u = (np.arange(points) + 0.5) / points
    x = special.betaincinv(a.a, a.b, u)
    return float(special.betainc(b.a, b.b, x).mean())


class OperatingPoint(ConfigModel):
    """Precision and recall measured at one threshold."""

    threshold: Annotated[float, Field(gt=0.0, lt=1.0, description="score threshold")]
    precision: Annotated[
        float, Field(gt=0.0, le=1.0, description="share of flagged posts that violate")
    ]
    recall: Annotated[float, Field(gt=0.0, le=1.0, description="share of violating posts flagged")]


class RocPoint(ConfigModel):
    """False- and true-positive rates at one threshold (a point of the ROC curve)."""

    threshold: Annotated[float, Field(gt=0.0, lt=1.0, description="score threshold")]
    fpr: Annotated[Probability, Field(description="share of legitimate posts flagged")]
    tpr: Annotated[Probability, Field(description="share of violating posts flagged (recall)")]


Rates = list[tuple[float, float, float]]
"""``(threshold, tpr, fpr)`` per operating point, in threshold order."""


def _check_rates(rates: Rates, key: str, tpr_name: str, fpr_name: str) -> None:
    """Thresholds rising, both rates never rising, and the curve above the diagonal."""
    for i in range(1, len(rates)):
        (t0, tpr0, fpr0), (t1, tpr1, fpr1) = rates[i - 1], rates[i]
        if t1 <= t0:
            raise ValueError(
                f"{key}[{i}].threshold ({t1:g}) is not above {key}[{i - 1}].threshold "
                f"({t0:g}): list {key} by increasing threshold"
            )
        if tpr1 > tpr0 + 1e-12:
            raise ValueError(
                f"{key}[{i}].{tpr_name} ({tpr1:g}) is above {key}[{i - 1}].{tpr_name} "
                f"({tpr0:g}): recall cannot rise as the threshold rises"
            )
        if fpr1 > fpr0 + 1e-12:
            stated = (
                f"({fpr1:g}) is above {key}[{i - 1}].{fpr_name} ({fpr0:g})"
                if fpr_name == "fpr"
                else f"implies a false-positive rate of {fpr1:.4g}, above the {fpr0:.4g} "
                f"at threshold {t0:g}"
            )
            raise ValueError(
                f"{key}[{i}].{fpr_name} {stated}: more legitimate posts cannot be flagged "
                "at a higher threshold"
            )
    auc = rates_auc(rates)
    if auc <= 0.5:
        raise ValueError(
            f"{key} give a ROC-AUC of {auc:.3f}; it must be above 0.5 (at or below, "
            "the model flags legitimate posts as often as violating ones)"
        )


def rates_auc(rates: Rates) -> float:
    """ROC-AUC of the piecewise-linear curve through the points, (1, 1) and (0, 0)."""
    fpr = [1.0] + [r[2] for r in rates] + [0.0]
    tpr = [1.0] + [r[1] for r in rates] + [0.0]
    return sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2.0 for i in range(len(fpr) - 1))


class TableCard(ConfigModel):
    """A card of precision and recall at thresholds, on a stated class mix."""

    prevalence: Annotated[
        float,
        Field(
            gt=0.0,
            lt=1.0,
            description="share of violating posts in the sample the table was measured on",
        ),
    ]
    points: Annotated[
        list[OperatingPoint],
        Field(min_length=1, max_length=200, description="by increasing threshold"),
    ]

    @model_validator(mode="after")
    def _coherent(self) -> TableCard:
        pi = self.prevalence
        for i, p in enumerate(self.points):
            lowest = pi * p.recall / (pi * p.recall + 1.0 - pi)
            if p.precision < lowest - 1e-12:
                raise ValueError(
                    f"points[{i}].precision ({p.precision:g}) is below {lowest:.4g}, what "
                    f"flagging every legitimate post would give at recall {p.recall:g} and "
                    f"prevalence {pi:g}: precision and prevalence do not fit together"
                )
        _check_rates(self.rates(), "points", "recall", "precision")
        return self

    def rates(self) -> Rates:
        """``(threshold, tpr, fpr)`` per point: precision, recall and prevalence give fpr."""
        pi = self.prevalence
        return [
            (
                p.threshold,
                p.recall,
                min(1.0, pi * p.recall * (1.0 - p.precision) / ((1.0 - pi) * p.precision)),
            )
            for p in self.points
        ]


class RocCard(ConfigModel):
    """A card of ROC points (false- and true-positive rates) at thresholds."""

    points: Annotated[
        list[RocPoint],
        Field(min_length=1, max_length=200, description="by increasing threshold"),
    ]

    @model_validator(mode="after")
    def _coherent(self) -> RocCard:
        _check_rates(self.rates(), "points", "tpr", "fpr")
        return self

    def rates(self) -> Rates:
        return [(p.threshold, p.tpr, p.fpr) for p in self.points]


_FORMS = {"binormal": BinormalCard, "beta": BetaCard, "table": TableCard, "roc": RocCard}


class ClassifierCard(ConfigModel):
    """A classifier described by its measured operating characteristics, in one of four forms."""

    name: Annotated[str, Field(description="a label for reports")] = ""
    description: Annotated[
        str, Field(description="where the figures come from (shown in reports)")
    ] = ""
    binormal: Annotated[
        BinormalCard | None,
        Field(description="per-class normal distributions on the probit scale (ROC-AUC or mean)"),
    ] = None
    beta: Annotated[BetaCard | None, Field(description="per-class beta distributions")] = None
    table: Annotated[
        TableCard | None,
        Field(description="precision and recall at thresholds, on a stated prevalence"),
    ] = None
    roc: Annotated[
        RocCard | None, Field(description="false- and true-positive rates at thresholds")
    ] = None

    @model_validator(mode="after")
    def _one_form(self) -> ClassifierCard:
        given = [f for f in FORMS if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one form of card ({', '.join(FORMS)}); got "
                + (" and ".join(given) if given else "none")
            )
        return self

    @property
    def form(self) -> str:
        """Which form the card takes: binormal, beta, table or roc."""
        return next(f for f in FORMS if getattr(self, f) is not None)

    def problems(self, positive: Collection[str], all_classes: Collection[str]) -> list[str]:
        """What is wrong with this card for these classes (``positive``: the ones it
        flags); each message starts with its field under the form's block."""
        spec = self.spec
        if isinstance(spec, BinormalCard | BetaCard):
            return [f"{self.form}.{m}" for m in spec.problems(positive, all_classes)]
        return []

    @property
    def spec(self) -> BinormalCard | BetaCard | TableCard | RocCard:
        """The card's figures (the block of its form)."""
        spec = getattr(self, self.form)
        assert isinstance(spec, _FORMS[self.form])
        return spec
