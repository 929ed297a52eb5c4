"""``modsim export``: a results folder's tables as an Excel workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simulator.cli.app import app, console, guarded


@app.command("export")
def export_command(
    results: Annotated[Path, typer.Argument(help="Results folder (any kind)")],
    xlsx: Annotated[Path, typer.Option("--xlsx", help="The workbook to write (.xlsx)")],
    force: Annotated[bool, typer.Option(help="Replace the workbook if it exists")] = False,
) -> None:
    """Write a results folder's tables to an Excel workbook, one sheet per table."""
    from simulator.errors import ModsimError
    from simulator.folders.export import export_excel

    def go() -> list[str]:
        if xlsx.exists() and not force:
            raise ModsimError(f"{xlsx}: exists; choose another --xlsx or pass --force")
        return export_excel(results, xlsx)

    sheets = guarded(go)
    console.print(escape(f"wrote {xlsx}: sheets {', '.join(sheets)}"), highlight=False)
