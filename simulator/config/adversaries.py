"""Adversaries: organised groups working against the platform's moderation.

The scenario's ``adversaries:`` section describes them; each part is off unless
given, so files without it keep their results bit for bit.

* ``brigading``: organised false reports against legitimate posts of target
  classes. A brigaded post reaches the report count early and loads the review
  queue; on a volunteer jury, votes from the brigade's own members and jurors
  swayed by a pile of reports can push its removal (staff are neither).
* ``campaigns``: a group of accounts posting the same violating content in a
  burst.

The policy's ``matcher:`` is the platform's answer to campaigns: a
near-duplicate matcher that, once one copy of a campaign's content is down,
takes down the other copies after a delay, with a stated recall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from simulator.config.base import ConfigModel
from simulator.config.common import NonNegativeFloat, PositiveFloat, Probability

if TYPE_CHECKING:
    from simulator.taxonomy import Taxonomy


def _one_of(names: list[str] | tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class BrigadeJury(ConfigModel):
    """How brigading reaches a volunteer jury's decision on a targeted post.

    Each vote a juror would cast "keep" turns to "remove" with probability
    ``1 - (1 - member_vote_share) * (1 - sway)``, where ``sway`` is
    ``1 - (1 - report_sway) ** log2(1 + reports_per_post / reports_to_queue)``.
    Paid staff are neither members nor swayed.
    """

    member_vote_share: Annotated[
        Probability,
        Field(
            description=(
                "share of the votes on a targeted post cast by jurors who belong to the "
                "brigading side (they vote remove)"
            )
        ),
    ] = 0.0
    report_sway: Annotated[
        Probability,
        Field(
            description=(
                "share of honest jurors' keep votes that turn to remove for each doubling "
                "of the reports a post carries over what opens a case"
            )
        ),
    ] = 0.0


class Brigading(ConfigModel):
    """Organised false reports against legitimate posts (see simulator/adversaries/)."""

    targets: Annotated[
        list[str],
        Field(
            min_length=1,
            description="classes of legitimate posts the brigades report (of the scenario's "
            "legitimate_classes)",
        ),
    ]
    brigades_per_day: Annotated[
        float,
        Field(
            ge=0,
            le=1e6,
            description=(
                "brigades a day at the platform's average hour; they follow its daily rhythm"
            ),
        ),
    ]
    follow_surges: Annotated[
        bool, Field(description="brigades grow with the volume of a surge")
    ] = True
    posts_per_brigade: Annotated[
        PositiveFloat, Field(le=1e6, description="posts a brigade reports (on average)")
    ] = 10.0
    reports_per_post: Annotated[
        int, Field(ge=1, le=100_000, description="false reports the brigade files on each post")
    ] = 20
    delay_hours: Annotated[
        NonNegativeFloat,
        Field(
            le=8760,
            description="mean time from a post's creation to the brigade finding it (exponential)",
        ),
    ] = 2.0
    report_minutes: Annotated[
        PositiveFloat,
        Field(le=10_080, description="mean time between the brigade's reports on a post"),
    ] = 2.0
    jury: BrigadeJury = BrigadeJury()

    @field_validator("targets")
    @classmethod
    def _distinct(cls, targets: list[str]) -> list[str]:
        if len(set(targets)) != len(targets):
            raise ValueError("a target class is named twice")
        return targets


class Campaigns(ConfigModel):
    """Coordinated campaigns: a group of accounts posting the same violating content
    in a burst."""

    per_week: Annotated[
        float, Field(ge=0, le=1e5, description="campaigns starting per week (Poisson each day)")
    ]
    accounts: Annotated[
        int, Field(ge=1, le=100_000, description="accounts taking part in a campaign")
    ] = 20
    posts_per_account: Annotated[
        int, Field(ge=1, le=1000, description="copies each account posts")
    ] = 3
    burst_hours: Annotated[
        PositiveFloat,
        Field(le=720, description="the copies are posted within this time of the start"),
    ] = 6.0
    content: Annotated[
        str, Field(description="the class of the campaign's content (a violating class)")
    ] = "incitement"
    start_hours: Annotated[
        Literal["uniform", "rhythm"],
        Field(
            description=(
                "when in the day a campaign starts: uniform, or following the daily rhythm"
            )
        ),
    ] = "rhythm"


class Adversaries(ConfigModel):
    """Groups working against moderation (each part off unless given)."""

    brigading: Annotated[
        Brigading | None, Field(description="organised false reports of legitimate posts")
    ] = None
    campaigns: Annotated[
        Campaigns | None,
        Field(description="groups of accounts posting the same violating content in a burst"),
    ] = None

    @property
    def present(self) -> bool:
        """Whether any part is given (``adversaries: {}`` has none: the run is as without)."""
        return self.brigading is not None or self.campaigns is not None

    def check_classes(self, taxonomy: Taxonomy) -> None:
        """Targets are legitimate classes, a campaign's content a violating one, of
        the scenario's taxonomy (ValueError naming the field otherwise)."""
        legit = taxonomy.legitimate
        if self.brigading is not None:
            for i, c in enumerate(self.brigading.targets):
                if c not in legit:
                    raise ValueError(
                        f"adversaries.brigading.targets[{i}] expected: input should be "
                        f"{_one_of(legit)}; got {c!r}"
                    )
        if self.campaigns is not None and self.campaigns.content not in taxonomy.violating_classes:
            violating = [c for c in taxonomy.classes if c in taxonomy.violating_classes]
            raise ValueError(
                f"adversaries.campaigns.content expected: input should be "
                f"{_one_of(violating)}; got {self.campaigns.content!r}"
            )


class Matcher(ConfigModel):
    """A near-duplicate matcher: once one copy of a campaign's content is down (by any
    channel), the other copies come down after ``delay_minutes``, each with
    probability ``recall``; its removals count as the prefilter's."""

    enabled: bool = False
    recall: Annotated[
        Probability, Field(description="share of the other copies the matcher finds")
    ] = 0.9
    delay_minutes: Annotated[
        NonNegativeFloat,
        Field(le=525_600, description="time from the first removal to the matcher's"),
    ] = 10.0
