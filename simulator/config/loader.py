"""Reading configuration files: safe YAML with line numbers -> frozen models.

This is the edge where files are read; the core never reads files. Every
problem becomes a :class:`~simulator.errors.ConfigError` naming the file, the
line, the field path and what was expected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from simulator.config.batch import Batch
from simulator.config.calibration import Calibration
from simulator.config.describe import Path_, format_path, validation_error
from simulator.config.host import HostPolicy
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.config.search import Optimization
from simulator.config.yaml12 import CoreLoader
from simulator.errors import ConfigError

KINDS: dict[str, type[BaseModel]] = {
    "Scenario": Scenario,
    "PlatformPolicy": PlatformPolicy,
    "HostPolicy": HostPolicy,
    "Batch": Batch,
    "Optimization": Optimization,
    "Calibration": Calibration,
}
"""Document kinds, by the value of their ``kind:`` key."""

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
"""Nodes visited while expanding aliases; stops 'billion laughs' documents."""
MAX_DEPTH = 64
"""Nesting depth of mappings and lists; real documents stay under 10. Stops
self-referencing aliases (``a: &a [*a]``) and bracket towers."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated document with where it came from."""

    model: M
    path: Path
    sha256: str
    lines: dict[Path_, int] = field(default_factory=dict, compare=False, repr=False)
    """1-based line of each field path, so later checks can point into the file."""


class _Loader(CoreLoader):
    """Safe loader (no Python object tags, YAML 1.2 scalars) that refuses duplicate keys.

    PyYAML's own constructors raise plain Python errors for some well-formed
    but impossible values (``2021-13-45``, ``!!float abc``, an integer of
    5,000 digits); they become ConfigErrors on the value's line.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            if isinstance(exc, ConfigError):  # pragma: no cover - ConfigError is not one of these
                raise
            shown = node.tag
            if isinstance(node, yaml.ScalarNode):
                value = str(node.value)
                shown = repr(value if len(value) <= 30 else value[:27] + "...")
            raise ConfigError(
                f"cannot read the value {shown} as {node.tag.rsplit(':', 1)[-1]}: {str(exc)[:120]}",
                line=node.start_mark.line + 1,
            ) from None


def _no_duplicates(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *base` merges are fine; merged keys may be overridden
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(
                "a key must be plain text, not a list or mapping",
                line=key_node.start_mark.line + 1,
            )
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            # `true:`, `1:`, `1.5:` and `~:` are read as non-text.
            raise ConfigError(
                f"the key {key_node.value!r} is read as {type(key).__name__}, but keys are "
                f'text: quote it ("{key_node.value}":)',
                line=key_node.start_mark.line + 1,
            )
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
                "(aliases used to blow up its size?)",
                line=node.start_mark.line + 1,
                field=format_path(path[:1]) or None,
            )
        if len(path) > MAX_DEPTH:
            raise ConfigError(
                f"nested more than {MAX_DEPTH} levels deep (an alias that refers to itself?)",
                line=node.start_mark.line + 1,
                field=format_path(path[:1]) or None,
            )
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                # Duplicates are found here, where the path is known, so the
                # error names the field; `_no_duplicates` is the backstop.
                same = (key_node.tag, key)
                if isinstance(key_node, yaml.ScalarNode) and same in seen:
                    raise ConfigError(
                        f"duplicate key {key!r} (first given on line {seen[same]}); "
                        "keep one of them",
                        line=key_node.start_mark.line + 1,
                        field=format_path((*path, key)),
                    )
                seen[same] = key_node.start_mark.line + 1
                lines.setdefault((*path, key), key_node.start_mark.line + 1)
                stack.append(((*path, key), value_node))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append(((*path, i), item))
    return lines


def _field_on(line: int | None, lines: dict[Path_, int]) -> str | None:
    """The deepest field whose value starts on ``line`` (for errors PyYAML reports by line)."""
    on = [path for path, at in lines.items() if at == line and path]
    return format_path(max(on, key=len)) if on else None


def parse_yaml(text: str, file: str = "<input>") -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document safely; return the data and a path -> line map."""
    loader: _Loader | None = None
    lines: dict[Path_, int] = {}
    try:
        loader = _Loader(text)  # the reader checks every character here
        node = loader.get_single_node()
        if node is None:
            raise ConfigError("the file is empty; expected a YAML mapping with `kind:`", file=file)
        lines = _line_map(node)
        data = loader.construct_document(node)
    except ConfigError as exc:
        field = exc.field or _field_on(exc.line, lines)
        raise ConfigError(exc.message, file=file, line=exc.line, field=field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(filter(None, [exc.context, exc.problem]))
        if "could not determine a constructor" in what:
            what += " (modsim reads plain YAML: no tags that build objects, no !include)"
        line = mark.line + 1 if mark else None
        raise ConfigError(
            f"not valid YAML: {what}", file=file, line=line, field=_field_on(line, lines)
        ) from None
    except yaml.reader.ReaderError as exc:
        # Raised before any mark exists: find the line from the offset.
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(
            f"not valid YAML: control character U+{code:04X} is not allowed in YAML text",
            file=file,
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        # PyYAML composes nested collections recursively.
        raise ConfigError(
            "nested too deeply to read (thousands of brackets or indentation levels)",
            file=file,
            line=loader.get_mark().line + 1 if loader is not None else None,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


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
    if not isinstance(kind, str) or kind not in KINDS:
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
        nul = raw.index(b"\x00")
        raise ConfigError(
            "binary data (NUL bytes); expected a YAML text file",
            file=name,
            line=raw[:nul].count(b"\n") + 1,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); "
            "save the file as UTF-8",
            file=name,
            line=raw[: exc.start].count(b"\n") + 1,
        ) from None
    data, lines = parse_yaml(text, name)
    model = validate_data(data, file=name, lines=lines, expect=expect)
    if isinstance(model, PlatformPolicy):
        model = _resolve_model_path(model, p)
    if isinstance(model, Scenario):
        model = _resolve_stream_path(model, p)
    return Loaded(model=model, path=p, sha256=hashlib.sha256(raw).hexdigest(), lines=lines)


def _resolve_model_path(policy: PlatformPolicy, file: Path) -> PlatformPolicy:
    pre = policy.prefilter
    ref = pre.model
    if ref.path is not None and not Path(ref.path).is_absolute():
        resolved = str((file.parent / ref.path).resolve())
        pre = pre.model_copy(update={"model": ref.model_copy(update={"path": resolved})})
    areas = dict(pre.areas or {})
    for name, screen in areas.items():  # each area's model file, likewise
        area_ref = screen.model
        if area_ref is None or area_ref.path is None or Path(area_ref.path).is_absolute():
            continue
        resolved = str((file.parent / area_ref.path).resolve())
        new_ref = area_ref.model_copy(update={"path": resolved})
        areas[name] = screen.model_copy(update={"model": new_ref})
    if pre.areas is not None:
        pre = pre.model_copy(update={"areas": areas})
    return policy if pre is policy.prefilter else policy.model_copy(update={"prefilter": pre})


def _resolve_stream_path(scenario: Scenario, file: Path) -> Scenario:
    """A replayed log's path is relative to the scenario file, like a model path."""
    stream = scenario.stream
    if stream.path is None or Path(stream.path).is_absolute():
        return scenario
    resolved = str((file.parent / stream.path).resolve())
    return scenario.model_copy(update={"stream": stream.model_copy(update={"path": resolved})})


def load_scenario(path: str | Path) -> Loaded[Scenario]:
    return load_file(path, expect="Scenario")  # type: ignore[return-value]


def load_policy(path: str | Path) -> Loaded[PlatformPolicy]:
    return load_file(path, expect="PlatformPolicy")  # type: ignore[return-value]


def load_host(path: str | Path) -> Loaded[HostPolicy]:
    return load_file(path, expect="HostPolicy")  # type: ignore[return-value]


def load_as(obj: M | str | Path, kind: type[M], base: Path | None = None) -> M:
    """A model as given, or loaded from a YAML path (relative to ``base``)."""
    if isinstance(obj, kind):
        return obj
    if isinstance(obj, BaseModel):
        raise TypeError(f"expected a {kind.__name__} or a path, got {type(obj).__name__}")
    path = Path(obj)
    if base is not None and not path.is_absolute():
        path = base / path
    return load_file(path, expect=kind.__name__).model  # type: ignore[return-value]
