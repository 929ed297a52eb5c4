"""The folder of an explanation (``modsim explain``): a batch folder of its cells
(:mod:`~simulator.folders.experiment`), plus the ranking and what it was about.

Layout (the README documents it)::

    OUT/                   by default RUN_DIR/explain
      experiment.json ...  the batch of base and variant cells (resumable)
      explain.csv          one row per variant, the base first: rank, lever,
                           variant, change, seeds, suspended, median suspension
                           hours, mean and mean absolute shift, averted, brought,
                           the decisive rule's progress and its shift
      explain.json         written last: the run it explains, seeds, the rule
                           followed, the end of the run, levers tried and skipped
      explain.html, explain.md   the report (written from these files)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ModsimError
from simulator.folders.atomic import missing, read_csv, read_json, write_atomic, write_json

TABLE = "explain.csv"
META = "explain.json"


def write_explanation(root: Path, table: pd.DataFrame, meta: dict[str, Any]) -> None:
    """The ranking, then what it is about (``explain.json`` marks it complete)."""
    write_atomic(Path(root) / TABLE, lambda p: table.to_csv(p, index=False))
    write_json(Path(root) / META, meta)


@dataclass(frozen=True)
class ExplainFolder:
    path: Path
    table: pd.DataFrame
    meta: dict[str, Any]


def read_explanation(root: Path) -> ExplainFolder:
    root = Path(root)
    absent = missing(root, (TABLE, META))
    if absent:
        raise ModsimError(
            f"{root}: incomplete explanation, missing {', '.join(absent)} "
            "(run the same `modsim explain` command again to finish it)"
        )
    meta = read_json(root / META)
    if not isinstance(meta, dict):
        raise ModsimError(f"{root / META}: not an explanation")
    table = read_csv(root / TABLE).fillna({"change": ""})
    return ExplainFolder(root, table, meta)
