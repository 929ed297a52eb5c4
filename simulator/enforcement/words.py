"""Why an enforcer acted, in words: each signal's reading against its threshold,
and the platform's figures that fed it (for timelines, summaries and reports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simulator.enforcement.records import Notice, SignalReading
from simulator.format import number, share

POST_COUNTS = frozenset({"found_posts", "noticed_posts_up", "known_posts_up"})
"""Signals whose value is a number of posts."""


def _value(signal: str, x: float) -> str:
    if signal == "audit_prevalence":
        return share(x, 2)
    if signal == "backlog_age_hours":
        return f"{x:,.0f} h" if x >= 10 else f"{x:.1f} h"
    return number(float(x))


def _in(r: SignalReading) -> str:
    if r.window_hours is None:
        return " since the rule last fired"
    return f" in {r.window_hours:g} h"


def reading_phrase(r: SignalReading) -> str:
    """``23 violating posts found in 24 h (threshold 18)``."""
    v, w = _value(r.signal, r.value), _in(r)
    what = {
        "found_posts": f"{v} violating posts found{w}",
        "found_views": f"{v} views on the violating posts found{w}",
        "noticed_posts_up": f"{v} noticed posts still up at their deadline{w}",
        "repeat_offences": f"{v} notices failed{w} (posts still up at the deadline)",
        "known_posts_up": f"{v} found posts still up {r.after_hours or 0:g} h after they were "
        f"found{w}",
        "audit_prevalence": f"{v} of audited posts violating{w}",
        "backlog_age_hours": f"a {v} median age of waiting reports, as the platform stated it",
        "backlog_reports": f"{v} reports waiting for review, as the platform stated it",
        "press_attention": ("press attention" if r.value else "no press attention") + w,
        "repeat_violators_active": f"{v} accounts named in a notice found posting violating "
        f"content again{w}",
    }[r.signal]
    weight = f", weight {r.weight:g}" if r.weight != 1 else ""
    return f"{what} (threshold {_value(r.signal, r.threshold)}{weight})"


def notice_words(notice: Notice) -> str:
    """``notice 3: 12 posts by 9 accounts``."""
    n = len(notice.post_ids)
    text = f"notice {notice.number}: {n} posts"
    if notice.accounts is not None:
        k = len(notice.accounts)
        text += f" by {k} account" + ("" if k == 1 else "s")
    return text


def because(readings: Sequence[SignalReading]) -> str:
    """The readings that counted, largest part first; the score when several did."""
    parts = sorted((r for r in readings if r.contribution > 0), key=lambda r: -r.contribution)
    if not parts:
        return "no signal"
    text = " and ".join(reading_phrase(r) for r in parts)
    if len(parts) == 1 and parts[0].weight == 1:
        return text
    score = sum(r.contribution for r in parts)
    return f"{text} (score {score:.2f} of 1)"


SIGNAL_NAMES = {
    "found_posts": "found posts",
    "found_views": "views on found posts",
    "noticed_posts_up": "noticed posts up at their deadline",
    "repeat_offences": "failed notices",
    "known_posts_up": "found posts still up",
    "audit_prevalence": "audited posts violating",
    "backlog_age_hours": "median age of waiting reports",
    "backlog_reports": "reports waiting",
    "press_attention": "press attention",
    "repeat_violators_active": "named accounts active again",
}
"""Each signal's short name, for tables."""


def closest(readings: Sequence[SignalReading]) -> SignalReading | None:
    """The signal nearest its threshold (the largest ``value / threshold``)."""
    return max(readings, key=lambda r: min(1.0, r.value / r.threshold), default=None)


def short_reading(r: SignalReading) -> str:
    """``found posts 37 of 60 in 48 h``: a signal's value against its threshold."""
    window = "" if r.window_hours is None else f" in {r.window_hours:g} h"
    name = SIGNAL_NAMES[r.signal]
    if r.after_hours is not None:
        name += f" {r.after_hours:g} h after they were found"
    return f"{name} {_value(r.signal, r.value)} of {_value(r.signal, r.threshold)}{window}"


FIGURE_WORDS = {
    "harmful_views_per_hour": "harmful views an hour",
    "violating_posts_up": "violating posts up",
    "reports_waiting": "reports waiting for review",
    "median_wait_hours": "median age of waiting reports (h)",
}
"""The platform's figures recorded with each decision, and their names in words."""


def figures_phrase(figures: Mapping[str, float]) -> str:
    """``fed by 31,400 harmful views/h and a 41 h median backlog age (26,012 waiting)``."""
    if not figures:
        return ""
    parts = []
    if "harmful_views_per_hour" in figures:
        parts.append(f"{number(float(figures['harmful_views_per_hour']))} harmful views/h")
    if figures.get("reports_waiting"):
        parts.append(
            f"a {figures.get('median_wait_hours', 0):,.0f} h median backlog age "
            f"({number(float(figures['reports_waiting']))} reports waiting)"
        )
    if "violating_posts_up" in figures:
        parts.append(f"{number(float(figures['violating_posts_up']))} violating posts up")
    return "fed by " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
