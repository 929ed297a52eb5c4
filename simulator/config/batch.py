"""The ``Batch`` document, and field paths into the other documents.

A batch names scenarios, platform policies and host setups (files), a number
of seeds, and optional *sweeps*: a field given by its path, such as
``jury.pool_size`` or ``prefilter.auto_remove_above``, with the values to try.

A path is ``section.field`` (dots; list items by index, ``surges.0.hours``)
inside a PlatformPolicy, HostPolicy or Scenario. It may start with
``policy.``, ``host.`` or ``scenario.`` to say which; without a prefix it must
exist in exactly one of the three. :func:`sweep_target` resolves a path and
:func:`set_fields` applies values to a frozen model (re-validated), so a
policy search can reuse both; :func:`place_fields` does it without validating,
for checks that want pydantic's own errors.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from simulator.config.base import ConfigModel
from simulator.config.common import Version
from simulator.config.describe import describe_error, format_path
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

TARGETS: dict[str, type[BaseModel]] = {
    "policy": PlatformPolicy,
    "host": HostPolicy,
    "scenario": Scenario,
}
"""Which document a sweep path may address, by its prefix."""

_FIXED = frozenset({"kind", "version"})


def _unwrap(annotation: Any) -> list[Any]:
    """The candidate types inside ``Annotated`` and unions (``X | None``)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _has_path(model: type[BaseModel], parts: list[str]) -> bool:
    """Whether ``parts`` names a field (or a list item / map key below one) of ``model``."""
    candidates: list[Any] = [model]
    for part in parts:
        found: list[Any] = []
        for current in candidates:
            if isinstance(current, type) and issubclass(current, BaseModel):
                field = current.model_fields.get(part)
                if field is not None:
                    found.extend(_unwrap(field.annotation))
            elif typing.get_origin(current) is list and part.isdigit():
                found.extend(_unwrap(typing.get_args(current)[0]))
            elif typing.get_origin(current) is dict:
                found.extend(_unwrap(typing.get_args(current)[1]))
        if not found:
            return False
        candidates = found
    return True


def sweep_target(path: str) -> tuple[str, list[str]]:
    """Resolve a field path to its document (``policy``, ``host``, ``scenario``) and parts.

    >>> sweep_target("jury.pool_size")
    ('policy', ['jury', 'pool_size'])
    >>> sweep_target("host.notices.every_hours")
    ('host', ['notices', 'every_hours'])
    """
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ValueError(f"expected a field path such as jury.pool_size, got {path!r}")
    if parts[0] in TARGETS:
        target, rest = parts[0], parts[1:]
        if not rest or rest[0] in _FIXED or not _has_path(TARGETS[target], rest):
            raise ValueError(f"{path!r} is not a field of a {TARGETS[target].__name__}")
        return target, rest
    if parts[0] in _FIXED:
        raise ValueError(f"{path!r} cannot be varied")
    matches = [t for t, model in TARGETS.items() if _has_path(model, parts)]
    if not matches:
        raise ValueError(f"{path!r} is not a field of a PlatformPolicy, HostPolicy or Scenario")
    if len(matches) > 1:
        options = " or ".join(f"{t}.{path}" for t in matches)
        raise ValueError(f"{path!r} is ambiguous: write {options}")
    return matches[0], parts


def host_item(path: str) -> tuple[int, str] | None:
    """A field of one enforcer of a host setup, by its place in the list:
    ``hosts.1.detection.press.hours`` -> ``(1, "detection.press.hours")``
    (a ``host.`` path sets the field on every enforcer); ``None`` for any
    other path. The rest is checked as a HostPolicy path."""
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "hosts" or not parts[1].isdigit():
        return None
    rest = ".".join(parts[2:])
    sweep_target(f"host.{rest}")
    return int(parts[1]), rest


def place_fields(model: BaseModel, values: Mapping[str, Any]) -> dict[str, Any]:
    """``model`` as data, with fields set by path; not validated (see :func:`set_fields`).

    A path may go through a value that holds no mapping yet: a threshold
    given as a score (``prefilter.auto_remove_above.precision`` turns it into
    the target ``{precision: ...}``) or an optional section left out
    (``jury.population.session_reviews``).
    """
    data = model.model_dump()
    kind = next((t for t, m in TARGETS.items() if isinstance(model, m)), None)
    for path, value in values.items():
        parts = path.split(".")
        if kind is not None and parts[0] == kind:
            parts = parts[1:]
        if not parts or parts[0] in _FIXED or not _has_path(type(model), parts):
            raise ConfigError(f"not a field of a {type(model).__name__}", field=path)
        node: Any = data
        for i, part in enumerate(parts):
            key: str | int = part
            if isinstance(node, list):
                key = int(part)
                if key >= len(node):
                    raise ConfigError(
                        f"index {key} is out of range: the list has {len(node)} item(s)",
                        field=path,
                    )
            if i == len(parts) - 1:
                node[key] = value
            else:
                if not isinstance(node[key], dict | list):
                    node[key] = {}
                node = node[key]
    return data


def set_fields(model: M, values: Mapping[str, Any]) -> M:
    """A copy of a frozen config model with fields set by path, re-validated.

    Paths are relative to the model (``jury.pool_size``) or carry its prefix
    (``policy.jury.pool_size``). Bad paths or values raise ConfigError naming
    the path.
    """
    data = place_fields(model, values)
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        loc, msg = describe_error(exc.errors()[0], type(model))
        where = format_path(loc) or "value"
        raise ConfigError(f"{where}: {msg}", field=", ".join(values)) from None


def _check_path(path: str) -> str:
    sweep_target(path)
    return path


SweepPath = Annotated[str, AfterValidator(_check_path)]
Value = bool | int | float | str | None


class Range(ConfigModel):
    """Evenly spaced values from ``from`` to ``to`` (both included)."""

    from_: Annotated[float, Field(alias="from", description="first value")]
    to: Annotated[float, Field(description="last value")]
    steps: Annotated[int, Field(ge=2, le=10_000, description="number of values")]
    scale: Annotated[
        Literal["linear", "log"],
        Field(description="log: evenly spaced on a log scale (both ends > 0)"),
    ] = "linear"
    integer: Annotated[
        bool, Field(description="round to whole numbers (duplicates dropped), for counts")
    ] = False

    @model_validator(mode="after")
    def _log_positive(self) -> Range:
        if self.scale == "log" and (self.from_ <= 0 or self.to <= 0):
            raise ValueError("scale 'log' needs `from` and `to` above 0")
        return self

    def values(self) -> list[float] | list[int]:
        n = self.steps - 1
        if self.scale == "log":
            a, b = math.log(self.from_), math.log(self.to)
            raw = [math.exp(a + (b - a) * i / n) for i in range(self.steps)]
        else:
            raw = [self.from_ + (self.to - self.from_) * i / n for i in range(self.steps)]
        raw[0], raw[-1] = self.from_, self.to  # exact ends, whatever the rounding
        if self.integer:
            return list(dict.fromkeys(round(v) for v in raw))
        # 12 significant digits: 0.1 + 0.2 style noise would otherwise name a value.
        return [float(f"{v:.12g}") for v in raw]


def _values_kind(value: Any) -> str:
    return "[range]" if isinstance(value, dict | Range) else "[list]"


# A mapping is a range and anything else a list: errors then speak of the one
# the user meant instead of listing both alternatives. (Tags in brackets are
# left out of the field path the loader reports.)
Values = Annotated[
    Annotated[list[Value], Tag("[list]")] | Annotated[Range, Tag("[range]")],
    Discriminator(_values_kind),
]


class Batch(ConfigModel):
    """Many runs: every scenario x policy x host setup x seed, at each sweep point."""

    kind: Literal["Batch"]
    version: Version
    name: str
    description: str = ""
    scenarios: Annotated[
        list[str], Field(min_length=1, description="Scenario files, relative to this file")
    ]
    policies: Annotated[
        list[str], Field(min_length=1, description="PlatformPolicy files, relative to this file")
    ]
    hosts: Annotated[
        list[str | list[str]],
        Field(
            min_length=1,
            default_factory=lambda: [[]],
            description=(
                "host setups: each a HostPolicy file, or a list of files enforced together; "
                "[] for no enforcer"
            ),
        ),
    ]
    seeds: Annotated[
        int, Field(ge=1, le=100_000, description="replications; each has its own seed")
    ] = 5
    seed: Annotated[
        int,
        Field(ge=0, description="base seed; replication i uses a seed derived from it and i"),
    ] = 0
    sweep: Annotated[
        dict[SweepPath, Values],
        Field(
            default_factory=dict,
            description=(
                "field path -> values to try: a list, or a range {from, to, steps}; "
                "paths may start with policy., host. or scenario."
            ),
        ),
    ]
    combine: Annotated[
        Literal["product", "zip"],
        Field(description="product: every combination of sweep values; zip: the i-th of each"),
    ] = "product"

    @model_validator(mode="after")
    def _sweep_shapes(self) -> Batch:
        lengths = {path: len(self.values(path)) for path in self.sweep}
        for path, n in lengths.items():
            if n == 0:
                raise ValueError(f"sweep {path!r} has no values")
        if self.combine == "zip" and len(set(lengths.values())) > 1:
            shown = ", ".join(f"{p}: {n}" for p, n in lengths.items())
            raise ValueError(
                f"sweep lists differ in length ({shown}); combine 'zip' pairs the i-th "
                "values, so they must be equal"
            )
        return self

    def values(self, path: str) -> list[Any]:
        """The values a sweep tries for ``path``."""
        spec = self.sweep[path]
        return spec.values() if isinstance(spec, Range) else list(spec)

    def points(self) -> list[dict[str, Any]]:
        """Every sweep point (one dict of path -> value each); ``[{}]`` without sweeps."""
        paths = list(self.sweep)
        columns = [self.values(p) for p in paths]
        if not paths:
            return [{}]
        if self.combine == "zip":
            return [dict(zip(paths, row, strict=True)) for row in zip(*columns, strict=True)]
        points: list[dict[str, Any]] = [{}]
        for path, vals in zip(paths, columns, strict=True):
            points = [{**p, path: v} for p in points for v in vals]
        return points
