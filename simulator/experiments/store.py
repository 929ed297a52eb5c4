"""The results folder of a comparison or batch: one file per finished cell,
so an interrupted experiment resumes where it stopped.

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
Failed cells are tried again on a re-run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ModsimError
from simulator.experiments.design import CellResult

MANIFEST = "experiment.json"
CELLS = "cells"


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """The CLI's atomic write (temporary name, then rename). Imported on use:
    importing the CLI package at module level would import this module back."""
    from simulator.cli.app import write_atomic as atomic

    atomic(path, write)


def _write_json(path: Path, data: Any) -> None:
    # Python's JSON keeps inf and nan (as Infinity and NaN): metrics use both.
    text = json.dumps(data, indent=1, default=str) + "\n"

    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    write_atomic(path, write)


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
        if path.exists() and any(path.iterdir()):
            if force:
                shutil.rmtree(path)
            elif not (path / MANIFEST).is_file():
                raise ModsimError(
                    f"{path}: folder is not empty and holds no experiment to resume; "
                    "choose another --out or pass --force"
                )
        (path / CELLS).mkdir(parents=True, exist_ok=True)
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
        _write_json(self.root / CELLS / f"{result.cell_id}.json", result.to_json())

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        _write_json(self.root / MANIFEST, manifest)

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
