"""``modsim classifier train`` and ``modsim classifier evaluate``: the prefilter's model files.

``train`` fits the pipeline on the synthetic corpus (settings from a scenario
or from options) or on a user's labelled CSV/TSV/Parquet file, prints how good
it is and saves a skops model file a policy can name
(``prefilter.model: {source: file, path: ...}``). ``evaluate`` reads a model
file -- refusing any untrusted type with exit code 2 -- and prints ROC-AUC and
average precision (held-out templates apart from seen ones), precision /
recall / F1 at thresholds, per-class error rates and a calibration table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.cli.app import app, console, guarded
from simulator.cli.classifier_areas import (
    corpus_evasion,
    corpus_mix,
    per_area_checks,
    train_per_area,
    wants_per_area,
)
from simulator.cli.classifier_data import (
    by_language,
    language_column,
    measure_cell,
    measures_table,
    remembered_columns,
)
from simulator.cli.help import ModsimGroup
from simulator.config import load_file
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.folders.atomic import make_folder, write_text
from simulator.seeding import SeedTree
from simulator.taxonomy import DEFAULT

classifier_app = typer.Typer(
    name="classifier",
    help="Train, evaluate and save the prefilter's classifier (skops model files).",
    cls=ModsimGroup,
    no_args_is_help=True,
)
app.add_typer(classifier_app, name="classifier")

DEFAULT_THRESHOLDS = (0.5, 0.8, 0.9, 0.98)
_DEFAULTS_SHOWN = ", ".join(map(str, DEFAULT_THRESHOLDS))

ThresholdOpt = Annotated[
    list[float] | None,
    typer.Option(
        "--threshold",
        "-t",
        min=0.0,
        max=1.0,
        help=f"Score threshold to report, repeatable (default {_DEFAULTS_SHOWN})",
    ),
]
TextColOpt = Annotated[str, typer.Option(help="Column holding the post texts")]
LabelColOpt = Annotated[
    str,
    typer.Option(
        help="Column holding the labels: booleans, 0/1, class names, or any strings "
        "with --positive-label naming the violating ones"
    ),
]
_REMEMBERED = " (default: the one the model was trained with, else '{}')"
EvalTextColOpt = Annotated[
    str | None,
    typer.Option("--text-col", help="Column holding the post texts" + _REMEMBERED.format("text")),
]
EvalLabelColOpt = Annotated[
    str | None,
    typer.Option("--label-col", help="Column holding the labels" + _REMEMBERED.format("label")),
]
PositiveOpt = Annotated[
    list[str] | None,
    typer.Option("--positive-label", help="A label value meaning 'violating', repeatable"),
]


def _languages(spec: str) -> dict[str, float]:
    """``"en=0.8,fr=0.2"`` -> ``{"en": 0.8, "fr": 0.2}``."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, weight = part.strip().partition("=")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ModsimError(
                f"--languages: {part.strip()!r} is not LANGUAGE=WEIGHT (e.g. en=0.8,fr=0.2)"
            ) from None
        if not name or value < 0:
            raise ModsimError(
                f"--languages: {part.strip()!r} is not LANGUAGE=WEIGHT with WEIGHT>=0"
            )
        out[name] = value
    return out


def _print_report(report: Any, resolved: list[tuple[str, str, float]] | None = None) -> None:
    """The measures of a :class:`~simulator.classifier.ClassifierReport`, as tables."""
    source = report.metadata.get("evaluated_on") or report.metadata.get("source", "unknown")
    console.print(
        f"validation: {fmt.number(report.n_validation)} texts never trained on "
        f"({fmt.share(report.prevalence)} violating), from {source}"
    )
    headline = Table(title="Ranking quality", title_justify="left")
    for column in ("measure", "all", "seen templates", "held-out templates"):
        headline.add_column(column, justify="left" if column == "measure" else "right")
    headline.add_row(
        "ROC-AUC",
        measure_cell(report.roc_auc),
        measure_cell(report.roc_auc_in_template),
        measure_cell(report.roc_auc_heldout_template),
    )
    headline.add_row(
        "average precision",
        measure_cell(report.average_precision),
        measure_cell(report.average_precision_in_template),
        measure_cell(report.average_precision_heldout_template),
    )
    console.print(headline)
    console.print(
        f"Brier score {fmt.ratio(report.brier_score, 4)}; "
        f"expected calibration error {fmt.ratio(report.expected_calibration_error, 4)}"
    )
    if report.roc_auc_heldout_template is None:
        console.print(
            "(no held-out templates in this sample: a user's data has no templates, so "
            "'seen templates' is simply every validation row)"
        )
    for name, stated, score in resolved or []:
        became = f"{stated} became the raw score" if stated else "raw score"
        console.print(escape(f"{name}: {became} {fmt.ratio(score, 4)}"))
    console.print(measures_table("At each threshold", report.thresholds))
    rates = report.class_rates.pivot_table(
        index=["label", "violating", "n"], columns="threshold", values="error_rate"
    ).reset_index()
    rates.columns = [
        f"error at {fmt.as_written(c)}" if isinstance(c, float) else str(c)
        for c in rates.columns.tolist()
    ]
    console.print(
        measures_table(
            "Per class error rate (violating: share missed; legitimate: share flagged)", rates
        )
    )
    console.print(measures_table("Calibration", report.calibration))
    from simulator.classifier.evaluation import calibration_verdict

    console.print(calibration_verdict(report.calibrated))


def _names(spec: str | None) -> list[str] | None:
    """``"baseline, svm-c0.1"`` -> ``["baseline", "svm-c0.1"]``; None for all candidates."""
    if spec is None:
        return None
    return [name.strip() for name in spec.split(",") if name.strip()]


def print_selection(record: dict[str, Any]) -> None:
    """The cross-validation table a model file records, and the choice."""
    scoring = "ROC-AUC" if record["scoring"] == "roc_auc" else record["scoring"]
    table = Table(
        title=f"Pipelines, by {record['folds']}-fold cross-validation on the training share",
        title_justify="left",
    )
    for column in ("candidate", "features", "model", "ROC-AUC ± sd", "avg prec. ± sd", ""):
        table.add_column(column, justify="right" if "±" in column else "left")
    for row in record["table"]:
        table.add_row(
            escape(row["candidate"]),
            escape(row["features"]),
            escape(row["description"]),
            f"{fmt.ratio(row['roc_auc_mean'])} ± {fmt.ratio(row['roc_auc_sd'])}",
            f"{fmt.ratio(row['average_precision_mean'])} "
            f"± {fmt.ratio(row['average_precision_sd'])}",
            "chosen" if row["chosen"] else "",
        )
    console.print(table)
    console.print(
        escape(
            f"chosen: {record['chosen']} (highest mean {scoring}), refitted on the whole "
            f"training share and calibrated ({record['calibration']}). Features: TF-IDF of "
            "word 1-2 and char_wb 2-5 grams, plain or with sublinear term frequencies"
        ),
        soft_wrap=True,
    )


@classifier_app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.skops)")],
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled CSV/TSV/Parquet file to train on (default: synthetic corpus)"),
    ] = None,
    text_col: TextColOpt = "text",
    label_col: LabelColOpt = "label",
    class_col: Annotated[
        str | None,
        typer.Option(
            help="--data: column of class names, for one model per policy area "
            "(classes of --scenario's taxonomy); label:<area> columns of 0/1 do the same"
        ),
    ] = None,
    positive_label: PositiveOpt = None,
    validation_share: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Share of --data held back for validation")
    ] = 0.25,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Synthetic corpus: take languages, evasion rate and policy areas (one "
            "model per area) from this scenario; --data: the taxonomy of per-area labels"
        ),
    ] = None,
    per_class: Annotated[
        int, typer.Option(min=10, help="Synthetic corpus: training texts per class")
    ] = 2000,
    languages: Annotated[
        str | None, typer.Option(help="Synthetic corpus: language mix, e.g. en=0.8,fr=0.2")
    ] = None,
    evasion_rate: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Synthetic corpus: share of evasive texts"),
    ] = None,
    language_col: Annotated[
        str | None, typer.Option(help="--data: column naming each post's language (recorded)")
    ] = None,
    candidates: Annotated[
        str | None,
        typer.Option(
            help="--data: pipelines to choose among, comma-separated (default: all; "
            "README lists them)"
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(help="--data: choose among four pipelines only, one of each kind"),
    ] = False,
    folds: Annotated[
        int | None,
        typer.Option(
            min=2, max=20, help="--data: cross-validation folds for the choice [default: 5]"
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="--data: processes for cross-validation (default: one per "
            "fold, up to the CPUs available)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed for every random draw")] = 0,
    threshold: ThresholdOpt = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing model file")] = False,
) -> None:
    """Train the classifier, print its measures, and save it as a skops model file.

    With --data, the pipeline is chosen among declared candidates by stratified
    cross-validation (ROC-AUC) on the training share; the table of scores and the
    choice are printed and recorded in the model file.
    """

    def go() -> None:
        from simulator.classifier import (
            evaluate,
            save_model,
            selection,
            train_on_file,
            train_synthetic,
        )

        if out.exists() and not force:
            raise ModsimError(f"{out}: exists; choose another --out or pass --force")
        make_folder(out.parent)  # models/ need not exist yet; made before training, not after
        # the same key a run uses, so `--seed N` reproduces the model a run with seed N trains
        rng = SeedTree(seed).rng("classifier")
        sc = load_file(scenario, expect="Scenario").model if scenario is not None else None
        assert sc is None or isinstance(sc, Scenario)
        tax = sc.taxonomy if sc is not None else DEFAULT
        if wants_per_area(data, class_col, tax):
            per_area_checks(
                data,
                {
                    "--positive-label": bool(positive_label),
                    "--language-col": language_col is not None,
                    "--candidates": candidates is not None,
                    "--quick": quick,
                    "--folds": folds is not None,
                    "--jobs": jobs is not None,
                    "--languages": languages is not None and data is not None,
                    "--evasion-rate": evasion_rate is not None and data is not None,
                },
            )
            train_per_area(
                out=out,
                data=data,
                taxonomy=tax,
                rng=rng,
                text_col=text_col,
                class_col=class_col,
                validation_share=validation_share,
                per_class=per_class,
                languages=_languages(languages) if languages else corpus_mix(sc),
                evasion_rate=evasion_rate if evasion_rate is not None else corpus_evasion(sc),
                thresholds=sorted(set(threshold or DEFAULT_THRESHOLDS)),
            )
            return
        if class_col is not None:
            raise ModsimError("--class-col only applies to --data")
        if data is not None:
            if scenario is not None or languages is not None or evasion_rate is not None:
                raise ModsimError(
                    "--scenario, --languages and --evasion-rate describe the synthetic corpus; "
                    "drop them when training on --data (with per-area labels, --class-col "
                    "or label:<area> columns, --scenario names their taxonomy)"
                )
            if quick and candidates is not None:
                raise ModsimError("give --quick or --candidates, not both")
            names = list(selection.QUICK) if quick else _names(candidates)
            k = folds or selection.DEFAULT_FOLDS
            try:
                selection.candidates_named(names)
            except ValueError as exc:
                raise ModsimError(f"--candidates: {exc}") from None
            clf = train_on_file(
                data,
                text_col,
                label_col,
                rng,
                positive_labels=positive_label,
                validation_share=validation_share,
                language_col=language_col,
                candidates=names,
                folds=k,
                n_jobs=jobs or selection.default_jobs(k),
            )
            print_selection(clf.metadata["selection"])
        else:
            data_only = {
                "--positive-label": bool(positive_label),
                "--language-col": language_col is not None,
                "--candidates": candidates is not None,
                "--quick": quick,
                "--folds": folds is not None,
                "--jobs": jobs is not None,
            }
            given = [flag for flag, used in data_only.items() if used]
            if given:
                verb = "applies" if len(given) == 1 else "apply"
                raise ModsimError(f"{', '.join(given)} only {verb} to --data")
            mix, evasion = corpus_mix(sc), corpus_evasion(sc)
            if languages is not None:
                mix = _languages(languages)
            if evasion_rate is not None:
                evasion = evasion_rate
            try:
                clf = train_synthetic(
                    rng, n_per_class=per_class, languages=mix, evasion_rate=evasion
                )
            except ValueError as exc:  # e.g. language weights that sum to zero
                raise ModsimError(f"cannot build the synthetic corpus: {exc}") from None
        report = evaluate(clf, thresholds=sorted(set(threshold or DEFAULT_THRESHOLDS)))
        save_model(clf, out)
        _print_report(report)
        # a policy's paths are relative to the policy file: say it from policies/
        from_policies = os.path.relpath(out.resolve(), Path("policies").resolve())
        console.print(
            escape(
                f"saved {out}; use it in a policy file in policies/ with "
                f"prefilter.model: {{source: file, path: {Path(from_policies).as_posix()}}} "
                "(a policy's paths are relative to the policy file)"
            ),
            soft_wrap=True,
        )

    guarded(go)


@classifier_app.command("sample")
def sample(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write")],
    per_class: Annotated[int, typer.Option(min=1, help="Posts per content class")] = 200,
    languages: Annotated[
        str, typer.Option(help="Language mix, e.g. en=0.8,fr=0.2")
    ] = "en=0.7,fr=0.3",
    evasion_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of evasively spelt posts")
    ] = 0.1,
    seed: Annotated[int, typer.Option(min=0, help="Seed for every random draw")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Write a labelled CSV of synthetic posts to try `train --data` on.

    Shaped like a team's export: columns body, verdict (remove or keep) and language.
    """

    def go() -> None:
        import numpy as np

        from simulator.stream.texts import TextGenerator

        if out.exists() and not force:
            raise ModsimError(f"{out}: exists; choose another --out or pass --force")
        try:
            generator = TextGenerator(_languages(languages), evasion_rate=evasion_rate)
        except ValueError as exc:
            raise ModsimError(f"cannot build the synthetic corpus: {exc}") from None
        corpus = generator.corpus(per_class, np.random.default_rng(seed))
        table = pd.DataFrame(
            {
                "body": corpus["text"],
                "verdict": np.where(corpus["violating"], "remove", "keep"),
                "language": corpus["language"],
            }
        )
        write_text(out, table.to_csv(index=False))
        console.print(escape(f"wrote {out}: {len(table):,} posts"))

    guarded(go)


@classifier_app.command("evaluate")
def evaluate_cmd(
    model: Annotated[Path, typer.Argument(help="Model file (.skops) written by `train`")],
    threshold: ThresholdOpt = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", "-p", help="Also report at this PlatformPolicy's prefilter thresholds"
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Scenario whose expected class mix the policy's targets are met on "
            "(needed for targets without `mix: validation`)"
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Measure on this labelled file instead of the model's validation sample"),
    ] = None,
    text_col: EvalTextColOpt = None,
    label_col: EvalLabelColOpt = None,
    positive_label: PositiveOpt = None,
    language_col: Annotated[
        str | None,
        typer.Option(
            help="--data: column naming each post's language, for measures per language "
            "(default: the one the model was trained with, if the file has it)"
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every measure to this JSON file")
    ] = None,
) -> None:
    """Print a model file's measures; exit code 2 for a foreign file or an untrusted type."""

    def go() -> None:
        from simulator.classifier import evaluate, load_model, validate_on_file
        from simulator.stages.prefilter import resolve_thresholds, score_model_for, stream_mix

        pol: PlatformPolicy | None = None
        if policy is not None:
            loaded = load_file(policy, expect="PlatformPolicy").model
            assert isinstance(loaded, PlatformPolicy)
            pol = loaded
        sc: Scenario | None = None
        if scenario is not None:
            loaded_sc = load_file(scenario, expect="Scenario").model
            assert isinstance(loaded_sc, Scenario)
            sc = loaded_sc
        on_stream = pol.prefilter.stream_targets() if pol is not None else []
        if on_stream and (sc is None or stream_mix(sc) is None):
            raise ModsimError(
                f"{policy}: prefilter.{on_stream[0]} is a target on the stream's class mix: "
                "give --scenario FILE (a scenario with content.class_shares) to say which"
            )
        clf = load_model(model)
        if data is not None:
            text, label, positives = remembered_columns(
                clf.metadata, model, data, text_col, label_col, positive_label
            )
            clf = validate_on_file(clf, data, text, label, positive_labels=positives)
            languages = language_column(clf.metadata, data, language_col)
        elif language_col is not None:
            raise ModsimError("--language-col only applies to --data")
        points = set(threshold or ([] if pol is not None else DEFAULT_THRESHOLDS))
        resolved: list[tuple[str, str, float]] = []
        if pol is not None:
            # met as a run with seed 0 meets them: on stream-like texts, at the stream's mix
            scores = score_model_for(clf, sc, SeedTree(0)) if on_stream and sc else None
            mix = stream_mix(sc) if sc is not None else None
            for t in resolve_thresholds(pol.prefilter, clf.validation, pol.name, mix, scores):
                stated = t.target.describe() if t.target is not None else ""
                resolved.append((f"prefilter.{t.name}", stated, t.score))
                points.add(t.score)
        report = evaluate(clf, thresholds=sorted(points))
        _print_report(report, resolved)
        measures = report.to_dict()
        if data is not None and languages is not None:
            per_language = by_language(clf.validation, languages)
            console.print(measures_table(f"Per language ({languages.name})", per_language))
            measures["by_language"] = per_language.to_dict(orient="records")
        if json_out is not None:
            content = json.dumps(measures, indent=2, default=str) + "\n"
            write_text(json_out, content)
            console.print(escape(f"wrote {json_out}"))

    guarded(go)
