"""The prefilter's classifier in a run's summary: how good it is at the policy's thresholds.

Two views, side by side, because they answer different questions:

* ``validation``/``thresholds``/``class_rates``: the classifier measured on its
  own validation sample (texts it never trained on), at the raw scores the
  policy's thresholds became -- what the model promises;
* ``in_run``: what the prefilter actually removed in this run, and how many
  of those removals were of legitimate posts -- what it delivered here.

For a classifier card, the first view is the card's: at each threshold the
precision and recall its score distributions imply on the stream's expected
class mix (and, for a table card, on the prevalence it was measured at).

``in_run.at_thresholds`` is the classifier's operating point in the run, for
both: of every post made, those whose score was at or above each threshold,
whatever then happened to them -- precision and recall as realised on the
stream that actually came (surges included).

A run without a prefilter still gets the section (``enabled: false``), so
every summary has the same shape. Volatile provenance (training time stamps)
is left out: the same inputs and seed give the same summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simulator.config.card import TableCard
from simulator.metrics.common import num
from simulator.runlog import RunLog

if TYPE_CHECKING:
    from simulator.classifier.card import CardClassifier

# provenance worth showing; anything time-stamped is left out (see module docstring)
_METADATA_KEYS = (
    "n_train",
    "n_validation",
    "n_per_class",
    "languages",
    "evasion_rate",
    "text_col",
    "label_col",
    "positive_labels",
    "validation_share",
    "created_with",
    "model_file",
    "model_sha256",
)


def classifier_summary(log: RunLog) -> dict[str, Any]:
    """The ``classifier`` section of a run's summary."""
    mode = log.scenario.content.texts.mode
    cfg = log.policy.prefilter
    if cfg.enabled and log.prefilter_areas is not None:  # a card per area
        return log.prefilter_areas
    if not cfg.enabled or log.classifier is None:
        return {"enabled": False, "score_mode": mode}
    # Imported here: scikit-learn is only needed when a prefilter ran.
    from simulator.classifier import evaluate
    from simulator.classifier.card import CardClassifier

    resolved = log.prefilter_thresholds
    names = [n for n in ("auto_remove_above", "review_above") if n in resolved]
    scores = [float(resolved[n]["score"]) for n in names]  # type: ignore[arg-type]
    if isinstance(log.classifier, CardClassifier):
        return card_summary(log, log.classifier, names, scores)
    report = evaluate(log.classifier, thresholds=sorted(set(scores)))
    data = report.to_dict()
    by_score = {row["threshold"]: row for row in data["thresholds"]}
    thresholds = [
        {**resolved[n], **{k: v for k, v in by_score[s].items() if k != "threshold"}}
        for n, s in zip(names, scores, strict=True)
    ]
    class_rates = [
        {"name": n, **row}
        for n, s in zip(names, scores, strict=True)
        for row in data["class_rates"]
        if row["threshold"] == s
    ]
    meta = log.classifier.metadata
    return {
        "enabled": True,
        "score_mode": mode,
        "model": {
            "source": cfg.model.source,
            "trained_on": meta.get("source", "unknown"),
            **{k: meta[k] for k in _METADATA_KEYS if k in meta},
        },
        "validation": {
            k: data[k]
            for k in (
                "n_validation",
                "prevalence",
                "roc_auc",
                "average_precision",
                "roc_auc_in_template",
                "roc_auc_heldout_template",
                "average_precision_in_template",
                "average_precision_heldout_template",
                "brier_score",
                "expected_calibration_error",
            )
        },
        "reliability": _reliability(data["calibration"], data["calibrated"]),
        "thresholds": thresholds,
        "class_rates": class_rates,
        "in_run": _in_run(log),
    }


def _reliability(bins: Sequence[dict[str, Any]], calibrated: bool | None) -> dict[str, Any]:
    """The reliability check's verdict on the validation sample, and how it was reached."""
    from simulator.classifier.calibration import MIN_BIN_POSTS, RELIABILITY_LEVEL

    tested = [b for b in bins if b["tested"]]
    return {
        "calibrated": calibrated,
        "bins_tested": len(tested),
        "bins_within": sum(bool(b["within"]) for b in tested),
        "level": RELIABILITY_LEVEL,
        "min_posts": MIN_BIN_POSTS,
        "outside": [
            {k: b[k] for k in ("bin_low", "bin_high", "mean_predicted", "observed_rate", "count")}
            for b in tested
            if not b["within"]
        ],
    }


def card_summary(
    log: RunLog, card: CardClassifier, names: Sequence[str], scores: Sequence[float]
) -> dict[str, Any]:
    """The ``classifier`` section for a card: what the card implies beside what the run saw."""
    from simulator.classifier.card import auc_on_mix, figures_on_mix
    from simulator.stages.prefilter import stream_mix

    model = card.score_model
    tax = log.scenario.taxonomy
    mix = stream_mix(log.scenario)
    shares = [mix[c] for c in tax.classes] if mix is not None else None
    spec = card.card.spec
    stated = None
    if isinstance(spec, TableCard):  # a group-level model: any split within a group will do
        pi = spec.prevalence
        n_v = int(tax.violating.sum())
        stated = [pi / n_v if v else (1.0 - pi) / (tax.n_classes - n_v) for v in tax.violating]
    thresholds = []
    for name, score in zip(names, scores, strict=True):
        row: dict[str, Any] = {**log.prefilter_thresholds[name]}
        if shares is not None:
            row.update(_plain(figures_on_mix(model, shares, score).to_dict()))
        if stated is not None:
            row["on_stated_prevalence"] = _plain(figures_on_mix(model, stated, score).to_dict())
        thresholds.append(row)
    class_rates = [
        {
            "name": name,
            "label": label,
            "violating": bool(tax.violating[code]),
            "flagged_share": num(float(model.share_at_or_above(code, score)[0])),
        }
        for name, score in zip(names, scores, strict=True)
        for code, label in enumerate(tax.classes)
    ]
    c = card.card
    return {
        "enabled": True,
        "score_mode": "sampled",
        "model": {"source": "card", "form": c.form, "name": c.name},
        "card": {
            "form": c.form,
            "name": c.name,
            "description": c.description,
            "stream_mix": {k: num(v) for k, v in mix.items()} if mix is not None else None,
            "roc_auc_on_stream_mix": num(auc_on_mix(model, shares)) if shares else None,
            "stated_prevalence": spec.prevalence if isinstance(spec, TableCard) else None,
        },
        "thresholds": thresholds,
        "class_rates": class_rates,
        "in_run": _in_run(log),
    }


def _plain(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures at a threshold (its value is the row's ``score`` already)."""
    return {
        k: (num(v) if isinstance(v, float) else v) for k, v in figures.items() if k != "threshold"
    }


def _at_thresholds(log: RunLog) -> list[dict[str, Any]]:
    """Of every post made, those scored at or above each threshold: the realised rates."""
    created = log.created_by_class
    tax = log.scenario.taxonomy
    violating_made = int(created[tax.violating].sum())
    out = []
    for name, counts in log.scored_at_or_above.items():
        flagged, hits = int(counts.sum()), int(counts[tax.violating].sum())
        out.append(
            {
                "name": name,
                "flagged": flagged,
                "flagged_violating": hits,
                "precision": num(hits / flagged) if flagged else None,
                "recall": num(hits / violating_made) if violating_made else None,
                "flagged_share_by_class": {
                    label: num(int(counts[code]) / int(created[code])) if created[code] else None
                    for code, label in enumerate(tax.classes)
                },
            }
        )
    return out


def _in_run(log: RunLog) -> dict[str, Any]:
    # compared as categories, not as strings: a run can hold millions of violating posts
    violating = int((log.violating["removed_by"] == "prefilter").sum())
    wrong = log.wrongly_removed
    legitimate = int((wrong["removed_by"] == "prefilter").sum()) if not wrong.empty else 0
    removed = violating + legitimate
    return {
        "auto_removed": removed,
        "auto_removed_violating": violating,
        "auto_removed_legitimate": legitimate,
        "precision": num(violating / removed) if removed else None,
        "violating_flagged_for_review": int(
            (log.violating["flagged_at"].notna() & (log.violating["removed_by"] != "prefilter"))
            .astype(bool)
            .sum()
        ),
        "at_thresholds": _at_thresholds(log),
    }
