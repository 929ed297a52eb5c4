"""``modsim classifier train`` for one model per policy area: the corpus of a scenario
declaring ``content.areas``, or a file labelled by class or by area.

Kept apart from :mod:`simulator.cli.classifier` (which decides when a training is
per area and calls :func:`train_per_area`) so that each module stays one idea.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from rich.markup import escape

from simulator import format as fmt
from simulator.cli.app import console
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.taxonomy import Taxonomy


def wants_per_area(data: Path | None, class_col: str | None, taxonomy: Taxonomy) -> bool:
    """Whether ``train`` trains one model per area: for ``--data``, a class column or
    ``label:<area>`` columns; for the corpus, a scenario declaring its own areas."""
    if data is None:
        return not taxonomy.is_default
    if class_col is not None:
        return True
    from simulator.classifier.arealabels import AREA_PREFIX
    from simulator.classifier.training import read_table

    return any(str(c).startswith(AREA_PREFIX) for c in read_table(data).columns)


def per_area_checks(data: Path | None, one_model_only: dict[str, bool]) -> None:
    """Refuse the options of a one-model training (``flag -> given``) in a per-area one."""
    given = [flag for flag, used in one_model_only.items() if used]
    if given:
        what = "labels by class or area (--data)" if data is not None else "the corpus"
        raise ModsimError(
            f"{', '.join(given)}: not for one model per policy area, trained on {what}"
        )


def corpus_mix(scenario: Scenario | None) -> dict[str, float] | None:
    """The synthetic corpus's language mix: the scenario's, else None (the default)."""
    return dict(scenario.content.texts.languages) if scenario is not None else None


def corpus_evasion(scenario: Scenario | None) -> float:
    """The synthetic corpus's evasion rate: the scenario's, else none."""
    return scenario.content.texts.evasion_rate if scenario is not None else 0.0


def report_tables(models: object, thresholds: Sequence[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per area: its validation size and ranking quality (held-out templates apart); and
    precision and recall at each threshold (one row per area and threshold)."""
    from simulator.classifier import evaluate
    from simulator.classifier.areas import AreaModels

    assert isinstance(models, AreaModels)
    ranking, at = [], []
    for area in models.areas:
        report = evaluate(models.classifier(area), thresholds=thresholds)
        ranking.append(
            {
                "area": area,
                "its posts": int(models.validation[area]["violating"].sum()),
                "ROC-AUC": report.roc_auc,
                "held-out templates": report.roc_auc_heldout_template,
                "avg precision": report.average_precision,
            }
        )
        for t in report.thresholds.itertuples(index=False):
            at.append(
                {
                    "area": area,
                    "threshold": t.threshold,
                    "precision": t.precision,
                    "recall": t.recall,
                }
            )
    return pd.DataFrame(ranking), pd.DataFrame(at)


def train_per_area(
    *,
    out: Path,
    data: Path | None,
    taxonomy: Taxonomy,
    rng: np.random.Generator,
    text_col: str,
    class_col: str | None,
    validation_share: float,
    per_class: int,
    languages: dict[str, float] | None,
    evasion_rate: float,
    thresholds: Sequence[float],
) -> None:
    """Train, print each area's measures, and save the models in one file at ``out``."""
    from simulator.classifier.areafile import save_area_models
    from simulator.cli.classifier_data import measures_table

    if data is not None:
        from simulator.classifier.arealabels import train_areas_on_file

        models = train_areas_on_file(
            data, text_col, rng, taxonomy, class_col=class_col, validation_share=validation_share
        )
    else:
        from simulator.classifier.areas import train_synthetic_areas

        try:
            models = train_synthetic_areas(
                rng, taxonomy, n_per_class=per_class, languages=languages, evasion_rate=evasion_rate
            )
        except ValueError as exc:  # e.g. language weights that sum to zero
            raise ModsimError(f"cannot build the synthetic corpus: {exc}") from None
    save_area_models(models, out)
    source = models.metadata.get("source", "unknown")
    console.print(
        escape(
            f"one model per policy area ({', '.join(models.areas)}), one-vs-rest: each area's "
            "posts against legitimate posts and the other areas' posts; validation: "
            f"{fmt.number(int(models.metadata['n_validation']))} texts never trained on, "
            f"from {source}"
        ),
        soft_wrap=True,
    )
    ranking, at = report_tables(models, thresholds)
    console.print(
        measures_table("Ranking quality per area (ROC-AUC: all, held-out templates)", ranking)
    )
    console.print(measures_table("Per area, at each threshold", at))
    from_policies = os.path.relpath(out.resolve(), Path("policies").resolve())
    console.print(
        escape(
            f"saved {out}; use it in a policy file in policies/ with "
            f"prefilter.areas.<area>.model: {{source: file, path: "
            f"{Path(from_policies).as_posix()}}}"
        ),
        soft_wrap=True,
    )
