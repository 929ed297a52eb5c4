"""Enforcers: notices, strikes, warnings, removals and reinstatements, why each
rule fired (the signals and the platform's figures behind it), how close each
rule came (its peak score and the signals then), and the legitimate speech a
takedown or a delisting silences."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simulator.config.host import HostPolicy
from simulator.enforcement import Peak, SignalReading, Trip
from simulator.enforcement.words import because, closest, figures_phrase, short_reading
from simulator.format import date
from simulator.metrics.common import num
from simulator.runlog import RunLog
from simulator.taxonomy import VIOLATING


def enforcement_summary(log: RunLog) -> dict[str, Any]:
    sc = log.scenario
    suspended = math.isfinite(log.suspended_at)
    created = float(log.created_by_class.sum())
    legit_share = float(log.created_by_class[~VIOLATING].sum()) / created if created else 0.0
    not_made = log.not_made_by_class
    enforcers = [_enforcer(log, h) for h in log.hosts]
    return {
        "suspended": suspended,
        "suspended_at": sc.local_time(log.suspended_at).isoformat() if suspended else None,
        "suspended_by": log.suspended_by,
        "legitimate_posts_up_at_suspension": log.legit_live_at_suspension if suspended else 0,
        "expected_posts_not_made": num(log.expected_posts_lost),
        "legitimate_speech_lost": {
            # Legitimate posts that went dark with the platform, legitimate posts
            # expected in the rest of the period after a takedown (at the
            # run's legitimate share), and legitimate posts never made because
            # delisted stores sent no new users.
            "posts_up_at_takedown": log.legit_live_at_suspension if suspended else 0,
            "expected_posts_not_made_after_takedown": num(log.expected_posts_lost * legit_share),
            "posts_not_made_while_delisted": int(not_made[~VIOLATING].sum()),
        },
        "posts_not_made_while_delisted": int(not_made.sum()),
        "enforcers": enforcers,
        # The condition behind the takedown, in words (None without one).
        "why": next(
            (
                h["decided_by"]["sentence"]
                for h in enforcers
                if suspended and h["name"] == log.suspended_by and h["decided_by"]
            ),
            None,
        ),
    }


def _enforcer(log: RunLog, host: HostPolicy) -> dict[str, Any]:
    sc = log.scenario
    events = [e for e in log.events if e.enforcer == host.name]
    notices = [n for n in log.notices if n.enforcer == host.name]

    def first(kind: str) -> str | None:
        return next((sc.local_time(e.time).isoformat() for e in events if e.kind == kind), None)

    removal = "delisting" if host.effect == "delist" else "suspension"
    trips = [t for t in log.trips if t.enforcer == host.name]
    # The rule whose removal stood: the last trip that scheduled one.
    decided = next((t for t in reversed(trips) if t.scheduled), None)
    out = {
        "name": host.name,
        "effect": host.effect,
        "notices": len(notices),
        "posts_noticed": int(sum(len(n.post_ids) for n in notices)),
        "first_notice": sc.local_time(notices[0].time).isoformat() if notices else None,
        "strikes": sum(1 for e in events if e.kind == "strike"),
        "warnings": sum(1 for e in events if e.kind == "warning"),
        "press_at": first("press"),
        "emergency_at": first("emergency"),
        "removal_notice_at": first("suspension_notice"),
        "removed_at": first(removal),
        "reinstated_at": first("reinstatement"),
        "why": [trip_record(log, t, t is decided) for t in trips],
        "decided_by": trip_record(log, decided, True) if decided is not None else None,
        "rules": _rules(log, host),
    }
    named = [n.accounts for n in notices if n.accounts is not None]
    if named:  # the run followed authors: notices named accounts
        out["accounts_noticed"] = len(np.unique(np.concatenate(named)))
    return out


def _rules(log: RunLog, host: HostPolicy) -> list[dict[str, Any]]:
    """Each removal rule: how often it fired, when it first reached a removal
    (``tripped_at``: the strike that made enough, or the emergency clause), and its
    peak score with the signals then (how close it came)."""
    sc = log.scenario
    peaks = {p.rule: p for p in log.peaks if p.enforcer == host.name}
    trips = [t for t in log.trips if t.enforcer == host.name]
    needed = {"strike": host.strikes.strikes_to_suspend, "emergency": 1}
    rules = ["strike", "emergency"] if host.suspension.emergency.enabled else ["strike"]
    out = []
    for rule in rules:
        fired = [t for t in trips if t.rule == rule]
        tripped = next((t for t in fired if rule == "emergency" or t.number == needed[rule]), None)
        out.append(
            {
                "rule": rule,
                "fired": len(fired),
                "needed": needed[rule],
                "tripped_at": sc.local_time(tripped.time).isoformat() if tripped else None,
                "peak": _peak(log, peaks.get(rule)),
            }
        )
    return out


def _peak(log: RunLog, peak: Peak | None) -> dict[str, Any]:
    """A rule's highest score, when, each signal then, and the one nearest its threshold."""
    if peak is None:  # never judged: no evidence came in
        return {
            "score": 0.0,
            "at": None,
            "hour": None,
            "signals": [],
            "closest": None,
            "closest_text": "nothing observed",
            "text": "nothing observed",
        }
    near = closest(peak.readings)
    return {
        "score": round(peak.score, 6),
        # a score that never rose above 0 has no moment worth naming
        "at": log.scenario.local_time(peak.time).isoformat() if peak.score > 0 else None,
        "hour": peak.time if peak.score > 0 else None,
        "signals": [_signal(r) for r in peak.readings],
        "closest": near.signal if near is not None else None,
        "closest_text": short_reading(near) if near is not None else "",
        "text": ", ".join(
            short_reading(r) for r in sorted(peak.readings, key=lambda r: -r.contribution)
        ),
    }


def _signal(r: SignalReading) -> dict[str, Any]:
    return {
        "signal": r.signal,
        "value": num(r.value),
        "threshold": r.threshold,
        "weight": r.weight,
        "window_hours": r.window_hours,
        "after_hours": r.after_hours,
        "contribution": round(r.contribution, 6),
    }


def trip_record(log: RunLog, trip: Trip, decisive: bool) -> dict[str, Any]:
    """One rule that fired: when, its score, each signal against its threshold, the
    platform's figures at that moment, and all of it in one sentence. ``scheduled``:
    it scheduled a removal; ``decisive``: the removal that stood is the one it
    scheduled."""
    at = log.scenario.local_time(trip.time).isoformat()
    rule = "emergency clause" if trip.rule == "emergency" else f"strike {trip.number}"
    fed = figures_phrase(trip.figures)
    return {
        "rule": trip.rule,
        "number": trip.number,
        "at": at,
        "hour": trip.time,
        "score": round(trip.score, 6),
        "scheduled": trip.scheduled,
        "decisive": decisive,
        "signals": [_signal(r) for r in trip.readings],
        "platform": {k: num(v) for k, v in trip.figures.items()},
        "sentence": f"{rule}: {because(trip.readings)} at {date(at)}" + (f", {fed}" if fed else ""),
    }


def timeline(log: RunLog) -> pd.DataFrame:
    """Enforcement events with local dates."""
    rows = [
        {
            "time": log.scenario.local_time(e.time).isoformat(),
            "hour": e.time,
            "enforcer": e.enforcer,
            "event": e.kind,
            "posts": e.posts,
            "detail": e.detail,
        }
        for e in log.events
        if e.kind != "audit" or e.posts > 0
    ]
    return pd.DataFrame(rows, columns=["time", "hour", "enforcer", "event", "posts", "detail"])
