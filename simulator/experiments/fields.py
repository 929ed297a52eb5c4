"""Policy fields by path: setting them on a model, and saying what changed.

A searched or uncertain field is named by its path (``jury.pool_size``,
``prefilter.auto_remove_above.precision``, ``scenario.days``); the path's
first part may say which document it belongs to (``policy``, ``host``,
``scenario``; a policy's by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from simulator.config import HostPolicy, PlatformPolicy, Scenario, set_fields
from simulator.config.batch import sweep_target

_THRESHOLD_LEAVES = ("precision", "recall")
_INACTIVE = {"prefilter": "enabled", "reports": "enabled"}
"""Sections whose other fields change nothing while their switch is off."""


def _get(data: Any, parts: Sequence[str]) -> Any:
    node = data
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def apply_values(model: BaseModel, values: Mapping[str, Any]) -> Any:
    """``set_fields`` that also accepts a threshold target by path.

    ``prefilter.auto_remove_above.precision: 0.95`` turns a raw-score
    threshold into the target ``{precision: 0.95}``: a searched policy then
    states its thresholds as targets, which survive a retrained model.
    """
    data = model.model_dump()
    plain: dict[str, Any] = {}
    for path, value in values.items():
        parts = path.split(".")
        if parts[0] in ("policy", "host", "scenario"):
            parts = parts[1:]
        parent = _get(data, parts[:-1])
        if parts[-1] in _THRESHOLD_LEAVES and not isinstance(parent, dict | list):
            plain[".".join(parts[:-1])] = {parts[-1]: value}
        else:
            plain[path] = value
    return set_fields(model, plain)


def split_targets(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"policy": {}, "host": {}, "scenario": {}}
    for path, value in values.items():
        target, parts = sweep_target(path)
        out[target][".".join(parts)] = value
    return out


def apply_point(
    point: Mapping[str, Any], sc: Scenario, pol: PlatformPolicy, hosts: Sequence[HostPolicy]
) -> tuple[Scenario, PlatformPolicy, list[HostPolicy]]:
    """Values by path set on the documents they name (a host's on every host)."""
    split = split_targets(point)
    s = apply_values(sc, split["scenario"]) if split["scenario"] else sc
    p = apply_values(pol, split["policy"]) if split["policy"] else pol
    h = [apply_values(x, split["host"]) if split["host"] else x for x in hosts]
    return s, p, h


def changes(base: PlatformPolicy, candidate: PlatformPolicy, paths: Sequence[str]) -> list[str]:
    """The searched fields whose value differs from the base policy's, as
    ``path: old -> new``; fields of a section switched off are left out."""
    old, new = base.model_dump(mode="json"), candidate.model_dump(mode="json")
    out: list[str] = []
    for path in paths:
        parts = sweep_target(path)[1]
        switch = _INACTIVE.get(parts[0])
        if switch and parts[1:] != [switch] and not new[parts[0]][switch]:
            continue
        a, b = _get(old, parts), _get(new, parts)
        if a is None and parts[-1] in _THRESHOLD_LEAVES:
            a = _get(old, parts[:-1])  # a raw score before, a target now
        if a != b:
            out.append(f"{'.'.join(parts)}: {_show(a)} -> {_show(b)}")
    return out


def clean(v: Any) -> Any:
    """A float on a grid as written (0.83, not optuna's 0.8300000000000001)."""
    return float(f"{v:.12g}") if isinstance(v, float) else v


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items() if x is not None) + "}"
    if isinstance(v, bool):
        return str(v).lower()
    # 12 significant digits: a float step (0.01) shows as 0.84, not 0.8400000000000001.
    return f"{v:.12g}" if isinstance(v, float) else str(v)
