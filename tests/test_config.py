"""Configuration files: every bundled file validates; bad files fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import load_file, load_text
from simulator.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p for d in ("scenarios", "policies") for p in (ROOT / d).glob("*.yaml"))

runner = CliRunner()


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_file_validates(path: Path) -> None:
    loaded = load_file(path)
    assert loaded.model.kind in ("Scenario", "PlatformPolicy", "HostPolicy")
    assert len(loaded.sha256) == 64


HOST = "kind: HostPolicy\nversion: 1\nname: h\n"


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(text, "f.yaml")
    return info.value


def test_unknown_key_names_line_field_and_allowed_keys() -> None:
    err = error_of(HOST + "notices:\n  every_hours: 24\n  remedy_hours: 3\n")
    assert err.line == 6
    assert err.field == "notices.remedy_hours"
    assert "unknown key 'remedy_hours'" in str(err)
    assert "remediation_hours" in str(err)


def test_wrong_type_names_what_was_expected_and_found() -> None:
    err = error_of(HOST + "strikes:\n  strikes_to_suspend: lots\n")
    assert err.line == 5
    assert err.field == "strikes.strikes_to_suspend"
    assert "expected a whole number; got 'lots'" in str(err)


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    err = error_of(HOST + "name: again\n")
    assert err.line == 4
    assert "duplicate key 'name'" in str(err) and "line 3" in str(err)


def test_python_object_tags_are_refused() -> None:
    err = error_of(
        "kind: HostPolicy\nversion: 1\nname: !!python/object/apply:os.system ['echo hi']\n"
    )
    assert "not valid YAML" in str(err) and err.line == 3


def test_wrong_kind_is_named() -> None:
    err = error_of("kind: Hostpolicy\nversion: 1\n")
    assert err.field == "kind" and "HostPolicy" in str(err)


def test_review_threshold_above_auto_remove_is_rejected() -> None:
    text = (
        "kind: PlatformPolicy\nversion: 1\nname: p\nstaff: {reviewers: 3}\n"
        "prefilter:\n  enabled: true\n  review_team: staff\n"
        "  auto_remove_above: 0.6\n  review_above: 0.9\n"
        "reports: {review_team: staff}\n"
    )
    err = error_of(text)
    assert err.field == "prefilter.review_above" and err.line == 9
    assert "review_above (0.9) is above auto_remove_above (0.6)" in str(err)


def test_jury_needing_more_votes_than_cast_is_rejected() -> None:
    text = (
        "kind: PlatformPolicy\nversion: 1\nname: p\n"
        "jury: {pool_size: 100, votes_per_case: 3, rule: threshold, votes_to_remove: 4}\n"
    )
    assert "votes_to_remove (4) exceeds votes_per_case (3)" in str(error_of(text))


def test_reports_routed_to_a_missing_team_is_rejected() -> None:
    text = "kind: PlatformPolicy\nversion: 1\nname: p\n"
    assert "jury.pool_size is 0" in str(error_of(text))


def test_surge_outside_scenario_is_rejected(tmp_path: Path) -> None:
    text = (
        (ROOT / "scenarios/quick.yaml")
        .read_text()
        .replace("start: 2021-03-05T12:00:00", "start: 2021-04-05T12:00:00")
    )
    err = error_of(text)
    assert "outside the scenario" in str(err)


def test_empty_and_binary_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_file(empty)
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ConfigError, match="binary"):
        load_file(junk)


def test_alias_bomb_is_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError, match="more than"):
        load_text("\n".join(lines) + "\n", "bomb.yaml")


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    good = ROOT / "policies/jury-only.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(HOST + "detection:\n  outside_reports_per_million_views: -1\n")
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(app, ["validate", str(good), str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:5" in res.output
    assert "detection.outside_reports_per_million_views" in res.output
    assert "Traceback" not in res.output


def test_schema_command_writes_one_schema_per_kind(tmp_path: Path) -> None:
    res = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    for kind in ("Scenario", "PlatformPolicy", "HostPolicy"):
        schema = json.loads((tmp_path / f"{kind}.schema.json").read_text())
        assert schema["additionalProperties"] is False
        assert "kind" in schema["required"]


def test_emoji_codes_in_names_and_keys_are_printed_verbatim(tmp_path: Path) -> None:
    # rich turns ":x:" into an emoji unless told not to (issue 19, item 10).
    named = tmp_path / "named.yaml"
    named.write_text('kind: HostPolicy\nversion: 1\nname: ":x: host :smile:"\n')
    keyed = tmp_path / "keyed.yaml"
    keyed.write_text(HOST + '":x:": 1\n')
    res = runner.invoke(app, ["validate", str(named), str(keyed)])
    assert res.exit_code == 2, res.output
    assert "':x: host :smile:'" in res.output
    assert "unknown key ':x:'" in res.output
    assert "\u274c" not in res.output and "\U0001f604" not in res.output
    run = runner.invoke(app, ["run", "-H", str(keyed), "--out", str(tmp_path / "o")])
    assert run.exit_code == 2 and "unknown key ':x:'" in run.output, run.output
