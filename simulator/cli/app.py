"""The Typer application and what every command shares: error handling,
progress bars, bundled files. (Results folders and atomic writes are
:mod:`simulator.folders`'.)"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from simulator.errors import ModsimError

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
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[float], None] | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda frac: bar.update(task, completed=frac)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        sys.exit(130)
