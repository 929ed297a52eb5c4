"""The self-contained HTML report of a results folder, and its Markdown twin.

``write_report(results_dir, out)`` reads a run's, comparison's, batch's,
policy search's or robustness study's results folder (never re-running anything), builds one
:class:`~simulator.report.context.Report` and renders it twice: HTML with the
figures inline as SVG (no network, no external file; prints in black and
white) and Markdown with the same sentences and tables for pasting into
documents. For a single run the Markdown twin is the run's own
``report.md`` (rendered again from the folder, so the same text).
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from simulator.api import versions
from simulator.folders.atomic import write_text
from simulator.folders.load import (
    CalibrationFolder,
    ResultsFolder,
    RobustnessFolder,
    RunFolder,
    SearchFolder,
    load_results,
)
from simulator.report.calibration import calibration_figures, calibration_report
from simulator.report.context import DEFAULT_TARGET, Report
from simulator.report.experiment_report import experiment_report
from simulator.report.markdown import MARKDOWN_ENV, render_run_markdown
from simulator.report.run import run_report

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("simulator", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# The Markdown twin renders with the run report's environment (same filters).
_MD = MARKDOWN_ENV


def build_report(folder: ResultsFolder, target: float = DEFAULT_TARGET) -> Report:
    """What the report says, from a loaded results folder."""
    from simulator.report.search import (
        robustness_figures,
        robustness_report,
        search_figures,
        search_report,
    )

    if isinstance(folder, RunFolder):
        return run_report(folder, target)
    if isinstance(folder, SearchFolder):
        figures = search_figures(folder.result, folder.robustness)
        return search_report(folder.result, folder.robustness, figures)
    if isinstance(folder, RobustnessFolder):
        return robustness_report(folder.result, robustness_figures(folder.result))
    if isinstance(folder, CalibrationFolder):
        return calibration_report(folder.result, calibration_figures(folder.result))
    return experiment_report(folder, target)


def render_html(report: Report) -> str:
    # No folder path in the page: the same results give the same bytes wherever
    # they were written.
    return _ENV.get_template("report.html.j2").render(
        r=report, version=versions().get("modsim", "unknown")
    )


def render_twin(
    folder: ResultsFolder, report: Report, html_name: str, figure_prefix: str = ""
) -> str:
    """The Markdown twin: the same sentences, tables and numbers as the HTML."""
    if isinstance(folder, RunFolder):
        return render_run_markdown(
            folder.summary,
            folder.timeline.to_dict("records"),
            folder.daily,
            folder.teams,
            folder.within_weekly,
        )
    return render_markdown(report, html_name, figure_prefix)


def render_markdown(report: Report, html_name: str, figure_prefix: str = "") -> str:
    """A report's Markdown twin: its sentences and tables; figures saved as PNG
    in the results folder are shown (``figure_prefix`` is that folder relative
    to the Markdown file), the others named in the HTML."""
    return _MD.get_template("experiment.md.j2").render(
        r=report, html_name=html_name, prefix=figure_prefix
    )


def write_report(
    results: str | Path, out: str | Path | None = None, target: float = DEFAULT_TARGET
) -> tuple[Path, Path]:
    """Write ``out`` (default ``RESULTS/report.html``) and its Markdown twin
    (same name, ``.md``); return both paths."""
    return write_folder_report(load_results(results), out, target)


def write_folder_report(
    folder: ResultsFolder, out: str | Path | None = None, target: float = DEFAULT_TARGET
) -> tuple[Path, Path]:
    """:func:`write_report` for a folder already read (a run's, before its
    ``summary.json`` is written)."""
    html_path = Path(out) if out is not None else folder.path / "report.html"
    md_path = html_path.with_suffix(".md")
    report = build_report(folder, target)
    html = render_html(report)
    prefix = os.path.relpath(folder.path.resolve(), md_path.parent.resolve())
    twin = render_twin(folder, report, html_path.name, "" if prefix == "." else prefix + "/")
    write_text(html_path, html)
    write_text(md_path, twin)
    return html_path, md_path


def write_rendered(report: Report, root: Path) -> dict[str, str]:
    """Write a report's HTML and Markdown twin into ``root``; their paths by role."""
    html, md = Path(root) / "report.html", Path(root) / "report.md"
    write_text(html, render_html(report))
    write_text(md, render_markdown(report, html.name))
    return {"report": str(html), "report_md": str(md)}
