"""The Typer application and what every command shares: error handling,
the one progress bar, how experiments run, bundled files. (Results folders and atomic writes are
:mod:`simulator.folders`'.)"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bar

from simulator.errors import ModsimError
from simulator.experiments.execution import Execution, Progress, Tick

app = typer.Typer(
    name="modsim",
    help="Simulate content-moderation policies: juries, AI prefilters, host enforcement.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# emoji=False: messages quote user input, and rich would turn ":x:" in a name
# or a key into an emoji.
console = Console(stderr=False, emoji=False)
err_console = Console(stderr=True, emoji=False)

T = TypeVar("T")

_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_SCENARIO = "scenarios/parler-like.yaml"
DEFAULT_POLICY = "policies/jury-only.yaml"
DEFAULT_HOST = "policies/host-notice-and-strike.yaml"
DEFAULT_APPSTORE = "policies/appstore-24h-ultimatum.yaml"
# The main job's enforcers: the host and an app store, as in January 2021.
DEFAULT_HOSTS = (DEFAULT_HOST, DEFAULT_APPSTORE)


def bundled(relative: str) -> Path:
    """A bundled file: from the working directory, else from the source checkout."""
    here = Path(relative)
    return here if here.exists() else _ROOT / relative


def fail(message: str) -> typer.Exit:
    # escape: messages quote user input, which may look like rich markup ("[bold]").
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def guarded(fn: Callable[[], T], resume: Callable[[], str] | None = None) -> T:
    """Run ``fn``; turn user errors into exit code 2 with a clear message.

    On Ctrl-C, exit with code 130 and say what was kept and, when ``resume``
    is given, the command that carries on (called after cleanup has run, so it
    can look at what is left).
    """
    try:
        return fn()
    except ModsimError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        err_console.print(
            "[yellow]interrupted[/]: finished files were kept; nothing half-written remains.",
            highlight=False,
            soft_wrap=True,
        )
        if resume is not None:
            err_console.print(f"to resume: {escape(resume())}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Progress | None]:
    """The progress bar of every command, on stderr: ``label``, done of
    total, how many failed, the time taken and the time left. It takes the
    experiments' :class:`~simulator.experiments.execution.Tick`; a new
    ``unit`` (a search's candidates, then its robustness runs) gets its own
    line. Yields ``None`` (no bar) unless ``enabled``."""
    if not enabled:
        yield None
        return
    with Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}, [red]{task.fields[failed]} failed[/]{task.fields[note]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        lines: dict[str, TaskID] = {}

        def tick(t: Tick) -> None:
            if t.unit not in lines:
                lines[t.unit] = bar.add_task(label, total=t.total, unit=t.unit, failed=0, note="")
            note = f", {escape(t.note)}" if t.note else ""
            bar.update(lines[t.unit], completed=t.done, total=t.total, failed=t.failed, note=note)

        yield tick


@contextmanager
def execution(label: str, workers: int | None, scheduler: Any, quiet: bool) -> Iterator[Execution]:
    """How an experiment command runs: its ``--workers`` or ``--scheduler``,
    and the progress bar unless ``--quiet`` (or stderr is not a terminal)."""
    with progress_bar(label, not quiet and err_console.is_terminal) as tick:
        yield Execution(workers=workers, scheduler=scheduler, progress=tick)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
