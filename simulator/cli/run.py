"""``modsim run``, ``validate`` and ``schema``: one simulation, and the config files."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from simulator import format as fmt
from simulator.checks import Finding, check_run, raise_errors
from simulator.cli.app import (
    DEFAULT_HOSTS,
    DEFAULT_POLICY,
    DEFAULT_SCENARIO,
    app,
    bundled,
    console,
    err_console,
    fail,
    guarded,
    progress_bar,
)
from simulator.cli.workload import announce_workload
from simulator.config import KINDS, HostPolicy, Loaded, PlatformPolicy, Scenario, load_file
from simulator.document_checks import check_document
from simulator.errors import ConfigError
from simulator.experiments.execution import Progress, Tick
from simulator.folders.atomic import make_folder, write_text
from simulator.folders.run import RunWriter
from simulator.results import RunResult, headline


def print_summary(result: RunResult) -> None:
    names = result.summary["run"]
    # escape: names are the user's, and "[/x]" in one is a rich markup error.
    table = Table(title=escape(f"{names['policy']} on {names['scenario']}"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in headline(result.summary).items():
        table.add_row(key, _fmt(value, key))
    console.print(table)
    why = result.summary["enforcement"].get("why")
    if why:
        console.print(f"why: {why}", highlight=False, soft_wrap=True)


def _fmt(value: Any, key: str = "") -> str:
    """A headline figure by its key: shares as %, other floats to one decimal."""
    if value is None:
        return fmt.NEVER if "latency" in key else fmt.MISSING
    if isinstance(value, float):
        if key.startswith("removed within") or "utilisation" in key:
            return fmt.share(value)
        return fmt.decimal(value)
    if isinstance(value, int):
        return fmt.number(value)
    return str(value)


def _check_prefilter(policy: Any, scenario: Any, seed: int) -> None:
    """A bad model file or an unreachable threshold target fails before anything is written."""
    if isinstance(policy, PlatformPolicy) and policy.prefilter.enabled:
        # Imported here: scikit-learn is only needed when a prefilter runs.
        from simulator.stages.prefilter import check_prefilter

        check_prefilter(policy, scenario, seed)


@app.command()
def run(
    scenario: Annotated[
        Path | None, typer.Argument(help=f"Scenario YAML (default {DEFAULT_SCENARIO})")
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", "-p", help=f"PlatformPolicy YAML (default {DEFAULT_POLICY})"),
    ] = None,
    host: Annotated[
        list[Path] | None,
        typer.Option(
            "--host",
            "-H",
            help=f"HostPolicy YAML (host, app store, regulator), repeatable "
            f"(default {' and '.join(DEFAULT_HOSTS)})",
        ),
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Run with no enforcer")] = False,
    seed: Annotated[int, typer.Option(help="Seed for every random draw", min=0)] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder")] = Path("results/run"),
    posts: Annotated[
        str,
        typer.Option(help="Per-post table: all, touched (violating or moderated posts) or none"),
    ] = "touched",
    chunk_days: Annotated[int, typer.Option(min=1, help="Simulated days per chunk")] = 1,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes scoring texts in text mode (same results)")
    ] = min(2, os.cpu_count() or 1),
    slice_posts: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most posts of a day made at once (default 2,000,000); fewer: lower peak "
            "memory, same results",
        ),
    ] = None,
    spill_rows: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Rows of a final table kept in memory before the rest waits on disk "
            "(default 65,536); same results",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a non-empty results folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Check the inputs and print the cost estimate; run nothing")
    ] = False,
) -> None:
    """Run one platform policy on a scenario under its enforcers; write summary, report, tables."""
    if posts not in ("all", "touched", "none"):
        raise fail(f"--posts: expected all, touched or none, got {posts!r}")
    sc = scenario or bundled(DEFAULT_SCENARIO)
    pol = policy or bundled(DEFAULT_POLICY)
    hosts = [] if no_host else (host or [bundled(h) for h in DEFAULT_HOSTS])

    claimed: list[bool] = []  # set once the results folder is ours to write
    # the engine's defaults unless given (they change memory, never results)
    memory = {
        k: v for k, v in (("slice_posts", slice_posts), ("spill_rows", spill_rows)) if v is not None
    }

    def go() -> None:
        # Validate every input, alone and together, before touching the results folder.
        kinds = ("Scenario", "PlatformPolicy", *("HostPolicy" for _ in hosts))
        loaded = [
            load_file(path, expect=k) for path, k in zip((sc, pol, *hosts), kinds, strict=True)
        ]
        findings = check_run(loaded[0], loaded[1], loaded[2:])  # type: ignore[arg-type]
        raise_errors(findings)
        print_findings(findings)
        _check_prefilter(loaded[1].model, loaded[0].model, seed)
        sc_model, pol_model = loaded[0].model, loaded[1].model
        assert isinstance(sc_model, Scenario) and isinstance(pol_model, PlatformPolicy)
        announce_workload(
            sc_model, pol_model, table=posts, workers=workers, dry_run=dry_run, quiet=quiet
        )
        if dry_run:
            return
        from simulator.studies import run_into  # the engine and the report: when they run

        with RunWriter(out, force) as writer:
            claimed.append(True)
            days = loaded[0].model.days  # type: ignore[attr-defined]
            with progress_bar("simulating", not quiet) as bar:
                result = run_into(
                    writer,
                    sc,
                    pol,
                    hosts,
                    seed,
                    posts=posts,
                    chunk_days=chunk_days,
                    workers=workers,
                    progress=None if bar is None else _in_days(bar, days),
                    **memory,
                )
        if not quiet:
            print_summary(result)
        console.print(
            f"results in [bold]{escape(str(out))}[/]: summary.json, report.md, report.html, "
            "posts.parquet, tables"
        )

    def resume() -> str:
        # One run has no checkpoint: it starts again, and the same inputs and
        # seed give the same results. --force only if this run left files
        # behind (never to clear a folder it did not get to write to).
        left = force or (bool(claimed) and out.exists() and any(out.iterdir()))
        args = ["modsim", "run", str(sc), "-p", str(pol)]
        args += [a for h in hosts for a in ("-H", str(h))] if hosts else ["--no-host"]
        args += ["--seed", str(seed), "--out", str(out), "--posts", posts]
        args += ["--chunk-days", str(chunk_days)] + (["--force"] if left else [])
        args += [a for k, v in memory.items() for a in (f"--{k.replace('_', '-')}", str(v))]
        return shlex.join(args) + "  (the run starts again; same seed, same results)"

    guarded(go, resume)


def _in_days(bar: Progress, days: int) -> Callable[[float], None]:
    """The engine tells the share of the horizon done; the bar counts days."""
    return lambda frac: bar(Tick(round(frac * days), days, unit="days"))


def print_findings(findings: list[Finding]) -> None:
    """Warnings (and errors) from the cross-document checks, on stderr."""
    for f in findings:
        style = "bold red" if f.level == "error" else "yellow"
        err_console.print(
            f"[{style}]{f.level}:[/] {escape(str(f))}", highlight=False, soft_wrap=True
        )


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files to check")],
) -> None:
    """Check configuration files; exit code 2 if any is invalid.

    Given scenarios and platform policies, also checks each scenario with each
    policy (and every host given): errors exit with code 2, warnings are printed.
    """
    bad = 0
    docs: list[Loaded[Any]] = []
    for path in files:
        try:
            loaded = load_file(path)
        except ConfigError as exc:
            err_console.print(
                f"[bold red]invalid:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            bad += 1
            continue
        docs.append(loaded)
        name = escape(f"{path} ({type(loaded.model).__name__} {loaded.model.name!r})")  # type: ignore[attr-defined]
        console.print(f"[green]ok[/] {name}", highlight=False, soft_wrap=True)
    scenarios = [d for d in docs if isinstance(d.model, Scenario)]
    policies = [d for d in docs if isinstance(d.model, PlatformPolicy)]
    hosts = [d for d in docs if isinstance(d.model, HostPolicy)]
    shown: set[Finding] = set()  # a host's finding repeats for every policy: print it once
    for d in docs:
        # What a document is wrong about on its own, or in the documents it changes.
        findings = check_document(d)
        print_findings([f for f in findings if f not in shown])
        shown.update(findings)
        bad += sum(f.level == "error" for f in findings)
    for sc in scenarios:
        for pol in policies:
            findings = check_run(sc, pol, hosts)
            print_findings([f for f in findings if f not in shown])
            shown.update(findings)
            errors = sum(f.level == "error" for f in findings)
            bad += errors
            verdict = "[bold red]fails[/]" if errors else "[green]ok[/]"
            pair = escape(
                f"{sc.path} with {pol.path}" + (f" under {len(hosts)} host(s)" if hosts else "")
            )
            console.print(
                f"{verdict} {pair}: {errors} error(s), {len(findings) - errors} warning(s)",
                highlight=False,
                soft_wrap=True,
            )
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the JSON Schema files")
    ] = Path("schema"),
) -> None:
    """Write a JSON Schema for each document kind (for editors' YAML validation)."""

    def go() -> None:
        make_folder(out)
        for kind, model in KINDS.items():
            path = out / f"{kind}.schema.json"
            write_text(path, json.dumps(model.model_json_schema(), indent=2) + "\n")
            console.print(escape(f"wrote {path}"))

    guarded(go)
