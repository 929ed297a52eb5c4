"""Why, setting by setting: which enforcer rule each policy tripped or avoided
over its seeds, when, and how close an avoided rule came.

Read from the run summaries a comparison or batch keeps per cell
(``enforcement.enforcers[].rules``: each rule's firings and its peak score with
the signals then), so a report rebuilds the same table from the folder alone.
One row per setting x enforcer x rule (:func:`why_table`); :func:`why_outcome`
says it in words per setting and enforcer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simulator.format import date

RULE_WORDS = {"strike": "strike rule", "emergency": "emergency clause"}
"""Each rule's name in words."""

WHY_COLUMNS = [
    "enforcer",
    "effect",
    "rule",
    "seeds",
    "removed",
    "removed_median_at",
    "decided",
    "unreached",
    "tripped",
    "tripped_median_at",
    "fired_max",
    "needed",
    "peak_median",
    "peak_max",
    "peak_text",
]
"""The columns :func:`why_table` adds to the setting's labels (``fired_max``: the most
strikes in a seed where the rule did not reach a removal; ``unreached``: seeds where a
removal was scheduled but the run ended first)."""


def _hours(start: dt.datetime, at: str | None) -> float:
    if not at:
        return float("nan")
    return (dt.datetime.fromisoformat(at) - start) / dt.timedelta(hours=1)


def _median_at(start: dt.datetime | None, hours: list[float]) -> str | None:
    done = [h for h in hours if np.isfinite(h)]
    if start is None or not done:
        return None
    return (start + dt.timedelta(hours=float(np.median(done)))).isoformat()


def why_table(
    cells: pd.DataFrame, summaries: Mapping[str, dict[str, Any]], columns: Sequence[str]
) -> pd.DataFrame:
    """Per setting (``columns`` of ``cells``) x enforcer x rule, over the seeds
    with a run summary: seeds removed and by which rule (``decided``: ``rule=count``),
    seeds where the rule reached a removal (``tripped``) and the median moment,
    and over the seeds where it did not, its median and highest peak score, with
    the signals of the highest (``peak_text``)."""
    rows: list[dict[str, Any]] = []
    cols = [c for c in columns if c in cells]
    if not len(cells) or "cell_id" not in cells:
        return pd.DataFrame(columns=[*cols, *WHY_COLUMNS])
    for key, frame in cells.groupby(cols, sort=False, dropna=False):
        labels = dict(zip(cols, key if isinstance(key, tuple) else (key,), strict=True))
        runs = [summaries[c] for c in frame["cell_id"].astype(str) if c in summaries]
        if not runs:
            continue
        start = dt.datetime.fromisoformat(runs[0]["run"]["start"])
        for name in dict.fromkeys(h["name"] for r in runs for h in r["enforcement"]["enforcers"]):
            hosts = [h for r in runs for h in r["enforcement"]["enforcers"] if h["name"] == name]
            removed = [_hours(start, h.get("removed_at")) for h in hosts]
            decided = Counter(
                h["decided_by"]["rule"] for h in hosts if h.get("removed_at") and h["decided_by"]
            )
            base = {
                **labels,
                "enforcer": name,
                "effect": hosts[0].get("effect", "takedown"),
                "seeds": len(hosts),
                "removed": int(np.isfinite(removed).sum()),
                "removed_median_at": _median_at(start, removed),
                "decided": ", ".join(f"{k}={v}" for k, v in sorted(decided.items())),
                # a removal scheduled that the run did not reach (it ended first)
                "unreached": sum(1 for h in hosts if not h.get("removed_at") and h["decided_by"]),
            }
            for rule in dict.fromkeys(x["rule"] for h in hosts for x in h.get("rules", [])):
                rows.append(base | _rule_row(start, hosts, rule))
    return pd.DataFrame(rows, columns=[*cols, *WHY_COLUMNS])


def _rule_row(start: dt.datetime, hosts: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    records = [x for h in hosts for x in h.get("rules", []) if x["rule"] == rule]
    tripped = [_hours(start, x["tripped_at"]) for x in records]
    avoided = [x for x in records if not x["tripped_at"]]
    peaks = [float(x["peak"]["score"]) for x in avoided]
    top = max(avoided, key=lambda x: float(x["peak"]["score"]), default=None)
    return {
        "rule": rule,
        "tripped": int(np.isfinite(tripped).sum()),
        "tripped_median_at": _median_at(start, tripped),
        "fired_max": max((int(x["fired"]) for x in avoided), default=0),
        "needed": int(records[0]["needed"]) if records else 1,
        "peak_median": float(np.median(peaks)) if peaks else float("nan"),
        "peak_max": max(peaks) if peaks else float("nan"),
        "peak_text": top["peak"]["text"] if top is not None else "",
    }


def _removal(effect: str) -> str:
    return "delisted" if effect == "delist" else "suspended"


def rule_phrase(row: Mapping[str, Any]) -> str:
    """``emergency clause tripped in 3/5 seeds (median 2021-01-10 22:13)``, or for a
    rule avoided: ``emergency clause avoided: peak score 0.62 of 1 (at its highest:
    found posts 37 of 60 in 48 h, ...)``; both when it tripped in some seeds only."""
    n, k = int(row["seeds"]), int(row["tripped"])
    rule = RULE_WORDS.get(str(row["rule"]), str(row["rule"]))
    parts = []
    if k:
        parts.append(f"{rule} tripped in {k}/{n} seeds (median {date(row['tripped_median_at'])})")
    if k < n:
        where = f"{rule} avoided" if not k else f"avoided in {n - k}/{n}"
        if row["rule"] == "strike" and int(row["fired_max"]):
            peak = f"at most {int(row['fired_max'])} of {int(row['needed'])} strikes"
        else:
            lo, hi = float(row["peak_median"]), float(row["peak_max"])
            median = "" if f"{lo:.2f}" == f"{hi:.2f}" else f", median {lo:.2f}"
            peak = f"peak score {hi:.2f} of 1{median}"
        text = f" (at its highest: {row['peak_text']})" if row["peak_text"] else ""
        parts.append(f"{where}: {peak}{text}")
    return ", ".join(parts)


def why_outcome(rows: pd.DataFrame) -> str:
    """One setting's outcome under one enforcer (its rows of :func:`why_table`):
    ``suspended in 5/5 seeds (median 2021-01-10 22:13) by the emergency clause``
    or ``never suspended (5 seeds)``."""
    first = rows.iloc[0]
    n, k = int(first["seeds"]), int(first["removed"])
    word = _removal(str(first["effect"]))
    late = int(first["unreached"])
    if not k:
        ended = f"; scheduled in {late}, the run ended first" if late else ""
        return f"never {word} ({n} seeds{ended})"
    by = [
        f"{RULE_WORDS.get(r, r)}" + (f" in {c}" if int(c) != k else "")
        for r, c in (p.split("=") for p in str(first["decided"]).split(", ") if p)
    ]
    ended = f"; scheduled in {late} more, the run ended first" if late else ""
    by_rule = f" by the {' and '.join(by)}" if by else ""
    return f"{word} in {k}/{n} seeds (median {date(first['removed_median_at'])}){by_rule}{ended}"


def why_lines(table: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Per setting and enforcer: its labels, ``outcome`` and ``rules`` (each
    rule's phrase), in the table's order."""
    cols = [c for c in columns if c in table]
    out: list[dict[str, Any]] = []
    if not len(table):
        return out
    for key, rows in table.groupby([*cols, "enforcer"], sort=False, dropna=False):
        labels = dict(zip([*cols, "enforcer"], key, strict=True))
        out.append(
            labels
            | {
                "outcome": why_outcome(rows),
                "rules": [rule_phrase(r) for r in rows.to_dict("records")],
            }
        )
    return out
