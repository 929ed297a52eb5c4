"""Fair comparisons: several policies on one scenario and host setup, seed by seed.

Every policy runs on the same replication seeds, so on each seed every
policy sees the same post stream (common random numbers). Differences are
then taken *paired*, seed by seed, against the first policy: the stream's
variation cancels and the interval reflects the rules alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.errors import ModsimError
from simulator.experiments import stats
from simulator.experiments.batch import GROUP, BatchResult, Source, execute, load_as
from simulator.experiments.design import expand
from simulator.experiments.execution import Execution
from simulator.folders.experiment import ResultStore


@dataclass(frozen=True)
class Comparison(BatchResult):
    """A batch result plus ``differences``: per policy (after the first) and
    metric, the mean paired difference against the first policy, with its 95%
    interval over seeds."""

    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline: str = ""


def compare(
    scenario: Scenario | Source,
    policies: Sequence[PlatformPolicy | Source],
    hosts: Sequence[HostPolicy | Source] = (),
    seeds: int = 10,
    seed: int = 0,
    *,
    out: Source | None = None,
    force: bool = False,
    execution: Execution | None = None,
) -> Comparison:
    """Run each policy on ``seeds`` replications of one scenario under ``hosts``
    (enforced together); compare them with the first.

    ``seeds`` replications are derived from the base ``seed``. ``execution``
    (where the runs go, who hears the progress) and ``out`` (resumable
    results folder) are as in :func:`~simulator.experiments.batch.run_batch`.
    """
    if len(policies) < 2:
        raise ModsimError("compare needs at least two policies (for one, use simulate or run)")
    if seeds < 1:
        raise ModsimError(f"seeds must be at least 1, got {seeds}")
    sc = load_as(scenario, Scenario)
    pols = [load_as(p, PlatformPolicy) for p in policies]
    hs = [load_as(h, HostPolicy) for h in hosts]
    cells = expand([sc], pols, [hs], seeds, seed)
    result = execute(
        cells,
        out=out,
        force=force,
        execution=execution,
        manifest={"kind": "compare", "name": " vs ".join(p.name for p in pols)},
    )
    baseline = pols[0].name
    differences = stats.paired_differences(result.table, GROUP, "policy", baseline)
    if out is not None:
        ResultStore(Path(out)).write_table("differences.csv", differences)
    return Comparison(
        table=result.table,
        cells=result.cells,
        summary=result.summary,
        parameters=[],
        resumed=result.resumed,
        why=result.why,
        differences=differences,
        baseline=baseline,
    )
