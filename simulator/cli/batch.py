"""``modsim batch``: every scenario x policy x host x seed (and sweep point) of a
Batch file, in parallel, resumable; plus the options experiments share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.checks import raise_errors
from simulator.cli.app import app, console, err_console, execution, guarded
from simulator.cli.report import write_report_quietly
from simulator.config import load_file
from simulator.document_checks import check_batch
from simulator.experiments.batch import GROUP, BatchResult, run_batch
from simulator.experiments.why import why_lines
from simulator.report.labels import metric_label

Workers = Annotated[
    int | None,
    typer.Option(
        "--workers", "-w", min=1, help="Local worker processes (default: one per CPU; 1: no pool)"
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run on a dask.distributed cluster at this address (e.g. tcp://10.0.0.5:8786)",
    ),
]
Force = Annotated[
    bool, typer.Option(help="Wipe the results folder first instead of resuming in it")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table")]


def report_cells(result: BatchResult, out: Path) -> None:
    """One line of counts, the first failures, and where the tables are."""
    n = len(result.cells)
    failed = result.failed
    resumed = f", {result.resumed} found finished and skipped" if result.resumed else ""
    console.print(f"{n} cells: {n - len(failed)} ok, {len(failed)} failed{resumed}")
    for _, row in failed.head(5).iterrows():
        where = escape(f"{row['cell_id']} ({row['policy']}, seed {row['seed']})")
        err_console.print(
            f"[red]failed[/] {where}: {escape(str(row['error']))}",
            highlight=False,
            soft_wrap=True,
        )
    if len(failed) > 5:
        err_console.print(f"... and {len(failed) - 5} more (see cells.csv)")
    console.print(
        f"results in [bold]{escape(str(out))}[/]: "
        "results.parquet, results.csv, summary.csv, cells.csv"
    )


SETTING_METRICS = (
    "removed_within_24h",
    "latency_p90_hours",
    "views_before_removal",
    "wrongful_removals",
    "suspended",
)
"""What the batch table shows per setting (those the runs measured)."""


def settings_table(result: BatchResult) -> Table | None:
    """One row per setting (what varies: scenario, policy, host, sweep point) and
    its headline means over seeds; ``None`` when no cell finished."""
    s = result.summary
    if not len(s):
        return None
    columns = [*GROUP, *result.parameters]
    varying = [c for c in columns if s[c].nunique(dropna=False) > 1] or ["policy"]
    metrics = [m for m in SETTING_METRICS if m in set(s["metric"])]
    seeds = int(result.cells["replication"].nunique()) if len(result.cells) else 0
    table = Table(
        title=escape(f"Mean over {seeds} seeds per setting"),
        caption="Intervals and every metric: summary.csv and report.html.",
    )
    for c in varying:
        table.add_column(escape(c), overflow="fold")
    for m in metrics:
        table.add_column(escape(metric_label(m)), justify="right", overflow="fold")
    wide = s.pivot_table(index=columns, columns="metric", values="mean", sort=False, dropna=False)
    for key, row in wide.iterrows():
        labels = dict(zip(columns, key, strict=True))
        values = [fmt.metric_value(row[m], m, short=True) for m in metrics]
        table.add_row(*(escape(str(labels[c])) for c in varying), *values)
    return table


def why_table(result: BatchResult) -> Table | None:
    """Per setting and enforcer: the outcome over seeds, and each rule tripped or
    avoided (how close it came); ``None`` without enforcers."""
    columns = [*GROUP, *result.parameters]
    lines = why_lines(result.why, columns)
    if not lines:
        return None
    varying = [c for c in columns if result.why[c].nunique(dropna=False) > 1] or ["policy"]
    table = Table(title="Why: each enforcer's rules, tripped or avoided, over the seeds")
    table.add_column(escape(" / ".join(varying)))
    table.add_column("enforcer")
    table.add_column("outcome")
    table.add_column("rules", overflow="fold")
    for line in lines:
        table.add_row(
            escape(", ".join(str(line[c]) for c in varying)),
            escape(str(line["enforcer"])),
            escape(line["outcome"]),
            escape("\n".join(line["rules"])),
        )
    return table


@app.command()
def batch(
    file: Annotated[Path, typer.Argument(help="Batch YAML (kind: Batch)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder")] = Path(
        "results/batch"
    ),
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run a batch of scenarios x policies x hosts x seeds (and sweeps); resumable.

    Each finished cell is saved at once; running the same command again after
    an interruption skips finished cells. Exit code 1 if any cell failed.
    """

    def go() -> BatchResult:
        # Sweep values checked on the documents they change, with this file's lines.
        raise_errors(check_batch(load_file(file, expect="Batch")))  # type: ignore[arg-type]
        with execution("batch", workers, scheduler, quiet) as how:
            return run_batch(file, out=out, force=force, execution=how)

    result = guarded(go)
    if not quiet:
        for table in (settings_table(result), why_table(result)):
            if table is not None:
                console.print(table)
    report_cells(result, out)
    guarded(lambda: write_report_quietly(out))  # report.html and its Markdown twin
    if len(result.failed):
        raise typer.Exit(code=1)
