"""Field types shared by the three document kinds."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema

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


DEFAULT_KEY = "default"
"""The key of a per-class map that stands for every class the map does not name."""

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
"""What a class or area name may be: lower-case letters, digits and _, starting with a letter."""

_CLASS_NAME = re.compile(NAME_PATTERN)


def _class_names(mapping: dict[str, float]) -> dict[str, float]:
    bad = [k for k in mapping if not _CLASS_NAME.match(k)]
    if bad:
        raise ValueError(
            f"{bad[0]!r} is not a class name (lower-case letters, digits and _, "
            "starting with a letter)"
        )
    if not mapping:
        raise ValueError("expected one value per class (or a `default`), got an empty mapping")
    return mapping


def _probability(v: float) -> float:
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"expected a probability between 0 and 1, got {v}")
    return v


def _non_negative(v: float) -> float:
    if v < 0:
        raise ValueError(f"expected a number >= 0, got {v}")
    if v > 1e12:  # beyond any share, view count or rate; would overflow later
        raise ValueError(f"expected a number <= 1e12, got {v}")
    return v


_PER_CLASS_HELP = (
    "one value per content class of the scenario, keyed by class name; "
    "`default` stands for every class not named"
)


def _suggest_class_names(schema: dict[str, Any]) -> None:
    """A per-class map's JSON Schema names the default classes and `default` as
    properties (editors complete them) and still admits a scenario's own classes."""
    from simulator.taxonomy import CLASSES  # the config package loads before it

    value = schema.get("additionalProperties", {})
    schema["properties"] = {name: dict(value) for name in (*CLASSES, DEFAULT_KEY)}
    schema["propertyNames"] = {"pattern": NAME_PATTERN}


PerClassProbability = Annotated[
    dict[str, Annotated[float, AfterValidator(_probability)]],
    AfterValidator(_class_names),
    Field(
        description=_PER_CLASS_HELP + " (probabilities, 0 to 1)",
        json_schema_extra=_suggest_class_names,
    ),
]
"""One probability (0 to 1) per content class, keyed by class name."""

PerClassNonNegative = Annotated[
    dict[str, Annotated[float, AfterValidator(_non_negative)]],
    AfterValidator(_class_names),
    Field(description=_PER_CLASS_HELP + " (numbers >= 0)", json_schema_extra=_suggest_class_names),
]
"""One non-negative number per content class, keyed by class name."""


class ClassesLike(Protocol):
    """What per-class lookups need of a taxonomy: its class names in code order."""

    @property
    def classes(self) -> tuple[str, ...]: ...


def per_class_problems(
    mapping: dict[str, float], taxonomy: ClassesLike, *, strict_keys: bool = True
) -> list[tuple[str | None, str]]:
    """What is wrong with a per-class map under a taxonomy: ``(key, message)``
    pairs, the key at fault (None: the map as a whole)."""
    out: list[tuple[str | None, str]] = []
    known = set(taxonomy.classes)
    if strict_keys:
        for key in mapping:
            if key != DEFAULT_KEY and key not in known:
                out.append(
                    (
                        key,
                        f"unknown class {key!r}; the scenario's classes are "
                        f"{', '.join(taxonomy.classes)}",
                    )
                )
    if DEFAULT_KEY not in mapping:
        missing = [c for c in taxonomy.classes if c not in mapping]
        if missing:
            out.append(
                (
                    None,
                    f"no value for {', '.join(missing)}: give one per class of the "
                    "scenario, or a `default`",
                )
            )
    return out


def per_class(mapping: dict[str, float], taxonomy: ClassesLike) -> list[float]:
    """The map's value for each class of ``taxonomy``, in code order (``default``
    for classes not named; names of classes the taxonomy lacks are ignored here:
    :mod:`simulator.checks` reports those a user wrote)."""
    problems = per_class_problems(mapping, taxonomy, strict_keys=False)
    if problems:
        raise ValueError(problems[0][1])
    fallback = mapping.get(DEFAULT_KEY)
    return [float(mapping[c]) if c in mapping else float(fallback) for c in taxonomy.classes]  # type: ignore[arg-type]


def hourly_profile_validator(values: list[float]) -> list[float]:
    """24 non-negative weights, not all zero."""
    if len(values) != 24:
        raise ValueError(f"expected 24 values (one per hour of the day), got {len(values)}")
    if any(v < 0 for v in values):
        raise ValueError("hourly weights must be >= 0")
    if sum(values) <= 0:
        raise ValueError("at least one hourly weight must be > 0")
    return values
