"""Tables of measures, and reading a labelled file for ``modsim classifier evaluate
--data``: which columns to read it with (as given, else as the model was trained with),
and the measures of each language's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.cli.app import console
from simulator.errors import ModsimError


def measure_cell(value: Any) -> str:
    """A cell of a measures table: floats to three decimals, flags as yes/no."""
    if isinstance(value, bool):
        return fmt.yes_no(value)
    if value is None or isinstance(value, float):
        return fmt.ratio(value, missing="-")
    return str(value)


def measures_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        table.add_column(
            escape(str(column)), justify="left" if frame[column].dtype == object else "right"
        )
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(measure_cell(v)) for v in row))
    return table


def columns_of(data: Path) -> list[str]:
    from simulator.classifier.training import read_table

    return [str(c) for c in read_table(data).columns]


def by_language(validation: pd.DataFrame, languages: pd.Series) -> pd.DataFrame:
    """ROC-AUC and average precision of each language's rows (``languages`` aligned with
    the validation sample's rows)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    rows = []
    names = languages.astype(str).to_numpy()
    for name in sorted(set(names)):
        mask = names == name
        y = validation["violating"].to_numpy(dtype=bool)[mask]
        s = validation["score"].to_numpy()[mask]
        both = bool(y.any() and not y.all())
        rows.append(
            {
                "language": name,
                "n": int(mask.sum()),
                "violating": float(y.mean()),
                "ROC-AUC": float(roc_auc_score(y, s)) if both else None,
                "average precision": float(average_precision_score(y, s)) if y.any() else None,
            }
        )
    return pd.DataFrame(rows)


def language_column(
    metadata: dict[str, Any], data: Path, language_col: str | None
) -> pd.Series | None:
    """The language of each row of ``data``: from ``language_col`` (which must exist), else
    from the column the model was trained with when ``data`` has it, else None."""
    from simulator.classifier.training import read_table

    remembered = metadata.get("language_col")
    name = language_col or (remembered if isinstance(remembered, str) else None)
    if name is None:
        return None
    table = read_table(data)
    if name not in table.columns:
        if language_col is None:
            console.print(escape(f"({data} has no column {name!r}: no measures per language)"))
            return None
        raise ModsimError(
            f"{data}: no column {name!r}; columns found: {[str(c) for c in table.columns]}"
        )
    return table[name].fillna("(none)").rename(name)


def remembered_columns(
    metadata: dict[str, Any],
    model: Path,
    data: Path,
    text_col: str | None,
    label_col: str | None,
    positive_label: list[str] | None,
) -> tuple[str, str, list[str] | None]:
    """The text and label columns and positive labels to read ``data`` with: as given, else
    as the model was trained with (checked to exist in ``data``), else ``text``/``label``."""
    found: list[str] | None = None
    chosen: list[str] = []
    for flag, given, key, fallback in (
        ("--text-col", text_col, "text_col", "text"),
        ("--label-col", label_col, "label_col", "label"),
    ):
        remembered = metadata.get(key)
        if given is not None or not isinstance(remembered, str):
            chosen.append(given or fallback)
            continue
        found = columns_of(data) if found is None else found
        if remembered not in found:
            raise ModsimError(
                f"{data}: no column {remembered!r}, the {key.split('_')[0]} column {model} was "
                f"trained with; columns found: {found}; name another with {flag}"
            )
        chosen.append(remembered)
    positives = metadata.get("positive_labels")
    if positive_label or not isinstance(positives, list):
        positives = positive_label
    return chosen[0], chosen[1], positives
