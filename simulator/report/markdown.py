"""The Markdown report of one run (Jinja2 template; reads results, never re-runs),
and the Markdown environment every report's twin renders with: its filters are
the number formats of :mod:`simulator.format`."""

from __future__ import annotations

from typing import Any

import jinja2
import pandas as pd

from simulator.format import date, hours, money, number, ratio, share
from simulator.report.run import WHY_COLUMNS, run_summary_sentences, why_rows
from simulator.results import RunResult, headline

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("simulator", "report/templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def mdcell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


_ENV.filters.update(
    hours=hours, share=share, number=number, date=date, ratio=ratio, money=money, mdcell=mdcell
)
MARKDOWN_ENV = _ENV
"""The Markdown templates' environment: every report's twin renders with it."""


def render_markdown(result: RunResult) -> str:
    return render_run_markdown(
        result.summary,
        result.timeline.to_dict("records"),
        result.daily,
        list(result.cases),
        result.within_weekly,
    )


def render_run_markdown(
    s: dict[str, Any],
    timeline: list[dict[str, Any]],
    daily: pd.DataFrame,
    teams: list[str],
    within_weekly: pd.DataFrame | None = None,
) -> str:
    """A run's Markdown report from what its results folder holds (so a report
    read back from disk is the same as the one the run wrote)."""
    context: dict[str, Any] = {
        "s": s,
        "verdict": run_summary_sentences(s),
        "within": s["violating"]["within"],
        "timeline": timeline,
        "headline": headline(s),
        "weekly": _weekly(daily, teams),
        "within_weekly": _within_weekly(within_weekly),
        "why": why_rows(s["enforcement"]),
        "why_columns": WHY_COLUMNS,
    }
    return _ENV.get_template("run.md.j2").render(**context)


def _within_weekly(ww: pd.DataFrame | None) -> dict[str, Any]:
    """Thresholds as columns, weeks as rows: share removed within, and breaches."""
    if ww is None or ww.empty:
        return {"thresholds": [], "rows": []}
    hs = sorted(ww["threshold_hours"].unique().tolist())
    rows = []
    for (_, week_of), frame in ww.groupby(["week", "week_of"], sort=True):
        by_h = frame.set_index("threshold_hours")
        rows.append(
            {
                "week_of": week_of,
                "cells": [
                    {
                        "share": None
                        if by_h.at[h, "eligible"] == 0
                        else float(by_h.at[h, "share"]),
                        "breaches": int(by_h.at[h, "breaches"]),
                    }
                    for h in hs
                ],
            }
        )
    return {"thresholds": hs, "rows": rows}


def _weekly(d: pd.DataFrame, teams: list[str]) -> list[dict[str, Any]]:
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
        for team in teams:
            row[f"{team}_backlog"] = int(frame[f"{team}_backlog"].iloc[-1])
        out.append(row)
    return out
