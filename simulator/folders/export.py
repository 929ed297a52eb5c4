"""A results folder's tables as one Excel workbook, for people who live in
spreadsheets (``modsim export DIR --xlsx FILE``).

Every table the folder keeps as CSV becomes a sheet of the same name (Excel
caps sheet names at 31 characters); a run's ``summary.json`` becomes a
``summary`` sheet of ``field`` / ``value`` rows (nested keys joined by dots).
An ``about`` sheet comes first: the folder, its kind, the modsim version, and
the tables left out. Parquet tables (per-post rows, per-case logs) are left
out: they can exceed Excel's 1,048,576 rows, and the CSV tables summarise
them. The workbook is written whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ModsimError
from simulator.folders.atomic import write_atomic
from simulator.folders.load import load_results

SHEET_NAME_LIMIT = 31


def _flat(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Nested JSON as ``(dotted.path, value)`` leaves (list items by index)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _flat(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list) and any(isinstance(x, Mapping | list) for x in data):
        for i, value in enumerate(data):
            yield from _flat(value, f"{path}.{i}")
    elif isinstance(data, list):
        yield path, ", ".join(map(str, data))
    else:
        yield path, data


def workbook_sheets(root: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The sheets of ``root``'s workbook, in order, and the files left out."""
    folder = load_results(root)  # a clear error for anything that is not a results folder
    from simulator import __version__

    sheets: dict[str, pd.DataFrame] = {}
    left_out = sorted(p.name for p in root.glob("*.parquet"))
    summary = root / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text(encoding="utf-8"))
        sheets["summary"] = pd.DataFrame(list(_flat(data)), columns=["field", "value"])
    for csv in sorted(root.glob("*.csv")):
        name = csv.stem[:SHEET_NAME_LIMIT]
        if name in sheets or name == "about":
            name = f"{name[: SHEET_NAME_LIMIT - 4]}-csv"
        sheets[name] = pd.read_csv(csv)
    about = pd.DataFrame(
        [
            ("folder", str(root)),
            ("kind", folder.kind),
            ("modsim", __version__),
            ("sheets", ", ".join(sheets)),
            (
                "left out",
                (", ".join(left_out) + " (Parquet: may exceed Excel's row limit)")
                if left_out
                else "nothing",
            ),
        ],
        columns=["about", "value"],
    )
    return {"about": about, **sheets}, left_out


def export_excel(root: str | Path, out: str | Path) -> list[str]:
    """Write ``root``'s tables to the workbook ``out`` (.xlsx); the sheet names."""
    root, out = Path(root), Path(out)
    if out.suffix.lower() != ".xlsx":
        raise ModsimError(f"{out}: an Excel workbook's name ends in .xlsx")
    sheets, _ = workbook_sheets(root)

    def write(path: Path) -> None:
        with pd.ExcelWriter(path, engine="openpyxl") as book:
            for name, frame in sheets.items():
                frame.to_excel(book, sheet_name=name, index=False)
                # columns wide enough to read their header and first rows
                sheet = book.sheets[name]
                for i, column in enumerate(frame.columns):
                    sample = [str(column), *map(str, frame[column].head(50))]
                    width = min(60, max(len(x) for x in sample) + 2)
                    sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = width
                sheet.freeze_panes = "A2"

    write_atomic(out, write)
    return list(sheets)
