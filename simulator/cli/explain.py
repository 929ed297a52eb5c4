"""``modsim explain``: which levers move the enforcers' decision around one run,
and how far, from a small one-at-a-time design on the run's own seeds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simulator.cli.app import app, bundled, console, execution, guarded
from simulator.cli.batch import Force, Quiet, Scheduler, Workers, report_cells
from simulator.experiments.explain import LEVERS, choose_levers, explain_results
from simulator.folders.explain import read_explanation

if TYPE_CHECKING:
    from simulator.experiments.explain import Explanation

DEFAULT_CARD = "policies/jury-plus-card-typical.yaml"


def ranking_table(out: Path) -> Table:
    """The ranking as written to ``explain.csv``, with dates and signs as in the report."""
    # The report's module (and its plots) is imported when a table or report is drawn.
    from simulator.report.explain import RANKING_HEADER, ranking_rows

    folder = read_explanation(out)
    table = Table(title=escape(f"levers ranked; the rule followed: {folder.meta.get('rule')}"))
    shown = [i for i, h in enumerate(RANKING_HEADER) if h not in _LEFT_OUT]
    for i in shown:
        table.add_column(
            escape(RANKING_HEADER[i]), justify="right" if i in (0, 4, 6, 7, 8, 9) else "left"
        )
    for row in ranking_rows(folder):
        table.add_row(*(escape(row[i]) for i in shown))
    return table


_LEFT_OUT = ("change", "rule progress")
"""Columns the terminal leaves to the report (the sentences give each change)."""


@app.command("explain")
def explain_command(
    results: Annotated[Path, typer.Argument(help="A run's results folder (modsim run --out DIR)")],
    seeds: Annotated[
        int, typer.Option(min=1, help="Seeds per variant: the run's own, then its replications")
    ] = 3,
    lever: Annotated[
        list[str] | None,
        typer.Option("--lever", "-l", help=f"Levers to try, repeatable: {', '.join(LEVERS)}"),
    ] = None,
    prefilter_from: Annotated[
        Path | None,
        typer.Option(
            "--prefilter-from",
            help="A policy whose prefilter the prefilter lever turns on "
            "(default: the typical card, policies/jury-plus-card-typical.yaml)",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder of the explanation (RESULTS/explain)")
    ] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Rank the levers (jury, votes, prefilter, notice desk) by how far each moves a run's takedown.

    The levers are the jury's size, the votes per case, the prefilter and the
    notice desk; each moves the enforcers' decision around the run by some hours.

    Each lever's variants and the base run on the same seeds (common random numbers);
    writes explain.csv, explain.md and explain.html with the cells (resumable).
    """
    where = out if out is not None else results / "explain"

    card = bundled(DEFAULT_CARD) if prefilter_from is None else prefilter_from

    def go() -> Explanation:
        if lever:
            choose_levers(lever)  # an unknown name stops before anything runs
        with execution("explain", workers, scheduler, quiet) as how:
            return explain_results(
                results, seeds, lever, prefilter_from=card, out=where, force=force, execution=how
            )

    result = guarded(go)
    from simulator.report.explain import explain_sentences, write_explain_report

    html, md = guarded(lambda: write_explain_report(where))
    if not quiet:
        console.print(ranking_table(where))
    for line in explain_sentences(read_explanation(where)):
        console.print(escape(line), highlight=False, soft_wrap=True)
    report_cells(result.batch, where)
    console.print(f"explanation in [bold]{escape(str(md))}[/] and {escape(html.name)}")
    if len(result.batch.failed):
        raise typer.Exit(code=1)
