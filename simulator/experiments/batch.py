"""Batches: many cells on an executor, results as tidy tables, resumable on disk.

:func:`run_cells` is the loop every experiment shares (compare is a batch
with one scenario and one host setup). :func:`run_batch` reads a ``kind:
Batch`` file or model, expands it into cells and runs them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel

from simulator.config import Batch, HostPolicy, PlatformPolicy, Scenario, load_file
from simulator.config.loader import load_as, parse_yaml
from simulator.errors import ConfigError
from simulator.experiments import stats
from simulator.experiments.design import Cell, expand
from simulator.experiments.execution import Execution
from simulator.experiments.models import ModelShelf
from simulator.experiments.why import why_table
from simulator.folders.experiment import STATUS_FAILED, CellResult, ResultStore

M = TypeVar("M", bound=BaseModel)

Source = str | Path

GROUP = ["scenario", "policy", "host"]


@dataclass(frozen=True)
class BatchResult:
    """Tidy tables of an experiment, keyed by ``cell_id``.

    ``table``: one row per finished cell and metric (``metric``, ``value``).
    ``cells``: one row per cell with its labels, ``status`` and ``error``.
    ``summary``: per scenario x policy x host x sweep point x metric, the mean
    and 95% interval over replications.
    """

    table: pd.DataFrame
    cells: pd.DataFrame
    summary: pd.DataFrame
    parameters: list[str] = field(default_factory=list)
    resumed: int = 0
    """Cells found finished on disk and not run again."""
    why: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per setting x enforcer x rule: seeds removed, the rule tripped or avoided,
    when, and how close it came (:func:`~simulator.experiments.why.why_table`)."""

    @property
    def failed(self) -> pd.DataFrame:
        return self.cells[self.cells["status"] == STATUS_FAILED]


def load_batch(path: Source) -> tuple[Batch, Path]:
    """A Batch file and the folder its paths are relative to."""
    loaded = load_file(path, expect="Batch")
    return loaded.model, Path(path).parent  # type: ignore[return-value]


def run_cells(
    cells: Sequence[Cell],
    execution: Execution,
    store: ResultStore | None = None,
    unit: str = "cells",
) -> tuple[list[CellResult], int]:
    """Run every cell not already finished in ``store`` on ``execution``'s
    executor; return the results in design order and how many distinct cells
    were found finished.

    Equal cells (the same id: the same inputs and seed, as a repeated design
    point gives) run once and share the result. Each result is written to the
    store as it arrives, so an interruption loses at most the cells that were
    running. Progress counts cells (as ``unit``), equal ones included.
    """
    copies = Counter(c.cell_id for c in cells)
    results: dict[str, CellResult] = {}
    if store is not None:
        results = {k: r for k, r in store.finished().items() if k in copies and r.ok}
    resumed = len(results)
    # Cells sharing a seed run next to each other, as a worker keeps only a few
    # trained models (each is trained once per experiment: experiments.models).
    distinct = {c.cell_id: c for c in cells if c.cell_id not in results}
    todo = sorted(distinct.values(), key=lambda c: (c.replication, c.seed))
    done, failed = sum(copies[k] for k in results), 0
    execution.update(done, len(cells), failed, unit)
    if todo:
        executor = execution.executor_for(len(todo))
        with executor:
            for outcome in ModelShelf().run(executor, todo):
                cell = todo[outcome.index]
                result = outcome.value or CellResult(
                    cell.cell_id, STATUS_FAILED, error=outcome.error or "no result"
                )
                if store is not None:
                    store.write_cell(result)
                results[cell.cell_id] = result
                done += copies[cell.cell_id]
                failed += copies[cell.cell_id] * (not result.ok)
                execution.update(done, len(cells), failed, unit)
    return [results[c.cell_id] for c in cells], resumed


def resolve_document(
    doc: M | Source,
    model_type: type[M],
    load: Callable[[Source], tuple[M, Path]],
    base_dir: Source | None = None,
) -> tuple[M, Path | None]:
    """A document given as a model or as the path of its file, and the folder
    its file paths are relative to: ``base_dir`` if given, else the file's."""
    base = Path(base_dir) if base_dir is not None else None
    if isinstance(doc, model_type):
        return doc, base
    model, folder = load(doc)  # type: ignore[arg-type]
    return model, base or folder


def tables(
    cells: Sequence[Cell], results: Sequence[CellResult]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy metrics table and the cells table, in design order."""
    rows: list[dict[str, Any]] = []
    status: list[dict[str, Any]] = []
    for cell, result in zip(cells, results, strict=True):
        labels = cell.labels
        status.append(labels | {"status": result.status, "error": result.error})
        for metric, value in (result.metrics or {}).items():
            rows.append(labels | {"metric": metric, "value": float(value)})
    label_cols = list(cells[0].labels) if cells else ["cell_id"]
    table = pd.DataFrame(rows, columns=[*label_cols, "metric", "value"])
    table = table.astype({"value": "float64", "replication": "int64", "seed": "uint64"})
    cells_df = pd.DataFrame(status, columns=[*label_cols, "status", "error"])
    return table, cells_df


def execute(cells: Sequence[Cell], **options: Any) -> BatchResult:
    """Run designed cells on ``execution`` (default: :class:`Execution`'s)
    and build the result tables (written to ``out`` if given); the options
    are :func:`execute_cells`'."""
    return execute_cells(cells, **options)[0]


def execute_cells(
    cells: Sequence[Cell],
    *,
    parameters: Sequence[str] = (),
    out: Source | None = None,
    force: bool = False,
    execution: Execution | None = None,
    manifest: dict[str, Any] | None = None,
) -> tuple[BatchResult, list[CellResult]]:
    """Run designed cells and build the result tables (written to ``out`` if
    given); also return each cell's result (its run summary) in design order."""
    store = ResultStore.open(out, force) if out is not None else None
    if store is not None:
        store.write_manifest(
            (manifest or {}) | {"cells": len(cells), "parameters": list(parameters)}
        )
        design = pd.DataFrame([c.labels for c in cells])
        store.write_table("design.csv", design)
    results, resumed = run_cells(cells, execution or Execution(), store)
    table, cells_df = tables(cells, results)
    summary = stats.summarize(table, [*GROUP, *parameters])
    runs = {c.cell_id: r.summary for c, r in zip(cells, results, strict=True) if r.summary}
    why = why_table(cells_df, runs, [*GROUP, *parameters])
    result = BatchResult(table, cells_df, summary, list(parameters), resumed, why)
    if store is not None:
        store.write_table("why.csv", why)
        store.write_table("cells.csv", cells_df)
        store.write_table("results.parquet", table)
        store.write_table("results.csv", table)
        store.write_table("summary.csv", summary)
    return result, results


def run_batch(
    batch: Batch | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> BatchResult:
    """Run every scenario x policy x host setup x sweep point x seed of a batch.

    ``batch`` is a Batch model or the path of a ``kind: Batch`` file; the
    files it names are relative to that file (or to ``base_dir``). Cells run
    as ``execution`` says (:class:`~simulator.experiments.execution.Execution`:
    by default in one local process per CPU), which also hears the progress.
    With ``out``, each finished cell is saved there and a re-run resumes.
    """
    model, base = resolve_document(batch, Batch, load_batch, base_dir)
    file = None if isinstance(batch, Batch) else str(batch)
    scenarios = [load_as(s, Scenario, base) for s in model.scenarios]
    policies = [load_as(p, PlatformPolicy, base) for p in model.policies]
    host_sets = [
        [load_as(h, HostPolicy, base) for h in ([entry] if isinstance(entry, str) else entry)]
        for entry in model.hosts
    ]
    try:
        cells = expand(scenarios, policies, host_sets, model.seeds, model.seed, model.points())
    except ConfigError as exc:
        line = _line_of(file, exc.field) if file else None
        raise ConfigError(exc.message, file=file, line=line, field=exc.field) from None
    return execute(
        cells,
        parameters=list(model.sweep),
        out=out,
        force=force,
        execution=execution,
        manifest={"kind": "batch", "name": model.name},
    )


def _line_of(file: str, field_name: str | None) -> int | None:
    if not field_name:
        return None
    try:
        _, lines = parse_yaml(Path(file).read_text(encoding="utf-8"), file)
    except (OSError, ConfigError):
        return None
    return lines.get((field_name,))


__all__ = [
    "BatchResult",
    "execute",
    "execute_cells",
    "load_batch",
    "run_batch",
    "run_cells",
    "tables",
]
