"""Experiments: fair comparisons and batches of runs, on any executor.

The design (:mod:`~simulator.experiments.design`: which cells, with ids and
seeds from their identity) is separate from where cells run
(:mod:`~simulator.experiments.executors`) and from the results folder
(:mod:`~simulator.folders.experiment`); :mod:`~simulator.experiments.stats`
turns replications into means, intervals and paired differences.
"""

from simulator.experiments.batch import BatchResult, run_batch
from simulator.experiments.compare import Comparison, compare
from simulator.experiments.executors import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
)

__all__ = [
    "BatchResult",
    "Comparison",
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "compare",
    "run_batch",
]
