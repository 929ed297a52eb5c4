"""A policy search's result and its folder: written, and read back.

``modsim optimize`` keeps its study (``study.db``) and every finished run
(``cells/``, see :mod:`~simulator.folders.experiment`) in its folder as it
goes; at the end :func:`write_search` adds the trial history
(``trials.csv``), the Pareto front (``pareto.csv``), the recommended policy
(``recommended.yaml``) and everything a report needs to be rebuilt
(``search.json``). :func:`read_search` loads them back, so ``modsim report``
rebuilds the same report from the folder alone. The figures and the report
itself are drawn by :mod:`simulator.report` and written by
:mod:`simulator.studies`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simulator.config import PlatformPolicy
from simulator.config.search import Optimization
from simulator.errors import ModsimError
from simulator.folders.atomic import write_text
from simulator.folders.robustness import ROBUSTNESS_FILE, RobustnessResult, read_robustness

SEARCH_FILE = "search.json"
EXHAUSTED, ASK_LIMIT = "exhausted", "ask limit"
"""Why a search stopped short of its trial budget (:attr:`Proposals.stopped`)."""
_STRUCTURED = ("params", "changes", "raw_thresholds")
_NOT_NUMBERS = {"trial", "state", "seeds", "feasible", "pareto", "error", *_STRUCTURED}


@dataclass(frozen=True)
class Proposals:
    """What the sampler proposed over a whole study, and what became of it.

    Every proposal (``asked``) is either a ``distinct`` candidate or one of
    the ``duplicates`` of a candidate proposed before (not run again); each
    distinct candidate was ``evaluated``, ``failed`` in a run, or ``refused``
    by the policy's own rules (never run). ``refusals`` counts the refused
    by reason. ``space`` is the number of candidates the search space holds
    (``None`` when a field is continuous). ``stopped`` says why the search
    ended before its trial budget: ``"exhausted"`` (every candidate of the
    space was proposed) or ``"ask limit"`` (the sampler made
    ``ask_limit`` proposals without finding enough new valid candidates).
    """

    asked: int = 0
    distinct: int = 0
    evaluated: int = 0
    failed: int = 0
    refused: int = 0
    duplicates: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    space: int | None = None
    stopped: str | None = None
    ask_limit: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposals:
        return cls(**data)


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
    """Candidates found finished in the study and not evaluated again."""
    proposals: Proposals | None = None
    """The study's proposals counted (``None`` in a record written before they were)."""
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchFolder:
    """What ``modsim optimize`` wrote (with its robustness study, if one was run)."""

    path: Path
    result: SearchResult
    robustness: RobustnessResult | None = None

    kind = "optimization"


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


def policy_yaml(policy: Any, comment: str = "") -> str:
    """A PlatformPolicy as a ready-to-use YAML file (defaults left out)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    data = {"kind": "PlatformPolicy", "version": 1, **data}
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def json_value(v: Any) -> Any:
    """Plain JSON, numbers as in study records (:func:`to_json_number`)."""
    if isinstance(v, float):
        return to_json_number(v)
    if isinstance(v, dict):
        return {k: json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_value(x) for x in v]
    if hasattr(v, "item"):  # numpy scalars
        return json_value(v.item())
    return v


def csv_records(frame: pd.DataFrame) -> pd.DataFrame:
    # Lists and dicts (params, changes) as JSON text, so CSV readers see one cell.
    out = frame.copy()
    for col in _STRUCTURED:
        if col in out:
            out[col] = out[col].map(lambda v: json.dumps(v, default=str))
    return out


def write_search(result: SearchResult, root: Path) -> dict[str, str]:
    """Write the search's tables, record and recommended policy to ``root``;
    return their paths by role."""
    root = Path(root)
    files: dict[str, str] = {}
    for name, frame in (("trials", result.trials), ("pareto", result.pareto)):
        path = root / f"{name}.csv"
        write_text(path, csv_records(frame).to_csv(index=False))
        files[name] = str(path)
    rec = result.recommendation
    state = {
        "spec": result.spec.model_dump(mode="json"),
        "base": result.base.model_dump(mode="json"),
        "recommended": None
        if result.recommended is None
        else result.recommended.model_dump(mode="json"),
        "recommended_trial": None if rec is None else int(rec["trial"]),
        "trials": json_value(result.trials.to_dict("records")),
        "proposals": None if result.proposals is None else result.proposals.to_dict(),
    }
    write_text(root / SEARCH_FILE, json.dumps(state, indent=1) + "\n")
    files["state"] = str(root / SEARCH_FILE)
    if result.recommended is not None and rec is not None:
        path = root / "recommended.yaml"
        comment = (
            f"Recommended by `modsim optimize` ({result.spec.name}): the cheapest candidate\n"
            "that met every constraint by its one-sided interval. Changes from the base:\n"
            + "\n".join(f"  {c}" for c in rec["changes"])
        )
        write_text(path, policy_yaml(result.recommended, comment))
        files["recommended"] = str(path)
    return files


def read_search(root: Path) -> tuple[SearchResult, RobustnessResult | None]:
    """A search (and its robustness study, if any) from its results folder."""
    path = Path(root) / SEARCH_FILE
    if not path.is_file():
        raise ModsimError(
            f"{root}: incomplete search results, missing {SEARCH_FILE} "
            "(run the same `modsim optimize` command again to finish it)"
        )
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        spec = Optimization.model_validate(state["spec"])
        base = PlatformPolicy.model_validate(state["base"])
        recommended = (
            None
            if state["recommended"] is None
            else PlatformPolicy.model_validate(state["recommended"])
        )
        trials = pd.DataFrame(state["trials"])
        rec_trial = state["recommended_trial"]
        counted = state.get("proposals")
        proposals = None if counted is None else Proposals.from_dict(counted)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModsimError(f"{path}: not a modsim search record ({exc})") from None
    for col in trials.columns:
        if col in _NOT_NUMBERS or col in spec.search or col.endswith(" | status"):
            continue
        trials[col] = trials[col].map(from_json_number).astype(float)
    if trials.empty:
        pareto = trials
    else:
        pareto = trials[trials["pareto"].astype(bool)].reset_index(drop=True)
    recommendation = None
    if rec_trial is not None:
        match = trials[trials["trial"] == rec_trial]
        if match.empty:
            raise ModsimError(f"{path}: the recommended trial {rec_trial} is not in the record")
        recommendation = match.iloc[0].to_dict()
    result = SearchResult(
        spec, trials, pareto, recommended, recommendation, base, proposals=proposals
    )
    robustness = read_robustness(root) if (Path(root) / ROBUSTNESS_FILE).is_file() else None
    return result, robustness
