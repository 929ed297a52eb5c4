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
  ``parallel`` candidates are in hand at once, with no round to wait for, so
  that workers stay busy. They are told the sampler in the order asked, so the
  trials do not depend on the number of workers or on what finished first.
* **Every proposal counted.** A candidate the policy's own rules refuse is
  never run and is told the sampler as infeasible; one proposed again is not
  run again; a small space ends when every candidate was proposed
  (:mod:`~simulator.experiments.proposals`). The result says how many
  proposals were asked, distinct, evaluated, refused and duplicated.
* **Resumable.** With an output folder the study lives in optuna's SQLite
  storage (``study.db``) and each finished run in ``cells/``; running the
  same search again skips finished trials, and a trial cut off mid-way is
  asked again with the same parameters and reuses its finished runs.

The question itself is resolved in :mod:`~simulator.experiments.problem`,
fields are set by path in :mod:`~simulator.experiments.fields`, and the
intervals that decide feasibility are :mod:`~simulator.experiments.feasibility`'s.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from simulator.config import PlatformPolicy
from simulator.config.search import Optimization
from simulator.errors import ConfigError, ModsimError
from simulator.experiments import stats
from simulator.experiments.batch import Source, resolve_document
from simulator.experiments.design import Cell, make_cell, replication_seed
from simulator.experiments.execution import Execution
from simulator.experiments.feasibility import FAILS, HOLDS, decide, run_metrics
from simulator.experiments.fields import apply_values, changes, clean
from simulator.experiments.models import ModelShelf
from simulator.experiments.problem import Problem, load_optimization, load_problem
from simulator.experiments.proposals import (
    ATTR,
    EVALUATED,
    FAILED,
    Ledger,
    count,
    key,
    open_study,
    recorded,
    settle,
    space_size,
)
from simulator.folders.experiment import CellResult, ResultStore
from simulator.folders.search import (
    SearchResult,
    from_json_number,
    to_json_number,
    write_search,
)


@dataclass
class _Candidate:
    trial: optuna.Trial
    policy: PlatformPolicy
    params: dict[str, Any]
    changes: list[str]
    results: dict[int, CellResult] = field(default_factory=dict)
    error: str | None = None
    twins: list[tuple[optuna.Trial, dict[str, Any]]] = field(default_factory=list)
    """Later proposals of the same candidate, told its result when it has one."""
    running: int = 0
    """Its runs submitted and not back yet."""
    done: bool = False
    """Evaluated (or failed), and waiting to be told in its turn."""


PARALLEL = 2
"""Candidates in hand at once when the document does not say (``parallel``):
a fixed number, not the workers', so that the trials are the same on any
machine. Each keeps ``seeds.min`` runs going at first; a cluster with many
workers needs a larger ``parallel`` to keep them busy."""


def _sampler(spec: Optimization) -> optuna.samplers.BaseSampler:
    if spec.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed, multivariate=True, n_startup_trials=8)


def _record(cand: _Candidate, problem: Problem, confidence: float) -> tuple[dict[str, Any], bool]:
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


def optimize(
    spec: Optimization | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> SearchResult:
    """Search policies for the best ones that meet the constraints.

    ``spec`` is an Optimization model or the path of a ``kind: Optimization``
    file (its file paths are relative to it, or to ``base_dir``). ``trials``
    overrides the budget. Runs go where ``execution`` says
    (:class:`~simulator.experiments.execution.Execution`: by default one local
    process per CPU), which hears the progress in candidates evaluated.
    With ``out`` the study and every finished run are kept there and a second
    call resumes (an interruption loses at most the runs under way); at the end
    the search's record goes there too (:mod:`simulator.folders.search`; its
    report is drawn by :func:`simulator.studies.optimize`).
    """
    model, base = resolve_document(spec, Optimization, load_optimization, base_dir)
    if trials is not None:
        model = model.model_copy(update={"trials": trials})
    problem = load_problem(model, base)
    opened = open_study(
        model,
        kind="optimization",
        budget={"trials", "parallel", "robustness"},
        out=out,
        force=force,
        directions=[o.direction for o in model.objectives],
        sampler=_sampler(model),
    )
    study, store, finished, resumed = opened.study, opened.store, opened.finished, opened.resumed
    runs, stopped = _search(problem, study, execution or Execution(), store, finished)
    result = collect(problem, study, runs=runs, resumed=resumed, stopped=stopped)
    if store is not None:
        result = replace(result, files=write_search(result, store.root))
    return result


def _progress(execution: Execution, ledger: Ledger, trials: int, runs: int) -> None:
    """Candidates evaluated of the budget, those whose runs failed, and the runs so far."""
    execution.update(ledger.spent, trials, ledger.failed, "candidates", f"{runs} runs")


def _search(
    problem: Problem,
    study: optuna.Study,
    execution: Execution,
    store: ResultStore | None,
    finished: dict[str, CellResult],
) -> tuple[int, str | None]:
    """Evaluate candidates until the budget is spent; return the runs done and,
    if the search stopped short of its budget, why (exhausted, ask limit).

    ``parallel`` candidates are in hand at once, and their runs share the
    workers with no round to wait for: a candidate's next seeds start as soon
    as its last ones are in, and a new candidate is asked for as soon as one is
    told. Candidates are told the study in the order they were asked, each
    followed at once by the asks it makes room for, so the sampler sees the
    same history at every ask whatever finished first: the same trials on any
    number of workers."""
    spec = problem.spec
    seed_of = [replication_seed(spec.seed, i) for i in range(spec.seeds.max)]
    ledger = Ledger(study, [o.direction for o in spec.objectives])
    space = space_size(problem.distributions)
    parallel = spec.parallel or PARALLEL
    executor = execution.executor_for()
    flow = ModelShelf().flow(executor)  # each seed's model is built once for the whole search
    queue: deque[_Candidate] = deque()  # in hand, in the order asked
    running: dict[int, tuple[_Candidate, Cell]] = {}  # flow ticket -> its candidate and cell
    runs, stopped = 0, None

    def start(cand: _Candidate) -> None:
        """Submit the candidate's next seeds (those finished before are reused),
        or mark it done."""
        while not (cand.running or cand.done):
            n = len(cand.results)
            if cand.error is not None or _record(cand, problem, spec.seeds.confidence)[1]:
                cand.done = True
                return
            k = spec.seeds.min if n == 0 else spec.seeds.step
            cells = [
                make_cell(problem.scenario, cand.policy, problem.hosts, i, seed_of[i])
                for i in range(n, min(n + k, spec.seeds.max))
            ]
            todo = []
            for cell in cells:
                if cell.cell_id in finished:
                    cand.results[cell.replication] = finished[cell.cell_id]
                else:
                    todo.append(cell)
            for ticket, cell in zip(flow.submit(todo), todo, strict=True):
                running[ticket] = (cand, cell)
            cand.running = len(todo)

    def fill() -> None:
        nonlocal stopped
        while len(queue) < parallel and ledger.spent + len(queue) < spec.trials:
            stopped = ledger.why_stop(len(queue), space, spec.trials)
            if stopped is not None:
                return
            cand = _propose(problem, ledger, list(queue))
            if cand is not None:
                queue.append(cand)
                start(cand)

    _progress(execution, ledger, spec.trials, runs)
    with executor:
        fill()
        while queue:
            if queue[0].done:
                _tell(queue.popleft(), problem, study, ledger)
                fill()
                _progress(execution, ledger, spec.trials, runs)
                continue
            outcome = flow.next()
            cand, cell = running.pop(outcome.index)
            result = settle(outcome, cell, store, finished)
            runs += 1
            cand.results[cell.replication] = result
            if not result.ok:
                cand.error = result.error
            cand.running -= 1
            start(cand)
    return runs, stopped


def _propose(problem: Problem, ledger: Ledger, active: list[_Candidate]) -> _Candidate | None:
    """Ask the sampler for a candidate; return it if it is new and the policy
    allows it (a refused or repeated one is told its result here)."""
    paths = list(problem.spec.search)
    trial = ledger.ask(problem.distributions)
    params = {p: clean(trial.params[p]) for p in paths}
    original = ledger.finished(params)
    if original is not None:
        ledger.repeat(trial, params, original)
        return None
    for cand in active:
        if key(cand.params) == key(params):
            cand.twins.append((trial, params))
            return None
    try:
        policy = apply_values(problem.base, params)
    except ConfigError as exc:
        ledger.refuse(trial, params, exc.message)
        return None
    return _Candidate(trial, policy, params, changes(problem.base, policy, paths))


def _tell(cand: _Candidate, problem: Problem, study: optuna.Study, ledger: Ledger) -> None:
    """Tell the study a candidate's result (and its twins the same)."""
    spec = problem.spec
    record, _ = _record(cand, problem, spec.seeds.confidence)
    if cand.error is not None:
        record |= {"error": cand.error, "outcome": FAILED}
        cand.trial.set_user_attr(ATTR, record)
        told = study.tell(cand.trial, state=TrialState.FAIL)
    else:
        cand.trial.set_user_attr(ATTR, record | {"outcome": EVALUATED})
        for c in record["constraints"]:
            cand.trial.set_constraint(c["constraint"], c["margin"])
        told = study.tell(cand.trial, [_objective(record, o.metric) for o in spec.objectives])
    ledger.done(told)
    for twin, params in cand.twins:
        ledger.repeat(twin, params, told)


def _objective(record: dict[str, Any], metric: str) -> float:
    value = from_json_number(record["means"].get(metric))
    if math.isnan(value):
        raise ModsimError(f"objective {metric!r}: the runs report no such value")
    # optuna takes infinities; clip so that "never" still sorts last.
    return float(np.clip(value, -1e300, 1e300))


def collect(
    problem: Problem,
    study: optuna.Study,
    runs: int = 0,
    resumed: int = 0,
    stopped: str | None = None,
) -> SearchResult:
    """The trial history (each candidate that ran, once), Pareto front,
    recommendation and proposal counts of a study; ``stopped`` says why the
    search ended short of its budget, if it did."""
    spec = problem.spec
    rows = [
        _trial_row(t, rec, spec) for t, rec, kind in recorded(study) if kind in (EVALUATED, FAILED)
    ]
    trials = pd.DataFrame(rows)
    counted = count(study, problem.distributions, spec.trials, stopped)
    if trials.empty:
        return SearchResult(
            spec, trials, trials, None, None, problem.base, runs, resumed, proposals=counted
        )
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
        policy = apply_values(problem.base, {k: clean(v) for k, v in best["params"].items()})
        recommended = policy.model_copy(
            update={
                "name": f"{problem.base.name} (recommended by {spec.name})",
                "description": "Changes: " + ("; ".join(best["changes"]) or "none"),
            }
        )
        recommendation = best.drop(labels=["_key", "_n"]).to_dict()
    return SearchResult(
        spec,
        trials,
        pareto,
        recommended,
        recommendation,
        problem.base,
        runs,
        resumed,
        proposals=counted,
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


__all__ = ["SearchResult", "collect", "optimize"]
