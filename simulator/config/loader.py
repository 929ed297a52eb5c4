"""Reading configuration files: safe YAML with line numbers -> frozen models.

This is the edge where files are read; the core never reads files. Every
problem becomes a :class:`~simulator.errors.ConfigError` naming the file, the
line, the field path and what was expected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from simulator.config.batch import Batch
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.config.search import Optimization
from simulator.errors import ConfigError

KINDS: dict[str, type[BaseModel]] = {
    "Scenario": Scenario,
    "PlatformPolicy": PlatformPolicy,
    "HostPolicy": HostPolicy,
    "Batch": Batch,
    "Optimization": Optimization,
}
"""Document kinds, by the value of their ``kind:`` key."""

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
"""Nodes visited while expanding aliases; stops 'billion laughs' documents."""

M = TypeVar("M", bound=BaseModel)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated document with where it came from."""

    model: M
    path: Path
    sha256: str


class _Loader(yaml.SafeLoader):
    """SafeLoader (no Python object tags) that refuses duplicate keys."""


def _no_duplicates(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                line=key_node.start_mark.line + 1,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _line_map(root: yaml.Node) -> dict[Path_, int]:
    """Map each field path to the 1-based line of its value, counting nodes."""
    lines: dict[Path_, int] = {}
    visited = 0
    stack: list[tuple[Path_, yaml.Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise ConfigError(
                f"document expands to more than {MAX_NODES} nodes "
                "(aliases used to blow up its size?)"
            )
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                lines.setdefault((*path, key), key_node.start_mark.line + 1)
                stack.append(((*path, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append(((*path, i), item))
    return lines


def parse_yaml(text: str, file: str = "<input>") -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document safely; return the data and a path -> line map."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError("the file is empty; expected a YAML mapping with `kind:`", file=file)
        lines = _line_map(node)
        data = loader.construct_document(node)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=file, line=exc.line, field=exc.field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(filter(None, [exc.context, exc.problem]))
        raise ConfigError(
            f"not valid YAML: {what}", file=file, line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return data, lines


def format_path(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(loc: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _allowed_keys(model: type[BaseModel], loc: Path_) -> list[str] | None:
    """The keys allowed in the mapping at ``loc`` of ``model``, if it is a model."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return None
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _describe(err: Any, model: type[BaseModel]) -> tuple[Path_, str]:
    loc: Path_ = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return loc, f"unknown key {loc[-1]!r}{hint}"
    if kind == "missing":
        return loc, "required field is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        # Cross-field checks start their message with the field at fault:
        # point at that field's line rather than at the section's.
        first = msg.split(" ", 1)[0]
        if first in (_allowed_keys(model, loc) or []):
            loc = (*loc, first)
    if kind != "value_error" and "input" in err and not isinstance(err["input"], dict | list):
        shown = repr(err["input"])
        msg = f"expected: {msg[0].lower() + msg[1:]}; got {shown[:80]}"
    return loc, msg


def validation_error(
    exc: ValidationError, model: type[BaseModel], lines: dict[Path_, int], file: str
) -> ConfigError:
    """Turn pydantic's errors into one ConfigError pointing at the first problem."""
    errors = exc.errors()
    loc, msg = _describe(errors[0], model)
    if len(errors) > 1:
        others = []
        for err in errors[1:5]:
            oloc, omsg = _describe(err, model)
            line = _line_for(oloc, lines)
            others.append(f"  line {line}: {format_path(oloc) or '(top)'}: {omsg}")
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        msg += f"\n{len(errors) - 1} more problem(s):\n" + "\n".join(others) + more
    return ConfigError(msg, file=file, line=_line_for(loc, lines), field=format_path(loc) or None)


def validate_data(
    data: Any,
    *,
    file: str = "<input>",
    lines: dict[Path_, int] | None = None,
    expect: str | None = None,
) -> BaseModel:
    """Validate parsed data as the document kind it declares."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping with `kind:` at the top, got {type(data).__name__}",
            file=file,
            line=1,
        )
    kind = data.get("kind")
    if kind not in KINDS:
        raise ConfigError(
            f"expected `kind:` to be one of {', '.join(KINDS)}, got {kind!r}",
            file=file,
            line=lines.get(("kind",), 1),
            field="kind",
        )
    if expect is not None and kind != expect:
        raise ConfigError(
            f"expected a {expect} document here, but this file is a {kind}",
            file=file,
            line=lines.get(("kind",), 1),
            field="kind",
        )
    model = KINDS[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model, lines, file) from None


def load_text(text: str, file: str = "<input>", expect: str | None = None) -> BaseModel:
    data, lines = parse_yaml(text, file)
    return validate_data(data, file=file, lines=lines, expect=expect)


def load_file(path: str | Path, expect: str | None = None) -> Loaded[BaseModel]:
    """Read, parse and validate one configuration file."""
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()[: MAX_FILE_BYTES + 1]
    except FileNotFoundError:
        raise ConfigError("file not found", file=name) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML file", file=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than {MAX_FILE_BYTES // 1024} KiB", file=name)
    if b"\x00" in raw:
        raise ConfigError("binary data (NUL bytes); expected a YAML text file", file=name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=name) from None
    model = load_text(text, name, expect)
    if isinstance(model, PlatformPolicy):
        model = _resolve_model_path(model, p)
    return Loaded(model=model, path=p, sha256=hashlib.sha256(raw).hexdigest())


def _resolve_model_path(policy: PlatformPolicy, file: Path) -> PlatformPolicy:
    ref = policy.prefilter.model
    if ref.path is None or Path(ref.path).is_absolute():
        return policy
    resolved = str((file.parent / ref.path).resolve())
    new_ref = ref.model_copy(update={"path": resolved})
    new_pre = policy.prefilter.model_copy(update={"model": new_ref})
    return policy.model_copy(update={"prefilter": new_pre})


def load_scenario(path: str | Path) -> Loaded[Scenario]:
    return load_file(path, expect="Scenario")  # type: ignore[return-value]


def load_policy(path: str | Path) -> Loaded[PlatformPolicy]:
    return load_file(path, expect="PlatformPolicy")  # type: ignore[return-value]


def load_host(path: str | Path) -> Loaded[HostPolicy]:
    return load_file(path, expect="HostPolicy")  # type: ignore[return-value]
