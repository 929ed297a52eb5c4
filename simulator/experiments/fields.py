"""Policy fields by path: setting them on a model, and saying what changed.

A searched or uncertain field is named by its path (``jury.pool_size``,
``prefilter.auto_remove_above.precision``, ``scenario.days``); the path's
first part may say which document it belongs to (``policy``, ``host``,
``scenario``; a policy's by default). A ``host.`` path sets the field on
every enforcer; ``hosts.<i>.`` on the i-th of the setup only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from simulator.config import HostPolicy, PlatformPolicy, Scenario, set_fields
from simulator.config.batch import host_item, sweep_target
from simulator.errors import ConfigError

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
    """Values by the document they set: ``policy``, ``host`` (every enforcer),
    ``scenario``, and ``hosts.<i>`` (one enforcer), each by its path inside it."""
    out: dict[str, dict[str, Any]] = {"policy": {}, "host": {}, "scenario": {}}
    for path, value in values.items():
        item = host_item(path)
        if item is not None:
            out.setdefault(f"hosts.{item[0]}", {})[item[1]] = value
            continue
        target, parts = sweep_target(path)
        out[target][".".join(parts)] = value
    return out


def apply_point(
    scenario: Scenario,
    policy: PlatformPolicy,
    hosts: Sequence[HostPolicy],
    values: Mapping[str, Any],
) -> tuple[Scenario, PlatformPolicy, list[HostPolicy]]:
    """The scenario, policy and hosts with ``values`` set by path (see
    :func:`split_targets`); ConfigError for a host field with no host to set
    it on, or a value a document refuses."""
    split = split_targets(values)
    one = {int(k.split(".")[1]): v for k, v in split.items() if k.startswith("hosts.")}
    if (split["host"] or one) and not hosts:
        raise ConfigError("a host field is set but no host is enforced", field=next(iter(values)))
    for i in one:
        if i >= len(hosts):
            raise ConfigError(
                f"there is no enforcer {i}: the setup has {len(hosts)} (counted from 0)",
                field=f"hosts.{i}",
            )
    sc = apply_values(scenario, split["scenario"]) if split["scenario"] else scenario
    pol = apply_values(policy, split["policy"]) if split["policy"] else policy
    out = []
    for i, h in enumerate(hosts):
        mine = split["host"] | one.get(i, {})
        out.append(apply_values(h, mine) if mine else h)
    return sc, pol, out


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
