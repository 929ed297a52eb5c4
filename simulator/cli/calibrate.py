"""``modsim calibrate``: fit the assumptions (free fields) to observed figures."""

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
from simulator.document_checks import check_calibration
from simulator.format import MISSING, significant

if TYPE_CHECKING:  # the study and its report are imported when the command runs
    from simulator.folders.calibration import CalibrationResult


def _show(result: CalibrationResult) -> None:
    from simulator.report.calibration import calibration_sentences

    console.print(escape(calibration_sentences(result)[0]), highlight=False)
    if len(result.fit):
        fit = Table(title="Fit per target (simulated: means over seeds)")
        for col in ("target", "trust", "observed", "tolerance", "accepted median", "range"):
            fit.add_column(col)
        fit.add_column("best candidate")
        fit.add_column("fits")
        for _, r in result.fit.iterrows():
            fit.add_row(
                escape(str(r["target"])),
                str(r["trust"]),
                escape(str(r["observed_text"])),
                f"{r['tolerance']:g}",
                escape(str(r["median_text"])),
                escape(f"{r['low_text']} to {r['high_text']}"),
                escape(str(r["best_text"])),
                ("yes" if r["within"] else "no") if result.accepted else MISSING,
            )
        console.print(fit)
        ranges = Table(title="Accepted ranges of the free fields")
        for col in ("field", "prior", "min", "median", "max"):
            ranges.add_column(col)
        for _, r in result.ranges.iterrows():
            ranges.add_row(
                escape(str(r["parameter"])),
                escape(str(r["prior"])),
                *[
                    MISSING if r[k] != r[k] else significant(float(r[k]))
                    for k in ("low", "median", "high")
                ],
            )
        console.print(ranges)
    for sentence in result.tensions.get("sentence", []):
        console.print(escape(str(sentence)), highlight=False)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


@app.command("calibrate")
def calibrate_command(
    file: Annotated[Path, typer.Argument(help="Calibration YAML (kind: Calibration)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (resumable)")] = Path(
        "results/calibrate"
    ),
    trials: Annotated[
        int | None, typer.Option("--trials", "-n", min=1, help="Override the trial budget")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the document and the files it names; run nothing"),
    ] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fit free scenario, policy and host fields to observed figures.

    Writes the fit per target (fit.csv), the accepted ranges (ranges.csv),
    the pairs of targets that pull against each other (tensions.csv), every
    candidate (candidates.csv) and report.html with report.md. Running the
    same command again resumes the study (study.db).
    """

    def go() -> CalibrationResult | None:
        findings = check_calibration(load_file(file, expect="Calibration"))  # type: ignore[arg-type]
        raise_errors(findings)
        print_findings(findings)
        if dry_run:
            return None
        with execution("calibrate", workers, scheduler, quiet) as how:
            from simulator.studies import calibrate

            return calibrate(file, out=out, force=force, trials=trials, execution=how)

    result = guarded(go)
    if result is None:
        console.print(f"{escape(str(file))}: valid; nothing was run (--dry-run)")
        return
    if not quiet:
        _show(result)
    console.print(
        f"results in [bold]{escape(str(out))}[/]: "
        + ", ".join(Path(f).name for f in result.files.values())
    )
