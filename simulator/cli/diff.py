"""``modsim diff A B``: two results folders side by side (see
:mod:`simulator.experiments.diff`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.cli.app import app, console, guarded
from simulator.experiments.diff import ResultsDiff, diff_results
from simulator.folders.atomic import make_folder, write_atomic
from simulator.report.labels import metric_label


def _value(x: Any) -> str:
    if isinstance(x, float):
        return fmt.significant(x)
    return escape(str(x))


def inputs_table(d: ResultsDiff) -> Table:
    table = Table(title="What changed in the inputs (A -> B)")
    for c in ("document", "field", "A", "B"):
        table.add_column(c, overflow="fold")
    for _, r in d.inputs.iterrows():
        table.add_row(
            escape(str(r["document"])), escape(str(r["field"])), _value(r["a"]), _value(r["b"])
        )
    return table


def figures_table(d: ResultsDiff, setting: str) -> Table:
    rows = d.figures[d.figures["setting"] == setting]
    paired = int(rows["pairs"].max()) if len(rows) else 0
    seeds = "1 seed" if paired == 1 else f"{paired} seeds"
    how = f"paired over {seeds}" if paired else "unpaired (different seeds)"
    table = Table(title=escape(f"{setting}: headline figures, B against A ({how})"))
    table.add_column("metric", no_wrap=True)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("B", justify="right", no_wrap=True)
    table.add_column("change", overflow="fold")
    for _, r in rows.iterrows():
        m = str(r["metric"])
        table.add_row(
            escape(metric_label(m)),
            fmt.metric_value(r["a"], m),
            fmt.metric_value(r["b"], m),
            escape(fmt.change(m, r["difference"], r["ci_low"], r["ci_high"], r["a"])),
        )
    return table


@app.command("diff")
def diff_command(
    a: Annotated[Path, typer.Argument(help="Results folder A (run, compare or batch)")],
    b: Annotated[Path, typer.Argument(help="Results folder B, compared against A")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Also write inputs.csv and figures.csv to this folder"),
    ] = None,
) -> None:
    """Two results folders side by side: what changed in the inputs, and in every figure.

    Settings (scenario, policy, enforcers, sweep point) are matched by name; a
    folder with one setting matches the other's one. Where both ran the same
    seeds, each change is paired seed by seed, with its 95% interval.
    """

    def go() -> ResultsDiff:
        d = diff_results(a, b)
        if out is not None:
            make_folder(out)
            write_atomic(out / "inputs.csv", lambda p: d.inputs.to_csv(p, index=False))
            write_atomic(out / "figures.csv", lambda p: d.figures.to_csv(p, index=False))
        return d

    d = guarded(go)
    console.print(escape(f"A: {a}\nB: {b}"), highlight=False)
    for note in d.notes:
        console.print(escape(f"note: {note}"), highlight=False)
    if len(d.inputs):
        console.print(inputs_table(d))
    else:
        console.print("The inputs are the same, field by field.")
    for setting in dict.fromkeys(d.figures["setting"]):
        console.print(figures_table(d, str(setting)))
    if out is not None:
        console.print(escape(f"tables in {out}: inputs.csv, figures.csv"), highlight=False)
