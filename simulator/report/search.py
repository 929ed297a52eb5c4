"""Reports of a policy search and of a robustness study: files, plots, Markdown.

Plot functions return matplotlib figures so that any report (this Markdown
one, the HTML report) can embed them; :func:`write_search` and
:func:`write_robustness` write a results folder. Nothing here re-runs a
simulation: everything is read from the results.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from simulator.report.markdown import _ENV

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from simulator.experiments.robustness import RobustnessResult
    from simulator.experiments.search import SearchResult


def _write(path: Path, text: str) -> None:
    from simulator.experiments.store import write_atomic

    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    write_atomic(path, write)


def _figure_file(fig: Figure, path: Path) -> None:
    from simulator.experiments.store import write_atomic

    def save(p: Path) -> None:
        fig.savefig(p, format="png", dpi=110, bbox_inches="tight")

    write_atomic(path, save)


def pareto_figure(result: SearchResult) -> Figure:
    """Every evaluated candidate on the first two objectives (or the first
    against the trial number): feasible ones filled, the Pareto front joined,
    the recommendation starred."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.6))
    ax = fig.add_subplot()
    t = result.trials
    objectives = [o.metric for o in result.spec.objectives]
    if t.empty:
        ax.text(0.5, 0.5, "no trial finished", ha="center", va="center")
        return fig
    done = t[t["state"] == "COMPLETE"]
    xcol = objectives[0]
    ycol = objectives[1] if len(objectives) > 1 else "trial"
    x, y = (xcol, ycol) if ycol != "trial" else ("trial", xcol)
    bad = done[~done["feasible"]]
    good = done[done["feasible"]]
    ax.scatter(bad[x], bad[y], marker="x", color="#b0b0b0", label="infeasible or undecided")
    ax.scatter(good[x], good[y], color="#1f77b4", label="feasible")
    front = result.pareto.sort_values(x) if len(result.pareto) else result.pareto
    if len(front) > 1:
        ax.plot(front[x], front[y], color="#1f77b4", lw=1, label="Pareto front")
    rec = result.recommendation
    if rec is not None:
        ax.scatter(
            [rec[x]], [rec[y]], marker="*", s=260, color="#d62728", label="recommended", zorder=3
        )
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.set_title(f"{result.spec.name}: candidates ({len(done)} evaluated)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def sensitivity_figure(result: RobustnessResult) -> Figure:
    """One panel per headline metric: each uncertain input's normalised
    sensitivity index, per policy (bars, largest first)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    s = result.sensitivity
    metrics = list(dict.fromkeys(s["metric"])) if len(s) else []
    fig = Figure(figsize=(7.0, 2.2 + 1.6 * max(1, len(metrics))))
    if not metrics:
        fig.add_subplot().text(0.5, 0.5, "no sensitivity computed", ha="center")
        return fig
    axes = fig.subplots(len(metrics), 1, squeeze=False)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        sub = s[s["metric"] == metric]
        table = sub.pivot_table(index="input", columns="policy", values="share", sort=False)
        table = table.loc[table.mean(axis=1).sort_values().index]
        table.plot.barh(ax=ax, legend=ax is axes[0])
        ax.set_title(_label(metric), fontsize=9)
        ax.set_xlabel("share of the sensitivity (normalised index)")
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def policy_yaml(policy: Any, comment: str = "") -> str:
    """A PlatformPolicy as a ready-to-use YAML file (defaults left out)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    data = {"kind": "PlatformPolicy", "version": 1, **data}
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isnan(x):
            return "n/a"
        if math.isinf(x):
            return "never" if x > 0 else "-inf"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    return str(x)


_ENV.filters.update(fmt=_fmt, label=_label)


def search_context(result: SearchResult) -> dict[str, Any]:
    """What the Markdown (or an HTML) template needs about a search."""
    spec = result.spec
    t = result.trials
    done = t[t["state"] == "COMPLETE"] if len(t) else t
    constraint_cols = [f"{c} | estimate" for c in spec.constraints]
    pareto_rows = []
    for _, row in result.pareto.iterrows():
        pareto_rows.append(
            {
                "trial": int(row["trial"]),
                "objectives": [
                    (row[o.metric], row[f"{o.metric}_ci_low"], row[f"{o.metric}_ci_high"])
                    for o in spec.objectives
                ],
                "constraints": [
                    (row[f"{c} | estimate"], row[f"{c} | bound"], row[f"{c} | status"])
                    for c in spec.constraints
                ],
                "seeds": int(row["seeds"]),
                "changes": row["changes"],
            }
        )
    rec = result.recommendation
    return {
        "spec": spec,
        "base": result.base,
        "evaluated": len(done),
        "feasible": int(done["feasible"].sum()) if len(done) else 0,
        "seeds_used": int(done["seeds"].sum()) if len(done) else 0,
        "seeds_min": int(done["seeds"].min()) if len(done) else 0,
        "seeds_max": int(done["seeds"].max()) if len(done) else 0,
        "pareto": pareto_rows,
        "rec": rec,
        "rec_objectives": [
            (o, rec[o.metric], rec[f"{o.metric}_ci_low"], rec[f"{o.metric}_ci_high"])
            for o in spec.objectives
        ]
        if rec
        else [],
        "rec_constraints": [
            (c, rec[f"{c} | estimate"], rec[f"{c} | bound"], rec[f"{c} | status"])
            for c in spec.constraints
        ]
        if rec
        else [],
        "constraint_cols": constraint_cols,
        "confidence": spec.seeds.confidence,
    }


def robustness_context(result: RobustnessResult) -> dict[str, Any]:
    ranking = (
        result.sensitivity.sort_values(["metric", "policy", "rank"])
        if len(result.sensitivity)
        else result.sensitivity
    )
    top: list[dict[str, Any]] = []
    for (metric, policy), g in ranking.groupby(["metric", "policy"], sort=False):
        top.append(
            {
                "metric": metric,
                "policy": policy,
                "order": [(r["input"], r["share"]) for _, r in g.iterrows()],
            }
        )
    return {
        "rob": result,
        "rob_table": result.table.to_dict("records"),
        "rob_constraints": result.constraints,
        "rob_ranking": top,
    }


def render_search(result: SearchResult, robustness: RobustnessResult | None = None) -> str:
    context = search_context(result) | {"robust": robustness is not None}
    if robustness is not None:
        context |= robustness_context(robustness)
    return _ENV.get_template("search.md.j2").render(**context)


def render_robustness(result: RobustnessResult) -> str:
    return _ENV.get_template("robustness.md.j2").render(**robustness_context(result))


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    # Lists and dicts (params, changes) as JSON text, so CSV readers see one cell.
    out = frame.copy()
    for col in ("params", "changes", "raw_thresholds"):
        if col in out:
            out[col] = out[col].map(lambda v: json.dumps(v, default=str))
    return out


def write_search(
    result: SearchResult, root: Path, robustness: RobustnessResult | None = None
) -> SearchResult:
    """Write the search's files to ``root``; return the result with their names."""
    root = Path(root)
    files: dict[str, str] = {}
    trials = root / "trials.csv"
    _write(trials, _records(result.trials).to_csv(index=False))
    files["trials"] = str(trials)
    pareto = root / "pareto.csv"
    _write(pareto, _records(result.pareto).to_csv(index=False))
    files["pareto"] = str(pareto)
    plot = root / "pareto.png"
    _figure_file(pareto_figure(result), plot)
    files["plot"] = str(plot)
    if result.recommended is not None:
        rec = root / "recommended.yaml"
        comment = (
            f"Recommended by `modsim optimize` ({result.spec.name}): the cheapest candidate\n"
            "that met every constraint by its one-sided interval. Changes from the base:\n"
            + "\n".join(f"  {c}" for c in result.recommendation["changes"])  # type: ignore[index]
        )
        _write(rec, policy_yaml(result.recommended, comment))
        files["recommended"] = str(rec)
    report = root / "report.md"
    _write(report, render_search(result, robustness))
    files["report"] = str(report)
    return replace(result, files=files)


def write_robustness(result: RobustnessResult, root: Path) -> dict[str, str]:
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
    plot = root / "sensitivity.png"
    _figure_file(sensitivity_figure(result), plot)
    report = root / "robustness.md"
    _write(report, render_robustness(result))
    return {k: str(v) for k, v in files.items()} | {"plot": str(plot), "report": str(report)}
