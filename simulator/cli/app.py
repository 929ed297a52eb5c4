"""The Typer application and what every command shares: error handling,
the one progress bar, how experiments run, bundled files. (Results folders and atomic writes are
:mod:`simulator.folders`'.)"""

from __future__ import annotations

import sys
import time
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

from simulator.cli.help import ModsimGroup
from simulator.errors import ModsimError
from simulator.experiments.execution import Execution, Progress, Tick

app = typer.Typer(
    name="modsim",
    help="Simulate content-moderation policies: juries, AI prefilters, host enforcement.",
    cls=ModsimGroup,
    no_args_is_help=True,
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


def _version(show: bool) -> None:
    if show:
        from simulator import __version__

        console.print(f"modsim {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Simulate content-moderation policies: juries, AI prefilters, host enforcement."""


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


PLAIN_EVERY = 30.0
"""Seconds at most between two plain progress lines."""


def plain_progress(label: str, say: Callable[[str], Any]) -> Progress:
    """Progress as plain lines (``label: 40 of 100 cells, 1 failed, 12 s``), for a
    log file or a pipe: one per tenth of the way, or after :data:`PLAIN_EVERY`
    seconds without one, and the last."""
    start = time.monotonic()
    said: dict[str, tuple[int, float]] = {}  # unit -> (tenth, time) of the last line

    def tick(t: Tick) -> None:
        now = time.monotonic()
        tenth = min(10, 10 * t.done // max(t.total, 1))
        last = said.get(t.unit)
        if last is not None and (
            last[0] == 10 or (tenth == last[0] and now - last[1] < PLAIN_EVERY)
        ):
            return  # nothing new to say yet, or the end was said
        said[t.unit] = (tenth, now)
        failed = f", {t.failed} failed" if t.failed else ""
        note = f", {t.note}" if t.note else ""
        say(escape(f"{label}: {t.done} of {t.total} {t.unit}{failed}{note}, {now - start:.0f} s"))

    return tick


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Progress | None]:
    """The progress bar of every command, on stderr: ``label``, done of
    total, how many failed, the time taken and the time left. It takes the
    experiments' :class:`~simulator.experiments.execution.Tick`; a new
    ``unit`` (a search's candidates, then its robustness runs) gets its own
    line. Yields ``None`` (no bar) unless ``enabled``. When stderr is not a
    terminal (piped, or a CI log) there is no bar to redraw: it prints a plain
    line at each tenth of the way and at least every :data:`PLAIN_EVERY`
    seconds instead."""
    if not enabled:
        yield None
        return
    if not err_console.is_terminal:
        yield plain_progress(label, err_console.print)
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
    and the progress bar (plain lines when stderr is not a terminal) unless
    ``--quiet``."""
    with progress_bar(label, not quiet) as tick:
        yield Execution(workers=workers, scheduler=scheduler, progress=tick)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
