"""A calibration's candidates read as an answer: the accepted set, each free
field's accepted range, each target's fit, and which targets pull against
each other. Pure functions of the candidates table (no run, no study), so
they can be checked on a table made by hand."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from simulator.config.calibration import Calibration, Target
from simulator.folders.calibration import CalibrationResult
from simulator.folders.search import Proposals
from simulator.format import MISSING, number, significant

TENSION = -0.5
"""Spearman correlation of two targets' signed errors at or below which they
are said to pull against each other."""
MIN_FOR_TENSION = 8
"""Candidates needed before correlations are reported."""


def rule_words(spec: Calibration) -> str:
    a = spec.accept
    if a.rule == "quantile":
        return f"the best {a.quantile:.0%} of candidates by distance"
    levels = "/".join(a.within)
    return f"candidates with every {levels}-trust target within its tolerance"


def accepted_mask(spec: Calibration, frame: pd.DataFrame) -> pd.Series:
    """Which evaluated candidates are accepted by the document's rule."""
    done = frame["state"] == "COMPLETE"
    if spec.accept.rule == "quantile":
        ranked = frame[done].sort_values(["distance", "candidate"])
        keep = math.ceil(spec.accept.quantile * len(ranked)) if len(ranked) else 0
        return frame["candidate"].isin(ranked["candidate"].iloc[:keep])
    ok = done.copy()
    for t in spec.targets:
        if t.trust in spec.accept.within:
            ok &= frame[f"{t.name} | error"].abs() <= 1.0
    return ok


def show_value(target: Target, value: float) -> str:
    """A target's figure as people read it: a date-time in the observed one's zone."""
    if value is None or math.isnan(value):
        return MISSING
    if target.event is not None and isinstance(target.observed, dt.datetime):
        at = dt.datetime.fromtimestamp(value * 3600.0, tz=target.observed.tzinfo)
        return at.isoformat(sep=" ", timespec="minutes")
    return number(value) if float(value).is_integer() else significant(value)


def measure_words(t: Target) -> str:
    if t.metric is not None:
        return t.metric
    if t.event is not None:
        return f"{t.event} of {t.enforcer}"
    if t.backlog_at is not None:
        return f"{t.review_team} backlog at {t.backlog_at.isoformat(sep=' ', timespec='minutes')}"
    assert t.noticed_by is not None
    return f"posts noticed by {t.enforcer} by {t.noticed_by.isoformat(sep=' ', timespec='minutes')}"


def _tolerance(t: Target) -> str:
    return f"{t.tolerance:g} h" if t.event is not None else significant(t.tolerance)


def fit_table(spec: Calibration, frame: pd.DataFrame, accepted: pd.Series) -> pd.DataFrame:
    done = frame[frame["state"] == "COMPLETE"]
    best = done.sort_values(["distance", "candidate"]).iloc[0] if len(done) else None
    acc = frame[accepted]
    rows = []
    for t in spec.targets:
        col = acc[t.name].dropna()
        errors = acc[f"{t.name} | error"]
        median = float(col.median()) if len(col) else math.nan
        best_v = float(best[t.name]) if best is not None else math.nan
        rows.append(
            {
                "target": t.name,
                "measure": measure_words(t),
                "trust": t.trust,
                "observed": t.observed_value,
                "observed_text": show_value(t, t.observed_value),
                "tolerance": t.tolerance,
                "best": best_v,
                "best_text": show_value(t, best_v),
                "low": float(col.min()) if len(col) else math.nan,
                "median": median,
                "high": float(col.max()) if len(col) else math.nan,
                "low_text": show_value(t, float(col.min()) if len(col) else math.nan),
                "median_text": show_value(t, median),
                "high_text": show_value(t, float(col.max()) if len(col) else math.nan),
                "within": bool(len(col)) and abs(median - t.observed_value) <= t.tolerance,
                "share_within": float((errors.abs() <= 1).mean()) if len(acc) else math.nan,
                "missing_seeds": int(acc[f"{t.name} | missing"].sum()) if len(acc) else 0,
                "source": t.source,
            }
        )
    return pd.DataFrame(rows)


def ranges_table(spec: Calibration, frame: pd.DataFrame, accepted: pd.Series) -> pd.DataFrame:
    acc = frame[accepted]
    rows = []
    for path, p in spec.free.items():
        prior = (
            ", ".join(str(c) for c in p.choices)
            if p.choices is not None
            else f"{p.low:g} to {p.high:g}"
        )
        col = acc[path] if path in acc else pd.Series(dtype=float)
        numeric = p.choices is None or all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in p.choices
        )
        row: dict[str, Any] = {"parameter": path, "prior": prior, "accepted": str(len(col))}
        if numeric and len(col):
            v = col.astype(float)
            row |= {"low": float(v.min()), "median": float(v.median()), "high": float(v.max())}
            if p.choices is None:
                width = float(p.high or 0) - float(p.low or 0)
                row["share_of_prior"] = (row["high"] - row["low"]) / width if width else math.nan
        else:
            row |= {"low": math.nan, "median": math.nan, "high": math.nan}
            row["accepted"] = ", ".join(sorted({str(x) for x in col})) or "none"
        row.setdefault("share_of_prior", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def tensions_table(spec: Calibration, frame: pd.DataFrame) -> pd.DataFrame:
    """Pairs of targets whose signed errors move in opposite directions across
    candidates: a candidate that raises one lowers the other."""
    done = frame[frame["state"] == "COMPLETE"]
    columns = ["first", "second", "rho", "candidates", "sentence"]
    rows: list[dict[str, Any]] = []
    targets = spec.targets
    for i, a in enumerate(targets):
        for b in targets[i + 1 :]:
            x = done[f"{a.name} | error"].to_numpy(dtype=float)
            y = done[f"{b.name} | error"].to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            n = int(ok.sum())
            if n < MIN_FOR_TENSION or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
                continue
            rho = float(sps.spearmanr(x[ok], y[ok]).statistic)
            if rho <= TENSION:
                rows.append(
                    {
                        "first": a.name,
                        "second": b.name,
                        "rho": rho,
                        "candidates": n,
                        "sentence": (
                            f"'{a.name}' and '{b.name}' pull against each other (Spearman "
                            f"rho {rho:.2f} over {n} candidates): the free values that raise "
                            f"the one lower the other, so where both are too high or both too "
                            "low no candidate fits both; trust and tolerance decide which gives."
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def analyse(
    spec: Calibration,
    frame: pd.DataFrame,
    seeds: list[int],
    proposals: Proposals | None,
    runs: int = 0,
    resumed: int = 0,
) -> CalibrationResult:
    notes: list[str] = []
    if frame.empty:
        frame = pd.DataFrame(columns=["candidate", "trial", "state", "distance"])
        accepted = pd.Series(dtype=bool)
    else:
        accepted = accepted_mask(spec, frame)
    frame = frame.assign(accepted=accepted.astype(bool).to_numpy())
    n_acc = int(frame["accepted"].sum()) if len(frame) else 0
    evaluated = int((frame["state"] == "COMPLETE").sum()) if len(frame) else 0
    if evaluated and not n_acc:
        notes.append(
            f"No candidate was accepted ({rule_words(spec)}): the fit table shows the best "
            "candidate only; widen the free ranges, run more trials or revisit the targets."
        )
    if 0 < evaluated < MIN_FOR_TENSION:
        notes.append(
            f"Tensions between targets are reported from {MIN_FOR_TENSION} candidates on "
            f"({evaluated} evaluated)."
        )
    for t in spec.targets:
        col = f"{t.name} | missing"
        if t.event is not None and col in frame and frame[col].sum():
            never = int((frame[col] > 0).sum())
            notes.append(
                f"'{t.name}': the event did not happen in some seeds of {never} candidate(s); "
                "such a run counts it one tolerance after the run's end."
            )
    mask = frame["accepted"].astype(bool)
    return CalibrationResult(
        spec=spec,
        candidates=frame,
        fit=fit_table(spec, frame, mask) if evaluated else pd.DataFrame(),
        ranges=ranges_table(spec, frame, mask) if evaluated else pd.DataFrame(),
        tensions=tensions_table(spec, frame) if evaluated else pd.DataFrame(),
        accepted=n_acc,
        rule=rule_words(spec),
        seeds=list(seeds),
        proposals=proposals,
        notes=notes,
        runs=runs,
        resumed=resumed,
    )
