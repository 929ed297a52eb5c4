"""The figures of a policy search's and a robustness study's reports, drawn
once with matplotlib and kept both as inline SVG (the HTML report) and as PNG
bytes (files the Markdown twin links)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.folders.robustness import RobustnessResult
from simulator.folders.search import SearchResult
from simulator.format import as_written, decimal
from simulator.report import plots
from simulator.report.labels import metric_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


@dataclass(frozen=True)
class Drawn:
    """A figure drawn once, kept as inline SVG (HTML) and PNG bytes (a file the
    Markdown twin links)."""

    svg: str
    png: bytes


def draw(build: Callable[[], MplFigure], title: str) -> Drawn:
    """Build a matplotlib figure in the report style; return it as SVG and PNG."""
    with plots.styled():
        fig = build()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        return Drawn(plots.to_svg(fig, title), buf.getvalue())


def _axis_label(metric: str, currency: str) -> str:
    label = metric_label(metric)
    return f"{label} ({currency})" if metric.startswith("cost_") and currency else label


def pareto_figure(result: SearchResult) -> MplFigure:
    """Every evaluated candidate on the first two objectives (or the first
    against the trial number): feasible ones filled, the Pareto front joined,
    the recommendation starred with its 95% intervals."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    t = result.trials
    objectives = [o.metric for o in result.spec.objectives]
    done = t[t["state"] == "COMPLETE"] if len(t) else t
    if done.empty:
        ax.text(0.5, 0.5, "no trial finished", ha="center", va="center")
        return fig
    x, y = (objectives[0], objectives[1]) if len(objectives) > 1 else ("trial", objectives[0])
    currency = result.base.costs.currency
    bad = done[~done["feasible"].astype(bool)]
    good = done[done["feasible"].astype(bool)]
    ax.scatter(bad[x], bad[y], marker="x", color="#999999", label="infeasible or undecided")
    ax.scatter(good[x], good[y], marker="o", color=plots.COLOURS[0], label="feasible")
    front = result.pareto.sort_values(x) if len(result.pareto) else result.pareto
    if len(front) > 1:
        ax.plot(front[x], front[y], color=plots.COLOURS[0], lw=1, ls="--", label="Pareto front")
    rec = result.recommendation
    if rec is not None:

        def err(m: str) -> list[list[float]] | None:
            lo, hi = rec.get(f"{m}_ci_low"), rec.get(f"{m}_ci_high")
            if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
                return None
            return [[max(rec[m] - lo, 0.0)], [max(hi - rec[m], 0.0)]]

        ax.errorbar(
            [rec[x]],
            [rec[y]],
            xerr=err(x),
            yerr=err(y),
            marker="*",
            markersize=16,
            color=plots.COLOURS[1],
            capsize=3,
            linestyle="none",
            label="recommended (95% interval)",
            zorder=3,
        )
    ax.set_xlabel(_axis_label(x, currency))
    ax.set_ylabel(_axis_label(y, currency))
    thousands = FuncFormatter(lambda v, _: decimal(v, 0) if abs(v) >= 1000 else as_written(v))
    ax.xaxis.set_major_formatter(thousands)
    ax.yaxis.set_major_formatter(thousands)
    ax.set_title(f"{len(done)} candidates evaluated", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def sensitivity_figure(result: RobustnessResult) -> MplFigure:
    """One panel per headline metric: each uncertain input's share of the
    sensitivity, one bar per policy (colour and hatch), largest at the top."""
    import matplotlib.pyplot as plt

    s = result.sensitivity
    metrics = list(dict.fromkeys(s["metric"])) if len(s) else []
    policies = list(dict.fromkeys(s["policy"])) if len(s) else []
    inputs = list(dict.fromkeys(s["input"])) if len(s) else []
    height = 1.2 + max(1, len(metrics)) * (0.5 + 0.28 * len(inputs) * max(1, len(policies)))
    fig, axes = plt.subplots(max(1, len(metrics)), 1, figsize=(7.0, height), squeeze=False)
    if not metrics:
        axes[0, 0].text(0.5, 0.5, "no sensitivity computed", ha="center", va="center")
        return fig
    width = 0.8 / len(policies)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        sub = s[s["metric"] == metric]
        table = sub.pivot_table(index="input", columns="policy", values="share", sort=False)
        table = table.reindex(columns=policies)
        table = table.loc[table.mean(axis=1).sort_values().index]
        ys = np.arange(len(table))
        for i, policy in enumerate(policies):
            ax.barh(
                ys + (i - (len(policies) - 1) / 2) * width,
                table[policy].fillna(0.0).to_numpy(),
                height=width,
                color="white",
                edgecolor=plots.COLOURS[i % len(plots.COLOURS)],
                hatch=plots.HATCHES[(i + 1) % len(plots.HATCHES)],
                linewidth=1.2,
                label=policy,
            )
        ax.set_yticks(ys, list(table.index), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title(metric_label(metric), fontsize=9)
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel("share of the sensitivity (normalised index)")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
