"""How good is a trained classifier, and where should its thresholds sit?

Everything here reads the classifier's validation sample (scores of texts it
never trained on); nothing re-scores texts. :func:`evaluate` gives the standard
measures -- ROC-AUC and average precision overall and split by whether the
texts came from templates seen in training, precision / recall / F1 at chosen
thresholds, a reliability table (is each score bin's violating share within
sampling error of its mean score?), and per-class error rates (the wrongful
removals of news and heated political speech policy teams ask about).
:func:`threshold_for` turns a target precision or recall into a raw score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from simulator import format as fmt
from simulator.classifier.calibration import (
    MIN_BIN_POSTS,
    RELIABILITY_BINS,
    RELIABILITY_LEVEL,
    reliability_table,
    within_sampling_error,
)
from simulator.classifier.training import TrainedClassifier
from simulator.taxonomy import VIOLATING_CLASSES


def _finite_or_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    if y.size == 0 or y.all() or not y.any():
        return None
    return float(roc_auc_score(y, s))


def _ap(y: np.ndarray, s: np.ndarray) -> float | None:
    if y.size == 0 or not y.any():
        return None
    return float(average_precision_score(y, s))


def _plain(value: Any) -> Any:
    """JSON-friendly: numpy scalars to Python, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_plain(row) for row in frame.to_dict(orient="records")]


def _fmt(value: Any) -> str:
    """A cell of a measures table: floats to three decimals, ``-`` when missing."""
    if value is None or isinstance(value, float | np.floating):
        return fmt.ratio(value, missing="-")
    return str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


@dataclass(frozen=True)
class ClassifierReport:
    """Measures of one trained classifier on its validation sample."""

    n_validation: int
    prevalence: float
    roc_auc: float | None
    average_precision: float | None
    roc_auc_in_template: float | None
    roc_auc_heldout_template: float | None
    average_precision_in_template: float | None
    average_precision_heldout_template: float | None
    brier_score: float
    expected_calibration_error: float
    thresholds: pd.DataFrame
    """threshold, n_flagged, flagged_share, precision, recall, f1."""
    calibration: pd.DataFrame
    """The reliability table (non-empty bins only): bin_low, bin_high, mean_predicted,
    observed_rate, count, interval_low, interval_high, tested, within
    (see :func:`~simulator.classifier.calibration.reliability_table`)."""
    class_rates: pd.DataFrame
    """label, violating, threshold, n, flagged_share, error_rate."""
    calibrated: bool | None = None
    """Every tested bin's mean score lies within its interval (None: no bin had enough posts)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return _plain(
            {
                "n_validation": self.n_validation,
                "prevalence": self.prevalence,
                "roc_auc": self.roc_auc,
                "average_precision": self.average_precision,
                "roc_auc_in_template": self.roc_auc_in_template,
                "roc_auc_heldout_template": self.roc_auc_heldout_template,
                "average_precision_in_template": self.average_precision_in_template,
                "average_precision_heldout_template": self.average_precision_heldout_template,
                "brier_score": self.brier_score,
                "expected_calibration_error": self.expected_calibration_error,
                "thresholds": _records(self.thresholds),
                "calibration": _records(self.calibration),
                "calibrated": self.calibrated,
                "class_rates": _records(self.class_rates),
                "metadata": self.metadata,
            }
        )

    def to_markdown(self) -> str:
        """A short Markdown section for reports."""
        source = self.metadata.get("source", "unknown")
        lines = [
            "## Classifier",
            "",
            f"Source: {source}; validation texts: {self.n_validation} "
            f"(violating share {fmt.ratio(self.prevalence)}).",
            "",
            "| measure | all | seen templates | held-out templates |",
            "|---|---|---|---|",
            f"| ROC-AUC | {_fmt(self.roc_auc)} | {_fmt(self.roc_auc_in_template)} "
            f"| {_fmt(self.roc_auc_heldout_template)} |",
            f"| average precision | {_fmt(self.average_precision)} "
            f"| {_fmt(self.average_precision_in_template)} "
            f"| {_fmt(self.average_precision_heldout_template)} |",
            "",
            f"Brier score {fmt.ratio(self.brier_score, 4)}; expected calibration error "
            f"{fmt.ratio(self.expected_calibration_error, 4)}.",
            "",
            "### At each threshold",
            "",
            _markdown_table(self.thresholds),
            "",
            "### Per class: share scored at or above the threshold",
            "",
            _markdown_table(self.class_rates),
            "",
            "### Calibration",
            "",
            calibration_verdict(self.calibrated),
            "",
            _markdown_table(self.calibration),
            "",
        ]
        return "\n".join(lines)


def _threshold_table(y: np.ndarray, s: np.ndarray, thresholds: Sequence[float]) -> pd.DataFrame:
    rows = []
    positives = int(y.sum())
    for t in thresholds:
        flagged = s >= t
        n_flagged = int(flagged.sum())
        tp = int((flagged & y).sum())
        precision = tp / n_flagged if n_flagged else float("nan")
        recall = tp / positives if positives else float("nan")
        f1 = (
            2 * precision * recall / (precision + recall)
            if n_flagged and positives and (precision + recall) > 0
            else float("nan")
        )
        rows.append(
            {
                "threshold": float(t),
                "n_flagged": n_flagged,
                "flagged_share": n_flagged / y.size if y.size else float("nan"),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    return pd.DataFrame(rows)


def calibration_verdict(calibrated: bool | None) -> str:
    """The reliability check in one sentence: its answer, level and correction."""
    how = (
        f"each bin of at least {MIN_BIN_POSTS} posts, {RELIABILITY_LEVEL:.0%} Wilson intervals "
        "with a Bonferroni correction over those bins"
    )
    if calibrated is None:
        return (
            f"Within sampling error of the diagonal: not tested (no bin has {MIN_BIN_POSTS} posts)."
        )
    answer = "yes" if calibrated else "no"
    return f"Within sampling error of the diagonal: {answer} ({how})."


def _class_rates(validation: pd.DataFrame, thresholds: Sequence[float]) -> pd.DataFrame:
    labels = validation["label"]
    violating = validation["violating"].to_numpy(dtype=bool)
    if labels.notna().all():
        groups = labels.astype(str).to_numpy()
    else:
        groups = np.where(violating, "violating", "non_violating")
    scores = validation["score"].to_numpy(dtype=np.float64)
    rows = []
    for name in sorted(set(groups.tolist())):
        mask = groups == name
        group_violates = bool(violating[mask].mean() >= 0.5)
        for t in thresholds:
            share = float((scores[mask] >= t).mean())
            rows.append(
                {
                    "label": name,
                    "violating": group_violates,
                    "threshold": float(t),
                    "n": int(mask.sum()),
                    "flagged_share": share,
                    # a violating post below the threshold is missed; a legitimate one above it
                    # would be wrongly removed
                    "error_rate": 1.0 - share if group_violates else share,
                }
            )
    return pd.DataFrame(
        rows, columns=["label", "violating", "threshold", "n", "flagged_share", "error_rate"]
    )


def evaluate(
    clf: TrainedClassifier, thresholds: Sequence[float] = (0.5, 0.7, 0.9)
) -> ClassifierReport:
    """Measure ``clf`` on its validation sample (no texts are re-scored)."""
    validation = clf.validation
    if validation.empty:
        raise ValueError("the classifier has an empty validation sample; nothing to evaluate")
    for t in thresholds:
        if not 0.0 <= float(t) <= 1.0:
            raise ValueError(f"thresholds must lie in [0, 1], got {t}")
    y = validation["violating"].to_numpy(dtype=bool)
    s = validation["score"].to_numpy(dtype=np.float64)
    seen = validation["in_template"].to_numpy(dtype=bool)
    calibration = reliability_table(y, s, RELIABILITY_BINS)
    ece = float(
        (
            calibration["count"]
            * (calibration["mean_predicted"] - calibration["observed_rate"]).abs()
        ).sum()
        / y.size
    )
    heldout_present = bool((~seen).any())
    return ClassifierReport(
        n_validation=int(y.size),
        prevalence=float(y.mean()),
        roc_auc=_auc(y, s),
        average_precision=_ap(y, s),
        roc_auc_in_template=_auc(y[seen], s[seen]),
        roc_auc_heldout_template=_auc(y[~seen], s[~seen]) if heldout_present else None,
        average_precision_in_template=_ap(y[seen], s[seen]),
        average_precision_heldout_template=_ap(y[~seen], s[~seen]) if heldout_present else None,
        brier_score=float(brier_score_loss(y, s)),
        expected_calibration_error=ece,
        thresholds=_threshold_table(y, s, thresholds),
        calibration=calibration,
        class_rates=_class_rates(validation, thresholds),
        calibrated=within_sampling_error(calibration),
        metadata=dict(clf.metadata),
    )


def mix_weights(validation: pd.DataFrame, shares: Mapping[str, float]) -> np.ndarray:
    """Row weights that give the validation sample a class mix of ``shares``
    (class name -> share of posts): each class's rows share its weight equally.

    A sample labelled only violating / non-violating (no class names: a team's
    own data) is reweighted by group: violating rows share the violating
    classes' weight.
    """
    total = float(sum(shares.values()))
    labels = validation["label"] if "label" in validation.columns else None
    if labels is None or bool(labels.isna().all()):
        violating = validation["violating"].to_numpy(dtype=bool)
        share = sum(v for c, v in shares.items() if c in VIOLATING_CLASSES) / total
        n_v, n_l = int(violating.sum()), int((~violating).sum())
        if n_v == 0 or n_l == 0:
            raise ValueError(
                "the validation sample needs violating and non-violating posts "
                "to be reweighted to a stream's class mix"
            )
        return np.where(violating, share / n_v, (1.0 - share) / n_l)
    labels = labels.astype(str)
    counts = labels.value_counts()
    unknown = sorted(set(counts.index) - set(shares))
    if unknown:
        raise ValueError(
            f"the validation sample has labels {unknown} that are not content classes; "
            "it cannot be reweighted to a stream's class mix"
        )
    missing = sorted(c for c, v in shares.items() if v > 0 and c not in counts.index)
    if missing:
        raise ValueError(
            f"the validation sample has no posts of class {missing}; "
            "it cannot be reweighted to a stream's class mix"
        )
    per_row = {c: shares[c] / total / counts[c] for c in counts.index}
    return labels.map(per_row).to_numpy(dtype=np.float64)


def threshold_for(
    validation: pd.DataFrame,
    *,
    precision: float | None = None,
    recall: float | None = None,
    weights: np.ndarray | None = None,
) -> float:
    """The raw score threshold (flag when ``score >= threshold``) meeting a target.

    With ``precision``: the smallest threshold whose precision on the
    validation sample reaches the target (the most recall at that precision).
    With ``recall``: the largest threshold keeping recall at or above the
    target (the fewest flags at that recall). Exactly one target must be given.
    ``weights`` (one per row, see :func:`mix_weights`) measure both on another
    class mix than the sample's own.
    """
    if (precision is None) == (recall is None):
        raise ValueError("give exactly one of precision= or recall=")
    target = float(precision if precision is not None else recall)  # type: ignore[arg-type]
    what = "precision" if precision is not None else "recall"
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target {what} must be in (0, 1], got {target}")
    y = validation["violating"].to_numpy(dtype=bool)
    s = validation["score"].to_numpy(dtype=np.float64)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64)
    positives = float(w[y].sum())
    if positives == 0:
        raise ValueError("the validation sample has no violating posts; no threshold can be set")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted, w_sorted = s[order], y[order], w[order]
    tp = np.cumsum(w_sorted * y_sorted)
    flagged = np.cumsum(w_sorted)
    # a threshold equal to a score flags every post with that score: keep the last of each tie
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    cut_scores = s_sorted[last]
    n_flagged = flagged[last]
    tp_at = tp[last]
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 where only weightless rows
        prec = np.nan_to_num(tp_at / n_flagged, nan=0.0)
    rec = tp_at / positives
    eps = 1e-12
    if precision is not None:
        ok = np.flatnonzero(prec >= target - eps)
        if ok.size == 0:
            where = "the validation sample" + (
                " at the stream's mix" if weights is not None else ""
            )
            raise ValueError(
                f"no threshold reaches precision {target:.3f} on {where} (best is {prec.max():.3f})"
            )
        return float(cut_scores[ok[-1]])
    ok = np.flatnonzero(rec >= target - eps)
    return float(cut_scores[ok[0]])
