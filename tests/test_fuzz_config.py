"""Random mutations of the bundled files: the loader accepts or explains, never crashes.

Two kinds of mutation, each applied to every bundled file:

* structural: parse the file, then replace values with junk of any type,
  scale numbers to extremes, delete keys, add unknown ones, and dump it back;
* textual: cut, insert, duplicate and overwrite raw bytes (broken YAML,
  broken UTF-8, NUL bytes, stray tabs and brackets).

Each result must either load (and then survive the scenario + policy checks)
or raise :class:`~simulator.errors.ModsimError`; anything else is a bug.

Example counts come from a hypothesis settings profile: ``ci`` (the default,
500 examples per test, derandomised so CI runs are repeatable), ``dev``
(fast) or ``deep`` (a long hunt); choose with ``MODSIM_FUZZ_PROFILE``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.checks import check_run
from simulator.config import PlatformPolicy, Scenario, load_file, load_text
from simulator.config.loader import format_path, parse_yaml
from simulator.errors import ConfigError, ModsimError

settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("deep", max_examples=20_000, deadline=None)
PROFILE = settings.get_profile(os.environ.get("MODSIM_FUZZ_PROFILE", "ci"))

BUNDLED = sorted(p for d in ("scenarios", "policies") for p in (ROOT / d).glob("*.yaml"))
TEXTS = {p: p.read_bytes() for p in BUNDLED}
DATA = {p: yaml.safe_load(t) for p, t in TEXTS.items()}
QUICK = load_file(ROOT / "scenarios/quick.yaml").model
JURY = load_file(ROOT / "policies/jury-only.yaml").model
SCRATCH = Path(tempfile.mkdtemp(prefix="modsim-fuzz-"))

# Text that YAML 1.1 reads as a number or a boolean, and YAML 1.2 (modsim) as text.
YAML11 = ["yes", "no", "on", "off", "Y", "0x1F", "1_000", "12:30", "0o17", "012", "0b101"]
junk = st.one_of(
    st.none(),
    st.sampled_from([*YAML11, "1e3", ".inf", "Infinity", "nan", "true", "12"]),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(min_value=dt.date(1, 1, 1)),
    st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=4)), max_size=4),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)
factors = st.sampled_from([-1.0, 0.0, 1e-9, 0.5, 2.0, 1e6, 1e300])


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def structural(draw: st.DrawFn) -> str:
    data = copy.deepcopy(DATA[draw(st.sampled_from(BUNDLED))])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _at(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["junk", "scale", "delete", "unknown"]))
        if op == "junk":
            parent[key] = draw(junk)
        elif op == "scale" and isinstance(parent[key], int | float):
            parent[key] = parent[key] * draw(factors)
        elif op == "delete":
            del parent[key]
        elif op == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(junk)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@st.composite
def textual(draw: st.DrawFn) -> bytes:
    raw = bytearray(TEXTS[draw(st.sampled_from(BUNDLED))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["cut", "insert", "overwrite", "duplicate"]))
        if op == "cut":
            del raw[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            raw[i:i] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from([b"\t", b"[", b"{", b"&a ", b"*a", b"!!", b": ", b"\n  "]),
                )
            )
        elif op == "overwrite" and i < len(raw):
            raw[i] = draw(st.integers(0, 255))
        elif op == "duplicate":
            lines = bytes(raw).splitlines(keepends=True)
            if lines:
                j = draw(st.integers(0, len(lines) - 1))
                raw = bytearray(b"".join([*lines[: j + 1], lines[j], *lines[j + 1 :]]))
    return bytes(raw)


# For a value of each type, values of other types that look like it. Each must
# be refused: strict types, YAML 1.2 scalars, no Unix times for dates. (Whole
# floats are left out for integers: an integer may stand in a float field. So
# is the text "1e3": PyYAML writes it unquoted, and YAML 1.2 reads a float.)
LOOKALIKES: dict[type, list[Any]] = {
    bool: [1, 0, 1.0, "true", "false", "yes", "no", "on", "off", "y"],
    int: [True, False, "12", "-3", *YAML11],
    float: [True, False, "0.5", ".inf", "Infinity", "nan", *YAML11],
    str: [12, 1.5, True, False],
    dt.date: [20210301, 1.6e9, True, "1614556800", "March 1"],
    dt.datetime: [20210301, 1.6e9, True, "1614556800", "March 1"],
}


@st.composite
def lookalike(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    """A bundled file with one value replaced by a value of another type that looks like it."""
    data = copy.deepcopy(DATA[draw(st.sampled_from(BUNDLED))])
    leaves = [p for p in _paths(data) if p and type(_at(data, p)) in LOOKALIKES]
    path = draw(st.sampled_from(leaves))
    parent = _at(data, path[:-1])
    parent[path[-1]] = draw(st.sampled_from(LOOKALIKES[type(parent[path[-1]])]))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), path


def _checks_survive(model: Any) -> None:
    """An accepted document must also survive the checks with a bundled partner."""
    if isinstance(model, Scenario):
        assert isinstance(check_run(model, JURY), list)
    elif isinstance(model, PlatformPolicy):
        assert isinstance(check_run(QUICK, model), list)


@settings(PROFILE)
@given(structural())
def test_structural_mutations_load_or_raise_modsim_error(text: str) -> None:
    try:
        model = load_text(text, "mutated.yaml")
    except ModsimError:
        return
    _checks_survive(model)


@settings(PROFILE)
@given(textual())
def test_textual_mutations_load_or_raise_modsim_error(raw: bytes) -> None:
    path = SCRATCH / "mutated.yaml"
    path.write_bytes(raw)
    try:
        loaded = load_file(path)
    except ModsimError:
        return
    _checks_survive(loaded.model)


@settings(PROFILE)
@given(lookalike())
def test_a_value_of_another_type_is_refused_at_its_line_and_field(
    case: tuple[str, tuple[Any, ...]],
) -> None:
    text, path = case
    _, lines = parse_yaml(text)
    with pytest.raises(ConfigError) as info:
        load_text(text, "mutated.yaml")
    assert (info.value.line, info.value.field) == (lines[path], format_path(path)), text
