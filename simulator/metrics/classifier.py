"""The prefilter's classifier in a run's summary: how good it is at the policy's thresholds.

Two views, side by side, because they answer different questions:

* ``validation``/``thresholds``/``class_rates``: the classifier measured on its
  own validation sample (texts it never trained on), at the raw scores the
  policy's thresholds became -- what the model promises;
* ``in_run``: what the prefilter actually removed in this run, and how many
  of those removals were of legitimate posts -- what it delivered here.

A run without a prefilter still gets the section (``enabled: false``), so
every summary has the same shape. Volatile provenance (training time stamps)
is left out: the same inputs and seed give the same summary.
"""

from __future__ import annotations

from typing import Any

from simulator.metrics.common import num
from simulator.runlog import RunLog

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
    if not cfg.enabled or log.classifier is None:
        return {"enabled": False, "score_mode": mode}
    # Imported here: scikit-learn is only needed when a prefilter ran.
    from simulator.classifier import evaluate

    resolved = log.prefilter_thresholds
    names = [n for n in ("auto_remove_above", "review_above") if n in resolved]
    scores = [float(resolved[n]["score"]) for n in names]  # type: ignore[arg-type]
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
        "thresholds": thresholds,
        "class_rates": class_rates,
        "in_run": _in_run(log),
    }


def _in_run(log: RunLog) -> dict[str, Any]:
    violating = int((log.violating["removed_by"].astype(str) == "prefilter").sum())
    wrong = log.wrongly_removed
    legitimate = (
        int((wrong["removed_by"].astype(str) == "prefilter").sum()) if not wrong.empty else 0
    )
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
    }
