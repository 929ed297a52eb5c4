"""The ``Optimization`` document: which policy fields to search, for what, under which rules.

A search starts from a base PlatformPolicy on one scenario under a host
setup, varies policy fields given by their paths (the batch sweep syntax,
:func:`~simulator.config.batch.sweep_target`), and asks for the cheapest
(or otherwise best) policies that meet *constraints* written as
``"metric <= value"`` on the run metrics a batch reports. An optional
``robustness`` section names uncertain inputs (scenario, host or policy
paths) with ranges, for :mod:`simulator.experiments.robustness`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from simulator.config.base import ConfigModel
from simulator.config.batch import SweepPath, Value, sweep_target
from simulator.config.common import DateTime, Probability, Version

# The metrics a run reports (experiments.design.headline_metrics plus cost),
# by exact name or pattern; checked when a document is loaded so that a typo
# fails at once rather than after the first run.
_METRIC_PATTERNS = (
    r"posts|violating_posts|violating_removed|violating_never_removed",
    r"latency_p(50|90|99)_hours",
    r"removed_within_[0-9.]+h",
    r"views_before_removal|wrongful_removals|wrongful_removals_per_million",
    r"(jury|staff)_(cases|backlog_max|wait_p90_hours|utilisation)",
    r"notices|strikes|suspended|suspended_after_days|legitimate_posts_up_at_suspension",
    r"cost_total|cost_per_day|cost_per_1000_posts",
    r"staff_hours_paid|staff_hours_used|juror_hours_on_duty|juror_hours_used",
    r"changes",
)
_METRIC = re.compile("^(" + "|".join(f"(?:{p})" for p in _METRIC_PATTERNS) + ")$")
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")

METRIC_HELP = (
    "a run metric: cost_per_day, cost_per_1000_posts, cost_total, views_before_removal, "
    "wrongful_removals, removed_within_24h (any host threshold), latency_p90_hours, "
    "suspended (1 if suspended), jury_backlog_max, staff_utilisation, changes (fields "
    "changed from the base policy), ..."
)


def check_metric(name: str) -> str:
    if not _METRIC.match(name):
        raise ValueError(f"unknown metric {name!r}; expected {METRIC_HELP}")
    return name


Metric = Annotated[str, AfterValidator(check_metric)]


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``"removed_within_24h >= 0.9"`` -> ``("removed_within_24h", ">=", 0.9)``."""
    m = _CONSTRAINT.match(text)
    if not m:
        raise ValueError(
            f"expected 'metric <= number' or 'metric >= number', got {text!r} "
            "(e.g. 'suspended <= 0.1', 'removed_within_24h >= 0.9')"
        )
    name, op, raw = m.groups()
    check_metric(name)
    try:
        bound = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number in constraint {text!r}") from None
    return name, op, bound


def _check_constraint(text: str) -> str:
    parse_constraint(text)
    return text


ConstraintText = Annotated[str, AfterValidator(_check_constraint)]


def _policy_path(path: str) -> str:
    if sweep_target(path)[0] != "policy":
        raise ValueError(f"{path!r}: a search varies policy fields only")
    return path


PolicyPath = Annotated[SweepPath, AfterValidator(_policy_path)]


class Param(ConfigModel):
    """One searched field: a range ``{low, high}`` (optionally ``step``, ``log``,
    ``integer``) or a list of ``choices``."""

    low: float | None = None
    high: float | None = None
    step: Annotated[float | None, Field(gt=0, description="grid step within the range")] = None
    log: Annotated[bool, Field(description="search on a log scale (low > 0)")] = False
    integer: Annotated[bool, Field(description="whole numbers only (counts)")] = False
    choices: Annotated[list[Value] | None, Field(min_length=1)] = None

    @model_validator(mode="after")
    def _shape(self) -> Param:
        ranged = self.low is not None or self.high is not None
        if ranged == (self.choices is not None):
            raise ValueError("give either `low` and `high`, or `choices`")
        if ranged:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both `low` and `high`")
            if self.low > self.high:
                raise ValueError(f"low ({self.low}) is above high ({self.high})")
            if self.log and self.low <= 0:
                raise ValueError("log: true needs low > 0")
            if self.log and self.step is not None:
                raise ValueError("`step` and `log` cannot be combined")
            if self.integer and (
                not float(self.low).is_integer() or not float(self.high).is_integer()
            ):
                raise ValueError("integer: true needs whole-number `low` and `high`")
        return self


class Objective(ConfigModel):
    """A metric to minimise or maximise (its mean over the candidate's seeds)."""

    metric: Metric
    direction: Literal["minimize", "maximize"] = "minimize"


class SeedPlan(ConfigModel):
    """How many seeds a candidate gets: ``min`` first, then ``step`` more at a
    time until every constraint's one-sided interval decides it, or ``max``."""

    min: Annotated[int, Field(ge=2, le=1000, description="seeds every candidate runs")] = 3
    max: Annotated[int, Field(ge=2, le=10_000, description="cap on seeds per candidate")] = 20
    step: Annotated[int, Field(ge=1, le=1000, description="seeds added per round")] = 3
    confidence: Annotated[
        Probability,
        Field(
            gt=0.5,
            lt=1.0,
            description="one-sided confidence with which a constraint must hold (or fail)",
        ),
    ] = 0.95

    @model_validator(mode="after")
    def _order(self) -> SeedPlan:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Uncertain(ConfigModel):
    """An uncertain input's range; numbers, or date-times for timing."""

    low: float | DateTime
    high: float | DateTime

    @model_validator(mode="after")
    def _order(self) -> Uncertain:
        if isinstance(self.low, dt.datetime) != isinstance(self.high, dt.datetime):
            raise ValueError("`low` and `high` must both be numbers or both date-times")
        if self.low >= self.high:  # type: ignore[operator]
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class RobustnessSpec(ConfigModel):
    """Uncertain inputs and how to explore them (SALib design)."""

    uncertain: Annotated[
        dict[SweepPath, Uncertain],
        Field(
            min_length=1,
            description="field path (scenario, host or policy) -> {low, high}",
        ),
    ]
    method: Annotated[
        Literal["morris", "sobol"],
        Field(description="morris: cheap screening (r(k+1) runs); sobol: variance shares"),
    ] = "morris"
    samples: Annotated[
        int,
        Field(ge=2, le=100_000, description="Morris trajectories, or Sobol base sample size"),
    ] = 10
    levels: Annotated[int, Field(ge=2, le=100, description="Morris grid levels")] = 4
    seeds: Annotated[
        int, Field(ge=1, le=1000, description="seeds per scenario (the same for every point)")
    ] = 1
    metrics: Annotated[
        list[Metric],
        Field(description="headline metrics whose sensitivity is ranked (default: constraints')"),
    ] = Field(default_factory=list)


class Optimization(ConfigModel):
    """A policy search: the cheapest rules that keep a platform within its host's thresholds."""

    kind: Literal["Optimization"]
    version: Version
    name: str
    description: str = ""
    scenario: Annotated[str, Field(description="Scenario file, relative to this file")]
    policy: Annotated[str, Field(description="base PlatformPolicy file, relative to this file")]
    hosts: Annotated[
        list[str], Field(description="HostPolicy files enforced together; [] for none")
    ] = Field(default_factory=list)
    overrides: Annotated[
        dict[SweepPath, Any],
        Field(
            description=(
                "fixed changes applied before searching, by path (e.g. scenario.days: 30, "
                "prefilter.review_team: jury)"
            )
        ),
    ] = Field(default_factory=dict)
    search: Annotated[
        dict[PolicyPath, Param],
        Field(min_length=1, description="policy field path -> {low, high} or {choices}"),
    ]
    objectives: Annotated[list[Objective], Field(min_length=1, max_length=4)]
    constraints: Annotated[
        list[ConstraintText],
        Field(description="'metric <= number' or 'metric >= number', on means over seeds"),
    ] = Field(default_factory=list)
    trials: Annotated[int, Field(ge=1, le=100_000, description="candidates to evaluate")] = 30
    seeds: SeedPlan = SeedPlan()
    seed: Annotated[int, Field(ge=0, description="base seed (runs and sampler)")] = 0
    sampler: Annotated[
        Literal["tpe", "nsga2", "random"],
        Field(description="optuna sampler (tpe handles constraints and several objectives)"),
    ] = "tpe"
    parallel: Annotated[
        int | None,
        Field(
            ge=1,
            le=1000,
            description="candidates in hand at once (default 2, whatever the workers: "
            "the trials depend on it, not on them)",
        ),
    ] = None
    robustness: RobustnessSpec | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Optimization:
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError("an objective is listed twice")
        both = set(self.search) & set(self.overrides)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both searched and overridden")
        return self

    def parsed_constraints(self) -> list[tuple[str, str, float]]:
        return [parse_constraint(c) for c in self.constraints]
