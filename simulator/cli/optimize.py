"""``modsim optimize`` (policy search) and ``modsim robustness`` (the answer
under uncertain assumptions, with a sensitivity ranking)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simulator.checks import raise_errors
from simulator.cli.app import app, console, err_console, execution, guarded
from simulator.cli.batch import Force, Quiet, Scheduler, Workers
from simulator.cli.run import print_findings
from simulator.config import load_file
from simulator.document_checks import check_optimization
from simulator.format import decimal, metric_value

if TYPE_CHECKING:  # the studies and their reports are imported when a command runs
    from simulator.folders.robustness import RobustnessResult
    from simulator.folders.search import SearchResult


def _show_search(result: SearchResult) -> None:
    from simulator.report.search import constraint_metric, proposals_sentence, shortfall

    spec = result.spec
    t = result.trials
    done = t[t["state"] == "COMPLETE"] if len(t) else t
    console.print(
        f"{len(done)} candidates evaluated ({result.resumed_trials} found finished, "
        f"{result.runs} runs now); {int(done['feasible'].sum()) if len(done) else 0} feasible"
    )
    if result.proposals is not None:
        console.print(escape(proposals_sentence(result.proposals)), highlight=False)
        short = shortfall(result.proposals, spec.trials)
        if short:
            err_console.print(f"[yellow]warning:[/] {short}", highlight=False)
    if len(result.pareto):
        table = Table(title="Pareto front (feasible candidates; mean and 95% interval)")
        table.add_column("trial", justify="right")
        for o in spec.objectives:
            table.add_column(o.metric)
        table.add_column("seeds", justify="right")
        table.add_column("changes from the base")
        for _, row in result.pareto.iterrows():
            table.add_row(
                str(row["trial"]),
                *[
                    f"{metric_value(row[o.metric], o.metric)} "
                    f"({metric_value(row[o.metric + '_ci_low'], o.metric)}"
                    f" to {metric_value(row[o.metric + '_ci_high'], o.metric)})"
                    for o in spec.objectives
                ],
                str(row["seeds"]),
                escape("; ".join(row["changes"]) or "none"),
            )
        console.print(table)
    rec = result.recommendation
    if rec is None:
        console.print("[bold red]No candidate was shown to meet every constraint.[/]")
        return
    first = spec.objectives[0].metric
    console.print(
        f"[bold green]Recommended[/] (trial {rec['trial']}, {rec['seeds']} seeds): "
        + escape("; ".join(rec["changes"]) or "no change"),
        highlight=False,
    )
    console.print(
        f"  {first}: {metric_value(rec[first], first)} (95% interval "
        f"{metric_value(rec[first + '_ci_low'], first)} to "
        f"{metric_value(rec[first + '_ci_high'], first)})",
        highlight=False,
    )
    level = round(100 * spec.seeds.confidence)
    for c in spec.constraints:
        console.print(
            f"  {c}: estimate {metric_value(rec[c + ' | estimate'], constraint_metric(c))}, "
            f"{level}% one-sided bound "
            f"{metric_value(rec[c + ' | bound'], constraint_metric(c))} -> {rec[c + ' | status']}",
            highlight=False,
        )


def _show_robustness(result: RobustnessResult) -> None:
    from simulator.report.search import constraint_metric

    console.print(
        f"{result.resumed_runs + result.new_runs} robustness runs "
        f"({result.resumed_runs} found finished, {result.new_runs} run now)",
        highlight=False,
    )
    table = Table(title=f"robustness over {result.points} scenarios ({result.method} design)")
    table.add_column("policy")
    table.add_column("meets every constraint", justify="right")
    for c in result.constraints:
        table.add_column(f"worst {c}", justify="right")
    for _, row in result.table.iterrows():
        table.add_row(
            escape(row["policy"]),
            f"{row['meeting_all']} of {row['scenarios']}",
            *[metric_value(row[f"worst: {c}"], constraint_metric(c)) for c in result.constraints],
        )
    console.print(table)
    s = result.sensitivity
    for (metric, policy), g in s.sort_values("rank").groupby(["metric", "policy"], sort=False):
        order = " > ".join(f"{r['input']} ({decimal(r['share'], 2)})" for _, r in g.iterrows())
        console.print(escape(f"sensitivity of {metric} under {policy}: {order}"), highlight=False)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def _check(file: Path) -> None:
    """Overrides and searched values checked against the documents they change,
    with this file's lines, before any run (warnings are printed)."""
    findings = check_optimization(load_file(file, expect="Optimization"))  # type: ignore[arg-type]
    raise_errors(findings)
    print_findings(findings)


@app.command("optimize")
def optimize_command(
    file: Annotated[Path, typer.Argument(help="Optimization YAML (kind: Optimization)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (resumable)")] = Path(
        "results/optimize"
    ),
    trials: Annotated[
        int | None, typer.Option("--trials", "-n", min=1, help="Override the trial budget")
    ] = None,
    robustness: Annotated[
        bool,
        typer.Option(
            "--robustness",
            help="Then test the base and recommended policies over the document's uncertain inputs",
        ),
    ] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Search policy fields for the cheapest rules that meet the constraints.

    Writes the trial history (trials.csv), the Pareto front (pareto.csv,
    pareto.png), the recommended policy (recommended.yaml) and report.md.
    Running the same command again resumes the search (study.db).
    """

    def go() -> tuple[SearchResult, RobustnessResult | None]:
        _check(file)
        with execution("optimize", workers, scheduler, quiet) as how:
            from simulator.studies import search_study

            return search_study(
                file, out=out, force=force, trials=trials, robustness=robustness, execution=how
            )

    result, rob = guarded(go)
    _show_search(result)
    if rob is not None:
        _show_robustness(rob)
    console.print(
        f"results in [bold]{escape(str(out))}[/]: "
        + ", ".join(Path(f).name for f in result.files.values())
    )


@app.command("robustness")
def robustness_command(
    file: Annotated[Path, typer.Argument(help="Optimization YAML with a `robustness` section")],
    policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy", "-p", help="Policies to test (default: the document's base policy)"
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (resumable)")] = Path(
        "results/robustness"
    ),
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run policies over scenarios drawn from uncertain inputs' ranges; rank what matters.

    Reports the share of scenarios meeting every constraint, the worst case, and
    which inputs the headline metrics depend on most (SALib Morris or Sobol).

    Each finished run is kept in the results folder (cells/); running the same
    command again after an interruption runs only the runs left.
    """

    def go() -> RobustnessResult:
        _check(file)
        with execution("robustness", workers, scheduler, quiet) as how:
            policies = [str(p) for p in policy or []]
            from simulator.studies import robustness_study

            return robustness_study(file, policies, out=out, force=force, execution=how)

    rob = guarded(go)
    _show_robustness(rob)
    console.print(
        f"results in [bold]{escape(str(out))}[/]: "
        + ", ".join(Path(f).name for f in rob.files.values())
    )
