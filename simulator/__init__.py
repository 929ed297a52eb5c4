"""modsim: a content-moderation policy simulator.

Library entry points (the CLI is a thin layer over these)::

    import simulator
    result = simulator.simulate("scenarios/quick.yaml", "policies/jury-only.yaml",
                                hosts=["policies/host-notice-and-strike.yaml"], seed=1)
    result.summary["violating"]["latency_hours"]
    simulator.estimate("scenarios/parler-like.yaml", "policies/jury-only.yaml").cpu_seconds
    cmp = simulator.compare("scenarios/quick.yaml",
                            ["policies/jury-only.yaml", "policies/ai-first.yaml"],
                            execution=simulator.Execution(workers=2))

Names are imported on first use, so ``import simulator`` stays cheap; ``dir()``
lists them all (notebooks complete them), and type checkers and editors see them
through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("modsim")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:  # what editors and type checkers see; at run time, __getattr__
    from simulator.api import load as load
    from simulator.api import simulate as simulate
    from simulator.api import versions as versions
    from simulator.config import Batch as Batch
    from simulator.config import Calibration as Calibration
    from simulator.config import HostPolicy as HostPolicy
    from simulator.config import Optimization as Optimization
    from simulator.config import PlatformPolicy as PlatformPolicy
    from simulator.config import Scenario as Scenario
    from simulator.errors import ConfigError as ConfigError
    from simulator.errors import ModsimError as ModsimError
    from simulator.experiments.batch import run_batch as run_batch
    from simulator.experiments.compare import compare as compare
    from simulator.experiments.diff import diff_results as diff_results
    from simulator.experiments.execution import Execution as Execution
    from simulator.experiments.execution import Tick as Tick
    from simulator.experiments.explain import explain as explain
    from simulator.experiments.explain import explain_results as explain_results
    from simulator.experiments.robustness import robustness as robustness
    from simulator.results import RunResult as RunResult
    from simulator.studies import calibrate as calibrate
    from simulator.studies import optimize as optimize
    from simulator.workload import Workload as Workload
    from simulator.workload import estimate as estimate

_EXPORTS = {
    "load": "simulator.api",
    "simulate": "simulator.api",
    "versions": "simulator.api",
    "HostPolicy": "simulator.config",
    "PlatformPolicy": "simulator.config",
    "Scenario": "simulator.config",
    "ConfigError": "simulator.errors",
    "ModsimError": "simulator.errors",
    "RunResult": "simulator.results",
    "compare": "simulator.experiments.compare",
    "diff_results": "simulator.experiments.diff",
    "Execution": "simulator.experiments.execution",
    "Tick": "simulator.experiments.execution",
    "run_batch": "simulator.experiments.batch",
    "Batch": "simulator.config",
    "optimize": "simulator.studies",
    "robustness": "simulator.experiments.robustness",
    "Optimization": "simulator.config",
    "calibrate": "simulator.studies",
    "Calibration": "simulator.config",
    "explain": "simulator.experiments.explain",
    "explain_results": "simulator.experiments.explain",
    "estimate": "simulator.workload",
    "Workload": "simulator.workload",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy names too, so that completion in a notebook offers them."""
    return sorted({*globals(), *_EXPORTS})
