"""Checks of documents that change other documents, before anything runs.

An Optimization overrides fields of its scenario, policy and hosts and
searches policy fields; a Batch sweeps fields of any of them. Each value is
set on the documents it changes (by path, as the search and the batch will)
and validated there, so that a bad one is reported at its own line in the
search or batch file, with the field it sets:

* a value the field cannot take (``scenario.days: 0``, ``jury.pool_size:
  [200, many]``, a range of fractions for a count);
* a value that breaks a rule across fields of the document it changes
  (``jury.votes_to_remove: 9`` with 5 votes per case), or a combination of
  swept values that does;
* a scenario the values leave without posts (see
  :func:`~simulator.checks.check_scenario`).

Combinations of *searched* values that the policy refuses are left to the
search, which never runs them and tells its sampler they are infeasible
(:mod:`simulator.experiments.proposals`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from simulator.checks import (  # a sibling: shares the located-document helper
    Finding,
    _Doc,
    check_scenario,
)
from simulator.config.batch import Batch, host_item, place_fields, sweep_target
from simulator.config.calibration import Calibration
from simulator.config.describe import Path_, describe_error, field_of, format_path
from simulator.config.host import HostPolicy
from simulator.config.loader import Loaded, load_file
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.config.search import Optimization, Param
from simulator.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_MAX_FINDINGS = 20
_WHOLE = ("int_type", "int_from_float")


def check_document(loaded: Loaded[Any]) -> list[Finding]:
    """The checks one document needs on its own (a policy or host needs a partner)."""
    if isinstance(loaded.model, Scenario):
        return check_scenario(loaded)
    if isinstance(loaded.model, Optimization):
        return check_optimization(loaded)
    if isinstance(loaded.model, Batch):
        return check_batch(loaded)
    if isinstance(loaded.model, Calibration):
        return check_calibration(loaded)
    return []


def _load_setup(
    doc: _Doc, spec: Optimization | Calibration, out: list[Finding]
) -> tuple[Loaded[Scenario], Loaded[PlatformPolicy], list[Loaded[HostPolicy]]] | None:
    """The scenario, policy and hosts a study names, loaded relative to its
    file; None (their errors added to ``out``) if one could not be."""
    scenario = _load_named(doc, ("scenario",), spec.scenario, Scenario, out)
    policy = _load_named(doc, ("policy",), spec.policy, PlatformPolicy, out)
    hosts = [_load_named(doc, ("hosts", i), h, HostPolicy, out) for i, h in enumerate(spec.hosts)]
    if scenario is None or policy is None or any(h is None for h in hosts):
        return None
    return scenario, policy, [h for h in hosts if h is not None]


def check_optimization(search: Loaded[Optimization]) -> list[Finding]:
    """Errors in a search's overrides and searched values, and in the world they make.

    Loads the scenario, base policy and hosts the search names (relative to
    its file) and applies the overrides, as ``modsim optimize`` will.
    """
    doc, spec = _Doc(search), search.model
    out: list[Finding] = []
    setup = _load_setup(doc, spec, out)
    if setup is None:
        return out
    scenario, policy, hosts = setup
    split: dict[str, dict[str, Any]] = {"scenario": {}, "policy": {}, "host": {}}
    for path, value in spec.overrides.items():
        split[sweep_target(path)[0]][path] = value

    def where(path: str | None) -> Path_:
        return ("overrides", path) if path else ("overrides",)

    sc = _apply(scenario, split["scenario"], where, doc, out)
    base = _apply(policy, split["policy"], where, doc, out)
    for h in hosts:
        _apply(h, split["host"], where, doc, out)
    if sc is not None:
        changed: dict[str, tuple[Path_, Any]] = {
            p: (("overrides", p), v) for p, v in split["scenario"].items()
        }
        out += _world(doc, scenario, sc, changed)
    if base is not None:
        out += _searched(doc, spec, base)
    return out


def check_batch(batch: Loaded[Batch]) -> list[Finding]:
    """Errors in a batch's sweeps: each value (and each combination the batch
    runs) set on every document it changes, and the world each scenario makes."""
    doc, spec = _Doc(batch), batch.model
    out: list[Finding] = []
    files: dict[str, list[tuple[Path_, str]]] = {
        "scenario": [(("scenarios", i), f) for i, f in enumerate(spec.scenarios)],
        "policy": [(("policies", i), f) for i, f in enumerate(spec.policies)],
        "host": [
            (("hosts", i) if isinstance(entry, str) else ("hosts", i, j), f)
            for i, entry in enumerate(spec.hosts)
            for j, f in enumerate([entry] if isinstance(entry, str) else entry)
        ],
    }
    kinds: dict[str, type[BaseModel]] = {
        "scenario": Scenario,
        "policy": PlatformPolicy,
        "host": HostPolicy,
    }
    docs: dict[str, list[Any]] = {
        t: [_load_named(doc, key, f, kinds[t], out) for key, f in entries]
        for t, entries in files.items()
    }
    if out:
        return out
    swept: dict[str, list[str]] = {"scenario": [], "policy": [], "host": []}
    for path in spec.sweep:
        swept[sweep_target(path)[0]].append(path)
    points = spec.points()
    ranges = [p for p, v in spec.sweep.items() if not isinstance(v, list)]

    def where(point: dict[str, Any]) -> Any:
        def key(path: str | None) -> Path_:
            if path is None:
                return ("sweep",)
            values = spec.sweep[path]
            if not isinstance(values, list):
                return ("sweep", path)  # a range: its values have no lines of their own
            v = point[path]
            return ("sweep", path, next(i for i, x in enumerate(values) if _same(x, v)))

        return key

    for target, paths in swept.items():
        combos = {tuple((p, type(pt[p]).__name__, pt[p]) for p in paths): pt for pt in points}
        for point in combos.values() if paths else []:
            values = {p: point[p] for p in paths}
            context = "" if len(values) < 2 else f" (in the combination {_show(values)})"
            for loaded in docs[target]:
                model = _apply(loaded, values, where(point), doc, out, ranges, context)
                if model is not None and target == "scenario":
                    changed = {p: (where(point)(p), point[p]) for p in paths}
                    out += _world(doc, loaded, model, changed)
                if len(out) >= _MAX_FINDINGS:
                    return _first_per_line(out)
    if not swept["scenario"]:
        out += [f for s in docs["scenario"] for f in check_scenario(s)]
    return _first_per_line(out)


def _first_per_line(findings: list[Finding]) -> list[Finding]:
    """One finding per line and field: a range's every value fails alike."""
    return list({(f.file, f.line, f.field): f for f in reversed(findings)}.values())[::-1]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _load_named(
    owner: _Doc, key: Path_, relative: str, kind: type[M], out: list[Finding]
) -> Loaded[M] | None:
    """A document another names (relative to it); a problem is reported at the naming line."""
    path = Path(relative)
    if not path.is_absolute() and owner.file is not None:
        path = Path(os.path.normpath(Path(owner.file).parent / path))
    try:
        return load_file(path, expect=kind.__name__)  # type: ignore[return-value]
    except ConfigError as exc:
        out.append(owner.at("error", key, f"cannot use this {kind.__name__}: {exc}"))
        return None


def _apply(
    target: Loaded[M],
    values: dict[str, Any],
    where: Callable[[str | None], Path_],
    owner: _Doc,
    out: list[Finding],
    ranges: Collection[str] = (),
    context: str = "",
) -> M | None:
    """``target`` with ``values`` set by path and validated; on a problem, None
    and a finding at the owner's line of the value most likely at fault."""
    model = target.model
    if not values:
        return model
    try:
        return type(model).model_validate(place_fields(model, values))
    except ConfigError as exc:
        out.append(owner.at("error", where(exc.field), exc.message))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc, msg = describe_error(err, type(model))
        shared = {p: _shared(sweep_target(p)[1], loc) for p in values}
        path = max(shared, key=lambda p: shared[p])
        if err["type"] in _WHOLE and path in ranges:
            msg = _fractions(msg)
        if shared[path] != len(loc) or shared[path] != len(sweep_target(path)[1]):
            msg = f"with this value, {target.path} is invalid: {format_path(loc)}: {msg}"
        blamed = path if shared[path] or len(values) == 1 else None
        out.append(owner.at("error", where(blamed), msg + context))
    return None


def _show(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{p} = {v!r}" if isinstance(v, int | float | str) else f"{p} as given"
        for p, v in values.items()
    )


def _fractions(msg: str) -> str:
    return msg.split(" (write ")[0] + ": a range gives fractions unless it says `integer: true`"


def _shared(parts: Sequence[str], loc: Path_) -> int:
    n = 0
    for a, b in zip(parts, loc, strict=False):
        if a != str(b):
            break
        n += 1
    return n


def _world(
    owner: _Doc, original: Loaded[Scenario], changed: Scenario, by: dict[str, tuple[Path_, Any]]
) -> list[Finding]:
    """:func:`check_scenario` on a scenario as changed by overrides or sweeps,
    reported at the first changed value's line when anything was changed."""
    if not by:
        return check_scenario(original)
    first = next(iter(by.values()))[0]
    how = _show({p: v for p, (_, v) in by.items()})
    return [
        owner.at(f.level, first, f"with {how}, {original.path}: {f.field}: {f.message}")
        for f in check_scenario(changed)
    ]


def _searched(doc: _Doc, spec: Optimization, base: PlatformPolicy) -> list[Finding]:
    """Searched values the field cannot take at all (a word for a number, a
    number out of range); combinations the policy refuses are the search's to skip."""
    out: list[Finding] = []
    for path, p in spec.search.items():
        out += _param_values(doc, ("search", path), path, p, base)
    return out


def _param_values(doc: _Doc, at: Path_, path: str, p: Param, model: BaseModel) -> list[Finding]:
    """Each of a searched or free field's values (its choices, or the ends of
    its range) that ``model`` cannot take, reported at ``at`` and the value."""
    parts = sweep_target(path)[1]
    tries: list[tuple[Path_, Any]]
    if p.choices is not None:
        tries = [(("choices", i), v) for i, v in enumerate(p.choices)]
    else:
        kind = int if p.integer else float
        tries = [(("low",), kind(p.low or 0)), (("high",), kind(p.high or 0))]
    out: list[Finding] = []
    for suffix, value in tries:
        try:
            type(model).model_validate(place_fields(model, {path: value}))
        except ConfigError as exc:
            return [*out, doc.at("error", at, exc.message)]
        except ValidationError as exc:
            for err in exc.errors():
                where = field_of(err)
                if _shared(parts, where) == len(parts) == len(where):
                    msg = describe_error(err, type(model))[1]
                    if err["type"] in _WHOLE and p.choices is None and not p.integer:
                        msg = _fractions(msg)
                    out.append(doc.at("error", (*at, *suffix), msg))
                    break
    return out


def check_calibration(cal: Loaded[Calibration]) -> list[Finding]:
    """Errors in a calibration's overrides, free fields and targets, checked on
    the scenario, policy and hosts it names (relative to its file): a value a
    field cannot take, an enforcer index or name the host setup does not have."""
    doc, spec = _Doc(cal), cal.model
    out: list[Finding] = []
    setup = _load_setup(doc, spec, out)
    if setup is None:
        return out
    scenario, policy, hosts = setup
    named = [h.model.name for h in hosts]
    for i, t in enumerate(spec.targets):
        if t.enforcer is not None and t.enforcer not in named:
            known = ", ".join(repr(n) for n in named) or "none (the document names no hosts)"
            out.append(
                doc.at(
                    "error",
                    ("targets", i, "enforcer"),
                    f"no enforcer is named {t.enforcer!r}; the hosts are: {known}",
                )
            )
    docs: list[Loaded[Any]] = [scenario, policy, *hosts]

    def owners(section: str, path: str) -> list[tuple[int, str]]:
        """The documents a path sets (by place in ``docs``) and its path inside each."""
        item = host_item(path)
        if item is not None:
            if item[0] < len(hosts):
                return [(2 + item[0], f"host.{item[1]}")]
            out.append(
                doc.at(
                    "error",
                    (section, path),
                    f"there is no enforcer {item[0]}: the "
                    f"document names {len(hosts)} host(s), counted from 0",
                )
            )
            return []
        target = sweep_target(path)[0]
        if target == "host":
            if not hosts:
                out.append(doc.at("error", (section, path), "a host field, but no hosts"))
            return [(2 + i, path) for i in range(len(hosts))]
        return [(0 if target == "scenario" else 1, path)]

    changed: list[dict[str, Any]] = [{} for _ in docs]
    back: dict[str, str] = {}
    for path, value in spec.overrides.items():
        for k, inner in owners("overrides", path):
            changed[k][inner] = value
            back[inner] = path

    def where(path: str | None) -> Path_:
        return ("overrides", back.get(path, path)) if path else ("overrides",)

    models: list[Any] = []
    for loaded, values in zip(docs, changed, strict=True):
        models.append(_apply(loaded, values, where, doc, out))
    if models[0] is not None and changed[0]:
        by: dict[str, tuple[Path_, Any]] = {
            p: (("overrides", back[p]), v) for p, v in changed[0].items()
        }
        out += _world(doc, scenario, models[0], by)
    elif models[0] is not None:
        out += check_scenario(scenario)
    for path, p in spec.free.items():
        for k, inner in owners("free", path):
            if models[k] is not None:
                found = _param_values(doc, ("free", path), inner, p, models[k])
                out += found
                if found:
                    break
    return out
