"""The results folder of a comparison, batch, search or robustness study: one
file per finished cell, so an interrupted experiment resumes where it stopped.

Layout (the README documents it for readers of these folders)::

    OUT/
      experiment.json      what the folder holds: kind (batch, compare, optimization or
                           robustness), name, cells, sweep parameters; marks the folder
                           as resumable
      design.csv           one row per cell: cell_id, scenario, policy, host,
                           sweep parameters, replication, seed
      cells/<cell_id>.json one file per finished cell, written atomically when it
                           finishes: status (ok or failed), error, headline metrics,
                           the run's full summary
      cells.csv            the design with each cell's status and error
      results.parquet      tidy metrics: one row per cell x metric (value column);
      results.csv          the same as CSV
      summary.csv          per scenario x policy x host x sweep point x metric: n,
                           n_never, mean, std, 95% interval over replications
      differences.csv      (compare) paired differences against the first policy

Cells are matched by id (a hash of their inputs and seed), so a re-run skips
the finished ones and runs the rest; a changed input gets new ids and reruns.
Failed cells are tried again on a re-run. :class:`ResultStore` writes the
folder as the experiment runs; :func:`read_experiment` reads a finished one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ModsimError
from simulator.folders.atomic import (
    CLAIM,
    busy,
    make_folder,
    missing,
    read_csv,
    read_json,
    reported,
    write_atomic,
    write_json,
)

MANIFEST = "experiment.json"
CELLS = "cells"
EXPERIMENT_FILES = (MANIFEST, "cells.csv", "results.csv", "summary.csv")
"""The files a finished comparison or batch folder must hold."""
EXPERIMENT_KINDS = ("compare", "batch")
KINDS = (*EXPERIMENT_KINDS, "optimization", "robustness", "calibration")
"""The kinds ``experiment.json`` may name."""

STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclass(frozen=True)
class CellResult:
    """What one cell produced: its status, headline metrics and run summary
    (``cells/<cell_id>.json`` holds exactly this)."""

    cell_id: str
    status: str
    error: str | None = None
    metrics: dict[str, float] | None = None
    summary: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "cell_id": self.cell_id,
            "status": self.status,
            "error": self.error,
            "metrics": self.metrics,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellResult:
        return cls(
            cell_id=data["cell_id"],
            status=data["status"],
            error=data.get("error"),
            metrics=data.get("metrics"),
            summary=data.get("summary"),
        )


class ResultStore:
    """Reads and writes one experiment's results folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def open(cls, root: str | Path, force: bool = False) -> ResultStore:
        """Use ``root`` for results: new, resumable (it holds an experiment), or
        wiped first with ``force``. Any other non-empty folder is refused."""
        path = Path(root)
        if path.exists() and not path.is_dir():
            raise ModsimError(f"{path}: exists and is not a folder")
        if (path / CLAIM).exists():
            raise busy(path)  # a run's folder, being written: not to be wiped or mixed in
        with reported(path, "use the folder"):
            if path.exists() and any(path.iterdir()):
                if force:
                    shutil.rmtree(path)
                elif not (path / MANIFEST).is_file():
                    raise ModsimError(
                        f"{path}: folder is not empty and holds no experiment to resume; "
                        "choose another --out or pass --force"
                    )
        make_folder(path)
        make_folder(path / CELLS)
        return cls(path)

    def finished(self) -> dict[str, CellResult]:
        """Every cell result on disk, by cell id (unreadable files are skipped:
        their cells simply run again)."""
        out: dict[str, CellResult] = {}
        for file in sorted((self.root / CELLS).glob("[!.]*.json")):
            try:
                result = CellResult.from_json(json.loads(file.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if result.cell_id == file.stem:
                out[result.cell_id] = result
        return out

    def write_cell(self, result: CellResult) -> None:
        write_json(self.root / CELLS / f"{result.cell_id}.json", result.to_json())

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json(self.root / MANIFEST, manifest)

    def ensure_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` unless the folder already has one: a study that
        keeps its runs in another experiment's folder (a robustness study in
        its search's) leaves that folder's description alone."""
        if not (self.root / MANIFEST).is_file():
            self.write_manifest(manifest)

    def write_table(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.root / name
        if name.endswith(".parquet"):
            write_atomic(path, lambda p: frame.to_parquet(p, index=False))
        else:
            write_atomic(path, lambda p: frame.to_csv(p, index=False))
        return path


# Reading a finished comparison or batch ------------------------------------------------
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


def read_manifest(root: Path) -> dict[str, Any]:
    manifest = read_json(Path(root) / MANIFEST)
    return manifest if isinstance(manifest, dict) else {}


def read_experiment(root: Path, manifest: dict[str, Any] | None = None) -> ExperimentFolder:
    """A finished comparison's or batch's folder."""
    root = Path(root)
    if manifest is None:
        manifest = read_manifest(root)
    kind = manifest.get("kind")
    if kind not in EXPERIMENT_KINDS:
        raise ModsimError(f"{root / MANIFEST}: kind {kind!r} is not one of {', '.join(KINDS)}")
    absent = missing(root, EXPERIMENT_FILES)
    if absent:
        raise ModsimError(
            f"{root}: incomplete {kind} results, missing {', '.join(absent)} "
            f"(run the same `modsim {kind}` command again to finish it)"
        )
    cells = read_csv(root / "cells.csv")
    summaries: dict[str, dict[str, Any]] = {}
    ok = cells[cells["status"] == STATUS_OK] if "status" in cells else cells.iloc[0:0]
    for cell_id in ok.get("cell_id", pd.Series(dtype=str)).astype(str):
        data = read_json(root / CELLS / f"{cell_id}.json")
        if isinstance(data, dict) and isinstance(data.get("summary"), dict):
            summaries[cell_id] = data["summary"]
    diffs = root / "differences.csv"
    return ExperimentFolder(
        path=root,
        kind=str(kind),
        manifest=manifest,
        cells=cells,
        table=read_csv(root / "results.csv"),
        summary=read_csv(root / "summary.csv"),
        differences=read_csv(diffs) if diffs.is_file() else None,
        run_summaries=summaries,
    )
