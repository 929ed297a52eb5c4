"""Reading results folders: a run's, a comparison's or batch's, a policy
search's or a robustness study's.

Reports never re-run simulations; they read what ``modsim run``,
``modsim compare``, ``modsim batch``, ``modsim optimize`` and
``modsim robustness`` wrote. The kind of folder is told by the files
present: ``experiment.json`` names its ``kind`` (compare, batch,
optimization, robustness), ``robustness.json`` alone marks a robustness
study, ``summary.json`` a single run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from simulator.errors import ModsimError

if TYPE_CHECKING:
    from simulator.experiments.robustness import RobustnessResult
    from simulator.experiments.search import SearchResult

RUN_FILES = ("summary.json", "thresholds.csv", "daily.csv", "timeline.csv", "backlog.csv")
EXPERIMENT_FILES = ("experiment.json", "cells.csv", "results.csv", "summary.csv")
EXPERIMENT_KINDS = ("compare", "batch")
KINDS = (*EXPERIMENT_KINDS, "optimization", "robustness")


@dataclass(frozen=True)
class RunFolder:
    """What ``modsim run`` wrote."""

    path: Path
    summary: dict[str, Any]
    within: pd.DataFrame
    daily: pd.DataFrame
    timeline: pd.DataFrame
    backlog: pd.DataFrame
    within_weekly: pd.DataFrame | None = None

    kind = "run"

    @property
    def teams(self) -> list[str]:
        return list(self.summary["review"])


@dataclass(frozen=True)
class ExperimentFolder:
    """What ``modsim compare`` or ``modsim batch`` wrote (see the README's layout)."""

    path: Path
    kind: str
    manifest: dict[str, Any]
    cells: pd.DataFrame
    """One row per cell: labels, sweep parameters, replication, seed, status, error."""
    table: pd.DataFrame
    """Tidy metrics: one row per finished cell and metric."""
    summary: pd.DataFrame
    """Per group and metric: n, n_never, mean, std, ci_low, ci_high."""
    differences: pd.DataFrame | None
    run_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each finished cell's full run summary, by cell id."""

    @property
    def parameters(self) -> list[str]:
        return [str(p) for p in self.manifest.get("parameters", [])]


@dataclass(frozen=True)
class SearchFolder:
    """What ``modsim optimize`` wrote (with its robustness study, if one was run)."""

    path: Path
    result: SearchResult
    robustness: RobustnessResult | None = None

    kind = "optimization"


@dataclass(frozen=True)
class RobustnessFolder:
    """What ``modsim robustness`` wrote."""

    path: Path
    result: RobustnessResult

    kind = "robustness"


ResultsFolder = RunFolder | ExperimentFolder | SearchFolder | RobustnessFolder


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModsimError(f"{path}: cannot read it as JSON ({exc})") from None


def _csv(path: Path) -> pd.DataFrame:
    try:
        # cell ids are hex: an all-digit one must not become a number
        return pd.read_csv(path, dtype={"cell_id": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, ValueError) as exc:
        raise ModsimError(f"{path}: cannot read it as CSV ({exc})") from None


def _missing(path: Path, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if not (path / n).is_file()]


def load_results(path: str | Path) -> ResultsFolder:
    """Read a results folder; ModsimError if it is not one, or is incomplete."""
    root = Path(path)
    if not root.is_dir():
        raise ModsimError(f"{root}: no such results folder")
    from simulator.report.search_files import ROBUSTNESS_FILE, read_robustness, read_search

    if (root / "experiment.json").is_file():
        manifest = _json(root / "experiment.json")
        kind = manifest.get("kind") if isinstance(manifest, dict) else None
        if kind == "optimization":
            result, robustness = read_search(root)
            return SearchFolder(root, result, robustness)
        if kind == "robustness":
            return RobustnessFolder(root, read_robustness(root))
        return _load_experiment(root, manifest)
    if (root / ROBUSTNESS_FILE).is_file():
        return RobustnessFolder(root, read_robustness(root))
    if (root / "summary.json").is_file():
        return _load_run(root)
    raise ModsimError(
        f"{root}: not a results folder (expected summary.json from `modsim run`, "
        "experiment.json from `modsim compare`, `batch` or `optimize`, or robustness.json "
        "from `modsim robustness`)"
    )


def _load_run(root: Path) -> RunFolder:
    missing = _missing(root, RUN_FILES)
    if missing:
        raise ModsimError(f"{root}: incomplete run results, missing {', '.join(missing)}")
    summary = _json(root / "summary.json")
    if not isinstance(summary, dict) or "violating" not in summary or "run" not in summary:
        raise ModsimError(f"{root / 'summary.json'}: not a modsim run summary")
    return RunFolder(
        path=root,
        summary=summary,
        within=_csv(root / "thresholds.csv"),
        daily=_csv(root / "daily.csv"),
        # an empty detail is written as an empty field, which CSV reads back as NaN
        timeline=_csv(root / "timeline.csv").fillna({"detail": ""}),
        backlog=_csv(root / "backlog.csv"),
        within_weekly=_csv(weekly)
        if (weekly := root / "thresholds_weekly.csv").is_file()
        else None,
    )


def _load_experiment(root: Path, manifest: Any) -> ExperimentFolder:
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    if kind not in EXPERIMENT_KINDS:
        raise ModsimError(
            f"{root / 'experiment.json'}: kind {kind!r} is not one of {', '.join(KINDS)}"
        )
    missing = _missing(root, EXPERIMENT_FILES)
    if missing:
        raise ModsimError(
            f"{root}: incomplete {kind} results, missing {', '.join(missing)} "
            f"(run the same `modsim {kind}` command again to finish it)"
        )
    cells = _csv(root / "cells.csv")
    summaries: dict[str, dict[str, Any]] = {}
    ok = cells[cells["status"] == "ok"] if "status" in cells else cells.iloc[0:0]
    for cell_id in ok.get("cell_id", pd.Series(dtype=str)).astype(str):
        data = _json(root / "cells" / f"{cell_id}.json")
        if isinstance(data, dict) and isinstance(data.get("summary"), dict):
            summaries[cell_id] = data["summary"]
    diffs = root / "differences.csv"
    return ExperimentFolder(
        path=root,
        kind=str(kind),
        manifest=manifest,
        cells=cells,
        table=_csv(root / "results.csv"),
        summary=_csv(root / "summary.csv"),
        differences=_csv(diffs) if diffs.is_file() else None,
        run_summaries=summaries,
    )
