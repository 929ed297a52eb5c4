"""The Markdown report of one run (Jinja2 template; reads results, never re-runs),
and the Markdown environment every report's twin renders with: its filters are
the number formats of :mod:`simulator.format` and the pair that makes any
outside string literal text, :func:`mdtext` for prose and :func:`mdcell` for
table cells. Every string a template shows that modsim did not write itself
(names, files, labels, parameter values, messages that quote them, and the
sentences of a :class:`~simulator.report.context.Report`, which are plain
text) passes through one of them; the HTML report escapes by autoescape."""

from __future__ import annotations

import re
from typing import Any

import jinja2
import pandas as pd

from simulator.format import counted, date, hours, money, number, ratio, share
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


# Any line break or other control character: a name is shown on one line.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# An ampersand that would start an entity (``&lt;``, ``&#60;``), and an angle
# bracket that would start an HTML tag, comment or autolink (``<b>``, ``</``,
# ``<!--``, ``<https:``); any other (``R&D``, ``x <= 50``) reads as itself.
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
# Markdown's inline syntax: code, emphasis, links and images, strikethrough,
# math (GitHub renders $...$), and the backslash that escapes them.
_INLINE = re.compile(r"([\\`*\[\]~$])")
# What opens a block when it starts a line: a heading, a list item, a quote,
# a thematic break or setext underline. ("-5.0" or "2.2%" open nothing.)
_BLOCK_START = re.compile(
    r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s|$)|\d{1,9}(?=[.)](?:\s|$))|[-=](?=[-=\s]*$)|>)"
)


def mdtext(text: object) -> str:
    """Any string from outside modsim (a name, a file, a parameter value, a
    message quoting one) as literal Markdown prose: what it reads is what
    the reader sees. HTML is escaped (``<b>`` shows as ``<b>``), Markdown
    syntax is backslash-escaped (no link, emphasis, code, heading, quote or
    math comes out of a name), line breaks become spaces (a name cannot end
    a list item or a table row) and blanks at either end go. Plain text is
    left as it is: an underscore inside a word opens no emphasis
    (``violent_news`` stays) and ``x <= 50`` starts no tag."""
    # Blanks at either end would make an indented code block at a line's
    # start, or undo the bold around a name.
    s = _BREAKS.sub(" ", str(text)).strip(" ")
    s = _TAG.sub("&lt;", _ENTITY.sub("&amp;", s))
    s = _INLINE.sub(r"\\\1", s)
    s = re.sub(r"_+", _underscores, s)
    return _BLOCK_START.sub(_escape_block_start, s, count=1)


def mdcell(text: object) -> str:
    """:func:`mdtext` for a table cell: a pipe, which would end the cell, is escaped too."""
    return mdtext(text).replace("|", "\\|")


def _underscores(m: re.Match[str]) -> str:
    """A run of underscores between two letters or digits opens no emphasis;
    any other is escaped."""
    s, i, j = m.string, m.start(), m.end()
    inside = i > 0 and j < len(s) and s[i - 1].isalnum() and s[j].isalnum()
    return m.group() if inside else "\\_" * (j - i)


def _escape_block_start(m: re.Match[str]) -> str:
    lead, marker = m.group(1), m.group(2)
    # "1." becomes "1\.": the digits stay, the dot or bracket after them is escaped.
    return lead + (marker + "\\" if marker.isdigit() else "\\" + marker)


_ENV.filters.update(
    hours=hours,
    share=share,
    number=number,
    counted=counted,
    date=date,
    ratio=ratio,
    money=money,
    mdtext=mdtext,
    mdcell=mdcell,
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
