"""Studies end to end: run, keep the results in their folder, write the report.

The layer above experiments, folders and report, and below the CLI: what
``modsim run``, ``optimize`` and ``robustness`` do once their inputs are
checked, and what :func:`simulator.optimize` does from Python. Experiments
keep their runs and records in folders as they go
(:mod:`simulator.folders`); the report is drawn from what the folder holds
(:mod:`simulator.report`) and written into it here, so a report rebuilt later
by ``modsim report`` from the folder alone reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from simulator.api import Source, simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.config.calibration import Calibration
from simulator.config.search import Optimization
from simulator.engine import SLICE_POSTS, Progress
from simulator.experiments import calibration, search
from simulator.experiments import robustness as rob_study
from simulator.experiments.execution import Execution
from simulator.folders import robustness as rob_folder
from simulator.folders import search as search_folder
from simulator.folders.atomic import write_bytes
from simulator.folders.calibration import CalibrationResult
from simulator.folders.robustness import ROBUSTNESS_FILE, RobustnessResult, read_robustness
from simulator.folders.run import RunWriter
from simulator.folders.search import SearchResult
from simulator.report.calibration import calibration_figures, calibration_report
from simulator.report.html import write_folder_report, write_rendered
from simulator.report.search import (
    robustness_figures,
    robustness_report,
    search_figures,
    search_report,
)
from simulator.results import RunResult
from simulator.spill import SPILL_ROWS


# One run --------------------------------------------------------------------------------
def run_into(
    writer: RunWriter,
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    hosts: Sequence[HostPolicy | Source] = (),
    seed: int = 0,
    *,
    posts: str = "touched",
    chunk_days: int = 1,
    workers: int = 1,
    progress: Progress | None = None,
    slice_posts: int | None = SLICE_POSTS,
    spill_rows: int | None = SPILL_ROWS,
) -> RunResult:
    """Simulate one run into ``writer``'s folder (claimed by the caller):
    per-post rows as the run goes (``posts``: all, touched or none), then the
    tables, the report (``report.html`` and ``report.md``, each written once)
    and ``summary.json`` last. ``slice_posts`` and ``spill_rows`` as in
    :func:`~simulator.api.simulate` (memory, never results)."""
    sink = writer.posts() if posts != "none" else None
    result = simulate(
        scenario,
        policy,
        hosts,
        seed,
        chunk_days=chunk_days,
        table="all" if posts == "all" else "touched",
        sink=sink,
        progress=progress,
        workers=workers,
        slice_posts=slice_posts,
        spill_rows=spill_rows,
    )
    writer.write_tables(result)
    write_folder_report(writer.folder(result))
    writer.finish(result)
    return result


# A policy search ------------------------------------------------------------------------
def write_search_report(
    result: SearchResult, root: Path, robustness: RobustnessResult | None = None
) -> dict[str, str]:
    """Draw a search's figures and report into its folder ``root``. A
    robustness study already in the folder is reported with the search
    unless another is given."""
    root = Path(root)
    if robustness is None and (root / ROBUSTNESS_FILE).is_file():
        robustness = read_robustness(root)
    figures = search_figures(result, robustness)
    files: dict[str, str] = {}
    for name, drawn in figures.items():
        path = root / f"{name}.png"
        write_bytes(path, drawn.png)
        files[f"{name}_plot"] = str(path)
    return files | write_rendered(search_report(result, robustness, figures), root)


def write_search(
    result: SearchResult, root: Path, robustness: RobustnessResult | None = None
) -> SearchResult:
    """Write a search's record, figures and report to ``root``; return the
    result with their paths."""
    files = search_folder.write_search(result, root)
    return replace(result, files=files | write_search_report(result, root, robustness))


def search_study(
    spec: Optimization | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    robustness: bool = False,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> tuple[SearchResult, RobustnessResult | None]:
    """A policy search (:func:`simulator.experiments.search.optimize`) with
    its report in ``out``; with ``robustness``, then the robustness study of
    the base and recommended policies, kept in the same folder and reported
    with the search. Both run on ``execution``; its progress hears the search
    in candidates, then the study in runs."""
    result = search.optimize(
        spec, out=out, force=force, trials=trials, execution=execution, base_dir=base_dir
    )
    rob = None
    if robustness:
        policies = [result.base] + ([result.recommended] if result.recommended is not None else [])
        # Into the search's folder, never wiped again: optimize already did if asked.
        rob = rob_study.robustness_study(
            spec, policies, base_dir=base_dir, execution=execution, out=out
        )
    if out is not None:
        result = replace(result, files=result.files | write_search_report(result, Path(out), rob))
    return result, rob


def optimize(
    spec: Optimization | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> SearchResult:
    """Search policies for the cheapest ones that meet the constraints; with
    ``out``, keep the study, its runs, its record and its report there (a
    second call resumes). The arguments are those of
    :func:`simulator.experiments.search.optimize`."""
    return search_study(
        spec, out=out, force=force, trials=trials, execution=execution, base_dir=base_dir
    )[0]


# A calibration --------------------------------------------------------------------------
def calibrate(
    spec: Calibration | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> CalibrationResult:
    """Fit a Calibration's free fields to its observed targets
    (:func:`simulator.experiments.calibration.calibrate`); with ``out``, keep
    the study, its runs' measures, its record and its report there (a second
    call resumes)."""
    result = calibration.calibrate(
        spec, out=out, force=force, trials=trials, execution=execution, base_dir=base_dir
    )
    if out is None:
        return result
    # The record is already written (calibration.json); the figure and report join it.
    figures = calibration_figures(result)
    write_bytes(Path(out) / "fit.png", figures["fit"].png)
    report = calibration_report(result, figures)
    files = {"fit_plot": str(Path(out) / "fit.png")} | write_rendered(report, Path(out))
    return replace(result, files=result.files | files)


# A robustness study ---------------------------------------------------------------------
def write_robustness(result: RobustnessResult, root: Path, report: bool = True) -> dict[str, str]:
    """Write a robustness study's tables, record and figure to ``root`` and
    (unless ``report`` is false: a search's report will carry it) its report."""
    root = Path(root)
    files = rob_folder.write_robustness(result, root)
    return files | _robustness_report(result, root, report)


def _robustness_report(result: RobustnessResult, root: Path, report: bool) -> dict[str, str]:
    figures = robustness_figures(result)
    write_bytes(root / "sensitivity.png", figures["sensitivity"].png)
    files = {"plot": str(root / "sensitivity.png")}
    if report:
        files |= write_rendered(robustness_report(result, figures), root)
    return files


def robustness_study(
    spec: Optimization | Source,
    policies: Sequence[PlatformPolicy | Source] = (),
    *,
    out: Source | None = None,
    force: bool = False,
    base_dir: Source | None = None,
    execution: Execution | None = None,
) -> RobustnessResult:
    """The robustness study an Optimization document describes
    (:func:`simulator.experiments.robustness.robustness_study`), with its
    figure and report in ``out``."""
    result = rob_study.robustness_study(
        spec, policies, out=out, force=force, base_dir=base_dir, execution=execution
    )
    if out is None:
        return result
    return replace(result, files=result.files | _robustness_report(result, Path(out), True))


__all__ = [
    "calibrate",
    "optimize",
    "robustness_study",
    "run_into",
    "search_study",
    "write_robustness",
    "write_search",
    "write_search_report",
]
