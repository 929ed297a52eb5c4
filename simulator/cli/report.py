"""``modsim report``: a self-contained HTML report (and its Markdown twin) from
a results folder written by ``run``, ``compare``, ``batch``, ``optimize`` or
``robustness``. Nothing is re-simulated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simulator.cli.app import app, console, guarded
from simulator.errors import ModsimError
from simulator.report.context import DEFAULT_TARGET


def write_report_quietly(results: Path) -> Path:
    """The hook ``compare`` and ``batch`` call at their end: ``report.html`` and
    ``report.md`` in the results folder."""
    from simulator.report.html import write_report

    html, _ = write_report(results)
    return html


@app.command()
def report(
    results: Annotated[
        Path,
        typer.Argument(help="Results folder of modsim run, compare, batch, optimize or robustness"),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="HTML file to write (default RESULTS/report.html); "
            "its Markdown twin goes next to it with .md",
        ),
    ] = None,
    target: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of violating posts that must come down within a threshold to meet it",
        ),
    ] = DEFAULT_TARGET,
    force: Annotated[
        bool, typer.Option(help="Overwrite existing files outside the results folder")
    ] = False,
) -> None:
    """Write an HTML report with plots (self-contained) and its Markdown twin."""

    def go() -> tuple[Path, Path]:
        from simulator.report.html import write_report

        if not results.is_dir():
            raise ModsimError(f"{results}: no such results folder")
        html = out if out is not None else results / "report.html"
        md = html.with_suffix(".md")
        if html.suffix.lower() not in (".html", ".htm"):
            raise ModsimError(f"--out {html}: expected a file name ending in .html")
        # Reports inside the results folder are derived from it: rewriting them loses
        # nothing. Anywhere else, an existing file is kept unless --force.
        inside = html.resolve().parent == results.resolve()
        if not force and not inside:
            for p in (html, md):
                if p.exists():
                    raise ModsimError(f"{p}: exists; choose another --out or pass --force")
        if html.parent and not html.parent.exists():
            raise ModsimError(f"{html.parent}: folder does not exist")
        return write_report(results, html, target)

    html, md = guarded(go)
    console.print(
        f"wrote [bold]{escape(str(html))}[/] and its Markdown twin [bold]{escape(str(md))}[/]"
    )
