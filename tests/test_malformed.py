"""Hostile and broken input, tried systematically.

The corpus in ``tests/malformed/`` holds one broken file per way a file can be
wrong (types, ranges, order, unknown and duplicate keys, encodings, YAML
bombs, object tags, wrong kind or version); ``manifest.toml`` says for each
the line, field and message the user must see. Every file goes through the
real command, ``modsim validate``, which must exit with code 2 and print that
message, never a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config.loader import MAX_FILE_BYTES

CORPUS = Path(__file__).resolve().parent / "malformed"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "manifest.toml").read_text())["case"]

runner = CliRunner()


def test_manifest_lists_every_corpus_file_once() -> None:
    listed = [c["file"] for c in CASES]
    assert len(listed) == len(set(listed))
    assert set(listed) == {p.name for p in CORPUS.glob("*.yaml")}
    assert len(listed) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_malformed_file_is_refused_with_line_field_and_message(case: dict[str, Any]) -> None:
    path = CORPUS / case["file"]
    res = runner.invoke(app, ["validate", str(path)])
    out = res.output
    assert res.exit_code == 2, out
    assert "Traceback" not in out
    assert isinstance(res.exception, SystemExit), res.exception  # exit 2, not a crash
    where = f"{path}:{case['line']}:" if "line" in case else f"{path}:"
    assert where in out, out
    if "field" in case:
        assert f"{where} {case['field']}: " in out, out
    assert case["message"] in out, out


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    # Valid YAML all the way through: only the size is wrong.
    line = "# padding padding padding padding padding padding padding padding\n"
    big.write_text("kind: HostPolicy\nversion: 1\nname: h\n" + line * (MAX_FILE_BYTES // len(line)))
    res = runner.invoke(app, ["validate", str(big)])
    assert res.exit_code == 2
    assert f"{big}: file is larger than 2048 KiB" in res.output


def test_a_good_file_next_to_bad_ones_is_still_reported_ok() -> None:
    good = CORPUS.parent.parent / "policies" / "jury-only.yaml"
    bad = [CORPUS / c["file"] for c in CASES[:5]]
    res = runner.invoke(app, ["validate", str(good), *map(str, bad)])
    assert res.exit_code == 2
    assert f"ok {good}" in res.output
    assert res.output.count("invalid:") == len(bad)
