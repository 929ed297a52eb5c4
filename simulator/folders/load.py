"""Reading any results folder: a run's, a comparison's or batch's, a policy
search's, a robustness study's or a calibration's.

Reports never re-run simulations; they read what ``modsim run``,
``modsim compare``, ``modsim batch``, ``modsim optimize`` and
``modsim robustness`` wrote. The kind of folder is told by the files
present: ``experiment.json`` names its ``kind`` (compare, batch,
optimization, robustness, calibration), ``robustness.json`` alone marks a robustness
study, ``summary.json`` a single run. Each kind's own module reads it.
"""

from __future__ import annotations

from pathlib import Path

from simulator.errors import ModsimError
from simulator.folders.calibration import CalibrationFolder, read_calibration
from simulator.folders.experiment import (
    MANIFEST,
    ExperimentFolder,
    read_experiment,
    read_manifest,
)
from simulator.folders.robustness import ROBUSTNESS_FILE, RobustnessFolder, read_robustness
from simulator.folders.run import SUMMARY, RunFolder, read_run
from simulator.folders.search import SearchFolder, read_search

ResultsFolder = RunFolder | ExperimentFolder | SearchFolder | RobustnessFolder | CalibrationFolder


def load_results(path: str | Path) -> ResultsFolder:
    """Read a results folder; ModsimError if it is not one, or is incomplete."""
    root = Path(path)
    if not root.is_dir():
        raise ModsimError(f"{root}: no such results folder")
    if (root / MANIFEST).is_file():
        manifest = read_manifest(root)
        kind = manifest.get("kind")
        if kind == "optimization":
            result, robustness = read_search(root)
            return SearchFolder(root, result, robustness)
        if kind == "robustness":
            return RobustnessFolder(root, read_robustness(root))
        if kind == "calibration":
            return CalibrationFolder(root, read_calibration(root))
        return read_experiment(root, manifest)
    if (root / ROBUSTNESS_FILE).is_file():
        return RobustnessFolder(root, read_robustness(root))
    if (root / SUMMARY).is_file():
        return read_run(root)
    raise ModsimError(
        f"{root}: not a results folder (expected summary.json from `modsim run`, "
        "experiment.json from `modsim compare`, `batch`, `optimize` or `calibrate`, or "
        "robustness.json from `modsim robustness`)"
    )


__all__ = [
    "CalibrationFolder",
    "ExperimentFolder",
    "ResultsFolder",
    "RobustnessFolder",
    "RunFolder",
    "SearchFolder",
    "load_results",
]
