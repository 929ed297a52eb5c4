"""What a search's sampler proposes, and what becomes of each proposal.

optuna's samplers learn only from finished (COMPLETE) trials: a trial told
FAIL is ignored, so a candidate the policy refuses, told FAIL, is proposed
again and again. Here every proposal is told a result the sampler learns from:

* **Refused.** The candidate breaks the policy's own rules (``votes_to_remove``
  above ``votes_per_case``, a jury larger than its pool): it is never run, and
  is told COMPLETE but infeasible, with a violation of :data:`PENALTY` on the
  constraint :data:`RULES` (larger than any measured constraint's margin, so
  it ranks below every candidate that ran) and the worst objective values.
  TPE and NSGA-II rank infeasible trials by their violation and learn to
  avoid the region.
* **Duplicate.** Its parameters equal those of a candidate already proposed:
  it is not run again. It is told what that candidate was told (at once if
  it has finished, else when it does), and counted as a duplicate; tables
  and the Pareto front list each distinct candidate once.
* **New.** The search evaluates it.

Why penalise rather than shape the space so that refused candidates cannot
be proposed (``votes_to_remove`` drawn up to the drawn ``votes_per_case``,
define-by-run)? The rules are the policy's validators, any of them and
across any fields, some involving fields the search does not vary; searched
fields are often lists of choices, whose value space optuna cannot make
depend on another draw; and a space that changes from trial to trial makes
the multivariate TPE fall back to independent sampling. The penalty covers
every rule the policy has, without restating one of them here.

The :class:`Ledger` also knows how many candidates a discrete space holds,
so that a search over a small one stops once every candidate was proposed,
and how many proposals the whole study has made, capped at
:data:`MAX_ASKS_PER_TRIAL` per trial of the budget.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel

from simulator.experiments.design import Cell
from simulator.experiments.executors import Outcome
from simulator.folders.experiment import STATUS_FAILED, CellResult, ResultStore
from simulator.folders.search import ASK_LIMIT, EXHAUSTED, Proposals

ATTR = "modsim"
"""The user attribute holding a trial's record."""
RULES = "policy rules"
"""The constraint a refused candidate violates."""
PENALTY = 1e15
"""Its violation: above any measured constraint's (margins are clipped at 1e12)."""
WORST = 1e300
"""The objective value of a refused candidate (optuna takes no infinities in
hypervolumes; this sorts last as well)."""
MAX_ASKS_PER_TRIAL = 20
"""Proposals a study may make per trial of its budget: refused and duplicate
ones cost no run, but a sampler stuck on them must not loop for ever."""

EVALUATED, FAILED, REFUSED, DUPLICATE = "evaluated", "failed", "refused", "duplicate"
_FINISHED = (TrialState.COMPLETE, TrialState.FAIL)


def outcome(record: Mapping[str, Any]) -> str:
    """What became of a proposal, by its record (older records say it by key)."""
    if "outcome" in record:
        return str(record["outcome"])
    if "invalid" in record:
        return REFUSED
    return FAILED if record.get("error") else EVALUATED


def key(params: Mapping[str, Any]) -> str:
    """A candidate's identity: its searched values (cleaned, see fields.clean)."""
    return json.dumps(dict(params), sort_keys=True, default=str)


def recorded(study: optuna.Study) -> Iterator[tuple[FrozenTrial, dict[str, Any], str]]:
    """Each finished proposal with its record and what became of it, in the
    order asked; a candidate proposed again (even by a study older than
    duplicates) is a duplicate of its first proposal."""
    seen: set[str] = set()
    for t in study.get_trials(deepcopy=False, states=_FINISHED):
        rec = t.user_attrs.get(ATTR)
        if rec is None:
            continue  # left running by an interruption, and asked again
        k = key(rec["params"])
        yield t, rec, DUPLICATE if k in seen else outcome(rec)
        seen.add(k)


def study_name(spec: BaseModel, budget: set[str]) -> str:
    """A study's name from its document: the question (not the ``budget``
    fields) names it, so raising the budget resumes the study and changing
    what is asked starts a fresh one."""
    identity = spec.model_dump(mode="json", exclude=budget)
    digest = hashlib.blake2b(
        json.dumps(identity, sort_keys=True).encode(), digest_size=6
    ).hexdigest()
    return f"{getattr(spec, 'name', 'study')}-{digest}"


def requeue_interrupted(study: optuna.Study) -> int:
    """Mark trials left running by an interrupted study as failed and ask
    their parameters again first (each candidate once); return the candidates
    already evaluated."""
    storage = study._storage  # the public Study has no way to fail a stale trial
    again: dict[str, FrozenTrial] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        again.setdefault(key(t.params), t)
    for t in again.values():
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
    return sum(kind == EVALUATED for _, _, kind in recorded(study))


@dataclass
class OpenStudy:
    """A study opened for a search or a calibration: its optuna study, the
    results folder's store (None without ``out``), the runs already finished
    there, the candidates already evaluated, and what the user should hear
    about the folder (a changed document starts a fresh study)."""

    study: optuna.Study
    store: ResultStore | None
    finished: dict[str, CellResult]
    resumed: int
    notes: list[str]


def open_study(
    spec: BaseModel,
    *,
    kind: str,
    budget: set[str],
    out: Any,
    force: bool,
    directions: Sequence[Any],
    sampler: optuna.samplers.BaseSampler,
) -> OpenStudy:
    """Open (or resume) the study a document asks for, in ``out`` when given:
    the folder's manifest says ``kind``, optuna's storage is its ``study.db``,
    trials an interruption left running are asked again first."""
    store = ResultStore.open(out, force) if out is not None else None
    storage: str | None = None
    notes: list[str] = []
    name = study_name(spec, budget)
    if store is not None:
        store.write_manifest({"kind": kind, "name": getattr(spec, "name", kind)})
        storage = f"sqlite:///{(store.root / 'study.db').resolve()}"
        earlier = optuna.get_all_study_names(storage)
        if earlier and name not in earlier:
            notes.append(
                "The document changed since the last study in this folder: a fresh "
                "study was started (the earlier one stays in study.db; --force wipes the "
                "folder)."
            )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        load_if_exists=True,
    )
    resumed = requeue_interrupted(study)
    finished = store.finished() if store is not None else {}
    return OpenStudy(study, store, finished, resumed, notes)


def space_size(distributions: Mapping[str, BaseDistribution]) -> int | None:
    """How many candidates the search space holds, or ``None`` if a field is continuous."""
    n = 1
    for d in distributions.values():
        if isinstance(d, CategoricalDistribution):
            n *= len(d.choices)
        elif isinstance(d, IntDistribution):
            n *= (d.high - d.low) // d.step + 1
        elif isinstance(d, FloatDistribution) and d.step is not None:
            n *= math.floor((d.high - d.low) / d.step + 1e-9) + 1
        else:
            return None
    return n


def reason(message: str) -> str:
    """A refusal's reason without the values of one candidate, so that the same
    rule broken by different values counts once: ``votes_to_remove (4)
    exceeds votes_per_case (3)`` becomes ``votes_to_remove exceeds votes_per_case``."""
    first = message.splitlines()[0] if message else ""
    first = re.sub(r"\s*\([^()]*\)", "", first)
    return re.sub(r";? got .*$", "", first).strip()


class Ledger:
    """A study's proposals by candidate: which have finished, which are
    refused, how many were asked, and the telling of refused and duplicate ones."""

    def __init__(self, study: optuna.Study, directions: Sequence[str]) -> None:
        self._study = study
        self._worst = [WORST if d == "minimize" else -WORST for d in directions]
        self._done: dict[str, FrozenTrial] = {}
        self.asked = 0
        self.spent = 0
        """Distinct candidates that ran (evaluated or failed): what the budget counts."""
        self.failed = 0
        """Of those, the ones a run failed."""
        for t, rec, _ in recorded(study):
            self.asked += 1
            self._add(t, rec)

    @property
    def distinct(self) -> int:
        return len(self._done)

    def why_stop(self, in_flight: int, space: int | None, trials: int) -> str | None:
        """Why no candidate more may be asked for (``in_flight`` asked, not yet told):
        the space is used up, or too many asks went to refused or repeated ones."""
        if space is not None and self.distinct + in_flight >= space:
            return EXHAUSTED
        if self.asked >= MAX_ASKS_PER_TRIAL * trials:
            return ASK_LIMIT
        return None

    def ask(self, distributions: Mapping[str, BaseDistribution]) -> optuna.Trial:
        """A proposal from the sampler, counted."""
        self.asked += 1
        return self._study.ask(dict(distributions))

    def finished(self, params: Mapping[str, Any]) -> FrozenTrial | None:
        """The finished candidate with these parameters, if one was proposed."""
        return self._done.get(key(params))

    def done(self, trial: FrozenTrial) -> None:
        """Note a candidate just told its result."""
        self._add(trial, trial.user_attrs[ATTR])

    def _add(self, trial: FrozenTrial, rec: Mapping[str, Any]) -> None:
        k = key(rec["params"])
        if outcome(rec) == DUPLICATE or k in self._done:
            return
        self._done[k] = trial
        self.spent += outcome(rec) in (EVALUATED, FAILED)
        self.failed += outcome(rec) == FAILED

    def refuse(self, trial: optuna.Trial, params: dict[str, Any], message: str) -> None:
        """Tell a candidate the policy's rules refuse: complete, infeasible, worst."""
        trial.set_user_attr(ATTR, {"params": params, "outcome": REFUSED, "refused": message})
        trial.set_constraint(RULES, PENALTY)
        self.done(self._study.tell(trial, self._worst))

    def repeat(self, trial: optuna.Trial, params: dict[str, Any], original: FrozenTrial) -> None:
        """Tell a duplicate what its original was told."""
        record = {"params": params, "outcome": DUPLICATE, "duplicate_of": original.number}
        trial.set_user_attr(ATTR, record)
        for name, value in original.constraints.items():
            trial.set_constraint(name, value)
        if original.state == TrialState.COMPLETE:
            self._study.tell(trial, original.values)
        else:
            self._study.tell(trial, state=TrialState.FAIL)


def count(
    study: optuna.Study,
    distributions: Mapping[str, BaseDistribution],
    budget: int,
    stopped: str | None = None,
) -> Proposals:
    """The study's proposals counted, each distinct candidate by its first proposal."""
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    for _, rec, kind in recorded(study):
        seen.add(key(rec["params"]))
        kinds[kind] += 1
        if kind == REFUSED:
            refusals[reason(str(rec.get("refused", rec.get("invalid", ""))))] += 1
    return Proposals(
        asked=sum(kinds.values()),
        distinct=len(seen),
        evaluated=kinds[EVALUATED],
        failed=kinds[FAILED],
        refused=kinds[REFUSED],
        duplicates=kinds[DUPLICATE],
        refusals=dict(refusals.most_common()),
        space=space_size(distributions),
        stopped=stopped,
        ask_limit=MAX_ASKS_PER_TRIAL * budget,
    )


def settle(
    outcome: Outcome, cell: Cell, store: ResultStore | None, finished: dict[str, CellResult]
) -> CellResult:
    """A candidate's run as it came back (a failure if it gave no result), kept in the
    store and in ``finished`` when it succeeded, so a resumed study does not run it again."""
    result = outcome.value or CellResult(
        cell.cell_id, STATUS_FAILED, error=outcome.error or "no result"
    )
    if store is not None and result.ok:
        store.write_cell(result)
        finished[cell.cell_id] = result
    return result
