"""Strict types: YAML 1.2 scalars, no silent coercion, dates as dates (issue 19, item 6)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import pytest
from helpers import ROOT

from simulator.config import HostPolicy, Optimization, Scenario, load_file, load_text, set_fields
from simulator.config.loader import parse_yaml
from simulator.errors import ConfigError

HOST = "kind: HostPolicy\nversion: 1\nname: h\n"
# A small synthetic scenario from the corpus, with `start` and `days` to fill in.
SCENARIO = re.sub(
    r"(?m)^start: .*\n^days: .*$",
    "start: START\ndays: DAYS",
    (ROOT / "tests" / "malformed" / "scenario-days-float.yaml").read_text(encoding="utf-8"),
)


def scenario(start: str, days: int = 2) -> str:
    assert "START" in SCENARIO and "DAYS" in SCENARIO
    return SCENARIO.replace("START", start).replace("DAYS", str(days))


def scalar(text: str) -> Any:
    data, _ = parse_yaml(f"v: {text}\n")
    return data["v"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # YAML 1.1 forms PyYAML reads as numbers or booleans: text here.
        ("12:30", "12:30"),
        ("190:20:30", "190:20:30"),
        ("1_000", "1_000"),
        ("0x1F", "0x1F"),
        ("0o17", "0o17"),
        ("0b101", "0b101"),
        ("012", "012"),
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("inf", "inf"),
        ("Infinity", "Infinity"),
        ("'12'", "12"),
        # YAML 1.2 core schema.
        ("12", 12),
        ("-3", -3),
        ("+7", 7),
        ("0", 0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("2.", 2.0),
        ("1e3", 1000.0),
        ("-2.5E-4", -0.00025),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("", None),
        # Dates and date-times, as before.
        ("2021-01-06", dt.date(2021, 1, 6)),
        ("2021-01-06 12:00:00", dt.datetime(2021, 1, 6, 12)),
    ],
)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, value: Any) -> None:
    got = scalar(text)
    assert got == value and type(got) is type(value)


def test_infinities_and_nan_are_floats_that_models_then_refuse() -> None:
    assert scalar(".inf") == math.inf and scalar("-.Inf") == -math.inf
    assert math.isnan(scalar(".NaN"))
    with pytest.raises(ConfigError, match="finite number"):
        load_text(HOST + "notices:\n  every_hours: .inf\n")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("!!int 0x1F", "int"),
        ("!!int 1_000", "int"),
        ("!!bool yes", "bool"),
        ("!!float 1_0", "float"),
    ],
)
def test_explicit_tags_cannot_bring_yaml_1_1_forms_back(text: str, tag: str) -> None:
    with pytest.raises(ConfigError, match=f"as {tag}") as info:
        parse_yaml(f"kind: x\nv: {text}\n", "f.yaml")
    assert (info.value.line, info.value.field) == (2, "v")


def test_an_integer_is_accepted_where_a_number_with_a_fraction_is_expected() -> None:
    host = load_text(HOST + "notices:\n  every_hours: 24\n")
    assert isinstance(host, HostPolicy)
    assert host.notices.every_hours == 24.0


def test_strictness_holds_for_values_set_by_path_too() -> None:
    host = load_text(HOST)
    assert isinstance(host, HostPolicy)
    with pytest.raises(ConfigError, match="whole number"):
        set_fields(host, {"strikes.strikes_to_suspend": True})
    with pytest.raises(ConfigError, match="whole number"):
        set_fields(host, {"strikes.strikes_to_suspend": "3"})
    assert set_fields(host, {"strikes.strikes_to_suspend": 4}).strikes.strikes_to_suspend == 4


@pytest.mark.parametrize(
    "start",
    ["2021-01-01T05:30", "'2021-01-01T05:30:00'", "2021-01-01", "2021-01-01 05:30:00+02:00"],
)
def test_a_start_written_as_iso_text_or_a_yaml_date_loads(start: str) -> None:
    model = load_text(scenario(start))
    assert isinstance(model, Scenario) and model.start.year == 2021


@pytest.mark.parametrize("start", ["20210104", "1.5e9", "true", "'1609459200'"])
def test_a_start_given_as_a_number_is_refused(start: str) -> None:
    with pytest.raises(ConfigError, match="expected a date") as info:
        load_text(scenario(start), "s.yaml")
    assert info.value.field == "start"


def test_dates_survive_a_json_round_trip() -> None:
    # A search's record keeps its Optimization as JSON: date-times come back as text.
    spec = load_file(ROOT / "examples" / "parler-not-suspended.yaml").model
    assert isinstance(spec, Optimization)
    again = Optimization.model_validate(json.loads(json.dumps(spec.model_dump(mode="json"))))
    assert spec.robustness is not None and again.robustness == spec.robustness
    low = again.robustness.uncertain["surges.0.start"].low
    assert low == dt.datetime(2021, 1, 3)


def test_the_last_start_a_run_can_take() -> None:
    assert isinstance(load_text(scenario("9999-12-29", 1)), Scenario)
    with pytest.raises(ConfigError, match="ends after the last date") as info:
        load_text(scenario("9999-12-29", 2), "s.yaml")
    assert info.value.field == "start"
