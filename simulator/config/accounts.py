"""Accounts: who posts (the scenario's ``accounts:``) and how the platform acts on
accounts (the policy's ``accounts:``).

The scenario's block describes authors as a population: heavy-tailed posting
rates, a small share of repeat offenders who make most violating posts,
followers that drive reach, account age, and how banned authors come back
under new accounts (ban evasion). The policy's block is the platform's account
enforcement: strikes on removals, their expiry, an escalation ladder, what a
banned account's posts become, and appeals of account actions. Both are off
unless given, so files without them keep their results.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from simulator.config.base import ConfigModel
from simulator.config.common import PerClassNonNegative, PositiveFloat, Probability

StrikeChannel = Literal["prefilter", "jury", "staff", "notice"]


class EvasionDelay(ConfigModel):
    """How long a banned author waits before coming back (log-normal)."""

    median_days: Annotated[
        PositiveFloat, Field(le=3650, description="median days from a ban to the new account")
    ] = 2.0
    sigma: Annotated[
        float,
        Field(ge=0, le=5, description="log-normal spread of the delay (0: always the median)"),
    ] = 1.0


class Evasion(ConfigModel):
    """Ban evasion: banned authors who return with a new account."""

    share: Annotated[
        Probability,
        Field(description="share of banned authors who come back with a new account"),
    ] = 0.0
    delay: EvasionDelay = EvasionDelay()


class Adaptation(ConfigModel):
    """Adaptive evasion: authors whose posts are removed learn to word their later
    violating posts past the prefilter (their scores shift down on the logit scale)."""

    score_shift_per_removal: Annotated[
        float,
        Field(
            ge=0,
            le=10,
            description=(
                "how far each removal of one of an author's posts lowers the logit of the "
                "prefilter's score on the author's later violating posts (0: no adaptation)"
            ),
        ),
    ] = 0.0
    max_shift: Annotated[
        float,
        Field(
            ge=0,
            le=20,
            description="the largest total shift on the logit scale, however many removals",
        ),
    ] = 2.0
    share: Annotated[
        Probability,
        Field(description="share of authors who adapt (the others never change their wording)"),
    ] = 1.0

    @property
    def enabled(self) -> bool:
        return self.score_shift_per_removal > 0 and self.max_shift > 0 and self.share > 0


class AccountPopulation(ConfigModel):
    """The authors behind the posts (see simulator/accounts/population.py)."""

    accounts_per_daily_user: Annotated[
        float,
        Field(
            gt=0,
            le=100,
            description=(
                "accounts that post, per daily active user; accounts join as the daily "
                "active users reach new highs (the scenario's growth)"
            ),
        ),
    ] = 1.0
    activity_sigma: Annotated[
        float,
        Field(
            ge=0,
            le=5,
            description=(
                "log-normal spread of accounts' posting rates (2.1: the most active 10% of "
                "accounts make 80% of posts)"
            ),
        ),
    ] = 2.1
    offender_share: Annotated[
        float,
        Field(gt=0, lt=1, description="share of accounts that are repeat offenders"),
    ] = 0.05
    offender_post_share: Annotated[
        float,
        Field(
            gt=0,
            lt=1,
            description=(
                "share of violating posts the repeat offenders make (their violating "
                "propensity is raised to give it; must be at least offender_share)"
            ),
        ),
    ] = 0.8
    followers_reach_correlation: Annotated[
        float,
        Field(
            ge=0,
            lt=1,
            description=(
                "correlation between an account's log follower count and the log reach of "
                "its posts (0: followers do not drive reach)"
            ),
        ),
    ] = 0.5
    followers_median: Annotated[
        PositiveFloat,
        Field(
            le=1e9,
            description=(
                "deprecated, no effect: accounts fall into follower tiers by rank, so no "
                "result depends on it; delete it (a scenario that changes it is warned)"
            ),
        ),
    ] = 50.0
    followers_sigma: Annotated[
        float,
        Field(
            ge=0,
            le=5,
            description=(
                "deprecated, no effect: no result depends on the spread of follower counts; "
                "delete it (a scenario that changes it is warned)"
            ),
        ),
    ] = 2.0
    initial_age_days: Annotated[
        PositiveFloat,
        Field(
            le=36500,
            description=(
                "deprecated, no effect: no result depends on account age; delete it (a "
                "scenario that changes it is warned)"
            ),
        ),
    ] = 365.0
    evasion: Evasion = Evasion()
    adaptation: Annotated[
        Adaptation,
        Field(description="authors who adapt their wording to the prefilter after removals"),
    ] = Adaptation()

    INERT_FIELDS: ClassVar[tuple[str, ...]] = (
        "followers_median",
        "followers_sigma",
        "initial_age_days",
    )
    """Fields kept so that older scenarios still load, though nothing reads them:
    :func:`simulator.checks.check_scenario` warns where a scenario changes one."""

    POPULATION_FIELDS: ClassVar[tuple[str, ...]] = (
        "accounts_per_daily_user",
        "activity_sigma",
        "offender_share",
        "offender_post_share",
        "followers_reach_correlation",
        "followers_median",
        "followers_sigma",
        "initial_age_days",
    )
    """What describes a synthetic population (a replayed log's authors are its own)."""

    @model_validator(mode="after")
    def _offenders_over_represented(self) -> AccountPopulation:
        if self.offender_post_share < self.offender_share:
            raise ValueError(
                f"offender_post_share ({self.offender_post_share:g}) is below offender_share "
                f"({self.offender_share:g}): repeat offenders would post less violating "
                "content than others"
            )
        return self


class Rung(ConfigModel):
    """One rung of an escalation ladder: the action at a strike count."""

    strikes: Annotated[
        int, Field(ge=1, le=100, description="active strikes at which this action is taken")
    ]
    action: Annotated[
        Literal["warn", "suspend", "ban"],
        Field(description="warn; suspend for `days`; ban (permanent)"),
    ]
    days: Annotated[
        float | None, Field(gt=0, le=3650, description="length of a suspension (suspend only)")
    ] = None

    @model_validator(mode="after")
    def _days(self) -> Rung:
        if self.action == "suspend" and self.days is None:
            raise ValueError("days: a suspension needs its length in days")
        if self.action != "suspend" and self.days is not None:
            raise ValueError(f"days is only read for `action: suspend` (action is {self.action})")
        return self


class AccountAppeals(ConfigModel):
    """Appeals of bans, decided by the platform's staff after a delay."""

    share: Annotated[Probability, Field(description="share of banned accounts that appeal")] = 0.0
    decision_hours: Annotated[
        PositiveFloat, Field(le=8760, description="time from the ban to the appeal's decision")
    ] = 72.0
    accuracy: Annotated[
        Probability,
        Field(
            description=(
                "probability the decision is right: a ban of an account that made no "
                "violating post is lifted, any other stands"
            )
        ),
    ] = 0.9


_ALL_CHANNELS: list[StrikeChannel] = ["prefilter", "jury", "staff", "notice"]
_DEFAULT_LADDER = [
    Rung(strikes=1, action="warn"),
    Rung(strikes=2, action="suspend", days=1.0),
    Rung(strikes=3, action="suspend", days=7.0),
    Rung(strikes=4, action="ban"),
]


_ONE_STRIKE_EACH = {"default": 1.0}
"""One strike a removal, whatever the class (so under every scenario's classes)."""


class AccountEnforcement(ConfigModel):
    """Strikes on accounts, an escalation ladder, suspensions and bans."""

    enabled: Annotated[
        bool, Field(description="act on accounts (needs the scenario's `accounts:`)")
    ] = False
    strike_weight: Annotated[
        PerClassNonNegative,
        Field(
            description=(
                "strikes a removal adds, by the removed post's class (severity); a wrongly "
                "removed legitimate post strikes with its own class's weight"
            )
        ),
    ] = _ONE_STRIKE_EACH
    strikes_from: Annotated[
        list[StrikeChannel],
        Field(description="removal channels whose removals strike the author"),
    ] = _ALL_CHANNELS  # pydantic copies mutable defaults
    strike_expiry_days: Annotated[
        float | None,
        Field(gt=0, le=3650, description="a strike stops counting after this long (null: never)"),
    ] = 90.0
    ladder: Annotated[
        list[Rung],
        Field(max_length=20, description="actions by active strike count, in climbing order"),
    ] = _DEFAULT_LADDER
    on_ban: Annotated[
        Literal["remove_posts", "keep_posts"],
        Field(description="a banned account's posts still up come down with it, or stay"),
    ] = "remove_posts"
    appeals: AccountAppeals = AccountAppeals()

    @model_validator(mode="after")
    def _ladder_climbs(self) -> AccountEnforcement:
        ladder = self.ladder
        if self.enabled and not ladder:
            raise ValueError("ladder is empty: give at least one rung")
        for i in range(1, len(ladder)):
            prev, rung = ladder[i - 1], ladder[i]
            if rung.strikes <= prev.strikes:
                raise ValueError(
                    f"ladder[{i}].strikes ({rung.strikes}) is not above ladder[{i - 1}]'s "
                    f"({prev.strikes}): rungs must climb in strikes"
                )
            if prev.action == "ban":
                raise ValueError(f"ladder[{i}].action: nothing can follow a ban (ladder[{i - 1}])")
            if rung.action == "warn" and prev.action == "suspend":
                raise ValueError(
                    f"ladder[{i}].action: a warning after a suspension (ladder[{i - 1}]) is "
                    "out of order"
                )
            if (
                rung.action == "suspend"
                and prev.action == "suspend"
                and (rung.days or 0) < (prev.days or 0)
            ):
                raise ValueError(
                    f"ladder[{i}].days ({rung.days:g}) is shorter than ladder[{i - 1}]'s "
                    f"({prev.days:g}): suspensions must not shrink as strikes climb"
                )
        return self
