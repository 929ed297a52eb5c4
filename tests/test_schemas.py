"""The JSON Schemas `modsim schema` writes, as an editor uses them: every bundled
file validates against its kind's schema with formats checked, and carries the
`yaml-language-server` line that points the editor at it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config.loader import KINDS
from simulator.config.yaml12 import CoreLoader
from simulator.taxonomy import CLASSES

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(
    p
    for folder in ("scenarios", "policies", "batches", "examples")
    for p in (ROOT / folder).glob("*.yaml")
)


def _as_an_editor_reads(value: Any) -> Any:
    """YAML as JSON: an editor's YAML server has no date type, so dates are text."""
    if isinstance(value, dict):
        return {k: _as_an_editor_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_an_editor_reads(v) for v in value]
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    return value


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schema")
    result = CliRunner().invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_files_validate_against_their_schema_with_formats(
    path: Path, schemas: Path
) -> None:
    doc = _as_an_editor_reads(yaml.load(path.read_text(), Loader=CoreLoader))
    schema = json.loads((schemas / f"{doc['kind']}.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_files_point_editors_at_their_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    kind = yaml.load(path.read_text(), Loader=CoreLoader)["kind"]
    assert first.startswith("# yaml-language-server: $schema=")
    assert first.endswith(f"/{kind}.schema.json")
    assert (
        path.parent / first.split("=", 1)[1]
    ).resolve() == ROOT / "schema" / f"{kind}.schema.json"


def test_the_schema_folder_is_what_modsim_schema_writes(schemas: Path) -> None:
    # The bundled files point at schema/; it must not drift from the models.
    for kind in KINDS:
        assert (ROOT / "schema" / f"{kind}.schema.json").read_text() == (
            schemas / f"{kind}.schema.json"
        ).read_text(), f"schema/{kind}.schema.json is stale: run `modsim schema --out schema`"


def test_a_wrong_date_is_still_refused_by_the_schema(schemas: Path) -> None:
    schema = json.loads((schemas / "Scenario.schema.json").read_text())
    start = schema["properties"]["start"]
    validator = Draft202012Validator(start, format_checker=FormatChecker())
    for good in ("2021-03-01T00:00:00", "2021-03-01 12:30", "2021-03-01", "2021-03-01T00:00:00Z"):
        assert not list(validator.iter_errors(good)), good
    for bad in ("March 1st", "2021-3-1", "2021-03-01T25", ""):
        assert list(validator.iter_errors(bad)), bad


def test_per_class_maps_suggest_the_default_classes_and_admit_a_scenarios_own(
    schemas: Path,
) -> None:
    schema = json.loads((schemas / "Scenario.schema.json").read_text())
    shares = schema["$defs"]["Audience"]["properties"]["reports_per_1000_views"]
    # an editor completes the default classes and `default` ...
    assert set(shares["properties"]) == {*CLASSES, "default"}
    validator = Draft202012Validator(shares)
    # ... and accepts a class the scenario declares, but not a malformed name
    assert validator.is_valid({"hate_speech": 2.0, "default": 0.1})
    assert not validator.is_valid({"Hate Speech": 2.0})
