"""The ``PlatformPolicy`` document: how a platform moderates.

Stages: an AI prefilter that scores posts, user reports that send posts to
review, a volunteer jury and paid staff that review cases, and the platform's
answer to host notices.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from simulator.config.accounts import AccountEnforcement
from simulator.config.adversaries import Matcher
from simulator.config.base import ConfigModel, omitted_when_none
from simulator.config.common import (
    NonNegativeFloat,
    PerClassProbability,
    PositiveFloat,
    Probability,
    Version,
    hourly_profile_validator,
)
from simulator.config.prefilter import (  # noqa: F401 (re-exported: the policy's parts)
    AreaScreen,
    ModelRef,
    Prefilter,
    ScoreTarget,
    Team,
    Threshold,
)
from simulator.taxonomy import Taxonomy

Priority = Literal["fifo", "score", "reach", "reports", "severity"]
_PRIORITY_HELP = (
    "order of the waiting line: fifo; score (classifier score); reach (views so far "
    "when the case opened); reports (reports expected so far when the case opened); "
    "severity (the post's policy area's severity, most severe first, legitimate posts "
    "last; first come, first served within a severity)"
)


_NO_SYMPATHY = {
    "violent_threat": 0.0,
    "incitement": 0.0,
    "violent_news": 0.0,
    "heated_political": 0.0,
    "benign": 0.0,
}
_JURY_ACCURACY = {
    "violent_threat": 0.85,
    "incitement": 0.75,
    "violent_news": 0.8,
    "heated_political": 0.8,
    "benign": 0.97,
}
_STAFF_ACCURACY = {
    "violent_threat": 0.97,
    "incitement": 0.93,
    "violent_news": 0.95,
    "heated_political": 0.95,
    "benign": 0.99,
}
"""Per-class defaults, for the default classes (a scenario with its own classes needs its own)."""


class ReportRoute(ConfigModel):
    """Where user reports of one policy area's posts go."""

    review_team: Annotated[Team, Field(description="who reviews reported posts of this area")]


class Reports(ConfigModel):
    """User reports: the n-th report on a live post opens a review case."""

    enabled: bool = True
    reports_to_queue: Annotated[
        int, Field(ge=1, le=1000, description="reports needed before a post is queued for review")
    ] = 1
    review_team: Annotated[
        Team,
        Field(description="who reviews reported posts (of an area without its own route)"),
    ] = "jury"
    areas: Annotated[
        dict[str, ReportRoute] | None,
        Field(
            description=(
                "per policy area of the scenario: the team that reviews its reported posts "
                "(a report of an area not named, or of a legitimate post, goes to "
                "review_team; null: every report to review_team). Teams share one queue "
                "each: routing an area to its own team is a queue for that area"
            )
        ),
    ] = None
    rereports_after_keep: Annotated[
        int,
        Field(
            ge=0,
            le=100,
            description=(
                "times a post kept by review can be reported again: its later views bring "
                "new reports, and another `reports_to_queue` of them open a new case"
            ),
        ),
    ] = 0

    _undeclared = omitted_when_none("areas")

    def teams_by_class(self, taxonomy: Taxonomy) -> list[Team]:
        """Per class code: the team its reported posts go to."""
        routes = self.areas or {}
        out: list[Team] = [self.review_team] * taxonomy.n_classes
        for code in range(taxonomy.n_classes):
            area = int(taxonomy.area_of[code])
            if area >= 0 and (route := routes.get(taxonomy.area_names[area])) is not None:
                out[code] = route.review_team
        return out

    def teams(self) -> list[tuple[str, Team]]:
        """The teams reports can go to, each with the field that names it."""
        used: list[tuple[str, Team]] = [("reports.review_team", self.review_team)]
        for name, route in (self.areas or {}).items():
            used.append((f"reports.areas.{name}.review_team", route.review_team))
        return used


class JurorPopulation(ConfigModel):
    """Jurors as individuals: pool dynamics, when they are on duty, how well they vote.

    Without this block the jury is a team of interchangeable reviewers,
    ``pool_size * active_share`` on duty on average (the queueing-theory model).
    """

    hourly_profile: Annotated[
        list[float] | None,
        Field(
            description=(
                "relative juror activity for each local hour 0-23; default: the "
                "scenario's posting rhythm (volunteers review when users are online)"
            )
        ),
    ] = None
    weekday_profile: Annotated[
        list[float],
        Field(
            default_factory=lambda: [1.0] * 7,
            description="relative juror activity Monday to Sunday (normalised)",
        ),
    ]
    session_reviews: Annotated[
        PositiveFloat,
        Field(description="mean reviews in a session (geometric); then the juror leaves"),
    ] = 10.0
    idle_minutes: Annotated[
        float,
        Field(ge=0, description="a juror with nothing to review waits this long, then leaves"),
    ] = 10.0
    accuracy_concentration: Annotated[
        float | None,
        Field(
            gt=0,
            description=(
                "per-juror accuracy is drawn from a beta distribution with the jury's "
                "accuracy as mean and this concentration (a + b; lower = more spread); "
                "a juror good at one class is good at all; null: every juror is average"
            ),
        ),
    ] = None
    sympathetic_share: Annotated[
        Probability, Field(description="share of jurors who sympathise with the content")
    ] = 0.0
    sympathy: Annotated[
        PerClassProbability,
        Field(
            description=(
                "how much less often a sympathetic juror votes to remove a post of each "
                "class (0.5 halves it): lower recall on political violence"
            )
        ),
    ] = _NO_SYMPATHY
    attrition_per_week: Annotated[
        Probability, Field(description="share of the pool that stops volunteering each week")
    ] = 0.0
    recruits_per_week_per_1000_users: Annotated[
        float,
        Field(
            ge=0,
            description="new jurors each week per 1,000 daily active users (pool grows with them)",
        ),
    ] = 0.0

    @field_validator("hourly_profile")
    @classmethod
    def _hours(cls, v: list[float] | None) -> list[float] | None:
        return None if v is None else hourly_profile_validator(v)

    @field_validator("weekday_profile")
    @classmethod
    def _weekdays(cls, v: list[float]) -> list[float]:
        if len(v) != 7:
            raise ValueError(f"expected 7 values (Monday to Sunday), got {len(v)}")
        if any(x < 0 for x in v) or sum(v) <= 0:
            raise ValueError("weekday weights must be >= 0 with a positive total")
        return v


class Escalation(ConfigModel):
    """Jury cases handed to paid staff instead of being decided by the vote."""

    split: Annotated[
        bool,
        Field(
            description=(
                "escalate split decisions: at least `split_minority` votes against the "
                "outcome, or (first_k_agree) no side reached its votes"
            )
        ),
    ] = False
    split_minority: Annotated[int, Field(ge=1)] = 2
    reach_above: Annotated[
        float | None,
        Field(gt=0, description="escalate cases whose post had more views than this at decision"),
    ] = None

    @property
    def enabled(self) -> bool:
        return self.split or self.reach_above is not None


class Jury(ConfigModel):
    """Volunteer jurors who vote on reported posts."""

    # Upper bounds on head counts keep on-duty numbers inside int64 (fuzzing
    # found a 21-digit pool crashing the team's schedule).
    pool_size: Annotated[
        int, Field(ge=0, le=100_000_000, description="registered volunteer jurors")
    ] = 0
    active_share: Annotated[
        Probability,
        Field(
            description=(
                "average share of the pool reviewing at any hour (shaped by the daily rhythm)"
            )
        ),
    ] = 0.05
    reviews_per_hour: Annotated[
        PositiveFloat, Field(description="votes one juror casts per hour")
    ] = 30.0
    review_cv: Annotated[
        float,
        Field(ge=0, description="coefficient of variation of a vote's duration (1 = exponential)"),
    ] = 1.0
    votes_per_case: Annotated[int, Field(ge=1, le=101)] = 5
    rule: Annotated[
        Literal["majority", "supermajority", "unanimous", "threshold", "first_k_agree"],
        Field(
            description=(
                "threshold: remove when at least `votes_to_remove` votes say remove; "
                "first_k_agree: votes are cast until `votes_to_remove` agree either way "
                "(at most `votes_per_case`; needs `population`)"
            )
        ),
    ] = "majority"
    votes_to_remove: Annotated[int | None, Field(ge=1)] = None
    accuracy: Annotated[
        PerClassProbability, Field(description="probability a juror's vote is correct, per class")
    ] = _JURY_ACCURACY
    priority: Annotated[Priority, Field(description=_PRIORITY_HELP)] = "fifo"
    expire_after_hours: Annotated[
        float | None, Field(gt=0, description="reports not picked up within this long expire")
    ] = None
    population: Annotated[
        JurorPopulation | None,
        Field(description="jurors as individuals (sessions, skill, bias, pool dynamics)"),
    ] = None
    escalation: Escalation = Escalation()

    @model_validator(mode="after")
    def _rule(self) -> Jury:
        if self.rule == "first_k_agree" and self.population is None:
            raise ValueError(
                "rule 'first_k_agree' needs a `population` block (votes are drawn juror by juror)"
            )
        if self.rule == "threshold" and self.votes_to_remove is None:
            raise ValueError("rule 'threshold' needs `votes_to_remove`")
        if self.votes_to_remove is not None and self.votes_to_remove > self.votes_per_case:
            raise ValueError(
                f"votes_to_remove ({self.votes_to_remove}) exceeds votes_per_case "
                f"({self.votes_per_case}): no case could ever be removed"
            )
        if self.pool_size and self.votes_per_case > self.pool_size:
            raise ValueError(
                f"votes_per_case ({self.votes_per_case}) exceeds pool_size ({self.pool_size})"
            )
        return self

    def required_remove_votes(self) -> int:
        n = self.votes_per_case
        if self.votes_to_remove is not None:
            return self.votes_to_remove
        if self.rule in ("majority", "first_k_agree"):
            return n // 2 + 1
        if self.rule == "supermajority":
            return -(-2 * n // 3)  # ceil(2n/3)
        return n  # unanimous


class Staff(ConfigModel):
    """Paid reviewers working shifts."""

    reviewers: Annotated[
        int, Field(ge=0, le=10_000_000, description="reviewers on duty during a shift")
    ] = 0
    shift_start_hour: Annotated[int, Field(ge=0, le=23)] = 0
    shift_hours: Annotated[int, Field(ge=1, le=24)] = 24
    reviews_per_hour: Annotated[PositiveFloat, Field(description="decisions per reviewer-hour")] = (
        60.0
    )
    review_cv: Annotated[float, Field(ge=0)] = 1.0
    accuracy: PerClassProbability = _STAFF_ACCURACY
    priority: Annotated[Priority, Field(description=_PRIORITY_HELP)] = "score"
    expire_after_hours: Annotated[float | None, Field(gt=0)] = None


class NoticeSweep(ConfigModel):
    """A wider sweep a notice triggers: the classifier at a lower threshold."""

    enabled: bool = False
    review_above: Annotated[
        Probability, Field(description="score at or above which a swept post goes to review")
    ] = 0.5
    lookback_hours: Annotated[
        PositiveFloat, Field(le=720, description="posts made this long before the notice")
    ] = 72.0
    team: Annotated[Team, Field(description="who reviews swept posts")] = "staff"


class AppealReview(ConfigModel):
    """Who reviews appeals against removals (how often authors appeal is the scenario's)."""

    queue: Annotated[
        Literal["jury", "staff", "separate"],
        Field(
            description=(
                "jury or staff: appeals join that team's queue; separate: a dedicated "
                "team of `reviewers` paid reviewers working like staff"
            )
        ),
    ] = "staff"
    reviewers: Annotated[int, Field(ge=0, description="on duty (separate queue only)")] = 2
    reviews_per_hour: PositiveFloat = 20.0
    accuracy: PerClassProbability = _STAFF_ACCURACY
    priority: Annotated[Priority, Field(description=_PRIORITY_HELP)] = "fifo"


class NoticeHandling(ConfigModel):
    """How the platform answers a host's notice listing violating posts."""

    response_hours: Annotated[
        float, Field(ge=0, description="delay before the platform removes posts named in a notice")
    ] = 48.0
    compliance: Annotated[
        Probability, Field(description="share of noticed posts the platform actually removes")
    ] = 1.0
    staff_per_day: Annotated[
        float | None,
        Field(gt=0, description="noticed posts the notice desk can act on per day (null: any)"),
    ] = None
    jump_queue: Annotated[
        bool,
        Field(description="noticed posts go to the head of the review queue at once"),
    ] = False
    sweep: NoticeSweep = NoticeSweep()


class Costs(ConfigModel):
    """What moderation costs, so that runs and searches can weigh it.

    Paid reviewers are paid for their shifts (the hours they are on duty),
    whether or not there is work. Volunteer jurors' hours on duty are always
    counted; they cost money only if ``juror_hourly`` values them. Defaults:
    15 per paid reviewer-hour (within the 2-18 US dollars an hour reported for
    outsourced reviewers), 0.5 per 1,000 posts scored (the order of a cloud
    moderation API's list price; an assumption), nothing else.
    """

    currency: Annotated[str, Field(description="label only; no conversion")] = "USD"
    staff_hourly: Annotated[
        NonNegativeFloat, Field(description="cost of one paid reviewer-hour on shift")
    ] = 15.0
    juror_hourly: Annotated[
        NonNegativeFloat,
        Field(description="value of one volunteer juror-hour on duty (0: counted, not valued)"),
    ] = 0.0
    classifier_per_1000_posts: Annotated[
        NonNegativeFloat, Field(description="cost of scoring 1,000 posts with the prefilter")
    ] = 0.5
    per_wrongful_removal: Annotated[
        NonNegativeFloat,
        Field(description="cost the team assigns to each legitimate post wrongly removed"),
    ] = 0.0
    per_appeal: Annotated[
        NonNegativeFloat,
        Field(
            description=(
                "cost of handling one appeal; counted for runs whose summary reports "
                "appeals (`appeals.handled`)"
            )
        ),
    ] = 0.0


class PlatformPolicy(ConfigModel):
    """A platform's moderation policy."""

    kind: Literal["PlatformPolicy"]
    version: Version
    name: str
    description: str = ""
    prefilter: Prefilter = Prefilter()
    reports: Reports = Reports()
    jury: Jury = Jury()
    staff: Staff = Staff()
    notices: NoticeHandling = NoticeHandling()
    appeals: AppealReview = AppealReview()
    costs: Costs = Costs()
    accounts: AccountEnforcement = AccountEnforcement()
    matcher: Annotated[
        Matcher,
        Field(
            description=(
                "a near-duplicate matcher against the scenario's coordinated campaigns "
                "(`adversaries.campaigns`)"
            )
        ),
    ] = Matcher()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name must not be empty")
        return v

    def case_teams(self) -> list[tuple[str, Team]]:
        """The teams user reports and prefilter flags open cases in, each with the
        field that names it: with ``prefilter.areas``, each area's own team, and the
        prefilter's ``review_team`` only if some area leaves its own out."""
        used: list[tuple[str, Team]] = []
        if self.reports.enabled:
            used += self.reports.teams()
        pre = self.prefilter
        if not pre.enabled:
            return used
        screens = pre.areas or {}
        if pre.areas is None or any(s.review_team is None for s in screens.values()):
            used.append(("prefilter.review_team", pre.review_team))
        for name, screen in screens.items():
            if screen.review_team is not None:
                used.append((f"prefilter.areas.{name}.review_team", screen.review_team))
        return used

    @model_validator(mode="after")
    def _teams_exist(self) -> PlatformPolicy:
        for where, team in self.case_teams():
            if team == "jury" and self.jury.pool_size == 0:
                raise ValueError(f"{where} is 'jury' but jury.pool_size is 0: add jurors")
            if team == "staff" and self.staff.reviewers == 0:
                raise ValueError(f"{where} is 'staff' but staff.reviewers is 0: add reviewers")
        if self.jury.escalation.enabled and self.staff.reviewers == 0:
            raise ValueError("jury.escalation sends cases to staff but staff.reviewers is 0")
        return self

    @model_validator(mode="after")
    def _sweep_team_exists(self) -> PlatformPolicy:
        sweep = self.notices.sweep
        if sweep.enabled:
            if sweep.team == "jury" and self.jury.pool_size == 0:
                raise ValueError("notices.sweep.team is 'jury' but jury.pool_size is 0")
            if sweep.team == "staff" and self.staff.reviewers == 0:
                raise ValueError("notices.sweep.team is 'staff' but staff.reviewers is 0")
        return self

    def appeal_team(self) -> str | None:
        """The queue appeals go to, or None if nobody can review them.

        A shared queue needs that team to exist; a policy without it simply
        cannot hear appeals (they are counted, never decided).
        """
        queue = self.appeals.queue
        if queue == "separate":
            return "appeals" if self.appeals.reviewers > 0 else None
        if queue == "jury":
            return "jury" if self.jury.pool_size > 0 else None
        return "staff" if self.staff.reviewers > 0 else None
