"""The files of a policy search and of a robustness study: written, and read back.

``write_search`` writes what ``modsim optimize`` leaves in its folder: the
trial history (``trials.csv``), the Pareto front (``pareto.csv``,
``pareto.png``), the recommended policy (``recommended.yaml``), everything
a report needs to be rebuilt (``search.json``) and the report itself
(``report.html`` and its Markdown twin ``report.md``). ``write_robustness``
does the same for a robustness study (``robustness.csv``,
``robustness_runs.csv``, ``sensitivity.csv``, ``sensitivity.png``,
``robustness.json``). ``read_search`` and ``read_robustness`` load them back,
so ``modsim report`` rebuilds the same report from the folder alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from simulator.errors import ModsimError

if TYPE_CHECKING:
    from simulator.experiments.robustness import RobustnessResult
    from simulator.experiments.search import SearchResult
    from simulator.report.context import Report

SEARCH_FILE = "search.json"
ROBUSTNESS_FILE = "robustness.json"
_STRUCTURED = ("params", "changes", "raw_thresholds")
_NOT_NUMBERS = {"trial", "state", "seeds", "feasible", "pareto", "error", *_STRUCTURED}


def _write(path: Path, text: str | bytes) -> None:
    from simulator.experiments.store import write_atomic

    def write(p: Path) -> None:
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")

    write_atomic(path, write)


def policy_yaml(policy: Any, comment: str = "") -> str:
    """A PlatformPolicy as a ready-to-use YAML file (defaults left out)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    data = {"kind": "PlatformPolicy", "version": 1, **data}
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _json_value(v: Any) -> Any:
    """Plain JSON, numbers as in study records (:func:`to_json_number`)."""
    from simulator.experiments.search import to_json_number

    if isinstance(v, float):
        return to_json_number(v)
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if hasattr(v, "item"):  # numpy scalars
        return _json_value(v.item())
    return v


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    # Lists and dicts (params, changes) as JSON text, so CSV readers see one cell.
    out = frame.copy()
    for col in _STRUCTURED:
        if col in out:
            out[col] = out[col].map(lambda v: json.dumps(v, default=str))
    return out


def render(report: Report, root: Path) -> dict[str, str]:
    """Write a report's HTML and Markdown twin into ``root``."""
    from simulator.report.html import render_html, render_markdown

    html, md = root / "report.html", root / "report.md"
    _write(html, render_html(report))
    _write(md, render_markdown(report, html.name))
    return {"report": str(html), "report_md": str(md)}


# --- search ---------------------------------------------------------------------


def write_search(
    result: SearchResult, root: Path, robustness: RobustnessResult | None = None
) -> SearchResult:
    """Write the search's files to ``root``; return the result with their names.

    A robustness study already in the folder (``modsim optimize --robustness``
    run earlier) is reported with the search unless another is given."""
    from dataclasses import replace

    from simulator.report.search import search_figures, search_report

    root = Path(root)
    if robustness is None and (root / ROBUSTNESS_FILE).is_file():
        robustness = read_robustness(root)
    files: dict[str, str] = {}
    for name, frame in (("trials", result.trials), ("pareto", result.pareto)):
        path = root / f"{name}.csv"
        _write(path, _records(frame).to_csv(index=False))
        files[name] = str(path)
    rec = result.recommendation
    state = {
        "spec": result.spec.model_dump(mode="json"),
        "base": result.base.model_dump(mode="json"),
        "recommended": None
        if result.recommended is None
        else result.recommended.model_dump(mode="json"),
        "recommended_trial": None if rec is None else int(rec["trial"]),
        "trials": _json_value(result.trials.to_dict("records")),
    }
    _write(root / SEARCH_FILE, json.dumps(state, indent=1) + "\n")
    files["state"] = str(root / SEARCH_FILE)
    if result.recommended is not None and rec is not None:
        path = root / "recommended.yaml"
        comment = (
            f"Recommended by `modsim optimize` ({result.spec.name}): the cheapest candidate\n"
            "that met every constraint by its one-sided interval. Changes from the base:\n"
            + "\n".join(f"  {c}" for c in rec["changes"])
        )
        _write(path, policy_yaml(result.recommended, comment))
        files["recommended"] = str(path)
    figures = search_figures(result, robustness)
    for name, drawn in figures.items():
        path = root / f"{name}.png"
        _write(path, drawn.png)
        files[f"{name}_plot"] = str(path)
    files |= render(search_report(result, robustness, figures), root)
    return replace(result, files=files)


def read_search(root: Path) -> tuple[SearchResult, RobustnessResult | None]:
    """A search (and its robustness study, if any) from its results folder."""
    from simulator.config import PlatformPolicy
    from simulator.config.search import Optimization
    from simulator.experiments.search import SearchResult

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
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModsimError(f"{path}: not a modsim search record ({exc})") from None
    from simulator.experiments.search import from_json_number

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
    result = SearchResult(spec, trials, pareto, recommended, recommendation, base)
    robustness = read_robustness(root) if (Path(root) / ROBUSTNESS_FILE).is_file() else None
    return result, robustness


# --- robustness -----------------------------------------------------------------


def write_robustness(result: RobustnessResult, root: Path, report: bool = True) -> dict[str, str]:
    """Write a robustness study's tables, plot and record to ``root``, and
    (unless ``report`` is false: a search's report will carry it) its report."""
    from simulator.report.search import robustness_figures, robustness_report

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "runs": root / "robustness_runs.csv",
        "table": root / "robustness.csv",
        "sensitivity": root / "sensitivity.csv",
    }
    _write(files["runs"], result.runs.to_csv(index=False))
    _write(files["table"], result.table.to_csv(index=False))
    _write(files["sensitivity"], result.sensitivity.to_csv(index=False))
    meta = {
        "name": result.name,
        "constraints": result.constraints,
        "ranges": {k: list(v) for k, v in result.ranges.items()},
        "method": result.method,
        "points": result.points,
        "seeds": result.seeds,
        "notes": result.notes,
    }
    _write(root / ROBUSTNESS_FILE, json.dumps(meta, indent=1) + "\n")
    out = {k: str(v) for k, v in files.items()} | {"state": str(root / ROBUSTNESS_FILE)}
    figures = robustness_figures(result)
    _write(root / "sensitivity.png", figures["sensitivity"].png)
    out["plot"] = str(root / "sensitivity.png")
    if report:
        out |= render(robustness_report(result, figures), root)
    return out


def read_robustness(root: Path) -> RobustnessResult:
    """A robustness study from its results folder."""
    from simulator.experiments.robustness import RobustnessResult

    root = Path(root)
    path = root / ROBUSTNESS_FILE
    names = ("robustness_runs.csv", "robustness.csv", "sensitivity.csv")
    missing = [n for n in (ROBUSTNESS_FILE, *names) if not (root / n).is_file()]
    if missing:
        raise ModsimError(f"{root}: incomplete robustness results, missing {', '.join(missing)}")
    text = {"policy": str, "input": str, "metric": str}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        frames = [pd.read_csv(root / n, dtype=text) for n in names]
        return RobustnessResult(
            name=str(meta["name"]),
            runs=frames[0],
            table=frames[1],
            sensitivity=frames[2],
            constraints=list(meta["constraints"]),
            ranges={k: (str(v[0]), str(v[1])) for k, v in meta["ranges"].items()},
            method=str(meta["method"]),
            points=int(meta["points"]),
            seeds=int(meta["seeds"]),
            notes=list(meta.get("notes", [])),
        )
    except pd.errors.EmptyDataError:
        raise ModsimError(f"{root}: a robustness table is empty") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModsimError(f"{path}: not a modsim robustness record ({exc})") from None
