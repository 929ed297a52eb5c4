"""The ``HostPolicy`` document: how an enforcer (an infrastructure host, an app
store, a regulator) watches a platform it does not run, and when it acts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from simulator.config.base import ConfigModel
from simulator.config.common import PositiveFloat


class Audit(ConfigModel):
    """Periodic sampling of live posts by the enforcer's own staff."""

    # Lower bounds on intervals: the enforcer steps through every check and
    # audit, so a nanosecond interval would hang the run (found by fuzzing).
    every_days: Annotated[float, Field(ge=1 / 24, description="days between audits")] = 7.0
    sample_size: Annotated[
        int, Field(ge=0, le=10_000_000, description="live posts sampled per audit")
    ] = 0


class Detection(ConfigModel):
    """How the enforcer learns of violating posts that are still up."""

    outside_reports_per_million_views: Annotated[
        float,
        Field(
            ge=0, description="views of a live violating post that reach the enforcer, per million"
        ),
    ] = 0.0
    audit: Audit = Audit()


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
        Literal["noticed_post_live"],
        Field(description="noticed_post_live: a noticed post still up when its window ends"),
    ] = "noticed_post_live"
    strikes_to_suspend: Annotated[int, Field(ge=1, le=1000)] = 3


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


class HostPolicy(ConfigModel):
    """An enforcer's rules."""

    kind: Literal["HostPolicy"]
    version: Literal[1]
    name: str
    description: str = ""
    detection: Detection = Detection()
    notices: Notices = Notices()
    strikes: Strikes = Strikes()
    suspension: Suspension = Suspension()
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
