"""The library API: what the CLI calls, and what a notebook calls."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from simulator.checks import check_run
from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file, set_fields
from simulator.engine import SLICE_POSTS, PostSink, Progress, Simulation
from simulator.results import RunResult, run_summary
from simulator.runlog import RunLog
from simulator.spill import SPILL_ROWS

M = TypeVar("M", bound=BaseModel)

Source = str | Path


def versions() -> dict[str, str]:
    """Versions of modsim and the libraries that shape its numbers."""
    return dict(_versions())


@cache
def _versions() -> dict[str, str]:
    # Read once per process (6 ms of every run otherwise): the modules a
    # process imported keep their version whatever is installed later.
    out = {"python": platform.python_version()}
    for dist in ("modsim", "numpy", "pandas", "scikit-learn", "scipy", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def load(path: Source, overrides: Mapping[str, Any] | None = None) -> BaseModel:
    """Load and validate any modsim YAML file (Scenario, PlatformPolicy, HostPolicy),
    with ``overrides`` set by path (``{"days": 4, "jury.pool_size": 2000}``, as in a
    batch's sweep); ConfigError for an unknown path or a value the document refuses."""
    model = load_file(path).model
    return set_fields(model, overrides) if overrides else model


def _resolve(
    obj: M | Source, kind: type[M], inputs: list[dict[str, Any]], docs: list[Any] | None = None
) -> M:
    if isinstance(obj, kind):
        inputs.append({"kind": kind.__name__, "name": getattr(obj, "name", ""), "file": None})
        if docs is not None:
            docs.append(obj)
        return obj
    if isinstance(obj, BaseModel):
        raise TypeError(f"expected a {kind.__name__} or a path, got {type(obj).__name__}")
    loaded = load_file(obj, expect=kind.__name__)
    if docs is not None:
        docs.append(loaded)  # keeps file and line numbers for the checks' messages
    inputs.append(
        {
            "kind": kind.__name__,
            "name": getattr(loaded.model, "name", ""),
            "file": str(loaded.path),
            "sha256": loaded.sha256,
        }
    )
    return loaded.model  # type: ignore[return-value]


def simulate(
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    hosts: Sequence[HostPolicy | Source] = (),
    seed: int = 0,
    *,
    chunk_days: int = 1,
    table: str = "touched",
    sink: PostSink | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    slice_posts: int | None = SLICE_POSTS,
    spill_rows: int | None = SPILL_ROWS,
) -> RunResult:
    """Run one policy on one scenario under zero or more enforcers.

    ``scenario``, ``policy`` and each host may be a model or a YAML path.
    Per-post rows go to ``sink`` (a callable taking a DataFrame) as the run
    progresses; ``table`` says which rows (``all`` or ``touched``). ``workers``
    processes score texts in text mode (results are the same for any number).
    Memory: a day of more than ``slice_posts`` posts is made in slices, and
    tables of settled posts and cases beyond ``spill_rows`` rows wait in a
    temporary directory until the end (``None``: whole days, all in memory);
    neither changes any result.
    """
    options = {"chunk_days": chunk_days, "table": table, "workers": workers}
    options |= {"slice_posts": slice_posts, "spill_rows": spill_rows}
    log, inputs = _run(scenario, policy, hosts, seed, sink, progress, options)
    return RunResult.from_log(log, inputs=inputs)


def simulate_summary(
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    hosts: Sequence[HostPolicy | Source] = (),
    seed: int = 0,
) -> dict[str, Any]:
    """``simulate(scenario, policy, hosts, seed).summary``, without the result's
    other tables (daily figures, backlog by hour, thresholds by week, timeline):
    what an experiment keeps of each run (a batch, a comparison, a search), at
    less cost. The same inputs give the same summary, to the last digit."""
    log, inputs = _run(scenario, policy, hosts, seed)
    return run_summary(log, inputs)


def _run(
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    hosts: Sequence[HostPolicy | Source],
    seed: int,
    sink: PostSink | None = None,
    progress: Progress | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[RunLog, dict[str, Any]]:
    """The run's log and the inputs its summary records (see :func:`simulate`;
    ``options`` are :class:`~simulator.engine.Simulation`'s keywords)."""
    inputs: list[dict[str, Any]] = []
    docs: list[Any] = []
    sc = _resolve(scenario, Scenario, inputs, docs)
    pol = _resolve(policy, PlatformPolicy, inputs, docs)
    hs = [_resolve(h, HostPolicy, inputs, docs) for h in hosts]
    # Recorded, not enforced: the CLI refuses errors before it gets here, and
    # a library caller may be probing an odd configuration on purpose.
    findings = check_run(docs[0], docs[1], docs[2:])
    sim = Simulation(sc, pol, hs, seed, **(options or {}))
    log = sim.run(sink=sink, progress=progress)
    del sim  # its queues, enforcers and stages: the tables need only the log
    return log, {
        "seed": seed,
        "files": inputs,
        # the documents as the run read them, so two results folders can be
        # compared field by field (`modsim diff`)
        "documents": [d.model_dump(mode="json") for d in (sc, pol, *hs)],
        "versions": versions(),
        "checks": [f.to_dict() for f in findings],
    }
