"""A robustness study's result and its folder: written, and read back.

:func:`write_robustness` writes the study's tables (``robustness_runs.csv``,
``robustness.csv``, ``sensitivity.csv``) and its record
(``robustness.json``); :func:`read_robustness` loads them back. The runs
themselves are kept in ``cells/`` as the study goes (see
:mod:`~simulator.folders.experiment`), in the study's own folder or in the
search's it tests. Its figure and report are drawn by :mod:`simulator.report`
and written by :mod:`simulator.studies`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simulator.errors import ModsimError
from simulator.folders.atomic import make_folder, write_text

ROBUSTNESS_FILE = "robustness.json"
_TABLES = {
    "runs": "robustness_runs.csv",
    "table": "robustness.csv",
    "sensitivity": "sensitivity.csv",
}


@dataclass(frozen=True)
class RobustnessResult:
    """``runs``: one row per scenario point x policy (inputs, metric means over
    seeds, whether each constraint was met). ``table``: per policy, the share
    of scenarios meeting every constraint and the worst value of each
    constrained metric. ``sensitivity``: per policy x metric x input, the
    sensitivity index, its share of the total and its rank (1 = dominant)."""

    name: str
    runs: pd.DataFrame
    table: pd.DataFrame
    sensitivity: pd.DataFrame
    constraints: list[str]
    ranges: dict[str, tuple[str, str]]
    method: str
    points: int
    seeds: int
    notes: list[str] = field(default_factory=list)
    new_runs: int = 0
    """Simulation runs done by this call."""
    resumed_runs: int = 0
    """Runs found finished in the output folder and not run again."""
    files: dict[str, str] = field(default_factory=dict)
    """The files written for it, by role."""


@dataclass(frozen=True)
class RobustnessFolder:
    """What ``modsim robustness`` wrote."""

    path: Path
    result: RobustnessResult

    kind = "robustness"


def write_robustness(result: RobustnessResult, root: Path) -> dict[str, str]:
    """Write a robustness study's tables and record to ``root``; return their
    paths by role."""
    root = make_folder(Path(root))
    files = {role: root / name for role, name in _TABLES.items()}
    write_text(files["runs"], result.runs.to_csv(index=False))
    write_text(files["table"], result.table.to_csv(index=False))
    write_text(files["sensitivity"], result.sensitivity.to_csv(index=False))
    meta = {
        "name": result.name,
        "constraints": result.constraints,
        "ranges": {k: list(v) for k, v in result.ranges.items()},
        "method": result.method,
        "points": result.points,
        "seeds": result.seeds,
        "notes": result.notes,
    }
    write_text(root / ROBUSTNESS_FILE, json.dumps(meta, indent=1) + "\n")
    return {k: str(v) for k, v in files.items()} | {"state": str(root / ROBUSTNESS_FILE)}


def read_robustness(root: Path) -> RobustnessResult:
    """A robustness study from its results folder."""
    root = Path(root)
    path = root / ROBUSTNESS_FILE
    names = tuple(_TABLES.values())
    absent = [n for n in (ROBUSTNESS_FILE, *names) if not (root / n).is_file()]
    if absent:
        raise ModsimError(f"{root}: incomplete robustness results, missing {', '.join(absent)}")
    text = {"policy": str, "input": str, "metric": str}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        frames = [pd.read_csv(root / n, dtype=text) for n in names]
        return RobustnessResult(
            name=str(meta["name"]),
            runs=frames[0],
            table=frames[1],
            sensitivity=frames[2],
            constraints=list(meta["constraints"]),
            ranges={k: (str(v[0]), str(v[1])) for k, v in meta["ranges"].items()},
            method=str(meta["method"]),
            points=int(meta["points"]),
            seeds=int(meta["seeds"]),
            notes=list(meta.get("notes", [])),
        )
    except pd.errors.EmptyDataError:
        raise ModsimError(f"{root}: a robustness table is empty") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModsimError(f"{path}: not a modsim robustness record ({exc})") from None
