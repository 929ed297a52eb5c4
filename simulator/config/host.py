"""The ``HostPolicy`` document: how an enforcer (an infrastructure host, an app
store, a regulator) watches a platform it does not run, and when it acts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.base import ConfigModel
from simulator.config.common import PositiveFloat, Probability, Version


class Audit(ConfigModel):
    """Periodic sampling of live posts by the enforcer's own staff."""

    # Lower bounds on intervals: the enforcer steps through every check and
    # audit, so a nanosecond interval would hang the run (found by fuzzing).
    every_days: Annotated[float, Field(ge=1 / 24, description="days between audits")] = 7.0
    sample_size: Annotated[
        int, Field(ge=0, le=10_000_000, description="live posts sampled per audit")
    ] = 0


class Press(ConfigModel):
    """Press and watchdog escalation: after a surge, outsiders comb the platform."""

    enabled: bool = False
    trigger_posts_per_day: Annotated[
        int,
        Field(
            ge=1,
            description="violating posts made in the 24 hours before a check and still up "
            "that draw press and watchdog attention (a surge)",
        ),
    ] = 20000
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


class Notices(ConfigModel):
    """Notices listing the violating posts found, with a window to remove them."""

    every_hours: Annotated[
        float, Field(ge=0.1, description="how often the enforcer reviews its findings")
    ] = 24.0
    min_posts: Annotated[int, Field(ge=1, description="posts found before a notice is sent")] = 1
    remediation_hours: Annotated[
        PositiveFloat, Field(description="time the platform has to remove noticed posts")
    ] = 72.0


class Strikes(ConfigModel):
    """What counts as a failure, and how many failures lead to suspension."""

    failure: Annotated[
        Literal["noticed_post_live", "known_posts_live", "any"],
        Field(
            description="noticed_post_live: a noticed post still up when its window ends; "
            "known_posts_live: more than `known_posts_max` posts the enforcer found still up "
            "`known_posts_hours` after it found them; any: either"
        ),
    ] = "noticed_post_live"
    known_posts_max: Annotated[
        int, Field(ge=0, description="known_posts_live: posts tolerated before a failure")
    ] = 0
    known_posts_hours: Annotated[
        PositiveFloat, Field(description="known_posts_live: how long a found post may stay up")
    ] = 72.0
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

    enabled: bool = False
    found_posts_per_day: Annotated[
        int, Field(ge=1, description="violating posts found in 24 hours that trigger it")
    ] = 100
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
