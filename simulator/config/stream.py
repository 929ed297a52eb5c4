"""Where a Scenario's posts come from: the synthetic generator, or a platform's post log.

A ``stream:`` section with ``source: file`` replays a CSV or Parquet log. The
scenario maps the file's column names to the roles modsim needs (creation
time and text are required; label, lifetime views, follower count and a
post id are optional) and says how to read its timestamps. Anything the log
does not hold is filled in by the model (see ``simulator/stream/replay.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from simulator.config.base import ConfigModel
from simulator.config.common import hourly_profile_validator

_FILE_ONLY = (
    "path",
    "columns",
    "views_per_follower",
)


class LogColumns(ConfigModel):
    """Which column of the post log plays which role (values are the file's column names)."""

    created_at: Annotated[str, Field(description="when the post was made (required)")]
    text: Annotated[str, Field(description="the post's text (required)")]
    label: Annotated[
        str | None,
        Field(
            description="ground truth: a class name or a value mapped by `labels`; blank = unknown"
        ),
    ] = None
    views: Annotated[
        str | None, Field(description="observed lifetime views (the post's total reach)")
    ] = None
    followers: Annotated[
        str | None,
        Field(description="author's follower count; reach = followers x `views_per_follower`"),
    ] = None
    post_id: Annotated[
        str | None,
        Field(description="integer order key: a day's posts are replayed in this order"),
    ] = None
    author: Annotated[
        str | None,
        Field(
            description="who made the post (any text or number naming the account): read "
            "when the policy acts on accounts or the scenario has `accounts:`"
        ),
    ] = None


class Stream(ConfigModel):
    """The post stream: generated from `population`/`content`, or replayed from a log file."""

    source: Annotated[
        Literal["synthetic", "file"],
        Field(description="synthetic: generated from population and content; file: a post log"),
    ] = "synthetic"
    path: Annotated[
        str | None,
        Field(description="the post log (.csv, .tsv or .parquet), relative to this file"),
    ] = None
    format: Annotated[
        Literal["auto", "csv", "tsv", "parquet"], Field(description="auto: from the file suffix")
    ] = "auto"
    encoding: Annotated[str, Field(description="text encoding of a CSV/TSV log")] = "utf-8"
    columns: LogColumns | None = None
    timestamps: Annotated[
        Literal["datetime", "hours", "unix_seconds"],
        Field(
            description=(
                "datetime: ISO-8601 text or Parquet timestamps; hours: hours since the "
                "scenario start (modsim's own posts.parquet); unix_seconds: seconds since "
                "1970-01-01 UTC"
            )
        ),
    ] = "datetime"
    time_zone: Annotated[
        str | None,
        Field(
            description=(
                "IANA zone of timestamps written without an offset (default: the "
                "scenario's timezone); timestamps with an offset are converted"
            )
        ),
    ] = None
    labels: Annotated[
        dict[str, str],
        Field(
            default_factory=dict,
            description=(
                "maps label values in the file to class names; class names map to themselves"
            ),
        ),
    ]
    views_per_follower: Annotated[
        float | None,
        Field(gt=0, description="lifetime views per follower, when `followers` gives the reach"),
    ] = None
    on_bad_rows: Annotated[
        Literal["error", "skip"],
        Field(description="error: refuse the log; skip: leave bad rows out and count them"),
    ] = "error"
    hourly_profile: Annotated[
        list[float],
        Field(
            default_factory=lambda: [1.0] * 24,
            description="relative activity per local hour 0-23, for the jurors' daily rhythm",
        ),
    ]
    chunk_rows: Annotated[int, Field(ge=1000, description="rows read at a time")] = 200_000
    max_rows: Annotated[
        int,
        Field(ge=1, description="a log with more data rows is refused (raise it for a larger log)"),
    ] = 50_000_000
    max_bytes: Annotated[
        int,
        Field(ge=1, description="a log larger than this (Parquet: uncompressed) is refused"),
    ] = 10_000_000_000
    training_rows: Annotated[
        int,
        Field(
            ge=10,
            description=(
                "labelled posts per side (violating or not) used to train the classifier "
                "that estimates the class of unlabelled posts"
            ),
        ),
    ] = 5000

    _check_profile = field_validator("hourly_profile")(hourly_profile_validator)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (expected an IANA name)") from exc
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Stream:
        if self.source == "synthetic":
            given = [k for k in _FILE_ONLY if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"{given[0]} is only for `source: file` (this stream is synthetic)"
                )
            return self
        if self.path is None:
            raise ValueError("path is required when `source: file`")
        if self.columns is None:
            raise ValueError(
                "columns is required when `source: file` (map at least created_at and text)"
            )
        if (
            self.columns.followers is not None
            and self.columns.views is None
            and self.views_per_follower is None
        ):
            raise ValueError(
                "views_per_follower is required when the reach comes from `columns.followers`"
            )
        return self

    @property
    def is_file(self) -> bool:
        return self.source == "file"

    @property
    def names_authors(self) -> bool:
        """Whether the replayed log maps an author column (posts have known authors)."""
        return self.is_file and self.columns is not None and self.columns.author is not None
