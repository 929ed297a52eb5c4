"""The ``Calibration`` document: observed figures to fit, and the assumptions to fit them with.

A calibration names a scenario, a policy and hosts (as a search does), the
*free* fields (by path, with the ranges a search's ``search:`` takes) and the
*targets*: figures observed in the world, each with a tolerance, a trust
level (H, M, L, as DOMAIN.md grades sources) and where it comes from. A
target is one of four measures of a run:

* ``metric``: a run metric a search can constrain (``jury_backlog_max``,
  ``violating_removed``, ``suspended_after_days``) or a numeric path into a
  run's ``summary.json`` (``review.jury.backlog_max``, ``violating.removed``);
* ``event``: when an enforcer's event happened (``first_notice``, ``press``,
  ``emergency``, ``removal_notice``, ``final_notice`` (the notice of the
  removal that stood), ``removed``, ``reinstated``), observed as a date-time
  with its time zone, tolerance in hours;
* ``backlog_at``: a review team's backlog (cases waiting) at a date-time;
* ``noticed_by``: how many posts an enforcer had named in its notices by a date-time.

Which enforcer names exist is checked with the documents loaded
(:func:`simulator.document_checks.check_calibration`); everything else here.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from simulator.config.base import ConfigModel
from simulator.config.batch import host_item, sweep_target
from simulator.config.common import DateTime, Version
from simulator.config.search import Param, check_metric

EventName = Literal[
    "first_notice",
    "press",
    "emergency",
    "removal_notice",
    "final_notice",
    "removed",
    "reinstated",
]
"""The enforcer events a target may time: ``emergency`` when the emergency
clause fired, ``removal_notice`` when strikes gave notice of removal,
``final_notice`` whichever of the two scheduled the removal that stood (an
app store's ultimatum, a host's last notice), ``removed`` the suspension or
delisting."""
EVENTS: tuple[str, ...] = typing.get_args(EventName)
Trust = Literal["H", "M", "L"]
_STRICT_TRUST: tuple[Trust, ...] = ("H", "M")
TRUST_WEIGHTS = {"H": 1.0, "M": 0.5, "L": 0.25}
"""Default weight of a target's squared error, by how far its figure is trusted."""

# Numeric leaves of a run's summary.json, by pattern (tests check them against a run).
_TEAM = r"(jury|staff)"
_CLASS = r"(violent_threat|incitement|violent_news|heated_political|benign)"
_CHANNEL = r"(prefilter|jury|staff|notice)"
_SUMMARY_PATTERNS = (
    rf"posts\.created|posts\.by_class\.{_CLASS}",
    r"violating\.(count|removed|never_removed)",
    rf"violating\.removed_by\.{_CHANNEL}",
    r"violating\.(latency_hours|latency_hours_of_removed)\.p(50|90|99)",
    r"violating\.(time_to_detect_hours|time_from_detection_to_removal_hours)\.p(50|90)",
    r"violating\.views_before_removal\.(total|mean|p50|p90|p99)",
    r"legitimate\.(count|wrongly_removed|wrongly_removed_per_million)",
    rf"legitimate\.by_class\.{_CLASS}\.(count|wrongly_removed)",
    rf"legitimate\.wrongly_removed_by\.{_CHANNEL}",
    rf"review\.{_TEAM}\.(cases|decided_remove|decided_keep|expired|closed|pending)",
    rf"review\.{_TEAM}\.(decision_accuracy|backlog_max|backlog_end|utilisation)",
    rf"review\.{_TEAM}\.(wait_hours\.p(50|90)|wait_hours_mean)",
    rf"review\.{_TEAM}\.(reviewer_hours_available|reviewer_hours_used)",
    rf"review\.{_TEAM}\.by_kind\.[a-z_]+\.(decided_remove|decided_keep|expired|closed|pending)",
    rf"review\.{_TEAM}\.decisions_by_class\.{_CLASS}\.(removed|kept|correct_share)",
    r"jurors\.(pool_start|pool_end|joined|left|expected_on_duty_mean|sessions)",
    r"jurors\.(jurors_who_voted|share_of_votes_by_top_tenth)",
    r"jurors\.votes_per_active_juror\.p(50|90|99)",
    r"appeals\.(appealed|appealed_legitimate|appealed_violating|decided|restored|pending)",
    r"appeals\.(restored_legitimate|restored_violating|escalated_to_staff)",
    r"appeals\.down_hours_of_restored(\.p(50|90)|_legitimate_total)",
    r"enforcement\.(legitimate_posts_up_at_suspension|expected_posts_not_made)",
    r"enforcement\.posts_not_made_while_delisted",
    r"enforcement\.legitimate_speech_lost\.(posts_up_at_takedown|posts_not_made_while_delisted)",
    r"enforcement\.legitimate_speech_lost\.expected_posts_not_made_after_takedown",
    r"cost\.(total|per_day|per_1000_posts|staff_hours_paid|staff_hours_used)",
    r"cost\.(juror_hours_on_duty|juror_hours_used|posts_scored|appeals_handled)",
    r"cost\.by_item\.(staff|jurors|classifier|wrongful_removals|appeals)",
)
SUMMARY_PATH = re.compile("^(" + "|".join(f"(?:{p})" for p in _SUMMARY_PATTERNS) + ")$")


def check_measure_metric(name: str) -> str:
    """A run metric (``jury_backlog_max``) or a numeric summary path
    (``review.jury.backlog_max``)."""
    if "." in name:
        if not SUMMARY_PATH.match(name):
            raise ValueError(
                f"unknown summary path {name!r}; expected a number in a run's summary.json, "
                "such as review.jury.backlog_max, violating.removed, posts.created, "
                "violating.latency_hours.p90, cost.per_day"
            )
        return name
    if name == "changes":
        raise ValueError("'changes' counts a search's policy changes; a run has no such figure")
    return check_metric(name)


def _field_path(path: str) -> str:
    if host_item(path) is None:
        sweep_target(path)
    return path


FieldPath = Annotated[str, AfterValidator(_field_path)]
"""A field by path (``jury.pool_size``, ``scenario.days``, ``host.notices.min_posts``),
or one enforcer's (``hosts.1.detection.press.hours``)."""


def _aware(value: dt.datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; write its offset "
            "(2021-01-10T23:59:00-08:00) or Z for UTC"
        )


class Target(ConfigModel):
    """An observed figure: what to measure in a run, the value seen, how close counts."""

    name: Annotated[str, Field(min_length=1, description="a short name for the report")]
    metric: Annotated[
        str | None,
        AfterValidator(lambda v: v if v is None else check_measure_metric(v)),
        Field(description="a run metric (jury_backlog_max) or summary path (violating.removed)"),
    ] = None
    event: Annotated[
        EventName | None,
        Field(description="an enforcer event's time (final_notice: the notice of the removal)"),
    ] = None
    backlog_at: Annotated[
        DateTime | None, Field(description="a team's backlog (cases waiting) at this time")
    ] = None
    noticed_by: Annotated[
        DateTime | None, Field(description="posts an enforcer named in notices up to this time")
    ] = None
    enforcer: Annotated[
        str | None, Field(description="the enforcer's name (event, noticed_by)")
    ] = None
    team: Annotated[
        Literal["jury", "staff"] | None,
        Field(description="the review team (backlog_at; default jury)"),
    ] = None
    observed: Annotated[
        float | DateTime, Field(description="the figure seen (a date-time for an event)")
    ]
    tolerance: Annotated[
        float, Field(gt=0, description="how far off still fits (hours for an event)")
    ]
    trust: Annotated[
        Trust,
        Field(description="H: primary or several sources; M: one secondary; L: weak"),
    ]
    source: Annotated[str, Field(description="where the figure comes from")] = ""

    @model_validator(mode="after")
    def _one_measure(self) -> Target:
        given = [
            k
            for k in ("metric", "event", "backlog_at", "noticed_by")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `metric`, `event`, `backlog_at` or `noticed_by`"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.event is not None:
            if not isinstance(self.observed, dt.datetime):
                raise ValueError("an event's `observed` is a date-time with its time zone")
            _aware(self.observed, "observed")
        elif isinstance(self.observed, dt.datetime):
            raise ValueError(f"`observed` is a number for a {given[0]} target")
        if (self.event is not None or self.noticed_by is not None) and self.enforcer is None:
            raise ValueError(f"a {given[0]} target names its `enforcer`")
        if self.enforcer is not None and self.event is None and self.noticed_by is None:
            raise ValueError("`enforcer` belongs to event and noticed_by targets")
        if self.team is not None and self.backlog_at is None:
            raise ValueError("`team` belongs to backlog_at targets")
        for key in ("backlog_at", "noticed_by"):
            at = getattr(self, key)
            if at is not None:
                _aware(at, key)
        return self

    @property
    def review_team(self) -> str:
        return self.team or "jury"

    @property
    def measure(self) -> str:
        """Which of the four measures this target uses."""
        for k in ("metric", "event", "backlog_at", "noticed_by"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated")

    @property
    def observed_value(self) -> float:
        """The observed figure as a number: an event's time in hours since the Unix epoch."""
        if isinstance(self.observed, dt.datetime):
            return self.observed.timestamp() / 3600.0
        return float(self.observed)


class TrustWeights(ConfigModel):
    """The weight of a target's squared error, by trust level."""

    H: Annotated[float, Field(ge=0)] = TRUST_WEIGHTS["H"]
    M: Annotated[float, Field(ge=0)] = TRUST_WEIGHTS["M"]
    L: Annotated[float, Field(ge=0)] = TRUST_WEIGHTS["L"]


class Accept(ConfigModel):
    """Which candidates make the accepted set (approximate-Bayesian rejection)."""

    rule: Annotated[
        Literal["within", "quantile"],
        Field(
            description=(
                "within: every target of the `within` trust levels inside its tolerance; "
                "quantile: the best `quantile` share by distance"
            )
        ),
    ] = "within"
    within: Annotated[
        list[Trust],
        Field(min_length=1, description="trust levels whose targets must fit (rule within)"),
    ] = Field(default_factory=lambda: list(_STRICT_TRUST))
    quantile: Annotated[
        float, Field(gt=0, le=1, description="share of candidates kept (rule quantile)")
    ] = 0.1


class FreeParam(Param):
    """A free field's prior: a range ``{low, high}`` (``low`` below ``high``;
    optionally ``step``, ``log``, ``integer``) or a list of ``choices``."""

    @model_validator(mode="after")
    def _not_empty(self) -> FreeParam:
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(
                f"the range is empty: low ({self.low:g}) is not below high ({self.high:g})"
            )
        return self


def _seeds(value: int | list[int]) -> int | list[int]:
    if isinstance(value, list) and len(set(value)) != len(value):
        raise ValueError("a seed is listed twice")
    return value


class Calibration(ConfigModel):
    """A calibration: the assumptions (free fields) that reproduce observed figures."""

    kind: Literal["Calibration"]
    version: Version
    name: str
    description: str = ""
    scenario: Annotated[str, Field(description="Scenario file, relative to this file")]
    policy: Annotated[str, Field(description="PlatformPolicy file, relative to this file")]
    hosts: Annotated[
        list[str], Field(description="HostPolicy files enforced together; [] for none")
    ] = Field(default_factory=list)
    overrides: Annotated[
        dict[FieldPath, Any],
        Field(description="fixed changes applied first, by path (as in an Optimization)"),
    ] = Field(default_factory=dict)
    free: Annotated[
        dict[FieldPath, FreeParam],
        Field(
            min_length=1,
            description=(
                "field path (scenario., policy., host. or hosts.<i>.) -> {low, high} "
                "or {choices}: the prior range"
            ),
        ),
    ]
    targets: Annotated[list[Target], Field(min_length=1)]
    accept: Accept = Accept()
    weights: Annotated[
        TrustWeights, Field(description="weight of each trust level in the distance")
    ] = TrustWeights()
    trials: Annotated[int, Field(ge=1, le=100_000, description="candidates to evaluate")] = 50
    seeds: Annotated[
        Annotated[
            Annotated[int, Field(ge=1, le=1000), Tag("[count]")]
            | Annotated[
                list[Annotated[int, Field(ge=0)]],
                Field(min_length=1, max_length=1000),
                Tag("[list]"),
            ],
            # A list is a list of seeds and anything else a count: an error
            # then speaks of the one meant.
            Discriminator(lambda v: "[list]" if isinstance(v, list) else "[count]"),
        ],
        AfterValidator(_seeds),
        Field(
            description=(
                "runs per candidate: a count (replications of `seed`) or a list of run "
                "seeds; every candidate runs the same ones"
            )
        ),
    ] = 3
    seed: Annotated[int, Field(ge=0, description="base seed (runs and sampler)")] = 0
    parallel: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="candidates proposed at once (the results depend on it, not on workers)",
        ),
    ] = 4

    @model_validator(mode="after")
    def _consistent(self) -> Calibration:
        both = set(self.free) & set(self.overrides)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both free and overridden")
        names = [t.name for t in self.targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two targets are named {twice[0]!r}")
        return self

    def weight(self, target: Target) -> float:
        return float(getattr(self.weights, target.trust))
