"""Robustness across assumptions, and which assumptions matter most.

Chosen policies are run over an ensemble of scenarios drawn from ranges of
the uncertain inputs (any scenario, host or policy field by path: report
rates, juror accuracy and availability, surge size and timing, the share of
violating content, the classifier's evasion rate). The ensemble is a SALib
design (Morris trajectories or a Sobol sample), so the same runs give both
answers:

* per policy, the share of scenarios in which it meets every constraint, and
  the worst value of each constrained metric;
* a global sensitivity analysis (Morris mu* or total-order Sobol indices),
  normalised to shares, that ranks the inputs each headline metric depends on.

Every scenario runs on the same seeds (replication seeds of the base seed),
so differences between scenarios come from the inputs, not from the stream's
luck; a policy path applies its value to every policy evaluated.

With an output folder every finished run is kept in ``cells/`` (as a batch or
a search keeps them), so an interrupted study, run again, runs only what is
left; a search's folder can hold its robustness runs too.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.config.batch import sweep_target
from simulator.config.search import Optimization, Uncertain, parse_constraint
from simulator.errors import ConfigError, ModsimError
from simulator.experiments.batch import Source, load_as, resolve_document, run_cells
from simulator.experiments.design import (
    Cell,
    make_cell,
    replication_seed,
)
from simulator.experiments.execution import Execution
from simulator.experiments.feasibility import run_metrics
from simulator.experiments.fields import apply_point
from simulator.experiments.problem import load_optimization, load_problem
from simulator.folders.experiment import ResultStore
from simulator.folders.robustness import RobustnessResult, write_robustness

DEFAULT_METRICS = ("views_before_removal", "suspended")


def _bounds(spec: Uncertain) -> tuple[float, float, dt.datetime | None]:
    """Numeric bounds; date-times become hours after ``low``."""
    if isinstance(spec.low, dt.datetime) and isinstance(spec.high, dt.datetime):
        return 0.0, (spec.high - spec.low) / dt.timedelta(hours=1), spec.low
    return float(spec.low), float(spec.high), None  # type: ignore[arg-type]


def _design(
    problem: dict[str, Any], method: str, samples: int, levels: int, seed: int
) -> np.ndarray:
    if method == "morris":
        from SALib.sample import morris

        return np.asarray(morris.sample(problem, N=samples, num_levels=levels, seed=seed))
    from SALib.sample import sobol

    return np.asarray(sobol.sample(problem, samples, calc_second_order=False, seed=seed))


def _indices(
    problem: dict[str, Any], x: np.ndarray, y: np.ndarray, method: str, levels: int
) -> np.ndarray:
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=levels)
        return np.asarray(res["mu_star"], dtype=np.float64)
    from SALib.analyze import sobol

    res = sobol.analyze(problem, y, calc_second_order=False)
    return np.clip(np.asarray(res["ST"], dtype=np.float64), 0.0, None)


def _is_int(model: Any, path: str) -> bool:
    node: Any = model.model_dump()
    for part in sweep_target(path)[1]:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return False
    return isinstance(node, int) and not isinstance(node, bool)


def robustness(
    scenario: Scenario | Source,
    policies: Sequence[PlatformPolicy | Source],
    uncertain: Mapping[str, Uncertain | Mapping[str, Any] | tuple[Any, Any]],
    hosts: Sequence[HostPolicy | Source] = (),
    *,
    constraints: Sequence[str] = (),
    metrics: Sequence[str] = (),
    method: str = "morris",
    samples: int = 10,
    levels: int = 4,
    seeds: int = 1,
    seed: int = 0,
    name: str = "robustness",
    execution: Execution | None = None,
    out: Source | None = None,
    force: bool = False,
) -> RobustnessResult:
    """Evaluate ``policies`` over scenarios drawn from ``uncertain`` ranges.

    ``uncertain`` maps a field path (``audience.reports_per_1000_views.incitement``,
    ``jury.active_share``, ``surges.0.volume_multiplier``, ``surges.0.start``)
    to ``(low, high)`` or ``{low, high}``. ``constraints`` are as in a search
    (``"suspended <= 0"``), checked on each scenario's mean over ``seeds``.
    ``metrics`` are ranked by sensitivity (default: the constrained ones, else
    harmful exposure and suspension). ``method`` is ``morris`` (``samples``
    trajectories on ``levels`` levels: samples x (inputs + 1) scenarios) or
    ``sobol`` (samples x (inputs + 2) scenarios). The runs go where
    ``execution`` says (:class:`~simulator.experiments.execution.Execution`),
    which hears the progress in runs.

    With ``out`` every finished run is kept in ``out/cells/`` and a second call
    runs only the runs not found there (``force`` wipes the folder first). A
    folder that already describes an experiment (a search's) keeps its
    ``experiment.json``; a new one is marked as a robustness study. At the end
    the study's tables and record go there too (:mod:`simulator.folders.robustness`;
    its report is written by :mod:`simulator.studies`).
    """
    if method not in ("morris", "sobol"):
        raise ModsimError(f"method must be 'morris' or 'sobol', got {method!r}")
    if not policies:
        raise ModsimError("robustness needs at least one policy")
    specs: dict[str, Uncertain] = {}
    for path, value in uncertain.items():
        try:
            sweep_target(path)
            if isinstance(value, Uncertain):
                specs[path] = value
            elif isinstance(value, Mapping):
                specs[path] = Uncertain.model_validate(dict(value))
            else:
                lo, hi = value
                specs[path] = Uncertain(low=lo, high=hi)
        except ValueError as exc:
            raise ConfigError(str(exc), field=f"uncertain.{path}") from None
    parsed = [parse_constraint(c) for c in constraints]
    wanted = list(metrics) or list(dict.fromkeys(m for m, _, _ in parsed)) or list(DEFAULT_METRICS)
    sc = load_as(scenario, Scenario)
    pols = [load_as(p, PlatformPolicy) for p in policies]
    names = [p.name for p in pols]
    if len(set(names)) != len(names):
        raise ModsimError("two policies share a name; names label the results")
    hs = [load_as(h, HostPolicy) for h in hosts]
    paths = list(specs)
    bounds = [_bounds(specs[p]) for p in paths]
    problem = {
        "num_vars": len(paths),
        "names": paths,
        "bounds": [[lo, hi] for lo, hi, _ in bounds],
    }
    x = _design(problem, method, samples, levels, seed)
    seed_of = [replication_seed(seed, i) for i in range(seeds)]

    cells: list[Cell] = []
    where: list[tuple[int, str]] = []
    inputs: list[dict[str, Any]] = []
    notes: list[str] = []
    invalid: dict[tuple[int, str], str] = {}
    for k, sample in enumerate(x):
        values: dict[str, Any] = {}
        for path, v, (_, _, origin) in zip(paths, sample, bounds, strict=True):
            if origin is not None:
                values[path] = (origin + dt.timedelta(hours=float(v))).isoformat()
            else:
                values[path] = float(v)
        inputs.append(values)
        for pol in pols:
            point = {
                p: (round(v) if isinstance(v, float) and _is_int(_owner(p, sc, pol, hs), p) else v)
                for p, v in values.items()
            }
            try:
                s_k, p_k, h_k = _apply(point, sc, pol, hs)
            except ConfigError as exc:
                invalid[(k, pol.name)] = exc.message
                continue
            for i, s in enumerate(seed_of):
                cells.append(make_cell(s_k, p_k, h_k, i, s, {"point": k}))
                where.append((k, pol.name))
    if invalid:
        notes.append(f"{len(invalid)} scenario x policy combinations were invalid and skipped")

    store = ResultStore.open(out, force) if out is not None else None
    if store is not None:
        store.ensure_manifest({"kind": "robustness", "name": name})
    results, resumed = run_cells(cells, execution or Execution(), store, unit="runs")
    new_runs = len({c.cell_id for c in cells}) - resumed

    per: dict[tuple[int, str], list[dict[str, float]]] = {}
    errors: dict[tuple[int, str], str] = dict(invalid)
    for key, res in zip(where, results, strict=True):
        if res.ok and res.summary is not None:
            per.setdefault(key, []).append(run_metrics(res.summary))
        else:
            errors[key] = res.error or "no result"
    rows: list[dict[str, Any]] = []
    for k in range(len(x)):
        for pol in pols:
            key = (k, pol.name)
            row: dict[str, Any] = {"point": k, "policy": pol.name, **inputs[k]}
            runs = per.get(key, [])
            row["seeds"] = len(runs)
            row["error"] = errors.get(key)
            keys = sorted({m for r in runs for m in r})
            for m in keys:
                row[m] = float(np.mean([r.get(m, math.nan) for r in runs]))
            met = []
            for text, (m, op, bound) in zip(constraints, parsed, strict=True):
                v = row.get(m, math.nan)
                ok = bool(v <= bound) if op == "<=" else bool(v >= bound)
                row[f"meets: {text}"] = ok and not math.isnan(v)
                met.append(row[f"meets: {text}"])
            row["meets_all"] = bool(runs) and all(met)
            rows.append(row)
    runs_df = pd.DataFrame(rows)

    table = []
    for pol in pols:
        sub = runs_df[(runs_df["policy"] == pol.name) & (runs_df["seeds"] > 0)]
        entry: dict[str, Any] = {
            "policy": pol.name,
            "scenarios": len(sub),
            "meeting_all": int(sub["meets_all"].sum()),
            "share_meeting_all": float(sub["meets_all"].mean()) if len(sub) else math.nan,
        }
        for text, (m, op, _) in zip(constraints, parsed, strict=True):
            col = sub[m] if m in sub else pd.Series(dtype=float)
            worst = col.max() if op == "<=" else col.min()
            entry[f"worst: {text}"] = float(worst) if len(col) else math.nan
            if len(col) and col.notna().any():
                at = int(sub.loc[col.idxmax() if op == "<=" else col.idxmin(), "point"])
                entry[f"worst point: {text}"] = at
        table.append(entry)

    sens: list[dict[str, Any]] = []
    for pol in pols:
        sub = runs_df[runs_df["policy"] == pol.name].sort_values("point")
        for m in wanted:
            y = sub[m].to_numpy(dtype=np.float64) if m in sub else np.full(len(sub), np.nan)
            if len(y) != len(x) or not np.isfinite(y).all():
                notes.append(f"{pol.name}: no sensitivity for {m} (missing or never values)")
                continue
            if np.ptp(y) == 0:
                # Nothing to rank: an order of zeros would read as a finding.
                notes.append(f"{pol.name}: {m} is the same in every scenario ({y[0]:g})")
                continue
            idx = _indices(problem, x, y, method, levels)
            total = float(np.nansum(idx))
            order = np.argsort(-np.nan_to_num(idx, nan=-1.0), kind="stable")
            rank = np.empty(len(paths), dtype=int)
            rank[order] = np.arange(1, len(paths) + 1)
            for j, path in enumerate(paths):
                sens.append(
                    {
                        "policy": pol.name,
                        "metric": m,
                        "input": path,
                        "index": float(idx[j]),
                        "share": float(idx[j] / total) if total > 0 else 0.0,
                        "rank": int(rank[j]),
                    }
                )
    ranges = {p: (_show(specs[p].low), _show(specs[p].high)) for p in paths}
    result = RobustnessResult(
        name=name,
        runs=runs_df,
        table=pd.DataFrame(table),
        sensitivity=pd.DataFrame(
            sens, columns=["policy", "metric", "input", "index", "share", "rank"]
        ),
        constraints=list(constraints),
        ranges=ranges,
        method=method,
        points=len(x),
        seeds=seeds,
        notes=notes,
        new_runs=new_runs,
        resumed_runs=resumed,
    )
    if store is not None:
        result = replace(result, files=write_robustness(result, store.root))
    return result


def _show(v: Any) -> str:
    return v.isoformat(sep=" ", timespec="minutes") if isinstance(v, dt.datetime) else f"{v:g}"


def _owner(path: str, sc: Scenario, pol: PlatformPolicy, hosts: Sequence[HostPolicy]) -> Any:
    target = sweep_target(path)[0]
    if target == "scenario":
        return sc
    if target == "policy":
        return pol
    return hosts[0] if hosts else pol


def _apply(
    point: Mapping[str, Any], sc: Scenario, pol: PlatformPolicy, hosts: Sequence[HostPolicy]
) -> tuple[Scenario, PlatformPolicy, list[HostPolicy]]:
    try:
        return apply_point(sc, pol, hosts, point)
    except ConfigError as exc:
        raise ConfigError(exc.message, field="uncertain") from None


def robustness_study(
    spec: Optimization | Source,
    policies: Sequence[PlatformPolicy | Source] = (),
    *,
    base_dir: Source | None = None,
    execution: Execution | None = None,
    out: Source | None = None,
    force: bool = False,
) -> RobustnessResult:
    """The robustness study an Optimization document describes, for
    ``policies`` (default: its base policy), on its scenario, hosts, overrides
    and constraints; ``execution``, ``out`` and ``force`` as in :func:`robustness`."""
    model, base = resolve_document(spec, Optimization, load_optimization, base_dir)
    if model.robustness is None:
        raise ModsimError(f"{model.name}: the document has no `robustness` section")
    problem = load_problem(model, base)
    r = model.robustness
    return robustness(
        problem.scenario,
        list(policies) or [problem.base],
        r.uncertain,
        problem.hosts,
        constraints=model.constraints,
        metrics=r.metrics,
        method=r.method,
        samples=r.samples,
        levels=r.levels,
        seeds=r.seeds,
        seed=model.seed,
        name=model.name,
        execution=execution,
        out=out,
        force=force,
    )


__all__ = ["RobustnessResult", "robustness", "robustness_study"]
