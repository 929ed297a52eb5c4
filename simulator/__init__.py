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

Names are imported on first use, so ``import simulator`` stays cheap (and the
package, the lowest layer, imports none of its modules); ``dir()`` lists them
all, so notebooks complete them.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

try:
    __version__ = metadata.version("modsim")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_EXPORTS = {
    "load": "simulator.api",
    "simulate": "simulator.api",
    "simulate_summary": "simulator.api",
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
