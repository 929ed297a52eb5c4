"""What moderation cost in a run: money per day and per 1,000 posts, and hours.

Computed from the run's summary (review hours, posts, wrongful removals,
appeals) and the policy's ``costs``, so it needs nothing the summary lacks:

* paid reviewers are paid for the hours they are on shift (available), used
  or not; volunteer jurors' hours on duty are valued at ``juror_hourly``
  (0 by default: counted, not valued);
* the classifier costs ``classifier_per_1000_posts`` for every post it
  scores, i.e. every post made while a prefilter is on;
* wrongful removals and appeals cost what the team says each is worth.
"""

from __future__ import annotations

from typing import Any

from simulator.config.policy import PlatformPolicy
from simulator.metrics.common import num

TEAM_RATE = {"staff": "staff_hourly", "jury": "juror_hourly"}


def cost_summary(policy: PlatformPolicy, summary: dict[str, Any]) -> dict[str, Any]:
    """The cost block of a run summary (``summary`` holds posts, review, legitimate)."""
    c = policy.costs
    days = float(summary["run"]["days_simulated"] or 0.0)
    posts = float(summary["posts"]["created"])
    review = summary.get("review", {})

    def hours(team: str, key: str) -> float:
        return float(review.get(team, {}).get(key) or 0.0)

    staff_paid = hours("staff", "reviewer_hours_available")
    juror_on_duty = hours("jury", "reviewer_hours_available")
    scored = posts if policy.prefilter.enabled else 0.0
    wrongful = float(summary["legitimate"]["wrongly_removed"])
    # Appeals exist only where the run modelled them (an appeals stage).
    appeals = float((summary.get("appeals") or {}).get("decided") or 0.0)
    parts = {
        "staff": staff_paid * c.staff_hourly,
        "jurors": juror_on_duty * c.juror_hourly,
        "classifier": scored / 1000.0 * c.classifier_per_1000_posts,
        "wrongful_removals": wrongful * c.per_wrongful_removal,
        "appeals": appeals * c.per_appeal,
    }
    total = sum(parts.values())
    return {
        "currency": c.currency,
        "total": num(total),
        "per_day": num(total / days) if days > 0 else None,
        "per_1000_posts": num(1000.0 * total / posts) if posts > 0 else None,
        "by_item": {k: num(v) for k, v in parts.items()},
        "staff_hours_paid": num(staff_paid),
        "staff_hours_used": num(hours("staff", "reviewer_hours_used")),
        "juror_hours_on_duty": num(juror_on_duty),
        "juror_hours_used": num(hours("jury", "reviewer_hours_used")),
        "posts_scored": int(scored),
        "appeals_handled": int(appeals),
    }
