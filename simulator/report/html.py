"""The self-contained HTML report of a results folder, and its Markdown twin.

``write_report(results_dir, out)`` reads a run's, comparison's or batch's
results folder (never re-running anything), builds one
:class:`~simulator.report.context.Report` and renders it twice: HTML with the
figures inline as SVG (no network, no external file; prints in black and
white) and Markdown with the same sentences and tables for pasting into
documents. For a single run the Markdown twin is the run's own
``report.md`` (rendered again from the folder, so the same text).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from simulator.api import versions
from simulator.report.context import DEFAULT_TARGET, Report, experiment_report, run_report
from simulator.report.folders import ExperimentFolder, ResultsFolder, RunFolder, load_results
from simulator.report.markdown import render_run_markdown

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("simulator", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_MD = jinja2.Environment(
    loader=jinja2.PackageLoader("simulator", "report/templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_MD.filters["mdcell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")


def build_report(folder: ResultsFolder, target: float = DEFAULT_TARGET) -> Report:
    """What the report says, from a loaded results folder."""
    if isinstance(folder, RunFolder):
        return run_report(folder, target)
    return experiment_report(folder, target)


def render_html(report: Report) -> str:
    # No folder path in the page: the same results give the same bytes wherever
    # they were written.
    return _ENV.get_template("report.html.j2").render(
        r=report, version=versions().get("modsim", "unknown")
    )


def render_twin(folder: ResultsFolder, report: Report, html_name: str) -> str:
    """The Markdown twin: the same sentences, tables and numbers as the HTML."""
    if isinstance(folder, RunFolder):
        return render_run_markdown(
            folder.summary,
            folder.timeline.to_dict("records"),
            folder.daily,
            folder.teams,
            folder.within_weekly,
        )
    assert isinstance(folder, ExperimentFolder)
    return _MD.get_template("experiment.md.j2").render(r=report, html_name=html_name)


def write_report(
    results: str | Path, out: str | Path | None = None, target: float = DEFAULT_TARGET
) -> tuple[Path, Path]:
    """Write ``out`` (default ``RESULTS/report.html``) and its Markdown twin
    (same name, ``.md``); return both paths."""
    # the CLI's atomic write; imported here, as the CLI package imports this module
    from simulator.cli.app import write_atomic, write_text

    folder = load_results(results)
    html_path = Path(out) if out is not None else folder.path / "report.html"
    md_path = html_path.with_suffix(".md")
    report = build_report(folder, target)
    html = render_html(report)
    twin = render_twin(folder, report, html_path.name)
    write_atomic(html_path, lambda p: write_text(p, html))
    write_atomic(md_path, lambda p: write_text(p, twin))
    return html_path, md_path
