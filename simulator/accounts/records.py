"""What a run with accounts records for metrics: :class:`AccountLog`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.config.accounts import Adaptation


@dataclass(frozen=True)
class AccountLog:
    """Account enforcement in one run (the run log's ``accounts``).

    ``actions`` has a row per ladder action: ``time`` (hours), ``person``,
    ``account``, ``rung`` (index into ``ladder``), ``first_violation`` (when
    the account made its first violating post; inf: never), ``offender``
    (a repeat offender by propensity), ``appealed``, ``overturned``,
    ``evaded`` and ``returns_at`` (bans), ``account_since`` (when the account
    began: -inf for a person's first account, else the return from a ban).
    """

    ladder: list[str]
    """Each rung's label (``"1: warn"``, ``"2: suspend 1 d"``, ``"4: ban"``)."""
    bans: list[bool]
    """Whether each rung's action is a ban."""
    actions: pd.DataFrame
    population: int
    """Accounts joined by the end of the run (persons; evaders' new accounts aside):
    account ids below this are persons' first accounts, the others evaders' new ones."""
    offenders: int | None
    """Of them, repeat offenders (by propensity); None when propensities are unknown
    (a replayed log's authors)."""
    prevented_by_class: np.ndarray
    """Posts not made because their account was suspended or banned, per class
    (violating posts exactly; untouched legitimate ones in distribution)."""
    prevented_violating: dict[str, np.ndarray]
    """Violating posts not made, per class, by the block: ``suspension``, ``ban``."""
    strikes_applied: int
    strikes_withdrawn: int
    posts_removed_with_account: int
    """Posts still up that came down with their banned account."""
    enforcing: bool = True
    """Whether the platform acted on accounts (else authors were only followed)."""
    adaptation: Adaptation | None = None
    """The authors' adaptation to the prefilter, when they adapt."""
    scored_by_removals: np.ndarray | None = None
    """Violating posts the prefilter scored, by the removals their author had learned
    from (0, 1, 2, 3 or more); None without a prefilter."""
    caught_by_removals: np.ndarray | None = None
    """Of them, those it caught (removed or sent to review)."""
