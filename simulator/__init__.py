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

Names are imported on first use, so ``import simulator`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

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
    "Execution": "simulator.experiments.execution",
    "Tick": "simulator.experiments.execution",
    "run_batch": "simulator.experiments.batch",
    "Batch": "simulator.config",
    "optimize": "simulator.studies",
    "robustness": "simulator.experiments.robustness",
    "Optimization": "simulator.config",
    "calibrate": "simulator.studies",
    "Calibration": "simulator.config",
    "estimate": "simulator.workload",
    "Workload": "simulator.workload",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
