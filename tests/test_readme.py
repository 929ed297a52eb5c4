"""The README stays true: its YAML reference is generated from the models, and the
commands it documents exist."""

from __future__ import annotations

import re

from helpers import ROOT
from typer.testing import CliRunner

from simulator.cli import app
from simulator.reference import BEGIN, END, yaml_reference


def test_yaml_reference_is_current() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    generated = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    assert generated.strip() == yaml_reference().strip(), (
        "README's YAML reference is stale: run `python -m simulator.reference README.md`"
    )


def test_every_documented_command_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `modsim (\w[\w-]*)", text, flags=re.M))
    assert documented, "the README lists no commands"
    result = CliRunner().invoke(app, ["--help"])
    for command in documented:
        assert command in result.output, f"README documents `modsim {command}`, not a command"
