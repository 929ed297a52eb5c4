"""Accounts an enforcer names in its notices, and the repeat violators it finds.

When the run follows authors, a notice names the accounts behind the posts it
names (an account is what the platform acts on: a banned author back under a
new account is a new account to the enforcer too). The enforcer then watches
for them: a violating post it *finds* (an outside report, the press, an audit)
that was made by an account named in an earlier notice, after that notice,
counts that account once as a repeat violator still active
(``repeat_violators_active``). Named again in a later notice, it can count
again for a post made after that one. The enforcer learns this only from what
it finds, never from the platform's records.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

AccountLookup = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Post ids -> (the account behind each, when each was made); account -1: unknown."""


class NamedAccounts:
    """The accounts named so far (entry points: :meth:`name`, :meth:`repeats`)."""

    def __init__(self, lookup: AccountLookup) -> None:
        self._lookup = lookup
        self._named_at: dict[int, float] = {}  # account -> its latest notice
        self._counted: set[int] = set()  # accounts counted since their latest notice

    def name(self, post_ids: np.ndarray, when: float) -> np.ndarray:
        """A notice sent at ``when`` names the accounts behind ``post_ids``: the
        distinct accounts, sorted."""
        accounts, _ = self._lookup(post_ids)
        named = np.unique(accounts[accounts >= 0])
        for a in named.tolist():
            self._named_at[a] = when
            self._counted.discard(a)
        return named

    def repeats(self, post_ids: np.ndarray) -> int:
        """Found violating posts ``post_ids``: how many named accounts they show
        active again (posts made after the account's latest notice), each once."""
        if not self._named_at:
            return 0
        accounts, created = self._lookup(post_ids)
        new = 0
        for a, t in zip(accounts.tolist(), created.tolist(), strict=True):
            since = self._named_at.get(a)
            if since is not None and t > since and a not in self._counted:
                self._counted.add(a)
                new += 1
        return new
