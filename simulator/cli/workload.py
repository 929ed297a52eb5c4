"""What ``modsim run`` says about a run's cost before it starts: always with
``--dry-run`` (which then stops), and unprompted when the run is large (over
a million posts or a minute of CPU; see :mod:`simulator.workload`)."""

from __future__ import annotations

from rich.markup import escape

from simulator import format as fmt
from simulator.cli.app import console
from simulator.config import PlatformPolicy, Scenario
from simulator.workload import Workload, estimate


def announce_workload(
    scenario: Scenario,
    policy: PlatformPolicy,
    *,
    table: str,
    workers: int,
    dry_run: bool,
    quiet: bool,
) -> Workload:
    """Estimate the run; print the estimate for a dry run, or for a large run unless quiet."""
    work = estimate(scenario, policy, table=table, workers=workers)
    if dry_run or (work.large and not quiet):
        for line in workload_lines(work, workers, dry_run):
            console.print(line, highlight=False, soft_wrap=True)
    return work


def workload_lines(work: Workload, workers: int, dry_run: bool) -> list[str]:
    """The estimate in words, one figure a line (rich markup)."""
    head = "dry run (nothing simulated or written)" if dry_run else "a large run"
    cpu = f"about {fmt.seconds(work.cpu_seconds)}"
    if work.scored_texts and workers > 1:
        cpu += f" (about {fmt.seconds(work.wall_seconds)} on the clock with {workers} workers)"
    table = (
        "none (--posts none)"
        if work.table == "none"
        else f"about {fmt.size(work.table_bytes)} ({fmt.number(work.table_rows)} {work.table} rows)"
    )
    lines = [
        f"[bold]{head}[/]: about {fmt.number(work.posts)} posts over "
        f"{fmt.counted(work.days, 'day')} ({escape(work.basis)})",
        f"  CPU time       {cpu}",
        f"  memory         about {fmt.size(work.memory_bytes)} at its peak",
        f"  posts.parquet  {table}",
    ]
    if not work.from_log and work.scoring_seconds > work.cpu_seconds / 2:
        lines.append(
            f"  most of it scores {fmt.number(work.scored_texts)} texts; scale mode "
            "(content.texts.mode: sampled) draws the scores instead"
        )
    if not dry_run:
        lines.append("  (an estimate from measured costs; --dry-run shows it without running)")
    return lines
