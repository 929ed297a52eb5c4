"""The ``Scenario`` document: the world and its synthetic post stream."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from simulator.config.accounts import AccountPopulation
from simulator.config.adversaries import Adversaries
from simulator.config.base import ConfigModel, omitted_when_none
from simulator.config.common import (
    DEFAULT_KEY,
    NAME_PATTERN,
    Date,
    DateTime,
    PerClassNonNegative,
    PerClassProbability,
    PositiveFloat,
    Probability,
    Version,
    hourly_profile_validator,
    per_class,
    per_class_problems,
)
from simulator.config.stream import Stream
from simulator.taxonomy import DEFAULT, Area, Taxonomy, taxonomy

_FLAT_DAY = [1.0] * 24


class UsersAt(ConfigModel):
    """Daily active users on a date; values between dates are interpolated linearly."""

    date: Date
    # The upper bounds here stop numbers no world has (more users than people,
    # a post a second all day) before they overflow the Poisson draws.
    users: Annotated[float, Field(ge=0, le=1e10, description="daily active users on that date")]


class Population(ConfigModel):
    """Who posts, how much, and when in the day."""

    daily_active_users: Annotated[
        list[UsersAt],
        Field(min_length=1, description="piecewise-linear growth path of daily active users"),
    ]
    posts_per_user_per_day: Annotated[
        float, Field(gt=0, le=86_400, description="posts and comments per active user per day")
    ]
    hourly_profile: Annotated[
        list[float],
        Field(
            default_factory=lambda: list(_FLAT_DAY),
            description="relative posting activity for each local hour 0-23 (normalised)",
        ),
    ]

    _check_profile = field_validator("hourly_profile")(hourly_profile_validator)

    @field_validator("daily_active_users")
    @classmethod
    def _dates_increase(cls, points: list[UsersAt]) -> list[UsersAt]:
        dates = [p.date for p in points]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("dates must be strictly increasing")
        return points


class Surge(ConfigModel):
    """A named period when posting volume and the share of violating posts jump."""

    name: str
    start: Annotated[DateTime, Field(description="local start time")]
    hours: PositiveFloat
    volume_multiplier: Annotated[float, Field(default=1.0, ge=0, le=1000)]
    violating_multiplier: Annotated[
        float,
        Field(default=1.0, ge=0, le=1e6, description="multiplies the share of violating classes"),
    ]


class Texts(ConfigModel):
    """How post texts and classifier scores are produced."""

    mode: Annotated[
        Literal["text", "sampled"],
        Field(
            description=(
                "text: every post gets a generated text that the classifier scores; "
                "sampled (scale mode): each post's score is drawn from the classifier's "
                "measured per-class score distribution, no text is generated"
            )
        ),
    ] = "text"
    languages: Annotated[
        dict[str, float], Field(default_factory=lambda: {"en": 1.0}, description="language mix")
    ]
    evasion_rate: Annotated[
        Probability, Field(description="share of posts written to evade filters")
    ] = 0.0

    @field_validator("languages")
    @classmethod
    def _mix(cls, mix: dict[str, float]) -> dict[str, float]:
        if not mix or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError("expected language shares >= 0 with a positive total")
        return mix


class AreaSpec(ConfigModel):
    """A policy area: the violating classes one rule covers, its severity and legal clock."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, description="e.g. violence, hate, spam")]
    classes: Annotated[
        list[Annotated[str, Field(pattern=NAME_PATTERN)]],
        Field(description="the violating classes of this area (at least one)"),
    ]
    severity: Annotated[
        int,
        Field(
            ge=1,
            le=100,
            description="higher is more severe; review queues with `priority: severity` "
            "serve the most severe area first",
        ),
    ] = 1
    clock_hours: Annotated[
        float,
        Field(
            gt=0,
            le=8760,
            description="the area's legal clock: a violating post should be down within "
            "this many hours of its creation (EU terrorist content: 1; NetzDG manifestly "
            "unlawful: 24; NetzDG other unlawful: 168)",
        ),
    ] = 24.0

    @field_validator("classes")
    @classmethod
    def _some(cls, classes: list[str]) -> list[str]:
        if not classes:
            raise ValueError("an area needs at least one violating class")
        return classes


class Content(ConfigModel):
    """What is posted: the class mix, and the classes and areas posts fall in."""

    areas: Annotated[
        list[AreaSpec] | None,
        Field(
            description=(
                "the policy areas and their violating classes (null: one area, violence, "
                "with violent_threat and incitement, 24 h clock)"
            )
        ),
    ] = None
    legitimate_classes: Annotated[
        list[Annotated[str, Field(pattern=NAME_PATTERN)]] | None,
        Field(
            description=(
                "the legitimate classes, with `areas` (null: violent_news, "
                "heated_political, benign)"
            )
        ),
    ] = None

    class_shares: Annotated[
        PerClassNonNegative | None,
        Field(
            description=(
                "share of posts in each class; normalised to sum to 1 (required for a "
                "synthetic stream; for a replayed log, the mix it is expected to have: "
                "prefilter targets on the stream's mix are met on it)"
            )
        ),
    ] = None
    texts: Texts = Texts(mode="text", languages={"en": 1.0}, evasion_rate=0.0)
    thinning: Annotated[
        Literal["auto", "off"],
        Field(
            description=(
                "auto: legitimate posts no stage can touch (never reported, never scored "
                "above a threshold) are counted per hour and class instead of drawn one by "
                "one, the same results in distribution at a fraction of the cost; off: every "
                "post is drawn (see simulator/stream/thinning.py)"
            )
        ),
    ] = "off"

    @field_validator("class_shares")
    @classmethod
    def _positive_total(cls, shares: dict[str, float] | None) -> dict[str, float] | None:
        if shares is not None and sum(shares.values()) <= 0:
            raise ValueError("class shares must have a positive total")
        return shares

    @model_validator(mode="after")
    def _classes(self) -> Content:
        if (self.areas is None) != (self.legitimate_classes is None):
            given = "areas" if self.areas is not None else "legitimate_classes"
            raise ValueError(
                f"{given} needs its partner: declare both `areas` and `legitimate_classes` "
                "(or neither, for the default violence taxonomy)"
            )
        if self.areas is None or self.legitimate_classes is None:
            return self
        if not self.legitimate_classes:
            raise ValueError(
                "legitimate_classes is empty: a platform needs at least one class of "
                "legitimate posts"
            )
        seen: dict[str, str] = {}
        for i, area in enumerate(self.areas):
            for c in area.classes:
                if c in seen:
                    raise ValueError(
                        f"areas[{i}] lists class {c!r}, already in {seen[c]}: a class "
                        "belongs to one area"
                    )
                seen[c] = f"area {area.name!r}"
        names = [a.name for a in self.areas]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"areas[{i}] repeats the area name {name!r}")
        for i, c in enumerate(self.legitimate_classes):
            if c in seen:
                raise ValueError(
                    f"legitimate_classes[{i}] ({c!r}) is already in {seen[c]}: a class is "
                    "legitimate or violating, not both"
                )
            seen[c] = "legitimate_classes"
        if DEFAULT_KEY in seen:
            raise ValueError(
                f"{DEFAULT_KEY!r} cannot name a class (it is the per-class maps' fallback)"
            )
        return self

    # No declaration, no keys: the documents a run records stay as they were before
    # classes could be declared (and a results folder's inputs with them).
    _undeclared = omitted_when_none("areas", "legitimate_classes")

    @property
    def taxonomy(self) -> Taxonomy:
        """The run's classes and areas (the default when none are declared)."""
        if self.areas is None or self.legitimate_classes is None:
            return DEFAULT
        return taxonomy(
            tuple(
                Area(a.name, tuple(a.classes), a.severity, float(a.clock_hours)) for a in self.areas
            ),
            tuple(self.legitimate_classes),
        )


class Reach(ConfigModel):
    """How many views a post gets over its life, and how fast."""

    median_views: Annotated[
        PerClassNonNegative, Field(description="median lifetime views of a post, per class")
    ]
    sigma: Annotated[
        float, Field(gt=0, description="log-normal spread of lifetime views (heavy tail)")
    ] = 1.5
    half_life_hours: Annotated[
        PositiveFloat, Field(description="half of a post's remaining views come within this time")
    ] = 6.0


class Audience(ConfigModel):
    """How viewers report what they see."""

    reports_per_1000_views: Annotated[
        PerClassNonNegative,
        Field(description="reports per 1,000 views from a neutral audience, per class"),
    ]
    sympathy: Annotated[
        PerClassProbability,
        Field(description="share of the audience that agrees with the content and never reports"),
    ]


class Appeals(ConfigModel):
    """How often authors of removed posts appeal, and how soon."""

    share_if_legitimate: Annotated[
        Probability, Field(description="share of wrongly removed authors who appeal")
    ] = 0.0
    share_if_violating: Annotated[
        Probability, Field(description="share of rightly removed authors who appeal anyway")
    ] = 0.0
    mean_delay_hours: Annotated[
        PositiveFloat, Field(description="mean time from removal to appeal (exponential)")
    ] = 6.0


class Scenario(ConfigModel):
    """The world a policy is tried in: population, post stream, reach and audience."""

    kind: Literal["Scenario"]
    version: Version
    name: str
    description: str = ""
    start: Annotated[DateTime, Field(description="local time the simulation starts")]
    timezone: Annotated[str, Field(description="IANA time zone, e.g. America/Los_Angeles")] = "UTC"
    days: Annotated[int, Field(gt=0, le=3650)]
    stream: Annotated[
        Stream,
        Field(
            default_factory=Stream,
            description="where posts come from: the generator or a post log",
        ),
    ]
    population: Annotated[
        Population | None, Field(description="who posts (required for a synthetic stream)")
    ] = None
    content: Content = Content()
    reach: Reach
    audience: Audience
    surges: Annotated[list[Surge], Field(default_factory=list)]
    appeals: Appeals = Appeals()
    accounts: Annotated[
        AccountPopulation | None,
        Field(
            description=(
                "the authors behind the posts: posting rates, repeat offenders, followers, "
                "ban evasion (null: posts have no authors)"
            )
        ),
    ] = None
    adversaries: Annotated[
        Adversaries | None,
        Field(
            description=(
                "groups working against moderation: report brigading, coordinated "
                "campaigns (null: none)"
            )
        ),
    ] = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (expected an IANA name)") from exc
        return name

    @model_validator(mode="after")
    def _end_representable(self) -> Scenario:
        # Checked before anything adds `days` to `start`. A day to spare: a
        # local time near the end may be a day later in UTC.
        start = self.start.replace(tzinfo=None)
        if dt.datetime.max - start < dt.timedelta(days=self.days + 1):
            raise ValueError(
                f"start ({start:%Y-%m-%d %H:%M}) plus {self.days} day(s) ends after the last "
                "date a run can reach (9999-12-30); start earlier or lower `days`"
            )
        return self

    @model_validator(mode="after")
    def _stream_inputs(self) -> Scenario:
        # A synthetic stream needs the population and class mix; a replayed log
        # brings its own posts, so generator settings there would be ignored
        # silently -- refuse them instead.
        if not self.stream.is_file:
            if self.population is None:
                raise ValueError("population is required for a synthetic stream")
            if self.content.class_shares is None:
                raise ValueError(
                    "content is missing class_shares, which a synthetic stream requires"
                )
        else:
            if self.population is not None:
                raise ValueError(
                    "population describes a synthetic stream; remove it when replaying a "
                    "file (stream.hourly_profile sets the jurors' daily rhythm)"
                )
            if self.surges:
                raise ValueError(
                    "surges shape a synthetic stream; remove them when replaying a file"
                )
            if self.adversaries is not None:
                raise ValueError(
                    "adversaries act on a synthetic stream; remove `adversaries` when "
                    "replaying a file"
                )
            if self.accounts is not None:
                columns = self.stream.columns
                if columns is None or columns.author is None:
                    raise ValueError(
                        "accounts on a replayed log need its authors: map the log's author "
                        "column in stream.columns.author"
                    )
                given = sorted(
                    set(self.accounts.model_fields_set) & set(self.accounts.POPULATION_FIELDS)
                )
                if given:
                    raise ValueError(
                        f"accounts.{given[0]} describes a synthetic population; a replayed "
                        "log's authors come from its author column (only accounts.evasion "
                        "and accounts.adaptation are read)"
                    )
        return self

    @model_validator(mode="after")
    def _surges_inside(self) -> Scenario:
        start = self.start.replace(tzinfo=None)
        end = start + dt.timedelta(days=self.days)
        for i, surge in enumerate(self.surges):
            s = surge.start.replace(tzinfo=None)
            if s < start or s >= end:
                raise ValueError(
                    f"surges[{i}] ({surge.name!r}) starts {s:%Y-%m-%d %H:%M}, outside the "
                    f"scenario ({start:%Y-%m-%d} to {end:%Y-%m-%d}); move it or lengthen `days`"
                )
        return self

    @model_validator(mode="after")
    def _per_class_maps(self) -> Scenario:
        # Every per-class value of the scenario names its own classes, all of them.
        tax = self.content.taxonomy
        maps = {
            "content.class_shares": self.content.class_shares,
            "reach.median_views": self.reach.median_views,
            "audience.reports_per_1000_views": self.audience.reports_per_1000_views,
            "audience.sympathy": self.audience.sympathy,
        }
        for where, mapping in maps.items():
            if mapping is None:
                continue
            for key, message in per_class_problems(mapping, tax):
                raise ValueError(
                    f"{where}.{key} is an {message}" if key else f"{where} has {message}"
                )
        if not tax.is_default and not self.stream.is_file and self.content.texts.mode == "text":
            raise ValueError(
                "content.texts.mode 'text' needs the sampled mode with declared areas: the "
                "text corpus has the default classes only (violence), so scores of other "
                "areas come from the policy's card (set `texts: {mode: sampled}`)"
            )
        labels = self.stream.labels if self.stream.is_file else None
        if labels:
            bad = sorted({v for v in labels.values() if v not in tax.index})
            if bad:
                raise ValueError(
                    f"stream.labels map to unknown classes {bad}; expected one of "
                    f"{list(tax.classes)}"
                )
        if self.adversaries is not None:
            self.adversaries.check_classes(tax)
        return self

    @property
    def hours(self) -> float:
        return 24.0 * self.days

    @property
    def taxonomy(self) -> Taxonomy:
        """The scenario's content classes and policy areas."""
        return self.content.taxonomy

    def class_shares(self) -> list[float]:
        if self.content.class_shares is None:
            raise ValueError("this scenario gives no class_shares")
        raw = per_class(self.content.class_shares, self.taxonomy)
        total = sum(raw)
        return [v / total for v in raw]

    def daily_rhythm(self) -> list[float]:
        """Relative activity for each local hour: the population's, or the replay's."""
        if self.population is not None:
            return list(self.population.hourly_profile)
        return list(self.stream.hourly_profile)

    def hour_of(self, when: dt.datetime | dt.date) -> float:
        """Simulation hour (since start) of a local date or datetime."""
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, dt.time())
        delta = when.replace(tzinfo=None) - self.start.replace(tzinfo=None)
        return delta.total_seconds() / 3600.0

    def local_time(self, hour: float) -> dt.datetime:
        """The local datetime (time-zone aware) of a simulation hour."""
        naive = self.start.replace(tzinfo=None) + dt.timedelta(hours=float(hour))
        return naive.replace(tzinfo=ZoneInfo(self.timezone))
