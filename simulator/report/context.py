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


HOW_TO_READ = {
    "fig-latency": "The higher and further left a line, the faster violating posts came "
    "down; where a line crosses a dashed threshold line is the share removed within it.",
    "fig-time": "Peaks in the top panel are days when violating posts were seen most; a "
    "bottom line that climbs means reports arrived faster than reviewers could decide.",
    "fig-frontier": "A point further left exposed fewer people to violating posts; a point "
    "lower removed fewer legitimate posts; no point both left of and below another is "
    "strictly worse.",
    "fig-utilisation": "A bar near 100% is a team with no slack: any surge becomes backlog.",
    "fig-sweep-": "Follow a line left to right to see what the swept setting buys; "
    "overlapping bars mean the seeds cannot tell the two settings apart.",
    "fig-pareto": "Candidates on the dashed line are the best trade-offs; the star is the "
    "one recommended.",
    "fig-sensitivity": "The longest bars are the assumptions worth measuring first: they "
    "move the outcome most.",
    "fig-fit": "A marker inside the shaded band reproduces that observed figure; a target "
    "no accepted marker reaches is one the model cannot fit with these ranges.",
}
"""One line per figure kind, by figure id (or id prefix): how to read it."""


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    svg: str
    file: str = ""
    """A PNG of the same figure beside the report, which the Markdown twin shows."""

    @property
    def how(self) -> str:
        """How to read this figure, in one line ("" for a kind with none)."""
        for key, line in HOW_TO_READ.items():
            if self.id == key or (key.endswith("-") and self.id.startswith(key)):
                return line
        return ""


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
