"""``modsim compare``: policies side by side on the same streams, with 95%
intervals over seeds and paired differences against the first policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.cli.app import DEFAULT_HOST, app, bundled, console, execution, guarded
from simulator.cli.batch import Force, Quiet, Scheduler, Workers, report_cells, why_table
from simulator.cli.report import write_report_quietly
from simulator.experiments.compare import Comparison, compare
from simulator.report.labels import metric_label


def _value(row: pd.Series, metric: str) -> str:
    n, never = int(row["n"]), int(row["n_never"])
    if never and never < n:
        return f"never {never}/{n}"
    return fmt.metric_value(row["mean"], metric, short=True)


def _delta(row: pd.Series, metric: str) -> str:
    """A paired difference, short: ``-157 k``, ``+76.5 pt``, ``-3.2 h``; in
    parentheses when its 95% interval includes no change."""
    mean, lo, hi = float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])
    if not int(row["pairs"]) or fmt.is_missing(mean):
        return "n/a"
    text = fmt.signed_amount(mean, metric)
    if mean == 0:
        return text
    unclear = not (fmt.is_missing(lo) or fmt.is_missing(hi)) and lo <= 0 <= hi
    return f"({text})" if unclear else text


def comparison_table(result: Comparison) -> Table:
    """Metrics as rows, named for people; each policy's mean over seeds, and each
    later policy's paired difference from the first, short enough for 80 columns
    (the intervals are in the report and summary.csv)."""
    summary, diffs = result.summary, result.differences
    policies = list(dict.fromkeys(summary["policy"]))
    seeds = int(result.cells["replication"].nunique()) if len(result.cells) else 0
    table = Table(
        title=escape(f"Mean over {seeds} seeds; Δ: paired difference from {policies[0]}"),
        caption="(Δ): the seeds cannot tell it from no change (95% interval). "
        "Intervals: report.html, summary.csv.",
    )
    table.add_column("metric", no_wrap=True)
    for i, pol in enumerate(policies):
        # a long policy name wraps in its header; the short values never do
        table.add_column(escape(pol), justify="right", min_width=7, overflow="fold")
        if i:
            table.add_column("Δ", justify="right", no_wrap=True, min_width=8)
    for metric in dict.fromkeys(summary["metric"]):
        cells = [escape(metric_label(metric))]
        for i, pol in enumerate(policies):
            row = summary[(summary["policy"] == pol) & (summary["metric"] == metric)]
            cells.append(_value(row.iloc[0], metric) if len(row) else "")
            if i:
                d = diffs[(diffs["policy"] == pol) & (diffs["metric"] == metric)]
                cells.append(_delta(d.iloc[0], metric) if len(d) else "n/a")
        table.add_row(*cells)
    return table


@app.command("compare")
def compare_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML")],
    policy: Annotated[
        list[Path],
        typer.Option("--policy", "-p", help="PlatformPolicy YAML, repeat for each policy"),
    ],
    host: Annotated[
        list[Path] | None,
        typer.Option(
            "--host",
            "-H",
            help=f"HostPolicy YAML, repeatable: enforced together (default {DEFAULT_HOST})",
        ),
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Compare with no enforcer")] = False,
    seeds: Annotated[int, typer.Option(min=1, help="Replications (seeds) per policy")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="Base seed the replications derive from")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder")] = Path(
        "results/compare"
    ),
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Compare policies on the same post streams (common random numbers), seed by seed.

    Prints each metric's mean and 95% interval per policy and the paired
    difference from the first policy; writes tidy tables (one row per policy x
    seed x metric) as Parquet and CSV. Resumable like `batch`.
    """
    hosts = [] if no_host else (host or [bundled(DEFAULT_HOST)])

    def go() -> Comparison:
        with execution("compare", workers, scheduler, quiet) as how:
            return compare(
                scenario, policy, hosts, seeds, seed, out=out, force=force, execution=how
            )

    result = guarded(go)
    if not quiet and len(result.summary):
        console.print(comparison_table(result))
        why = why_table(result)
        if why is not None:
            console.print(why)
    report_cells(result, out)
    guarded(lambda: write_report_quietly(out))  # report.html and its Markdown twin
    console.print("paired differences in differences.csv")
    if len(result.failed):
        raise typer.Exit(code=1)
