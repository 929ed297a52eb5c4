"""Policy search: the cheapest rules that keep a platform within its host's thresholds.

An :class:`~simulator.config.search.Optimization` names a base policy, the
policy fields to vary (by path), objectives and constraints. optuna proposes
candidates (TPE or NSGA-II, several objectives, constraints); this module
evaluates them fairly and decides feasibility honestly:

* **Common random numbers.** Seed ``i`` of every candidate is the batch's
  replication seed ``i``, so candidates differ only by their rules.
* **Adaptive seeds.** A candidate first runs ``seeds.min`` seeds, then
  ``seeds.step`` more at a time, until each constraint's one-sided interval
  (at ``seeds.confidence``) lies wholly on one side of its bound, or
  ``seeds.max`` is reached. A 0/1 metric (``suspended``) gets an exact
  Clopper-Pearson bound, any other a Student-t bound on the mean. A candidate
  is feasible only if every constraint *holds* by its interval; one whose
  interval still straddles a bound at the cap is reported as undecided and
  counts as infeasible. The trial history says how many seeds each needed.
* **Same executor as batches.** Cells (candidate x seed) run through
  :mod:`~simulator.experiments.executors` (serial, local processes, dask);
  several candidates are evaluated at once so that workers stay busy.
* **Resumable.** With an output folder the study lives in optuna's SQLite
  storage (``study.db``) and each finished run in ``cells/``; running the
  same search again skips finished trials, and a trial cut off mid-way is
  asked again with the same parameters and reuses its finished runs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel
from scipy import stats as sps

from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file, set_fields
from simulator.config.batch import sweep_target
from simulator.config.search import Optimization, Param
from simulator.errors import ConfigError, ModsimError
from simulator.experiments import stats
from simulator.experiments.batch import Source, load_as, resolve_document
from simulator.experiments.design import (
    STATUS_FAILED,
    Cell,
    CellResult,
    headline_metrics,
    make_cell,
    replication_seed,
    run_cell,
)
from simulator.experiments.executors import Executor, make_executor
from simulator.experiments.store import ResultStore

SearchProgress = Callable[[int, int, int], None]
"""Called with (trials finished, trial budget, runs finished so far)."""

HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"
_THRESHOLD_LEAVES = ("precision", "recall")
_INACTIVE = {"prefilter": "enabled", "reports": "enabled"}
"""Sections whose other fields change nothing while their switch is off."""
_ATTR = "modsim"
_MAX_ASKS_PER_TRIAL = 20
"""Invalid candidates (rejected by the policy's own checks) cost no runs but
are asked again; this caps how many a search may spend per evaluated trial."""


# Fields by path ---------------------------------------------------------------
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


def _split(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"policy": {}, "host": {}, "scenario": {}}
    for path, value in values.items():
        target, parts = sweep_target(path)
        out[target][".".join(parts)] = value
    return out


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


def _clean(v: Any) -> Any:
    """A float on a grid as written (0.83, not optuna's 0.8300000000000001)."""
    return float(f"{v:.12g}") if isinstance(v, float) else v


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items() if x is not None) + "}"
    if isinstance(v, bool):
        return str(v).lower()
    # 12 significant digits: a float step (0.01) shows as 0.84, not 0.8400000000000001.
    return f"{v:.12g}" if isinstance(v, float) else str(v)


# Metrics and intervals ----------------------------------------------------------
def run_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """A run's headline metrics (as batches report them) plus its cost."""
    out = headline_metrics(dict(summary))
    cost = summary.get("cost") or {}

    def value(x: Any) -> float:
        return math.nan if x is None else float(x)

    out["cost_total"] = value(cost.get("total"))
    out["cost_per_day"] = value(cost.get("per_day"))
    out["cost_per_1000_posts"] = value(cost.get("per_1000_posts"))
    for key in ("staff_hours_paid", "staff_hours_used", "juror_hours_on_duty", "juror_hours_used"):
        out[key] = value(cost.get(key))
    return out


def one_sided(values: Sequence[float], op: str, confidence: float) -> dict[str, float]:
    """The estimate and the one-sided bound that decides ``mean op bound``.

    For ``<=`` the bound is an upper confidence bound, for ``>=`` a lower one;
    ``other`` is the opposite bound (it decides that the constraint *fails*).
    0/1 values get exact Clopper-Pearson bounds (a share of runs, such as the
    share suspended); others a Student-t bound on the mean.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return {"n": 0.0, "estimate": math.nan, "upper": math.nan, "lower": math.nan}
    if np.isinf(x).any():
        # An average over "never" has no finite value: no interval either.
        est = float(x.mean())
        return {"n": float(n), "estimate": est, "upper": est, "lower": est}
    alpha = 1.0 - confidence
    if np.isin(x, (0.0, 1.0)).all():
        k = int(x.sum())
        upper = 1.0 if k == n else float(sps.beta.ppf(1 - alpha, k + 1, n - k))
        lower = 0.0 if k == 0 else float(sps.beta.ppf(alpha, k, n - k + 1))
        return {"n": float(n), "estimate": k / n, "upper": upper, "lower": lower}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1.0, "estimate": mean, "upper": math.inf, "lower": -math.inf}
    half = float(sps.t.ppf(confidence, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return {"n": float(n), "estimate": mean, "upper": mean + half, "lower": mean - half}


def decide(values: Sequence[float], op: str, bound: float, confidence: float) -> dict[str, Any]:
    """Whether ``mean(values) op bound`` holds, fails or is undecided at ``confidence``.

    ``margin`` is what optuna sees as the constraint value: the decisive
    bound's distance past ``bound`` (<= 0 exactly when the constraint holds).
    """
    b = one_sided(values, op, confidence)
    if op == "<=":
        limit, other = b["upper"], b["lower"]
        holds, fails = limit <= bound, other > bound
        margin = limit - bound
    else:
        limit, other = b["lower"], b["upper"]
        holds, fails = limit >= bound, other < bound
        margin = bound - limit
    status = HOLDS if holds else FAILS if fails else UNDECIDED
    if math.isnan(margin):
        margin = math.inf
    return {
        "n": int(b["n"]),
        "estimate": b["estimate"],
        "limit": limit,
        "status": status,
        "margin": float(np.clip(margin, -1e12, 1e12)),
    }


# The search -----------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    """What a search found, as tables for notebooks and reports.

    ``trials``: one row per trial (parameters by path, seeds run, metric means
    with intervals, constraint estimates with their one-sided bound and status,
    feasibility, changes from the base). ``pareto``: the feasible trials no
    other feasible trial beats on every objective. ``recommended``: the
    cheapest feasible policy (best on the first objective; ties go to fewer
    changes), or ``None`` when no candidate was shown feasible.
    """

    spec: Optimization
    trials: pd.DataFrame
    pareto: pd.DataFrame
    recommended: PlatformPolicy | None
    recommendation: dict[str, Any] | None
    base: PlatformPolicy
    runs: int = 0
    """Simulation runs done by this call (runs found on disk are not counted)."""
    resumed_trials: int = 0
    """Trials found finished in the study and not evaluated again."""
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class _Candidate:
    trial: optuna.Trial
    policy: PlatformPolicy
    params: dict[str, Any]
    changes: list[str]
    results: dict[int, CellResult] = field(default_factory=dict)
    error: str | None = None


@dataclass
class _Problem:
    spec: Optimization
    scenario: Scenario
    base: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    constraints: list[tuple[str, str, float]]
    distributions: dict[str, BaseDistribution]


def load_optimization(path: Source) -> tuple[Optimization, Path]:
    loaded = load_file(path, expect="Optimization")
    return loaded.model, Path(path).parent  # type: ignore[return-value]


def _problem(spec: Optimization, base_dir: Path | None) -> _Problem:
    scenario = load_as(spec.scenario, Scenario, base_dir)
    base = load_as(spec.policy, PlatformPolicy, base_dir)
    hosts = [load_as(h, HostPolicy, base_dir) for h in spec.hosts]
    fixed = _split(spec.overrides)
    try:
        scenario = apply_values(scenario, fixed["scenario"]) if fixed["scenario"] else scenario
        base = apply_values(base, fixed["policy"]) if fixed["policy"] else base
        hosts = [apply_values(h, fixed["host"]) if fixed["host"] else h for h in hosts]
    except ConfigError as exc:
        raise ConfigError(f"overrides: {exc.message}", field=exc.field) from None
    return _Problem(
        spec=spec,
        scenario=scenario,
        base=base,
        hosts=tuple(hosts),
        constraints=spec.parsed_constraints(),
        distributions={p: distribution(p, prm) for p, prm in spec.search.items()},
    )


def distribution(path: str, p: Param) -> BaseDistribution:
    """The optuna distribution of one searched field."""
    if p.choices is not None:
        return CategoricalDistribution(p.choices)
    assert p.low is not None and p.high is not None
    if p.integer:
        step = int(p.step) if p.step is not None else 1
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=step)
    return FloatDistribution(p.low, p.high, log=p.log, step=p.step)


def _study_name(spec: Optimization) -> str:
    # The question (not the budget) names the study: raising `trials` resumes
    # it; changing what is searched, asked or required starts a fresh one.
    identity = spec.model_dump(mode="json", exclude={"trials", "parallel", "robustness"})
    digest = hashlib.blake2b(
        json.dumps(identity, sort_keys=True).encode(), digest_size=6
    ).hexdigest()
    return f"{spec.name}-{digest}"


def _sampler(spec: Optimization) -> optuna.samplers.BaseSampler:
    if spec.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, n_startup_trials=8)


def _record(cand: _Candidate, problem: _Problem, confidence: float) -> tuple[dict[str, Any], bool]:
    """The trial's record, and whether its evaluation is complete."""
    spec = problem.spec
    ok = [r for r in cand.results.values() if r.ok and r.summary is not None]
    rows = [run_metrics(r.summary) for r in ok]  # type: ignore[arg-type]
    for row in rows:
        row["changes"] = float(len(cand.changes))
    n = len(rows)
    metrics = sorted({k for row in rows for k in row})
    means = {m: stats.mean_ci([row.get(m, math.nan) for row in rows]) for m in metrics}
    checks = []
    for (metric, op, bound), text in zip(problem.constraints, spec.constraints, strict=True):
        d = decide([row.get(metric, math.nan) for row in rows], op, bound, confidence)
        checks.append({"constraint": text, "metric": metric, "op": op, "bound": bound} | d)
    failed = any(c["status"] == FAILS for c in checks)
    settled = all(c["status"] == HOLDS for c in checks)
    done = n >= spec.seeds.min and (failed or settled or n >= spec.seeds.max)
    # A threshold stated as a target becomes a raw score for each seed's classifier.
    raw: dict[str, list[float]] = {}
    for r in ok:
        for th in (r.summary or {}).get("classifier", {}).get("thresholds", []):
            if th.get("target"):
                raw.setdefault(th["name"], []).append(float(th["score"]))
    record = {
        "params": cand.params,
        "raw_thresholds": {k: [min(v), max(v)] for k, v in raw.items()},
        "seeds": n,
        "means": {m: to_json_number(v["mean"]) for m, v in means.items()},
        "intervals": {
            o.metric: [
                to_json_number(means[o.metric]["ci_low"]),
                to_json_number(means[o.metric]["ci_high"]),
            ]
            for o in spec.objectives
            if o.metric in means
        },
        "constraints": [{k: to_json_number(v) for k, v in c.items()} for c in checks],
        "feasible": bool(n and all(c["status"] == HOLDS for c in checks)),
        "changes": cand.changes,
        "cells": sorted(r.cell_id for r in cand.results.values()),
    }
    return record, done


def to_json_number(v: Any) -> Any:
    """A float for plain JSON: NaN becomes null, infinities "inf" and "-inf"."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def from_json_number(v: Any) -> float:
    """The float :func:`to_json_number` wrote."""
    if v is None:
        return math.nan
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    return float(v)


def optimize(
    spec: Optimization | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    executor: Executor | None = None,
    progress: SearchProgress | None = None,
    base_dir: Source | None = None,
) -> SearchResult:
    """Search policies for the best ones that meet the constraints.

    ``spec`` is an Optimization model or the path of a ``kind: Optimization``
    file (its file paths are relative to it, or to ``base_dir``). ``trials``
    overrides the budget. Runs go to ``executor``, else a dask cluster at
    ``scheduler``, else ``workers`` local processes (default one per CPU).
    With ``out`` the study and every finished run are kept there and a second
    call resumes (an interruption loses at most the runs under way).
    """
    model, base = resolve_document(spec, Optimization, load_optimization, base_dir)
    if trials is not None:
        model = model.model_copy(update={"trials": trials})
    problem = _problem(model, base)
    store = ResultStore.open(out, force) if out is not None else None
    storage: str | None = None
    if store is not None:
        store.write_manifest({"kind": "optimization", "name": model.name})
        storage = f"sqlite:///{(store.root / 'study.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=_study_name(model),
        storage=storage,
        directions=[o.direction for o in model.objectives],
        sampler=_sampler(model),
        load_if_exists=True,
    )
    resumed = _requeue_interrupted(study)
    finished = store.finished() if store is not None else {}
    if executor is None:
        executor = make_executor(workers, scheduler)
    parallel = model.parallel or getattr(executor, "workers", None) or 1
    runs = _search(problem, study, executor, store, finished, parallel, progress)
    result = collect(problem, study, runs=runs, resumed=resumed)
    if store is not None:
        from simulator.report.search_files import write_search

        result = write_search(result, store.root)
    return result


def _requeue_interrupted(study: optuna.Study) -> int:
    """Mark trials left running by an interrupted search as failed and ask
    their parameters again first; return the trials already finished."""
    storage = study._storage  # the public Study has no way to fail a stale trial
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _evaluated(study: optuna.Study) -> int:
    """Trials that count against the budget: complete, or failed in a run
    (not those the policy's checks rejected, nor stale ones requeued)."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        rec = t.user_attrs.get(_ATTR)
        n += t.state == TrialState.COMPLETE or (rec is not None and "invalid" not in rec)
    return n


def _search(
    problem: _Problem,
    study: optuna.Study,
    executor: Executor,
    store: ResultStore | None,
    finished: dict[str, CellResult],
    parallel: int,
    progress: SearchProgress | None,
) -> int:
    spec = problem.spec
    paths = list(spec.search)
    seed_of = [replication_seed(spec.seed, i) for i in range(spec.seeds.max)]
    active: list[_Candidate] = []
    asks, runs = 0, 0
    max_asks = _MAX_ASKS_PER_TRIAL * spec.trials

    def budget_left() -> bool:
        return _evaluated(study) + len(active) < spec.trials and asks < max_asks

    with executor:
        while True:
            while len(active) < parallel and budget_left():
                asks += 1
                trial = study.ask(problem.distributions)
                params = {p: _clean(trial.params[p]) for p in paths}
                try:
                    policy = apply_values(problem.base, params)
                except ConfigError as exc:
                    trial.set_user_attr(_ATTR, {"params": params, "invalid": exc.message})
                    study.tell(trial, state=TrialState.FAIL)
                    continue
                active.append(
                    _Candidate(trial, policy, params, changes(problem.base, policy, paths))
                )
            if not active:
                break
            todo: list[tuple[_Candidate, Cell]] = []
            for cand in active:
                n = len(cand.results)
                k = spec.seeds.min if n == 0 else spec.seeds.step
                for i in range(n, min(n + k, spec.seeds.max)):
                    cell = make_cell(problem.scenario, cand.policy, problem.hosts, i, seed_of[i])
                    if cell.cell_id in finished:
                        cand.results[i] = finished[cell.cell_id]
                    else:
                        todo.append((cand, cell))
            for outcome in executor.run(run_cell, [c for _, c in todo]) if todo else ():
                cand, cell = todo[outcome.index]
                result = outcome.value or CellResult(
                    cell.cell_id, STATUS_FAILED, error=outcome.error or "no result"
                )
                runs += 1
                if store is not None and result.ok:
                    store.write_cell(result)
                    finished[cell.cell_id] = result
                cand.results[cell.replication] = result
                if not result.ok:
                    cand.error = result.error
            still: list[_Candidate] = []
            for cand in active:
                record, done = _record(cand, problem, spec.seeds.confidence)
                if cand.error is not None:
                    record["error"] = cand.error
                    cand.trial.set_user_attr(_ATTR, record)
                    study.tell(cand.trial, state=TrialState.FAIL)
                elif done:
                    cand.trial.set_user_attr(_ATTR, record)
                    for c in record["constraints"]:
                        cand.trial.set_constraint(c["constraint"], c["margin"])
                    values = [_objective(record, o.metric) for o in spec.objectives]
                    study.tell(cand.trial, values)
                else:
                    still.append(cand)
            active = still
            if progress:
                progress(_evaluated(study), spec.trials, runs)
    return runs


def _objective(record: dict[str, Any], metric: str) -> float:
    value = from_json_number(record["means"].get(metric))
    if math.isnan(value):
        raise ModsimError(f"objective {metric!r}: the runs report no such value")
    # optuna takes infinities; clip so that "never" still sorts last.
    return float(np.clip(value, -1e300, 1e300))


def collect(
    problem: _Problem, study: optuna.Study, runs: int = 0, resumed: int = 0
) -> SearchResult:
    """The trial history, Pareto front and recommendation of a study."""
    spec = problem.spec
    rows: list[dict[str, Any]] = []
    for t in study.get_trials(deepcopy=False):
        rec = t.user_attrs.get(_ATTR)
        if rec is None or "invalid" in rec:
            continue
        rows.append(_trial_row(t, rec, spec))
    trials = pd.DataFrame(rows)
    if trials.empty:
        return SearchResult(spec, trials, trials, None, None, problem.base, runs, resumed)
    trials = trials.sort_values("trial", ignore_index=True)
    done = trials[trials["state"] == "COMPLETE"]
    feasible = done[done["feasible"]]
    front = {t.number for t in study.best_trials} if len(feasible) else set()
    trials["pareto"] = trials["trial"].isin(front) & trials["feasible"]
    pareto = trials[trials["pareto"]].reset_index(drop=True)
    recommended, recommendation = None, None
    if len(feasible):
        first = spec.objectives[0]
        sign = 1.0 if first.direction == "minimize" else -1.0
        order = feasible.assign(
            _key=sign * feasible[first.metric].astype(float), _n=feasible["changes"].map(len)
        ).sort_values(["_key", "_n", "trial"])
        best = order.iloc[0]
        policy = apply_values(problem.base, {k: _clean(v) for k, v in best["params"].items()})
        recommended = policy.model_copy(
            update={
                "name": f"{problem.base.name} (recommended by {spec.name})",
                "description": "Changes: " + ("; ".join(best["changes"]) or "none"),
            }
        )
        recommendation = best.drop(labels=["_key", "_n"]).to_dict()
    return SearchResult(
        spec, trials, pareto, recommended, recommendation, problem.base, runs, resumed
    )


def _trial_row(t: FrozenTrial, rec: dict[str, Any], spec: Optimization) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trial": t.number,
        "state": t.state.name,
        "seeds": rec.get("seeds", 0),
        "feasible": bool(rec.get("feasible")) and t.state == TrialState.COMPLETE,
        "params": dict(rec["params"]),
        "changes": list(rec.get("changes", [])),
        "raw_thresholds": dict(rec.get("raw_thresholds", {})),
        "error": rec.get("error"),
    }
    for path, value in rec["params"].items():
        row[path] = value
    means = rec.get("means", {})
    for o in spec.objectives:
        row[o.metric] = from_json_number(means.get(o.metric))
        lo, hi = rec.get("intervals", {}).get(o.metric, [None, None])
        row[f"{o.metric}_ci_low"], row[f"{o.metric}_ci_high"] = (
            from_json_number(lo),
            from_json_number(hi),
        )
    for c in rec.get("constraints", []):
        text = c["constraint"]
        row[f"{text} | estimate"] = from_json_number(c["estimate"])
        row[f"{text} | bound"] = from_json_number(c["limit"])
        row[f"{text} | status"] = c["status"]
    for metric in ("cost_per_day", "suspended", "views_before_removal", "wrongful_removals"):
        if metric not in row:
            row[metric] = from_json_number(means.get(metric))
    return row


__all__ = [
    "SearchResult",
    "apply_values",
    "changes",
    "collect",
    "decide",
    "load_optimization",
    "one_sided",
    "optimize",
    "run_metrics",
]
