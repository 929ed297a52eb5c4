"""The Markdown report of one run (Jinja2 template; reads results, never re-runs)."""

from __future__ import annotations

import math
from typing import Any

import jinja2

from simulator.results import RunResult, headline

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("simulator", "report/templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def hours(h: float | None) -> str:
    """A duration for people: minutes, hours or days; 'never' for None."""
    if h is None or (isinstance(h, float) and not math.isfinite(h)):
        return "never"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def share(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.1f}%"


def number(x: float | None) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.1f}"
    return f"{int(x):,}"


def date(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "never"


def ratio(x: float | None, digits: int = 3) -> str:
    """A unitless measure (AUC, score, F1) with fixed digits; 'n/a' when missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def money(x: float | None, currency: str = "", digits: int = 0) -> str:
    """An amount with thousands separators and its currency label."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.{digits}f} {currency}".rstrip()


_ENV.filters.update(hours=hours, share=share, number=number, date=date, ratio=ratio, money=money)


def render_markdown(result: RunResult) -> str:
    s = result.summary
    context: dict[str, Any] = {
        "s": s,
        "within": s["violating"]["within"],
        "timeline": result.timeline.to_dict("records"),
        "headline": headline(s),
        "weekly": _weekly(result),
    }
    return _ENV.get_template("run.md.j2").render(**context)


def _weekly(result: RunResult) -> list[dict[str, Any]]:
    d = result.daily
    if d.empty:
        return []
    week = d["day"] // 7
    cols = [c for c in d.columns if c.startswith("violating_removed_")]
    g = d.groupby(week)
    out = []
    for _, frame in g:
        row: dict[str, Any] = {
            "week_of": frame["date"].iloc[0],
            "posts": float(frame["posts"].sum()),
            "violating": float(frame["violating_posts"].sum()),
            "removed": float(frame[cols].to_numpy().sum()),
        }
        for team in result.cases:
            row[f"{team}_backlog"] = int(frame[f"{team}_backlog"].iloc[-1])
        out.append(row)
    return out
