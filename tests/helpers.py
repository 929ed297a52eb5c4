"""Helpers for tests: load bundled files, change fields of frozen models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.config import load_file

ROOT = Path(__file__).resolve().parent.parent


def bundled(relative: str) -> Any:
    return load_file(ROOT / relative).model


def tweak(model: Any, **changes: Any) -> Any:
    """A copy of a frozen model with (possibly nested, dotted) fields changed, re-validated."""
    data = model.model_dump()
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return type(model).model_validate(data)
