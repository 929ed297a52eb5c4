"""Calibration: which values of the assumptions reproduce the figures observed.

A :class:`~simulator.config.calibration.Calibration` names free fields with
prior ranges and observed targets with tolerances and trust levels. optuna's
TPE proposes candidates (values of the free fields); each runs on the same
seeds (common random numbers: candidates differ only by their values), and
its fit is the distance

    d = sum over targets of weight(trust) x ((simulated - observed) / tolerance)^2

with the simulated value the mean over seeds (weights H 1, M 0.5, L 0.25
unless the document says otherwise). An event that did not happen in a run
counts as happening one tolerance after the run's end; a metric a run leaves
undefined in every seed counts as :data:`UNDEFINED_ERROR` tolerances off.

Not one best point but an *accepted set* (approximate-Bayesian rejection):
the candidates whose every target of the trusted levels lies within its
tolerance, or the best share by distance. The result gives each free
field's accepted range against its prior, each target's fit, and the pairs
of targets that pull against each other: a Spearman correlation of their
signed errors over all candidates at or below
:data:`~simulator.experiments.calibration_analysis.TENSION`
(:mod:`~simulator.experiments.calibration_analysis`).

Reproducible and resumable as the policy search is: the sampler is seeded
afresh for each proposal from the document's seed and the proposal's number,
so a study resumed after an interruption (``study.db``; finished runs in
``cells/``) proposes what the uninterrupted one would have, and ``parallel``
(not the number of workers) sets how many candidates are proposed at once.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from simulator.checks import raise_errors
from simulator.config import HostPolicy, PlatformPolicy, Scenario, load_file
from simulator.config.calibration import Calibration, Target
from simulator.document_checks import check_calibration
from simulator.errors import ConfigError
from simulator.experiments.batch import Source, load_as, resolve_document
from simulator.experiments.calibration_analysis import analyse
from simulator.experiments.design import Cell, make_cell, replication_seed
from simulator.experiments.execution import Execution
from simulator.experiments.fields import apply_point, clean
from simulator.experiments.measures import RUN_END, measured_cell, run_measured
from simulator.experiments.problem import distribution, with_overrides
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
from simulator.folders.calibration import CalibrationResult, write_calibration
from simulator.folders.experiment import CellResult, ResultStore
from simulator.seeding import SeedTree

UNDEFINED_ERROR = 10.0
"""Standardised error of a metric no seed of a candidate could measure."""
STARTUP = 10
"""Candidates drawn at random before TPE models the fit."""


@dataclass(frozen=True)
class CalibrationProblem:
    """A Calibration document with its files loaded and overrides applied."""

    spec: Calibration
    scenario: Scenario
    policy: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    distributions: dict[str, BaseDistribution]
    seeds: list[int]
    digest: str
    """Names the targets measured, in the ids of the runs kept."""


@dataclass
class _Candidate:
    trial: optuna.Trial
    params: dict[str, Any]
    cells: list[Cell]
    results: dict[int, CellResult] = field(default_factory=dict)
    twins: list[tuple[optuna.Trial, dict[str, Any]]] = field(default_factory=list)


def load_calibration(path: Source) -> tuple[Calibration, Path]:
    """A Calibration file and its folder, once its overrides, free fields and
    targets were checked against the documents they name (file, line, field)."""
    loaded = load_file(path, expect="Calibration")
    raise_errors(check_calibration(loaded))  # type: ignore[arg-type]
    return loaded.model, Path(path).parent  # type: ignore[return-value]


def load_calibration_problem(spec: Calibration, base_dir: Path | None) -> CalibrationProblem:
    scenario = load_as(spec.scenario, Scenario, base_dir)
    policy = load_as(spec.policy, PlatformPolicy, base_dir)
    hosts = [load_as(h, HostPolicy, base_dir) for h in spec.hosts]
    scenario, policy, hosts = with_overrides(scenario, policy, hosts, spec.overrides)
    if isinstance(spec.seeds, int):
        seeds = [replication_seed(spec.seed, i) for i in range(spec.seeds)]
    else:
        seeds = list(spec.seeds)
    targets = json.dumps([t.model_dump(mode="json") for t in spec.targets], sort_keys=True)
    return CalibrationProblem(
        spec=spec,
        scenario=scenario,
        policy=policy,
        hosts=tuple(hosts),
        distributions={p: distribution(p, prm) for p, prm in spec.free.items()},
        seeds=seeds,
        digest=hashlib.blake2b(targets.encode(), digest_size=4).hexdigest(),
    )


def _sampler(spec: Calibration, asked: int) -> optuna.samplers.BaseSampler:
    # Seeded by the proposal's number: a resumed study proposes as the first would have.
    seed = SeedTree(spec.seed).child("sampler", asked).seed % 2**32
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=STARTUP)


def calibrate(
    spec: Calibration | Source,
    *,
    out: Source | None = None,
    force: bool = False,
    trials: int | None = None,
    execution: Execution | None = None,
    base_dir: Source | None = None,
) -> CalibrationResult:
    """Fit the free fields to the targets; return the accepted set and the fit.

    ``spec`` is a Calibration model or the path of a ``kind: Calibration``
    file (its paths relative to it, or to ``base_dir``); ``trials`` overrides
    the budget. Runs go where ``execution`` says, which hears the progress in
    candidates. With ``out`` the study and every run's measures are kept there
    and a second call resumes; at the end the result's tables and record go
    there too (:mod:`simulator.folders.calibration`; its report is drawn by
    :func:`simulator.studies.calibrate`).
    """
    model, base = resolve_document(spec, Calibration, load_calibration, base_dir)
    if trials is not None:
        model = model.model_copy(update={"trials": trials})
    problem = load_calibration_problem(model, base)
    opened = open_study(
        model,
        kind="calibration",
        budget={"trials"},
        out=out,
        force=force,
        directions=["minimize"],
        sampler=_sampler(model, 0),
    )
    study, store, finished, resumed = opened.study, opened.store, opened.finished, opened.resumed
    runs, stopped = _fit(problem, study, execution or Execution(), store, finished)
    result = collect(problem, study, runs=runs, resumed=resumed, stopped=stopped)
    result = replace(result, notes=opened.notes + result.notes)
    if store is not None:
        result = replace(result, files=write_calibration(result, store.root))
    return result


def _fit(
    problem: CalibrationProblem,
    study: optuna.Study,
    execution: Execution,
    store: ResultStore | None,
    finished: dict[str, CellResult],
) -> tuple[int, str | None]:
    spec = problem.spec
    ledger = Ledger(study, ["minimize"])
    space = space_size(problem.distributions)
    worker = partial(run_measured, targets=tuple(spec.targets))
    runs, stopped = 0, None
    execution.update(ledger.spent, spec.trials, ledger.failed, "candidates", "0 runs")
    with execution.executor_for() as executor:
        while ledger.spent < spec.trials and stopped is None:
            batch: list[_Candidate] = []
            while len(batch) < spec.parallel and ledger.spent + len(batch) < spec.trials:
                stopped = ledger.why_stop(len(batch), space, spec.trials)
                if stopped is not None:
                    break
                cand = _propose(problem, study, ledger, batch)
                if cand is not None:
                    batch.append(cand)
            if not batch:
                break
            todo: list[tuple[_Candidate, int, Cell]] = []
            for cand in batch:
                for i, cell in enumerate(cand.cells):
                    if cell.cell_id in finished:
                        cand.results[i] = finished[cell.cell_id]
                    else:
                        todo.append((cand, i, cell))
            for outcome in executor.run(worker, [c for _, _, c in todo]) if todo else ():
                cand, i, cell = todo[outcome.index]
                cand.results[i] = settle(outcome, cell, store, finished)
                runs += 1
            for cand in batch:  # told in the order asked, whatever finished first
                _tell(cand, problem, study, ledger)
            execution.update(ledger.spent, spec.trials, ledger.failed, "candidates", f"{runs} runs")
    return runs, stopped


def _propose(
    problem: CalibrationProblem, study: optuna.Study, ledger: Ledger, batch: list[_Candidate]
) -> _Candidate | None:
    study.sampler = _sampler(problem.spec, ledger.asked)
    trial = ledger.ask(problem.distributions)
    params = {p: clean(trial.params[p]) for p in problem.spec.free}
    original = ledger.finished(params)
    if original is not None:
        ledger.repeat(trial, params, original)
        return None
    for cand in batch:
        if key(cand.params) == key(params):
            cand.twins.append((trial, params))
            return None
    try:
        sc, pol, hosts = apply_point(problem.scenario, problem.policy, problem.hosts, params)
    except ConfigError as exc:
        ledger.refuse(trial, params, exc.message)
        return None
    cells = [
        measured_cell(make_cell(sc, pol, hosts, i, seed), problem.digest)
        for i, seed in enumerate(problem.seeds)
    ]
    return _Candidate(trial, params, cells)


def target_error(target: Target, values: list[float], run_ends: list[float]) -> dict[str, Any]:
    """A target's simulated mean over seeds, its signed standardised error and
    the seeds in which it did not happen (or was undefined)."""
    missing = sum(math.isnan(v) for v in values)
    obs, tol = target.observed_value, target.tolerance
    if target.event is not None:
        # Not by the end of the run: as if one tolerance after it.
        used = [end + tol if math.isnan(v) else v for v, end in zip(values, run_ends, strict=True)]
    else:
        used = [v for v in values if not math.isnan(v)]
    if not used:
        return {"mean": math.nan, "error": UNDEFINED_ERROR, "missing": missing}
    mean = float(np.mean(used))
    return {"mean": mean, "error": (mean - obs) / tol, "missing": missing}


def _tell(
    cand: _Candidate, problem: CalibrationProblem, study: optuna.Study, ledger: Ledger
) -> None:
    spec = problem.spec
    failed = [r.error for r in cand.results.values() if not r.ok]
    record: dict[str, Any] = {"params": cand.params, "seeds": len(cand.results)}
    if failed:
        record |= {"outcome": FAILED, "error": failed[0]}
        cand.trial.set_user_attr(ATTR, record)
        told = study.tell(cand.trial, state=TrialState.FAIL)
    else:
        ordered = [cand.results[i].metrics or {} for i in range(len(cand.cells))]
        ends = [float(m[RUN_END]) for m in ordered]
        fits: dict[str, Any] = {}
        distance = 0.0
        for t in spec.targets:
            values = [float(m.get(t.name, math.nan)) for m in ordered]
            fit = target_error(t, values, ends)
            fits[t.name] = {**fit, "values": values}
            distance += spec.weight(t) * fit["error"] ** 2
        record |= {"outcome": EVALUATED, "targets": fits, "distance": distance}
        cand.trial.set_user_attr(ATTR, _plain(record))
        told = study.tell(cand.trial, float(min(distance, 1e300)))
    ledger.done(told)
    for twin, params in cand.twins:
        ledger.repeat(twin, params, told)


def _plain(v: Any) -> Any:
    """JSON for optuna's storage: NaN as null."""
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def collect(
    problem: CalibrationProblem,
    study: optuna.Study,
    runs: int = 0,
    resumed: int = 0,
    stopped: str | None = None,
) -> CalibrationResult:
    """The candidates, accepted set, fit, accepted ranges and tensions of a study."""
    spec = problem.spec
    rows: list[dict[str, Any]] = []
    for t, rec, kind in recorded(study):
        if kind not in (EVALUATED, FAILED):
            continue
        row: dict[str, Any] = {
            "candidate": len(rows),
            "trial": t.number,
            "state": "COMPLETE" if kind == EVALUATED else "FAIL",
            "error": rec.get("error"),
            "params": dict(rec["params"]),
            **rec["params"],
            "distance": _num(rec.get("distance")),
        }
        for target in spec.targets:
            fit = rec.get("targets", {}).get(target.name, {})
            row[target.name] = _num(fit.get("mean"))
            row[f"{target.name} | error"] = _num(fit.get("error"))
            row[f"{target.name} | missing"] = int(fit.get("missing", 0))
        rows.append(row)
    counted = count(study, problem.distributions, spec.trials, stopped)
    return analyse(spec, pd.DataFrame(rows), problem.seeds, counted, runs=runs, resumed=resumed)


__all__ = ["CalibrationResult", "calibrate", "collect", "load_calibration"]
