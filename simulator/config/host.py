"""The ``HostPolicy`` document: how an enforcer (an infrastructure host, an app
store, a regulator) watches a platform it does not run, and when it acts."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.base import ConfigModel, omitted_when_none
from simulator.config.common import PositiveFloat, Probability, Version


class Audit(ConfigModel):
    """Periodic sampling of live posts by the enforcer's own staff (a cadence by design:
    an audit is a batch job, so it runs every ``every_days`` from the start)."""

    # Lower bounds on intervals: the enforcer steps through every audit, so a
    # nanosecond interval would hang the run (found by fuzzing).
    every_days: Annotated[float, Field(ge=1 / 24, description="days between audits")] = 7.0
    sample_size: Annotated[
        int, Field(ge=0, le=10_000_000, description="live posts sampled per audit")
    ] = 0


class Press(ConfigModel):
    """Press and watchdog escalation: when harm surges, outsiders comb the platform."""

    RETIRED: ClassVar[dict[str, str]] = {
        "trigger_posts_per_day": "press attention now follows harmful views: give "
        "trigger_views_per_hour (views per hour of violating posts still up) instead",
    }

    enabled: bool = False
    trigger_views_per_hour: Annotated[
        PositiveFloat,
        Field(
            description="harmful views per hour (views of violating posts still up, summed) "
            "that draw press and watchdog attention, the moment they are reached"
        ),
    ] = 50000.0
    reports_per_million_views: Annotated[
        float,
        Field(
            ge=0,
            description="while the attention lasts: views of a live violating post that "
            "reach the enforcer through the press and watchdogs, per million",
        ),
    ] = 10.0
    hours: Annotated[PositiveFloat, Field(description="how long the attention lasts")] = 72.0


class Detection(ConfigModel):
    """How the enforcer learns of violating posts that are still up."""

    outside_reports_per_million_views: Annotated[
        float,
        Field(
            ge=0, description="views of a live violating post that reach the enforcer, per million"
        ),
    ] = 0.0
    audit: Audit = Audit()
    press: Press = Press()
    area_weights: Annotated[
        dict[str, Annotated[float, Field(ge=0, le=1000)]] | None,
        Field(
            description=(
                "per policy area of the scenario (`default`: every area not named): the "
                "area's weight in the enforcer's attention, on every detection channel: "
                "its live posts reach the enforcer that many times as often per view by "
                "outside reports and by press reports, their views count that many times "
                "towards the harmful views per hour that draw the press, and an audit "
                "draws them that many times as readily as a legitimate post. A post that "
                "reaches the enforcer counts once, whatever its weight (0: the enforcer "
                "never finds, counts or names the area; null: every area alike)"
            )
        ),
    ] = None

    _undeclared = omitted_when_none("area_weights")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OfficeHours(ConfigModel):
    """When the enforcer's staff send letters, in the scenario's local time."""

    weekdays: Annotated[
        list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]],
        Field(
            default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
            min_length=1,
            description="days letters go out",
        ),
    ]
    start_hour: Annotated[float, Field(ge=0, lt=24, description="first hour letters go out")] = 9.0
    end_hour: Annotated[
        float, Field(gt=0, le=24, description="letters go out before this hour")
    ] = 17.0

    @model_validator(mode="after")
    def _a_day_has_hours(self) -> OfficeHours:
        if self.end_hour <= self.start_hour:
            raise ValueError(
                f"end_hour ({self.end_hour:g}) must be after start_hour ({self.start_hour:g})"
            )
        return self


class Notices(ConfigModel):
    """Notices listing the violating posts found, with a window to remove them."""

    every_hours: Annotated[
        float | None,
        Field(
            ge=0.1,
            description="a review cadence: letters go out only every this many hours from "
            "the start (null: as soon as `min_posts` posts are found)",
        ),
    ] = None
    office_hours: Annotated[
        OfficeHours | None,
        Field(description="letters go out only in office hours (null: at any hour)"),
    ] = None
    min_posts: Annotated[int, Field(ge=1, description="posts found before a notice is sent")] = 1
    remediation_hours: Annotated[
        PositiveFloat, Field(description="time the platform has to remove noticed posts")
    ] = 72.0


NOTICE_SIGNALS = frozenset({"noticed_posts_up", "repeat_offences"})
"""Signals that move only when a notice's window ends."""


class Signal(ConfigModel):
    """One observed figure a rule weighs: it adds ``weight * value / threshold`` to the
    rule's score, at most its weight; the rule fires the moment its score reaches 1."""

    threshold: Annotated[
        PositiveFloat,
        Field(description="the value at which the signal adds its whole weight to the score"),
    ]
    weight: Annotated[
        float,
        Field(
            ge=0,
            le=1000,
            description="the most this signal adds to the score (1: it fires the rule "
            "alone; 0: not at all)",
        ),
    ] = 1.0
    window_hours: Annotated[
        PositiveFloat | None,
        Field(
            description="trailing window the value is taken over (null: everything since "
            "the rule last fired)"
        ),
    ] = 24.0


class KnownPostsSignal(Signal):
    """Found posts still up a set time after the enforcer found them."""

    after_hours: Annotated[
        PositiveFloat, Field(description="how long a found post may stay up")
    ] = 72.0


class Signals(ConfigModel):
    """What a rule weighs: each a figure the enforcer observes of the platform's
    moderation, never the platform's internals (give only the ones it uses)."""

    found_posts: Annotated[
        Signal | None,
        Field(
            description="violating posts the enforcer found still up (outside reports, "
            "press, audits)"
        ),
    ] = None
    found_views: Annotated[
        Signal | None,
        Field(description="views the violating posts it found had when it found them"),
    ] = None
    noticed_posts_up: Annotated[
        Signal | None,
        Field(description="posts named in a notice still up when its window ended"),
    ] = None
    repeat_offences: Annotated[
        Signal | None,
        Field(description="notices whose window ended with posts still up (offences after notice)"),
    ] = None
    known_posts_up: Annotated[
        KnownPostsSignal | None,
        Field(description="found posts still up `after_hours` after they were found"),
    ] = None
    audit_prevalence: Annotated[
        Signal | None,
        Field(
            description="violating share of the posts its audits sampled (a share: "
            "threshold at most 1)"
        ),
    ] = None
    backlog_age_hours: Annotated[
        Signal | None,
        Field(
            description="median age (hours) of the reports waiting for review, as the "
            "platform states it when it answers a notice"
        ),
    ] = None
    backlog_reports: Annotated[
        Signal | None,
        Field(
            description="reports waiting for review, as the platform states it when it "
            "answers a notice"
        ),
    ] = None
    press_attention: Annotated[
        Signal | None,
        Field(description="1 once the press took notice (detection.press), within the window"),
    ] = None
    repeat_violators_active: Annotated[
        Signal | None,
        Field(
            description="accounts named in an earlier notice that the enforcer finds posting "
            "violating content again, made after that notice (needs a scenario with accounts)"
        ),
    ] = None

    def items(self) -> list[tuple[str, Signal]]:
        """The signals given, by name, in a fixed order."""
        return [(n, s) for n in type(self).model_fields if (s := getattr(self, n)) is not None]

    @model_validator(mode="after")
    def _can_fire(self) -> Signals:
        given = self.items()
        if not any(s.weight > 0 for _, s in given):
            raise ValueError(
                "give at least one signal with a positive weight: a rule that weighs "
                "nothing could never fire"
            )
        if self.audit_prevalence is not None and self.audit_prevalence.threshold > 1:
            raise ValueError(
                f"audit_prevalence.threshold is a share of sampled posts (at most 1); "
                f"got {self.audit_prevalence.threshold:g}"
            )
        return self


class Strikes(ConfigModel):
    """What counts as a failure (a strike), and how many lead to suspension."""

    RETIRED: ClassVar[dict[str, str]] = {
        "failure": "failures are now signals: noticed_post_live is "
        "`signals: {noticed_posts_up: {threshold: 1}}`, known_posts_live is "
        "`signals: {known_posts_up: {threshold: N + 1, after_hours: H}}`",
        "known_posts_max": "use signals.known_posts_up.threshold (known_posts_max + 1)",
        "known_posts_hours": "use signals.known_posts_up.after_hours",
    }

    signals: Annotated[
        Signals,
        Field(
            description="a strike each time their score reaches 1; the evidence behind a "
            "strike is used up by it"
        ),
    ] = Signals(noticed_posts_up=Signal(threshold=1.0))
    strikes_to_suspend: Annotated[int, Field(ge=1, le=1000)] = 3
    warning_at: Annotated[
        int | None,
        Field(ge=1, description="strikes at which a formal warning is sent (null: none)"),
    ] = None

    @model_validator(mode="after")
    def _warning_before_suspension(self) -> Strikes:
        if self.warning_at is not None and self.warning_at >= self.strikes_to_suspend:
            raise ValueError(
                f"warning_at ({self.warning_at}) must be below strikes_to_suspend "
                f"({self.strikes_to_suspend}): the warning would come with the suspension"
            )
        return self


class Emergency(ConfigModel):
    """Skip the contractual notice period when harm crosses a line."""

    RETIRED: ClassVar[dict[str, str]] = {
        "found_posts_per_day": "use `signals: {found_posts: {threshold: N, window_hours: 24}}`",
    }

    enabled: bool = False
    signals: Annotated[
        Signals,
        Field(description="the emergency clause fires the moment their score reaches 1"),
    ] = Signals(found_posts=Signal(threshold=100.0))
    notice_hours: Annotated[
        float, Field(ge=0, description="time from the emergency notice to suspension")
    ] = 24.0


class Suspension(ConfigModel):
    """Taking the whole platform down."""

    notice_period_days: Annotated[
        float, Field(ge=0, description="contractual notice before a suspension takes effect")
    ] = 30.0
    emergency: Emergency = Emergency()


class Reinstatement(ConfigModel):
    """Lifting a delisting once the platform has remediated."""

    enabled: bool = False
    clean_hours: Annotated[
        PositiveFloat,
        Field(
            description="reinstated once every post the enforcer found is down and it has "
            "found nothing new for this long"
        ),
    ] = 168.0


class HostPolicy(ConfigModel):
    """An enforcer's rules: an infrastructure host, an app store or a regulator."""

    kind: Literal["HostPolicy"]
    version: Version
    name: str
    description: str = ""
    effect: Annotated[
        Literal["takedown", "delist"],
        Field(
            description="takedown: the platform goes offline and the run ends (a host, a "
            "regulator's blocking order); delist: the app leaves a store and new users stop "
            "arriving through it"
        ),
    ] = "takedown"
    new_user_share: Annotated[
        Probability,
        Field(description="delist: share of new users who arrive through this store"),
    ] = 1.0
    detection: Detection = Detection()
    notices: Notices = Notices()
    strikes: Strikes = Strikes()
    suspension: Suspension = Suspension()
    reinstatement: Reinstatement = Reinstatement()
    thresholds_hours: Annotated[
        list[PositiveFloat],
        Field(
            default_factory=lambda: [1.0, 24.0, 168.0],
            description="removal-latency thresholds to report against (hours)",
        ),
    ]

    @field_validator("thresholds_hours")
    @classmethod
    def _sorted_unique(cls, v: list[float]) -> list[float]:
        return sorted(set(v))

    @model_validator(mode="after")
    def _reinstate_delistings(self) -> HostPolicy:
        if self.reinstatement.enabled and self.effect == "takedown":
            raise ValueError(
                "reinstatement.enabled needs effect 'delist': a takedown ends the run, so "
                "nothing could be reinstated"
            )
        if self.effect == "takedown" and self.new_user_share != 1.0:
            raise ValueError("new_user_share applies to effect 'delist' only")
        return self

    def signal_rules(self) -> list[tuple[str, Signals]]:
        """The rules whose signals the host weighs, with their field paths: the
        strikes', and the emergency suspension's when it is enabled."""
        rules = [("strikes.signals", self.strikes.signals)]
        if self.suspension.emergency.enabled:
            rules.append(("suspension.emergency.signals", self.suspension.emergency.signals))
        return rules

    @model_validator(mode="after")
    def _signals_have_a_source(self) -> HostPolicy:
        for path, signals in self.signal_rules():
            if signals.audit_prevalence is not None and self.detection.audit.sample_size == 0:
                raise ValueError(
                    f"{path}.audit_prevalence needs audits: set detection.audit.sample_size "
                    "above 0, or the enforcer never samples anything"
                )
            if signals.press_attention is not None and not self.detection.press.enabled:
                raise ValueError(
                    f"{path}.press_attention needs detection.press.enabled: true, or the "
                    "press never takes notice"
                )
        return self
