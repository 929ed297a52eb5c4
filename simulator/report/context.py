"""What a report says: the document model every report is built into and
rendered from, twice (HTML and its Markdown twin).

A :class:`Report` holds the plain-words summary (sentences), tables (headers
and rows of formatted strings) and figures (inline SVG with a caption). The
builders fill it from a results folder: :mod:`~simulator.report.run` (one
run), :mod:`~simulator.report.experiment_report` (a comparison or batch) and
:mod:`~simulator.report.search` (a policy search or robustness study). Every
figure in it is written by :mod:`simulator.format`, never in a template, so
both renderings carry the same numbers.

A policy *meets* a time threshold when at least ``target`` (90% unless
stated) of its eligible violating posts came down within it; the report
states the target it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_TARGET = 0.9


@dataclass(frozen=True)
class Table:
    """A table of formatted strings; ``numeric`` columns align right."""

    id: str
    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    svg: str
    file: str = ""
    """A PNG of the same figure beside the report, which the Markdown twin shows."""


@dataclass
class Report:
    """Everything a report shows, in reading order."""

    kind: str
    title: str
    summary: list[str]
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: float = DEFAULT_TARGET
