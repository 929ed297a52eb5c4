"""A calibration's result and its folder: written, and read back.

``modsim calibrate`` keeps its study (``study.db``) and every finished run's
measures (``cells/``, see :mod:`~simulator.folders.experiment`) in its folder
as it goes; at the end :func:`write_calibration` adds the candidates
(``candidates.csv``), the fit per target (``fit.csv``), the accepted ranges
(``ranges.csv``), the pairs of targets that pull against each other
(``tensions.csv``) and the record a report is rebuilt from
(``calibration.json``, written last). :func:`read_calibration` loads them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.config.calibration import Calibration
from simulator.errors import ModsimError
from simulator.folders.atomic import write_text
from simulator.folders.search import Proposals, csv_records, from_json_number, json_value

CALIBRATION_FILE = "calibration.json"
_TABLES = {
    "candidates": "candidates.csv",
    "fit": "fit.csv",
    "ranges": "ranges.csv",
    "tensions": "tensions.csv",
}


@dataclass(frozen=True)
class CalibrationResult:
    """What a calibration found, as tables for notebooks and reports.

    ``candidates``: one row per candidate evaluated (its free values, the
    distance, each target's simulated mean over seeds, signed standardised
    error and seeds in which it did not happen, and whether it was accepted).
    ``fit``: per target, the observed figure against the accepted set's
    simulated median and range (and the best candidate's). ``ranges``: per
    free field, its prior range and the accepted set's min, median and max.
    ``tensions``: pairs of targets whose errors move in opposite directions
    across candidates (Spearman correlation at or below ``threshold``).
    """

    spec: Calibration
    candidates: pd.DataFrame
    fit: pd.DataFrame
    ranges: pd.DataFrame
    tensions: pd.DataFrame
    accepted: int
    rule: str
    """The acceptance rule in words."""
    seeds: list[int]
    proposals: Proposals | None = None
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    """Simulation runs done by this call (runs found on disk are not counted)."""
    resumed: int = 0
    """Candidates found finished in the study and not evaluated again."""
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrationFolder:
    """What ``modsim calibrate`` wrote."""

    path: Path
    result: CalibrationResult

    kind = "calibration"


def write_calibration(result: CalibrationResult, root: Path) -> dict[str, str]:
    """Write the calibration's tables and, last, its record to ``root``; their paths by role."""
    root = Path(root)
    files: dict[str, str] = {}
    for role, name in _TABLES.items():
        frame = getattr(result, role)
        write_text(root / name, csv_records(frame).to_csv(index=False))
        files[role] = str(root / name)
    state = {
        "spec": result.spec.model_dump(mode="json"),
        "accepted": result.accepted,
        "rule": result.rule,
        "seeds": result.seeds,
        "proposals": None if result.proposals is None else result.proposals.to_dict(),
        "notes": result.notes,
        **{role: json_value(getattr(result, role).to_dict("records")) for role in _TABLES},
    }
    write_text(root / CALIBRATION_FILE, json.dumps(state, indent=1) + "\n")
    files["state"] = str(root / CALIBRATION_FILE)
    return files


def _numeric(v: Any) -> bool:
    return (
        v is None
        or v in ("inf", "-inf")
        or (isinstance(v, int | float) and not isinstance(v, bool))
    )


def _frame(records: list[dict[str, Any]], spec: Calibration) -> pd.DataFrame:
    """A table as written: columns of numbers (null for NaN) back to floats,
    free fields' values and text as they were."""
    frame = pd.DataFrame(records)
    for col in frame.columns:
        if col in spec.free or not frame[col].map(_numeric).all():
            continue
        if frame[col].map(lambda v: isinstance(v, int) and not isinstance(v, bool)).all():
            continue  # counts stay whole numbers
        frame[col] = frame[col].map(from_json_number).astype(float)
    return frame


def read_calibration(root: Path) -> CalibrationResult:
    """A calibration from its results folder."""
    path = Path(root) / CALIBRATION_FILE
    if not path.is_file():
        raise ModsimError(
            f"{root}: incomplete calibration results, missing {CALIBRATION_FILE} "
            "(run the same `modsim calibrate` command again to finish it)"
        )
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        spec = Calibration.model_validate(state["spec"])
        tables = {role: _frame(state[role], spec) for role in _TABLES}
        counted = state.get("proposals")
        return CalibrationResult(
            spec=spec,
            accepted=int(state["accepted"]),
            rule=str(state["rule"]),
            seeds=[int(s) for s in state["seeds"]],
            proposals=None if counted is None else Proposals.from_dict(counted),
            notes=[str(n) for n in state.get("notes", [])],
            **tables,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModsimError(f"{path}: not a modsim calibration record ({exc})") from None
