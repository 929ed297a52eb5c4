"""Field types shared by the three document kinds."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Strict, WithJsonSchema, field_validator

from simulator.config.base import ConfigModel
from simulator.taxonomy import CLASSES

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]

_ISO_DATE = re.compile(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|\s*$)")


def _date_input(value: Any) -> Any:
    """Dates come from YAML as date objects, or as text when written in a form
    YAML does not read as a date (``2021-01-06T12:00``); from JSON as text.
    Numbers are refused: pydantic would read them as Unix times."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError(
        f"expected a date (2021-01-06) or date-time (2021-01-06T12:00:00), got {value!r}"
    )


DATE_TIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
"""What the JSON Schemas accept for a date or date-time: ISO 8601 with or
without a time and with or without an offset. JSON Schema's ``date-time``
format (RFC 3339) demands an offset, so editors that check formats refused
every scenario's local times (``2021-03-01T00:00:00``)."""

_DATE_TIME_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": DATE_TIME_PATTERN,
        "description": "a date (2021-01-06) or local date-time (2021-01-06T12:00:00); "
        "an offset (Z, +01:00) is optional",
    }
)

Date = Annotated[dt.date, Strict(False), BeforeValidator(_date_input), _DATE_TIME_SCHEMA]
"""A date: a YAML date or ISO 8601 text (a date-time at midnight will do)."""
DateTime = Annotated[dt.datetime, Strict(False), BeforeValidator(_date_input), _DATE_TIME_SCHEMA]
"""A date-time: a YAML date or date-time, or ISO 8601 text; a date means its midnight."""


def _version_input(value: Any) -> Any:
    # A Literal[1] takes True and 1.0 even in strict mode.
    if isinstance(value, bool | float):
        raise ValueError(f"expected version 1 (a whole number), got {value!r}")
    return value


Version = Annotated[Literal[1], BeforeValidator(_version_input)]
"""The document format version (only 1 so far)."""


class PerClass(ConfigModel):
    """One number per content class (every class must be given)."""

    violent_threat: float
    incitement: float
    violent_news: float
    heated_political: float
    benign: float

    def as_list(self) -> list[float]:
        return [float(getattr(self, name)) for name in CLASSES]


class PerClassProbability(PerClass):
    """One probability (0 to 1) per content class."""

    @field_validator(*CLASSES)
    @classmethod
    def _in_unit_interval(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"expected a probability between 0 and 1, got {v}")
        return v


class PerClassNonNegative(PerClass):
    """One non-negative number per content class."""

    @field_validator(*CLASSES)
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"expected a number >= 0, got {v}")
        if v > 1e12:  # beyond any share, view count or rate; would overflow later
            raise ValueError(f"expected a number <= 1e12, got {v}")
        return v


def hourly_profile_validator(values: list[float]) -> list[float]:
    """24 non-negative weights, not all zero."""
    if len(values) != 24:
        raise ValueError(f"expected 24 values (one per hour of the day), got {len(values)}")
    if any(v < 0 for v in values):
        raise ValueError("hourly weights must be >= 0")
    if sum(values) <= 0:
        raise ValueError("at least one hourly weight must be > 0")
    return values
