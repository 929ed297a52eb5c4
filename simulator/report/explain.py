"""The report of an explanation (``explain.html`` and ``explain.md``): which levers
moved the enforcers' decision, ranked, in plain words and a table, then why each
variant's enforcers acted or not; read from the explanation's folder alone."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from simulator.folders.atomic import write_text
from simulator.folders.experiment import read_experiment
from simulator.folders.explain import ExplainFolder, read_explanation
from simulator.format import date, signed
from simulator.report.context import Report, Table
from simulator.report.experiment import Experiment
from simulator.report.experiment_report import why_section
from simulator.report.html import render_html, render_markdown

HTML, MARKDOWN = "explain.html", "explain.md"


def when(meta: dict[str, Any], hours: float) -> str:
    """A simulation hour as a local date, ``never`` past the end of the run."""
    if not math.isfinite(hours) or hours >= float(meta["end_hours"]):
        return "never"
    return date((dt.datetime.fromisoformat(meta["start"]) + dt.timedelta(hours=hours)).isoformat())


def shift_words(row: dict[str, Any]) -> str:
    """``+43.9 h on average (averted in 3/3 seeds)``."""
    parts = []
    mean, size = float(row["shift_hours"]), float(row["abs_shift_hours"])
    if not math.isnan(mean):
        either = f" ({size:.1f} h per seed either way)" if size > abs(mean) + 0.05 else ""
        parts.append(f"{signed(mean)} h on average{either}")
    n = int(row["seeds"])
    if int(row["averted"]):
        parts.append(f"averted in {int(row['averted'])}/{n} seeds")
    if int(row["brought"]):
        parts.append(f"a suspension the base did not have in {int(row['brought'])}/{n} seeds")
    return ", ".join(parts) or "no change"


def ranking_rows(ex: ExplainFolder) -> list[list[str]]:
    """The table's rows: rank, lever, variant, change, suspended, median
    suspension, mean shift, averted, the decisive rule's progress and its shift."""
    rows = []
    for r in ex.table.to_dict("records"):
        base = r["lever"] == "base"
        rows.append(
            [
                "" if base else str(int(r["rank"])),
                str(r["lever"]),
                str(r["variant"]),
                str(r["change"]),
                f"{int(r['suspended'])}/{int(r['seeds'])}",
                when(ex.meta, float(r["suspension_hours_median"])),
                "" if base else signed(float(r["shift_hours"])),
                "" if base else str(int(r["averted"])),
                "" if math.isnan(r["progress"]) else f"{r['progress']:.2f}",
                "" if base or math.isnan(r["progress_shift"]) else f"{r['progress_shift']:+.2f}",
            ]
        )
    return rows


RANKING_HEADER = [
    "rank",
    "lever",
    "variant",
    "change",
    "suspended",
    "median suspension",
    "shift (h)",
    "averted",
    "rule progress",
    "Δ progress",
]


def explain_sentences(ex: ExplainFolder) -> list[str]:
    m, t = ex.meta, ex.table
    seeds = m["seeds"]
    hosts = " + ".join(m["hosts"])
    out = [
        f"Around the run of {m['policy']} on {m['scenario']} under {hosts}: each lever was "
        f"moved one at a time and every variant ran on the same {len(seeds)} seeds as the base "
        f"(the run's own seed {seeds[0]} first), so a difference comes from the lever alone. "
        "A suspension averted counts as moved to the end of the run "
        f"({when(m, 0.0)} + {float(m['end_hours']):g} h)."
    ]
    base = t[t["lever"] == "base"].to_dict("records")
    rule = m.get("rule") or "no rule"
    if base:
        b = base[0]
        k, n = int(b["suspended"]), int(b["seeds"])
        out.append(
            f"Base: suspended in {k}/{n} seeds"
            + (f" (median {when(m, float(b['suspension_hours_median']))})" if k else "")
            + f"; the ranking follows {rule} (its progress: 1 once it reached a removal; the "
            "strike rule's strikes over those needed; else its highest score)."
        )
    levers = t[t["lever"] != "base"]
    for lever, frame in levers.groupby("lever", sort=False):
        rows = frame.to_dict("records")
        moved = [r for r in rows if r["abs_shift_hours"] > 0 or r["averted"] or r["brought"]]
        rank = int(rows[0]["rank"])
        if not moved and all(
            math.isnan(r["progress_shift"]) or r["progress_shift"] == 0 for r in rows
        ):
            variants = ", ".join(str(r["variant"]) for r in rows)
            out.append(f"Rank {rank}, {lever}: moved nothing ({variants}).")
            continue
        said = "; ".join(f"{r['variant']} ({r['change']}): {shift_words(r)}" for r in rows)
        out.append(f"Rank {rank}, {lever}: {said}.")
    for lever, reason in (m.get("skipped") or {}).items():
        out.append(f"Not tried: {lever}, {reason}.")
    return out


def explain_report(root: Path) -> Report:
    ex = read_explanation(root)
    rep = Report(
        kind="explain",
        title=f"modsim explain: {ex.meta['policy']} on {ex.meta['scenario']}",
        summary=explain_sentences(ex),
    )
    rep.tables.append(
        Table(
            "tab-levers",
            "Levers ranked by how far they move the decision",
            RANKING_HEADER,
            ranking_rows(ex),
            [True, False, False, False, True, False, True, True, True, True],
            note="Paired by seed with the base. Shift: mean change in hours to the "
            "suspension (averted: moved to the end of the run). Rank: by the mean absolute "
            "shift, then the change in seeds suspended, then in the rule's progress.",
        )
    )
    rep.tables.append(why_section(Experiment(read_experiment(root))))
    rep.inputs = [f"{k}: {v}" for k, v in (ex.meta.get("levers") or {}).items()]
    if ex.meta.get("run"):
        rep.inputs.insert(0, f"Run explained: {ex.meta['run']}.")
    return rep


def write_explain_report(root: Path) -> tuple[Path, Path]:
    """``explain.html`` and its Markdown twin ``explain.md`` in the explanation's folder."""
    report = explain_report(Path(root))
    html, md = Path(root) / HTML, Path(root) / MARKDOWN
    write_text(html, render_html(report))
    write_text(md, render_markdown(report, HTML))
    return html, md
