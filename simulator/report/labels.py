"""What each headline metric is called in a report: its label, and the
time thresholds hidden in ``removed_within_<hours>h`` names."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.format import threshold

HEADLINE = (
    ("violating_posts", "violating posts"),
    ("latency_p50_hours", "latency p50"),
    ("latency_p90_hours", "latency p90"),
    ("views_before_removal", "harmful exposure (views)"),
    ("violating_never_removed", "never removed"),
    ("wrongful_removals", "wrongful removals"),
    ("suspended", "suspended (share of seeds)"),
    ("suspended_after_days", "suspended after (days)"),
)
"""The headline metrics, in the order reports show them, with their labels."""

WITHIN = "removed_within_"


OTHER = {
    "latency_p99_hours": "latency p99",
    "wrongful_removals_per_million": "wrongful per million legit.",
    "legitimate_posts_up_at_suspension": "legit. posts up at takedown",
    "brigade_reviewer_hours": "review time on brigaded posts",
    "campaign_copy_views": "views of campaign copies",
}
"""Labels of the other summary metrics whose names read badly as they are."""


def metric_label(metric: str) -> str:
    """A metric's name for people: ``latency_p90_hours`` is ``latency p90``,
    ``jury_wait_p90_hours`` is ``jury wait p90``."""
    for key, label in HEADLINE:
        if key == metric:
            return label
    if metric in OTHER:
        return OTHER[metric]
    if metric.startswith(WITHIN):
        return "removed within " + threshold(threshold_hours(metric))
    return metric.removesuffix("_hours").replace("_", " ")


def threshold_hours(metric: str) -> float:
    """The hours of a ``removed_within_<hours>h`` metric."""
    return float(metric[len(WITHIN) : -1])


def threshold_metrics(metrics: Sequence[str]) -> list[tuple[str, float]]:
    """The ``removed_within_`` metrics with their hours, shortest first."""
    out = [(m, threshold_hours(m)) for m in metrics if m.startswith(WITHIN)]
    return sorted(out, key=lambda x: x[1])
