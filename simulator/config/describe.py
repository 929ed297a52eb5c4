"""Pydantic's validation errors in the words of a YAML file: the field path,
what was expected, what was found and, for a value that only looks right
(``"12"``, ``true``, ``0x1F``, ``yes``), why it is not and what to write."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.config.yaml12 import LEGACY_BOOL, LEGACY_NUMBER, NUMBER
from simulator.errors import ConfigError

Path_ = tuple[str | int, ...]
"""A field path: keys and list indexes."""


def format_path(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_for(loc: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _model_at(model: type[BaseModel], loc: Path_) -> type[BaseModel] | None:
    """The model of the mapping at ``loc`` of ``model``, if it is a model."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        current = _model_in(fields[part].annotation)
        if current is None:
            return None
    return current


def _allowed_keys(model: type[BaseModel], loc: Path_) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` of ``model``, if it is a model."""
    fields = getattr(_model_at(model, loc), "model_fields", None)
    return sorted(fields) if fields else None


def _retired(model: type[BaseModel], loc: Path_) -> str:
    """What replaced a key a model no longer takes (its ``RETIRED`` map), if any."""
    retired = getattr(_model_at(model, loc[:-1]), "RETIRED", {})
    why = retired.get(loc[-1]) if isinstance(loc[-1], str) else None
    return f"; it was retired: {why}" if why else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _is_tag(part: str | int) -> bool:
    """pydantic's tags in a location, not keys: validator wrappers such as
    ``function-after[...]``, a tagged union's ``[score]``, a mapping's ``[key]``."""
    return isinstance(part, str) and bool(re.match(r"^([a-z][a-z-]*\[|\[[\w-]+\]$)", part))


def field_of(err: Any) -> Path_:
    """The field an error was raised on, as pydantic locates it (a check across
    fields is raised on the section that holds them)."""
    return tuple(p for p in err["loc"] if not _is_tag(p))


def describe_error(err: Any, model: type[BaseModel]) -> tuple[Path_, str]:
    raw_loc: Path_ = tuple(err["loc"])
    kind = err["type"]
    # The last part of an unknown-key error is the user's key, whatever it looks like.
    keep_last = kind == "extra_forbidden" and raw_loc
    head = raw_loc[:-1] if keep_last else raw_loc
    loc: Path_ = tuple(p for p in head if not _is_tag(p)) + (raw_loc[-1:] if keep_last else ())
    if kind == "extra_forbidden" and loc:
        allowed = _allowed_keys(model, loc[:-1])
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return loc, f"unknown key {loc[-1]!r}{hint}{_retired(model, loc)}"
    if kind == "missing":
        return loc, "required field is missing"
    msg = err["msg"]
    if kind in _EXPECTED and "input" in err:
        given = err["input"]
        return loc, f"expected {_EXPECTED[kind]}; got {_shown(given)}{_type_hint(kind, given)}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        # Cross-field checks start their message with the field at fault
        # (`votes_to_remove`, `reports.review_team`, `surges[0]`): point at
        # that field's line rather than at the section's.
        first = _path_of(msg.split(" ", 1)[0])
        if first and first[0] in (_allowed_keys(model, loc) or []):
            loc = (*loc, *first)
    if kind != "value_error" and "input" in err:
        msg = f"expected: {msg[0].lower() + msg[1:]}; got {_shown(err['input'])}"
    return loc, msg


_EXPECTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "text",
}
"""Strict type errors, in the words of a YAML file."""


def _shown(given: Any) -> str:
    if isinstance(given, bool):
        return "true" if given else "false"
    if given is None:
        return "null"
    if isinstance(given, dict | list):
        return f"a {'mapping' if isinstance(given, dict) else 'list'}"
    return repr(given)[:80]


def _type_hint(kind: str, given: Any) -> str:
    """Why a value that looks right is not of the expected type, and the fix."""
    number = kind in ("int_type", "int_from_float", "float_type")
    if number and isinstance(given, bool):
        return " (true and false are booleans, not numbers)"
    if number and isinstance(given, str):
        if NUMBER.match(given.strip()):
            return " (a number in quotes is text: remove the quotes)"
        if LEGACY_NUMBER.match(given.strip()):
            return (
                " (modsim reads YAML 1.2 numbers: hexadecimal, octal, leading zeros, "
                "_ separators and 12:30 forms are text; write plain decimal digits)"
            )
    if kind != "float_type" and number and isinstance(given, float) and given.is_integer():
        return f" (write {int(given)}, without a decimal point)"
    if kind == "bool_type" and isinstance(given, str):
        if given.strip() in LEGACY_BOOL:
            return " (yes, no, on and off are text in YAML 1.2: write true or false)"
        if given.strip().lower() in ("true", "false"):
            return " (in quotes it is text: remove the quotes)"
    if kind == "bool_type" and isinstance(given, int | float):
        return " (write true or false)"
    return ""


def _path_of(token: str) -> Path_:
    """``reports.review_team`` or ``surges[0]`` as a path; () if not a field path."""
    if not re.fullmatch(r"[a-z_]+(\.[a-z_]+|\[\d+\])*", token):
        return ()
    parts: list[str | int] = []
    for name, index in re.findall(r"([a-z_]+)|\[(\d+)\]", token):
        parts.append(name if name else int(index))
    return tuple(parts)


def validation_error(
    exc: ValidationError, model: type[BaseModel], lines: dict[Path_, int], file: str
) -> ConfigError:
    """Turn pydantic's errors into one ConfigError pointing at the first problem."""
    errors = exc.errors()
    loc, msg = describe_error(errors[0], model)
    if len(errors) > 1:
        others = []
        for err in errors[1:5]:
            oloc, omsg = describe_error(err, model)
            line = line_for(oloc, lines)
            others.append(f"  line {line}: {format_path(oloc) or '(top)'}: {omsg}")
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        msg += f"\n{len(errors) - 1} more problem(s):\n" + "\n".join(others) + more
    return ConfigError(msg, file=file, line=line_for(loc, lines), field=format_path(loc) or None)
