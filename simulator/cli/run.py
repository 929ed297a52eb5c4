"""``modsim run``, ``validate`` and ``schema``: one simulation, and the config files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from simulator.api import simulate
from simulator.cli.app import (
    DEFAULT_HOST,
    DEFAULT_POLICY,
    DEFAULT_SCENARIO,
    app,
    bundled,
    console,
    err_console,
    fail,
    guarded,
    prepare_out,
    progress_bar,
    write_atomic,
    write_text,
)
from simulator.cli.report import write_report_quietly
from simulator.config import KINDS, PlatformPolicy, load_file
from simulator.errors import ConfigError
from simulator.report.markdown import render_markdown
from simulator.results import RunResult, headline


class ParquetSink:
    """Appends per-post rows to a Parquet file, one row group per batch."""

    def __init__(self, path: Path) -> None:
        self.final = path
        self.tmp = path.with_name(f".{path.name}.partial")
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def __call__(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        self._writer.write_table(table.cast(self._writer.schema))
        self.rows += len(frame)

    def close(self, ok: bool) -> None:
        if self._writer is not None:
            self._writer.close()
        if ok and self.tmp.exists():
            os.replace(self.tmp, self.final)
        elif self.tmp.exists():
            self.tmp.unlink()


def write_run(result: RunResult, out: Path) -> list[Path]:
    """Write the summary, report and tables of a run into ``out``."""
    files = []

    def text(name: str, content: str) -> None:
        path = out / name
        write_atomic(path, lambda p: write_text(p, content))
        files.append(path)

    def frame_csv(name: str, df: pd.DataFrame) -> None:
        path = out / name
        write_atomic(path, lambda p: df.to_csv(p, index=False))
        files.append(path)

    text(
        "summary.json", json.dumps(result.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
    )
    text("report.md", render_markdown(result))
    frame_csv("thresholds.csv", result.within)
    frame_csv("daily.csv", result.daily)
    frame_csv("timeline.csv", result.timeline)
    frame_csv("backlog.csv", result.backlog)
    for team, cases in result.cases.items():
        path = out / f"cases_{team}.parquet"
        write_atomic(path, lambda p, c=cases: c.to_parquet(p, index=False))  # type: ignore[misc]
        files.append(path)
    return files


def print_summary(result: RunResult) -> None:
    table = Table(title=f"{result.summary['run']['policy']} on {result.summary['run']['scenario']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in headline(result.summary).items():
        table.add_row(key, _fmt(value, key))
    console.print(table)


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "never" if "latency" in key else "n/a"
    if isinstance(value, float):
        if key.startswith("removed within") or "utilisation" in key:
            return f"{100 * value:.1f}%"
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
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
        typer.Option("--host", "-H", help=f"HostPolicy YAML, repeatable (default {DEFAULT_HOST})"),
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
    force: Annotated[bool, typer.Option(help="Overwrite a non-empty results folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table")] = False,
) -> None:
    """Run one platform policy on a scenario under a host; write summary, report and tables."""
    if posts not in ("all", "touched", "none"):
        raise fail(f"--posts: expected all, touched or none, got {posts!r}")
    sc = scenario or bundled(DEFAULT_SCENARIO)
    pol = policy or bundled(DEFAULT_POLICY)
    hosts = [] if no_host else (host or [bundled(DEFAULT_HOST)])

    def go() -> None:
        # Validate every input before touching the results folder.
        loaded = [load_file(path).model for path in (sc, pol, *hosts)]
        _check_prefilter(loaded[1], loaded[0], seed)
        prepare_out(out, force)
        sink = ParquetSink(out / "posts.parquet") if posts != "none" else None
        ok = False
        try:
            show = not quiet and err_console.is_terminal
            with progress_bar(show, "simulating") as tick:
                result = simulate(
                    sc,
                    pol,
                    hosts,
                    seed,
                    chunk_days=chunk_days,
                    table="all" if posts == "all" else "touched",
                    sink=sink,
                    progress=tick,
                    workers=workers,
                )
            ok = True
        finally:
            if sink is not None:
                sink.close(ok)
        write_run(result, out)
        write_report_quietly(out)  # report.html: the same numbers, with figures
        if not quiet:
            print_summary(result)
        console.print(
            f"results in [bold]{out}[/]: summary.json, report.md, report.html, "
            "posts.parquet, tables"
        )

    guarded(go)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files to check")],
) -> None:
    """Check configuration files; exit code 2 if any is invalid."""
    bad = 0
    for path in files:
        try:
            loaded = load_file(path)
        except ConfigError as exc:
            err_console.print(f"[bold red]invalid:[/] {exc}", highlight=False, soft_wrap=True)
            bad += 1
            continue
        console.print(f"[green]ok[/] {path} ({type(loaded.model).__name__} {loaded.model.name!r})")  # type: ignore[attr-defined]
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the JSON Schema files")
    ] = Path("schema"),
) -> None:
    """Write a JSON Schema for each document kind (for editors' YAML validation)."""
    out.mkdir(parents=True, exist_ok=True)
    for kind, model in KINDS.items():
        path = out / f"{kind}.schema.json"
        content = json.dumps(model.model_json_schema(), indent=2) + "\n"
        write_atomic(path, lambda p, c=content: write_text(p, c))  # type: ignore[misc]
        console.print(f"wrote {path}")
