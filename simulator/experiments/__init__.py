"""Experiments: fair comparisons and batches of runs, on any executor.

The design (:mod:`~simulator.experiments.design`: which cells, with ids and
seeds from their identity) is separate from where cells run
(:mod:`~simulator.experiments.executors`, chosen by an
:class:`~simulator.experiments.execution.Execution` built once and passed to
every experiment, with its progress callback) and from the results folder
(:mod:`~simulator.folders.experiment`); :mod:`~simulator.experiments.stats`
turns replications into means, intervals and paired differences.
"""

from simulator.experiments.batch import BatchResult, run_batch
from simulator.experiments.compare import Comparison, compare
from simulator.experiments.execution import Execution, Progress, Tick
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
    "Execution",
    "Executor",
    "ProcessExecutor",
    "Progress",
    "SerialExecutor",
    "Tick",
    "compare",
    "run_batch",
]
