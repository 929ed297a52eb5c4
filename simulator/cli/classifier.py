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
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.cli.app import app, console, guarded
from simulator.config import load_file
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ModsimError
from simulator.folders.atomic import write_text
from simulator.seeding import SeedTree

classifier_app = typer.Typer(
    name="classifier",
    help="Train, evaluate and save the prefilter's classifier (skops model files).",
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


def _fmt(value: Any) -> str:
    """A cell of a measures table: floats to three decimals, flags as yes/no."""
    if isinstance(value, bool):
        return fmt.yes_no(value)
    if value is None or isinstance(value, float):
        return fmt.ratio(value, missing="-")
    return str(value)


def _table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(
            escape(str(column)), justify="left" if frame[column].dtype == object else "right"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(_fmt(v)) for v in row))
    return table


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
        _fmt(report.roc_auc),
        _fmt(report.roc_auc_in_template),
        _fmt(report.roc_auc_heldout_template),
    )
    headline.add_row(
        "average precision",
        _fmt(report.average_precision),
        _fmt(report.average_precision_in_template),
        _fmt(report.average_precision_heldout_template),
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
    console.print(_table("At each threshold", report.thresholds))
    rates = report.class_rates.pivot_table(
        index=["label", "violating", "n"], columns="threshold", values="error_rate"
    ).reset_index()
    rates.columns = [
        f"error at {fmt.as_written(c)}" if isinstance(c, float) else str(c)
        for c in rates.columns.tolist()
    ]
    console.print(
        _table("Per class error rate (violating: share missed; legitimate: share flagged)", rates)
    )
    console.print(_table("Calibration", report.calibration))
    from simulator.classifier.evaluation import calibration_verdict

    console.print(calibration_verdict(report.calibrated))


@classifier_app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.skops)")],
    data: Annotated[
        Path | None,
        typer.Option(help="Labelled CSV/TSV/Parquet file to train on (default: synthetic corpus)"),
    ] = None,
    text_col: TextColOpt = "text",
    label_col: LabelColOpt = "label",
    positive_label: PositiveOpt = None,
    validation_share: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Share of --data held back for validation")
    ] = 0.25,
    scenario: Annotated[
        Path | None,
        typer.Option(help="Synthetic corpus: take languages and evasion rate from this scenario"),
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
    seed: Annotated[int, typer.Option(min=0, help="Seed for every random draw")] = 0,
    threshold: ThresholdOpt = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing model file")] = False,
) -> None:
    """Train the classifier, print its measures, and save it as a skops model file."""

    def go() -> None:
        from simulator.classifier import evaluate, save_model, train_on_file, train_synthetic

        if out.exists() and not force:
            raise ModsimError(f"{out}: exists; choose another --out or pass --force")
        if out.parent and not out.parent.exists():
            raise ModsimError(f"{out.parent}: folder does not exist")
        # the same key a run uses, so `--seed N` reproduces the model a run with seed N trains
        rng = SeedTree(seed).rng("classifier")
        if data is not None:
            if scenario is not None or languages is not None or evasion_rate is not None:
                raise ModsimError(
                    "--scenario, --languages and --evasion-rate describe the synthetic corpus; "
                    "drop them when training on --data"
                )
            clf = train_on_file(
                data,
                text_col,
                label_col,
                rng,
                positive_labels=positive_label,
                validation_share=validation_share,
            )
        else:
            if positive_label:
                raise ModsimError("--positive-label only applies to --data")
            mix: dict[str, float] | None = None
            evasion = 0.0
            if scenario is not None:
                sc = load_file(scenario, expect="Scenario").model
                assert isinstance(sc, Scenario)
                mix, evasion = dict(sc.content.texts.languages), sc.content.texts.evasion_rate
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
        console.print(
            f"saved [bold]{out}[/]; use it in a policy with "
            f"prefilter.model: {{source: file, path: {out}}}",
            soft_wrap=True,
        )

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
    text_col: TextColOpt = "text",
    label_col: LabelColOpt = "label",
    positive_label: PositiveOpt = None,
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
            clf = validate_on_file(clf, data, text_col, label_col, positive_labels=positive_label)
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
        if json_out is not None:
            content = json.dumps(report.to_dict(), indent=2, default=str) + "\n"
            write_text(json_out, content)
            console.print(escape(f"wrote {json_out}"))

    guarded(go)
