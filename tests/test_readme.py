"""The README stays true: its YAML reference is generated from the models, and the
commands it documents exist."""

from __future__ import annotations

import ast
import inspect
import re

from helpers import ROOT
from typer.testing import CliRunner

import simulator
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


def test_python_examples_call_the_library_as_it_is() -> None:
    """Every ``simulator.NAME(...)`` in the README's Python examples names a
    public entry point and passes only keywords it takes (``execution=``, not
    the per-function ``workers=`` of old)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)
    calls = [
        node
        for block in blocks
        for node in ast.walk(ast.parse(block))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "simulator"
    ]
    assert {"compare", "run_batch", "optimize", "robustness", "Execution"} <= {
        c.func.attr  # type: ignore[attr-defined]
        for c in calls
    }
    for call in calls:
        name = call.func.attr  # type: ignore[attr-defined]
        assert name in simulator.__all__, f"README calls simulator.{name}, not an export"
        takes = inspect.signature(getattr(simulator, name)).parameters
        for kw in call.keywords:
            assert kw.arg in takes, f"README passes {kw.arg}= to simulator.{name}"
