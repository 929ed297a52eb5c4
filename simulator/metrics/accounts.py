"""Account enforcement figures: actions by rung, posts not made, wrongful bans.

Conventions:

* An account is *wrongly banned* when its ban stands (no appeal lifted it)
  although the account had made no violating post by then: defined by its
  posts, not by its propensity. The summary also counts bans of accounts that
  are not repeat offenders by propensity (they may still have posted
  something violating); on a replayed log, whose authors have no propensity,
  both that count and ``repeat_offenders`` are null.
* *Time from first violation to ban*: from the creation of the account's
  first violating post to the ban, over banned accounts that had one.
* *Posts not made*: posts the suspended or banned accounts would have made
  (they are not made); violating ones counted exactly, legitimate ones no
  stage would have touched in distribution.
* *Prefilter recall by removals learned from*: of the violating posts the
  prefilter scored, the share it caught (removed or sent to review), by how many
  removals of their author's posts came before the day they were made (0, 1, 2,
  3 or more). With adaptation off the shares differ only by chance; with it on,
  authors who learned from removals are caught less.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.metrics.common import num, percentiles
from simulator.runlog import RunLog


def account_summary(log: RunLog) -> dict[str, Any] | None:
    """The ``accounts`` section of a run's summary (None without account enforcement)."""
    acc = log.accounts
    if acc is None or not acc.enforcing:
        return None
    tax = log.scenario.taxonomy
    a = acc.actions  # every column, even without a row
    rung = a["rung"].to_numpy(dtype=np.int64)
    actions = {label: int((rung == i).sum()) for i, label in enumerate(acc.ladder)}
    ban_rungs = [i for i, ban in enumerate(acc.bans) if ban]
    overturned = a["overturned"].to_numpy(dtype=bool)
    bans = np.isin(rung, ban_rungs) & ~overturned
    times = a["time"].to_numpy(dtype=np.float64)
    first = a["first_violation"].to_numpy(dtype=np.float64)
    violated = first <= times
    evaded = a["evaded"].to_numpy(dtype=bool)
    returns = a["returns_at"].to_numpy(dtype=np.float64)
    accounts = a["account"].to_numpy(dtype=np.int64)
    offender = a["offender"].to_numpy(dtype=bool)
    appealed = a["appealed"].to_numpy(dtype=bool)
    new_account = accounts >= acc.population  # an evader's (ids from the population's up)
    prevented = acc.prevented_by_class
    return {
        "population": acc.population,
        "repeat_offenders": acc.offenders,
        "accounts_actioned": len(np.unique(accounts)),
        "actions_by_rung": actions,
        "banned": int(bans.sum()),
        "wrongly_banned": int((bans & ~violated).sum()),
        # Unknown on a replay: its authors have no propensity, so no ban tells.
        "banned_not_repeat_offenders": (
            None if acc.offenders is None else int((bans & ~offender).sum())
        ),
        "first_violation_to_ban_hours": percentiles(
            times[bans & violated] - first[bans & violated], (50, 90)
        ),
        "posts_not_made": {c: num(float(prevented[i])) for i, c in enumerate(tax.classes)},
        "violating_posts_not_made": {
            "total": int(
                sum(int(v[tax.violating].sum()) for v in acc.prevented_violating.values())
            ),
            **{
                block: {c: int(v[i]) for i, c in enumerate(tax.classes) if tax.violating[i]}
                for block, v in acc.prevented_violating.items()
            },
        },
        "posts_removed_with_account": acc.posts_removed_with_account,
        "strikes": {"applied": acc.strikes_applied, "withdrawn": acc.strikes_withdrawn},
        "ban_appeals": {"appealed": int(appealed.sum()), "overturned": int(overturned.sum())},
        "evasion": {
            "evaded": int(evaded.sum()),
            "returned_by_end": int((evaded & (returns <= log.end)).sum()),
            "new_accounts_actioned": len(np.unique(accounts[new_account])),
            "new_accounts_banned": int((bans & new_account).sum()),
        },
    }


ADAPTATION_BINS = ("0", "1", "2", "3+")
"""Removals an author had learned from, as the summary names them."""


def adaptation_summary(log: RunLog) -> dict[str, Any] | None:
    """The ``adaptation`` section of a run's summary: the authors' adaptation and the
    prefilter's recall by removals learned from (None unless the run followed authors
    and a prefilter scored posts)."""
    acc = log.accounts
    if acc is None or acc.scored_by_removals is None or acc.caught_by_removals is None:
        return None
    cfg = acc.adaptation
    seen, caught = acc.scored_by_removals, acc.caught_by_removals
    return {
        "enabled": cfg is not None,
        "score_shift_per_removal": cfg.score_shift_per_removal if cfg is not None else 0.0,
        "max_shift": cfg.max_shift if cfg is not None else 0.0,
        "share": cfg.share if cfg is not None else 0.0,
        "prefilter_recall_by_removals": {
            name: {
                "posts": int(seen[i]),
                "caught": int(caught[i]),
                "recall": num(float(caught[i] / seen[i])) if seen[i] else None,
            }
            for i, name in enumerate(ADAPTATION_BINS)
        },
    }


def recall_before_and_after(adaptation: dict[str, Any]) -> tuple[float, float]:
    """The prefilter's recall on violating posts of authors with no post removed
    before, and of those who had learned from a removal (nan where there were none),
    from a summary's ``adaptation`` section."""
    bins = list(adaptation["prefilter_recall_by_removals"].values())
    out = []
    for group in (bins[:1], bins[1:]):
        posts = sum(b["posts"] for b in group)
        out.append(sum(b["caught"] for b in group) / posts if posts else math.nan)
    return out[0], out[1]
