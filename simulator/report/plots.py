"""The report's figures: matplotlib (Agg) drawn to inline SVG text.

Every figure must read in black and white and for colour-blind readers:
series differ by line style and marker as well as by colour (the Okabe-Ito
palette), lines are labelled directly or in a legend, shaded bands are the
95% intervals and say so, and text stays text in the SVG (searchable,
selectable, scalable). The SVG is deterministic (fixed ids, no date) so the
same results give the same report. Every figure is drawn inside
:func:`styled`, whose settings also keep any label literal: a name with
``$...$`` in it is not read as mathtext.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from simulator.format import compact, decimal, hours_tick, share

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo")

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "modsim",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.grid": True,
    "grid.color": "#cccccc",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    # Labels carry names from the inputs (policies, teams, surges, parameter
    # values): a "$" in one is a dollar sign, never mathtext (which would
    # render it as math or fail to draw the figure).
    "text.parse_math": False,
}


COMPACT = FuncFormatter(lambda v, _pos: compact(v) if v else "0")
"""Tick labels as people write large figures (``1.5 M``), never matplotlib's
``1e7`` multiplier in the corner."""

Values = Sequence[float | None] | np.ndarray
"""Numbers along an axis; ``None`` or NaN leave a gap."""


@dataclass(frozen=True)
class Series:
    """One line: its label, points, and optionally a 95% band around it."""

    label: str
    x: Values
    y: Values
    lo: Values | None = None
    hi: Values | None = None


def styled() -> AbstractContextManager[Any]:
    # matplotlib types rc keys as literals; ours are checked by matplotlib at run time
    return plt.rc_context(_RC)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Point:
    """One labelled point with optional 95% intervals on each axis."""

    label: str
    x: float
    y: float
    x_ci: tuple[float, float] | None = None
    y_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Band:
    """A shaded period on a time axis (a surge), in days since the start."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Mark:
    """A vertical line on a time axis (an enforcement event), in days."""

    label: str
    day: float
    style: int = 0


def style(i: int) -> dict[str, object]:
    """Colour, line style and marker of the i-th series."""
    return {
        "color": COLOURS[i % len(COLOURS)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": MARKERS[i % len(MARKERS)],
    }


def to_svg(fig: Figure, title: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML, titled for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    head_end = svg.index(">") + 1
    safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    head = svg[:head_end].replace("<svg ", '<svg role="img" ', 1)
    return f"{head}<title>{safe}</title>{svg[head_end:]}"


def _finite(values: Values | None) -> np.ndarray | None:
    if values is None:
        return None
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _line(ax: Axes, s: Series, i: int, markevery: int | None = None) -> None:
    y = _finite(s.y)
    assert y is not None
    x = np.asarray(s.x, dtype=np.float64)
    ax.plot(x, y, label=s.label, linewidth=1.8, markersize=4, markevery=markevery, **style(i))  # type: ignore[arg-type]
    lo, hi = _finite(s.lo), _finite(s.hi)
    if lo is not None and hi is not None and np.isfinite(lo).any():
        ax.fill_between(
            x, lo, hi, color=COLOURS[i % len(COLOURS)], alpha=0.18, linewidth=0, hatch=None
        )


def latency_cdf(series: Sequence[Series], thresholds: Sequence[float]) -> str:
    """Share of violating posts removed within t, per policy, with threshold lines."""
    with styled():
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for i, s in enumerate(series):
            _line(ax, s, i, markevery=4)
        for h in thresholds:
            ax.axvline(h, color="#444444", linewidth=0.9, linestyle=(0, (2, 2)))
            ax.annotate(
                hours_tick(h),
                xy=(h, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                va="top",
                fontsize=8,
                rotation=90,
            )
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ticks = [1 / 60, 0.25, 1, 6, 24, 72, 168, 720, 2160]
        ax.set_xticks(ticks, [hours_tick(t) for t in ticks])
        ax.set_xlabel("time since the post was made (log scale)")
        ax.set_ylabel("violating posts removed")
        # below the plot: inside it, the key hid the lines that rise early
        fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8)
        return to_svg(fig, "Removal-latency CDF per policy with threshold lines")


def over_time(
    exposure: Sequence[Series],
    backlog: Sequence[Series],
    surges: Sequence[Band],
    marks: Sequence[Mark],
    dates: Sequence[str],
) -> str:
    """Harmful exposure per day (top) and review backlog (bottom), days on x."""
    with styled():
        rows = 2 if backlog else 1
        fig, axes = plt.subplots(rows, 1, figsize=(7.5, 2.9 * rows + 0.6), sharex=True)
        axs: list[Axes] = list(np.atleast_1d(axes))
        for i, s in enumerate(exposure):
            _line(axs[0], s, i, markevery=max(1, len(s.x) // 12))
        axs[0].set_ylabel("views of violating posts\nper day")
        if backlog:
            for i, s in enumerate(backlog):
                _line(axs[1], s, i, markevery=max(1, len(s.x) // 12))
            axs[1].set_ylabel("cases waiting\nfor review")
        for ax in axs:
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(COMPACT)
            for b in surges:
                ax.axvspan(b.start, b.end, facecolor="#999999", alpha=0.2, hatch="//", lw=0)
        for m in marks:
            for ax in axs:
                ax.axvline(m.day, linewidth=1.2, **_mark_style(m))  # type: ignore[arg-type]
        n = len(dates)
        step = max(1, math.ceil(n / 8))
        ticks = list(range(0, n, step))
        axs[-1].set_xticks(ticks, [dates[t][5:] for t in ticks])
        axs[-1].set_xlabel("day (month-day, local time)")
        # Surges and events are named in a key below the plot, never on it:
        # names written at their dates overlapped when events came close together.
        handles, labels = [], []
        for ax in axs:
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                if label not in labels:
                    handles.append(h)
                    labels.append(label)
        if surges:
            handles.append(Patch(facecolor="#999999", alpha=0.4, hatch="//", lw=0))
            labels.append("surge: " + ", ".join(dict.fromkeys(b.label for b in surges)))
        for m in marks:
            if m.label not in labels:
                handles.append(Line2D([], [], linewidth=1.2, **_mark_style(m)))  # type: ignore[arg-type]
                labels.append(m.label)
        if len(labels) > 1 or surges or marks:
            fig.legend(
                handles,
                labels,
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
                ncol=2,
                fontsize=8,
            )
        fig.align_ylabels(axs)
        return to_svg(fig, "Harmful exposure and review backlog over time")


def _mark_style(m: Mark) -> dict[str, object]:
    return {
        "color": COLOURS[m.style % len(COLOURS)],
        "linestyle": LINESTYLES[(m.style + 1) % len(LINESTYLES)],
    }


def frontier(points: Sequence[Point], x_label: str, y_label: str) -> str:
    """Harmful exposure against wrongful removals: one labelled point per policy."""
    with styled():
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for i, p in enumerate(points):
            st = style(i)
            xerr = None if p.x_ci is None else [[p.x - p.x_ci[0]], [p.x_ci[1] - p.x]]
            yerr = None if p.y_ci is None else [[p.y - p.y_ci[0]], [p.y_ci[1] - p.y]]
            ax.errorbar(
                [p.x],
                [p.y],
                xerr=xerr,
                yerr=yerr,
                color=st["color"],
                marker=st["marker"],
                markersize=8,
                capsize=3,
                linestyle="none",
                label=p.label,
            )
            ax.annotate(p.label, (p.x, p.y), xytext=(6, 6), textcoords="offset points", fontsize=8)
        ordered = sorted(points, key=lambda q: q.x)
        if len(ordered) > 1:
            ax.plot(
                [q.x for q in ordered],
                [q.y for q in ordered],
                color="#777777",
                linewidth=0.8,
                linestyle=":",
            )
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.margins(0.15)
        ax.xaxis.set_major_formatter(COMPACT)
        ax.yaxis.set_major_formatter(COMPACT)
        return to_svg(fig, "Trade-off: harmful exposure against wrongful removals")


def bars(items: Sequence[Point], x_label: str, title: str, percent: bool = True) -> str:
    """Horizontal bars (label, value in ``x``, optional interval), values written on them."""
    with styled():
        fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(items) + 1.2))
        ys = np.arange(len(items))[::-1]
        for i, (y, p) in enumerate(zip(ys, items, strict=True)):
            err = None if p.x_ci is None else [[p.x - p.x_ci[0]], [p.x_ci[1] - p.x]]
            ax.barh(
                [y],
                [p.x],
                xerr=err,
                color="white",
                edgecolor=COLOURS[i % len(COLOURS)],
                hatch=HATCHES[(i + 1) % len(HATCHES)],
                linewidth=1.5,
                capsize=3,
            )
            text = share(p.x) if percent else decimal(p.x)
            ax.annotate(text, (p.x, y), xytext=(4, -4), textcoords="offset points", fontsize=8)
        ax.set_yticks(ys, [p.label for p in items])
        if percent:
            ax.set_xlim(0, 1.1)
            ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_xlabel(x_label)
        ax.grid(axis="y", visible=False)
        return to_svg(fig, title)


def sweep(series: Sequence[Series], parameter: str, metric: str, percent: bool = False) -> str:
    """A headline metric against a swept parameter, one line per group, 95% bands."""
    with styled():
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for i, s in enumerate(series):
            _line(ax, s, i)
            lo, hi = _finite(s.lo), _finite(s.hi)
            if lo is not None and hi is not None:
                y = _finite(s.y)
                assert y is not None
                ax.errorbar(
                    np.asarray(s.x, dtype=np.float64),
                    y,
                    yerr=[y - lo, hi - y],
                    fmt="none",
                    ecolor=COLOURS[i % len(COLOURS)],
                    capsize=3,
                )
        if percent:
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        else:
            ax.yaxis.set_major_formatter(COMPACT)
        ax.set_xlabel(parameter)
        ax.set_ylabel(metric)
        if len(series) > 1:
            ax.legend(fontsize=8)
        return to_svg(fig, f"{metric} against {parameter}")
