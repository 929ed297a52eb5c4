"""The question a policy search asks, resolved: the scenario, base policy and
hosts with the document's overrides applied, the constraints parsed, and the
search space as optuna distributions (one per searched field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from simulator.checks import raise_errors
from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file
from simulator.config.search import Optimization, Param
from simulator.document_checks import check_optimization
from simulator.errors import ConfigError
from simulator.experiments.batch import Source, load_as
from simulator.experiments.fields import apply_point


@dataclass(frozen=True)
class Problem:
    """An Optimization document with its files loaded and overrides applied."""

    spec: Optimization
    scenario: Scenario
    base: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    constraints: list[tuple[str, str, float]]
    distributions: dict[str, BaseDistribution]


def load_optimization(path: Source) -> tuple[Optimization, Path]:
    """An Optimization file and its folder, once its overrides and searched
    values were checked against the documents they change: a bad one is a
    ConfigError with this file's line and the field (as ``modsim optimize``
    reports it), not an error in the changed document with neither."""
    loaded = load_file(path, expect="Optimization")
    raise_errors(check_optimization(loaded))  # type: ignore[arg-type]
    return loaded.model, Path(path).parent  # type: ignore[return-value]


def load_problem(spec: Optimization, base_dir: Path | None) -> Problem:
    """Load the document's files (relative to ``base_dir``) and apply its overrides."""
    scenario = load_as(spec.scenario, Scenario, base_dir)
    base = load_as(spec.policy, PlatformPolicy, base_dir)
    hosts = [load_as(h, HostPolicy, base_dir) for h in spec.hosts]
    scenario, base, hosts = with_overrides(scenario, base, hosts, spec.overrides)
    return Problem(
        spec=spec,
        scenario=scenario,
        base=base,
        hosts=tuple(hosts),
        constraints=spec.parsed_constraints(),
        distributions={p: distribution(p, prm) for p, prm in spec.search.items()},
    )


def with_overrides(
    scenario: Scenario,
    policy: PlatformPolicy,
    hosts: Sequence[HostPolicy],
    overrides: Mapping[str, Any],
) -> tuple[Scenario, PlatformPolicy, list[HostPolicy]]:
    """A document's fixed changes applied; an error names them as overrides."""
    try:
        return apply_point(scenario, policy, hosts, overrides)
    except ConfigError as exc:
        raise ConfigError(f"overrides: {exc.message}", field=exc.field) from None


def distribution(path: str, p: Param) -> BaseDistribution:
    """The optuna distribution of one searched field."""
    if p.choices is not None:
        return CategoricalDistribution(p.choices)
    assert p.low is not None and p.high is not None
    if p.integer:
        step = int(p.step) if p.step is not None else 1
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=step)
    return FloatDistribution(p.low, p.high, log=p.log, step=p.step)
