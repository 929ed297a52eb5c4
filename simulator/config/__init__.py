"""Configuration models (one per YAML document kind) and their loader."""

from simulator.config.batch import Batch, set_fields, sweep_target
from simulator.config.calibration import Calibration
from simulator.config.host import HostPolicy
from simulator.config.loader import (
    KINDS,
    Loaded,
    load_file,
    load_host,
    load_policy,
    load_scenario,
    load_text,
)
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.config.search import Optimization

__all__ = [
    "KINDS",
    "Batch",
    "Calibration",
    "HostPolicy",
    "Loaded",
    "Optimization",
    "PlatformPolicy",
    "Scenario",
    "load_file",
    "load_host",
    "load_policy",
    "load_scenario",
    "load_text",
    "set_fields",
    "sweep_target",
]
