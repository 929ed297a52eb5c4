"""The account book: strikes, the escalation ladder, suspensions, bans, evasion.

A *person* is an author of the population (:mod:`simulator.accounts.population`);
an *account* is what the platform acts on. A person's first account has the
person's index as its id; a banned person who evades comes back under a new
account (ids from ``population size`` upwards, in the order bans happen),
with no strikes, and the same propensity and followers.

State lives in arrays. Per person, for the persons concerned only
(:class:`~simulator.accounts.sparse.PersonColumn`: the population is millions):
``row``, an index into the *tracked* table (-1: never struck), and when the
current account first posted something violating. Per tracked person (those with a strike;
far fewer): the current account and since when it exists, the current
block (``blocked_from``, ``blocked_until``, ``block_kind``: none, suspension,
ban), and the last :data:`RING` strikes (time, weight, post). Actions are
logged as rows (time, account, rung, ...), a handful of columns.

Strikes come in as removals happen (:meth:`AccountBook.strike`) and are
applied in time order up to each stop of the run (:meth:`AccountBook.advance`),
so the ladder sees them in the order they happened whatever the chunk size.
Per-account draws (who appeals, who evades, after how long) are keyed by
account id (:class:`~simulator.stages.appeals.KeyedDraws`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from simulator.accounts.sparse import PersonColumn
from simulator.config.accounts import AccountEnforcement, Evasion
from simulator.config.common import per_class
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.taxonomy import DEFAULT, Taxonomy

RING = 24
"""Strikes kept per account (older ones have expired or no longer matter)."""
NONE, SUSPENDED, BANNED = 0, 1, 2
"""``block_kind`` codes."""
_START_ROWS = 1024
_COLUMNS: dict[str, tuple[float, type]] = {
    "person": (-1, np.int64),
    "account": (-1, np.int64),
    "since": (-np.inf, np.float64),
    "blocked_from": (np.inf, np.float64),
    "blocked_until": (-np.inf, np.float64),
    "block_kind": (NONE, np.int8),
    "bans": (0, np.int32),  # of the current account so far
    "st_time": (-np.inf, np.float64),
    "st_weight": (0.0, np.float64),
    "st_post": (-1, np.int64),
}
"""The tracked columns and a fresh row's value in each (a row per tracked person;
the ``st_`` columns hold :data:`RING` values a row)."""


def _total(values: list[float]) -> float:
    """The sum numpy's ``.sum()`` gives for ``values`` (a strike's live weights):
    added in order from 0.0 below 8 values (not the builtin ``sum``, which may
    compensate); numpy's own pairwise sum from 8 on."""
    if len(values) < 8:
        total = 0.0
        for v in values:
            total += v
        return total
    return float(np.add.reduce(np.array(values, dtype=np.float64)))


@dataclass(frozen=True)
class Ban:
    """A ban that stands, as the book decided it."""

    person: int
    time: float
    channel: int
    until: float
    """When the person is back (under a new account), or inf."""


class AccountBook:
    """Per-account enforcement state (entry points: :meth:`strike`, :meth:`advance`,
    :meth:`note_violations`, :meth:`blocked`)."""

    # the tracked columns (see _COLUMNS), made by _alloc
    person: np.ndarray
    account: np.ndarray
    since: np.ndarray
    blocked_from: np.ndarray
    blocked_until: np.ndarray
    block_kind: np.ndarray
    bans: np.ndarray
    st_time: np.ndarray
    st_weight: np.ndarray
    st_post: np.ndarray

    def __init__(
        self,
        policy: AccountEnforcement,
        evasion: Evasion,
        persons: int,
        offender: np.ndarray,
        seeds: SeedTree,
        taxonomy: Taxonomy = DEFAULT,
    ) -> None:
        self.cfg = policy
        self.evasion = evasion
        self._offender = offender
        self._weights = np.asarray(
            per_class(policy.strike_weight, taxonomy)
            if policy.enabled
            else np.ones(taxonomy.n_classes),
            dtype=np.float64,
        )
        self._rungs = [float(step.strikes) for step in policy.ladder]
        """Each rung's strikes, as numbers (read for every strike)."""
        self._expiry = (
            math.inf if policy.strike_expiry_days is None else 24.0 * policy.strike_expiry_days
        )
        self._draws = KeyedDraws(seeds, "accounts", "actions")
        self.persons = persons
        # Per person, kept for the few concerned (the population is millions): the
        # tracked row (-1: never struck), and when the current account first posted
        # something violating (inf: never).
        self.row = PersonColumn(-1, np.int64)
        self.first_violation = PersonColumn(np.inf, np.float64)
        self._n = 0
        self._alloc(_START_ROWS)
        self._next_account = persons
        self._pending: list[tuple[np.ndarray, ...]] = []
        self.actions: dict[str, list[float]] = {
            k: []
            for k in (
                "time",
                "person",
                "account",
                "rung",
                "first_violation",
                "offender",
                "appealed",
                "overturned",
                "evaded",
                "returns_at",
                "account_since",
            )
        }
        self.strikes_applied = 0
        self.strikes_withdrawn = 0
        # person -> [(since, account)] of each account after the first (evasion)
        self._accounts_after: dict[int, list[tuple[float, int]]] = {}

    # Storage --------------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        """Make room for ``cap`` tracked persons, the rows so far copied in. Rows are
        filled in as persons are tracked (:meth:`_fresh`): the room not used yet
        takes no memory."""
        for name, (_, dtype) in _COLUMNS.items():
            column: np.ndarray = np.empty(
                (cap, RING) if name.startswith("st_") else cap, dtype=dtype
            )
            old = getattr(self, name, None)
            if old is not None:
                column[: self._n] = old[: self._n]
            setattr(self, name, column)

    def _fresh(self, rows: np.ndarray) -> None:
        """Rows of persons tracked from now on, before any strike."""
        for name, (default, _) in _COLUMNS.items():
            getattr(self, name)[rows] = default

    def rows_of(self, persons: np.ndarray) -> np.ndarray:
        """Tracked rows of ``persons``, adding the ones not tracked yet."""
        persons = np.asarray(persons, dtype=np.int64)
        rows = self.row.get(persons)
        new = np.unique(persons[rows < 0])
        if len(new):
            if self._n + len(new) > len(self.person):
                self._alloc(max(2 * len(self.person), self._n + len(new)))
            added = np.arange(self._n, self._n + len(new))
            self._fresh(added)
            self.row.put(new, added)
            self.person[added] = new
            self.account[added] = new
            self._n += len(new)
            rows = self.row.get(persons)
        return rows

    # What the stream asks -----------------------------------------------------------
    def blocked(self, persons: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Kind of block (0: none) of each person's account at each time."""
        row = self.row.get(persons)
        out = np.zeros(len(persons), dtype=np.int8)
        seen = np.flatnonzero(row >= 0)
        r, t = row[seen], times[seen]
        inside = (self.blocked_from[r] <= t) & (t < self.blocked_until[r])
        out[seen[inside]] = self.block_kind[r[inside]]
        return out

    def blocks_during(self, t0: float, t1: float) -> tuple[np.ndarray, ...]:
        """Persons blocked at some time in ``[t0, t1)``: persons, from, until, kind."""
        n = self._n
        hit = (self.blocked_from[:n] < t1) & (self.blocked_until[:n] > t0)
        hit &= self.block_kind[:n] != NONE
        rows = np.flatnonzero(hit)
        return (
            self.person[rows],
            self.blocked_from[rows],
            self.blocked_until[rows],
            self.block_kind[rows],
        )

    def note_violations(self, persons: np.ndarray, created: np.ndarray) -> None:
        """Violating posts made (by the persons' current accounts) at ``created``."""
        if len(persons) == 0:
            return
        self.first_violation.minimum(persons, created)

    # Strikes --------------------------------------------------------------------
    def strike(
        self,
        persons: np.ndarray,
        post_ids: np.ndarray,
        cls: np.ndarray,
        created: np.ndarray,
        times: np.ndarray,
        channel: int,
    ) -> None:
        """Removals of posts (by ``persons``, made at ``created``) at ``times``:
        strikes, applied in time order by :meth:`advance`."""
        weight = self._weights[cls]
        go = weight > 0
        if go.any():
            self._pending.append(
                (
                    times[go].astype(np.float64),
                    post_ids[go].astype(np.int64),
                    persons[go].astype(np.int64),
                    weight[go],
                    created[go].astype(np.float64),
                    np.full(int(go.sum()), channel, dtype=np.int64),
                )
            )

    def withdraw(self, persons: np.ndarray, post_ids: np.ndarray) -> None:
        """Restored posts (an appeal upheld): their strikes stop counting (actions
        already taken stand)."""
        rows = self.row.get(persons)
        tracked = rows >= 0
        r = rows[tracked]
        hit = self.st_post[r] == np.asarray(post_ids)[tracked, None]
        which, slot = np.nonzero(hit)
        self.st_weight[r[which], slot] = 0.0
        self.strikes_withdrawn += int(hit.any(axis=1).sum())

    def advance(self, t: float) -> list[Ban]:
        """Apply the strikes of removals up to ``t``, in time order; return the bans
        (for the posts that come down with their account)."""
        if not self._pending:
            return []
        parts = [np.concatenate(col) for col in zip(*self._pending, strict=True)]
        due = parts[0] <= t
        self._pending = [tuple(p[~due] for p in parts)] if (~due).any() else []
        if not due.any():
            return []
        times, posts, persons, weights, created, channels = (p[due] for p in parts)
        order = np.lexsort((posts, times))
        rows = self.rows_of(persons)
        bans: list[Ban] = []
        # One strike at a time (an account's strikes build on each other), as Python
        # numbers: the arrays' columns in time order, read once.
        strikes = zip(
            *(a[order].tolist() for a in (rows, times, posts, weights, created)),
            strict=True,
        )
        for i, (r, t, post, weight, made) in enumerate(strikes):
            if self._apply_strike(r, t, post, weight, made):
                j = order[i]
                until = float(self.blocked_until[r])
                bans.append(Ban(int(persons[j]), t, int(channels[j]), until))
        return bans

    def _apply_strike(self, r: int, t: float, post: int, weight: float, created: float) -> bool:
        if created < self.since[r]:
            return False  # a post of an earlier account: that account is gone
        if self.block_kind[r] == BANNED and self.blocked_from[r] <= t < self.blocked_until[r]:
            return False
        times = self.st_time[r].tolist()
        slot = times.index(min(times))  # the oldest strike's place (np.argmin's)
        times[slot] = t
        self.st_time[r, slot] = t
        self.st_weight[r, slot] = weight
        self.st_post[r, slot] = post
        self.strikes_applied += 1
        cut = t - self._expiry
        live = [w for s, w in zip(times, self.st_weight[r].tolist(), strict=True) if s > cut]
        active = _total(live)
        before = active - weight
        rung = -1
        for i, strikes in enumerate(self._rungs):
            if before < strikes <= active:
                rung = i
        if rung < 0:
            return False
        return self._act(r, t, rung)

    def _act(self, r: int, t: float, rung: int) -> bool:
        step = self.cfg.ladder[rung]
        account, person = int(self.account[r]), int(self.person[r])
        log = self.actions
        log["time"].append(t)
        log["person"].append(person)
        log["account"].append(account)
        log["rung"].append(rung)
        log["first_violation"].append(self.first_violation.value(person))
        log["offender"].append(bool(self._offender[person]))
        log["account_since"].append(float(self.since[r]))
        appealed = overturned = evaded = False
        returns = math.inf
        if step.action == "suspend":
            assert step.days is not None
            if not (self.blocked_from[r] <= t < self.blocked_until[r]):
                self.blocked_from[r] = t
                self.blocked_until[r] = t
            self.blocked_until[r] = max(self.blocked_until[r], t + 24.0 * step.days)
            self.block_kind[r] = SUSPENDED
        elif step.action == "ban":
            appealed, overturned, returns = self._ban(r, t, account)
            evaded = math.isfinite(returns) and not overturned
        log["appealed"].append(appealed)
        log["overturned"].append(overturned)
        log["evaded"].append(evaded)
        log["returns_at"].append(returns)
        return step.action == "ban" and not overturned

    def _ban(self, r: int, t: float, account: int) -> tuple[bool, bool, float]:
        """Ban the account at ``t``: the appeal, then evasion. Returns (appealed,
        overturned, when the person is back: the appeal's decision or the new
        account's start; inf: never)."""
        self.block_kind[r] = BANNED
        self.blocked_from[r] = t
        self.blocked_until[r] = math.inf
        appeal = self.cfg.appeals
        # keyed by the account and its ban number: a lifted ban's account banned
        # again draws afresh
        salt = 4 * int(self.bans[r])
        self.bans[r] += 1

        def draw(account: int, i: int) -> float:
            return self._draws.uniform(account, salt + i)

        if draw(account, 0) < appeal.share:
            violated = self.first_violation.value(int(self.person[r])) <= t
            right = draw(account, 1) < appeal.accuracy
            if right != violated:  # a right decision lifts only a ban without violations
                back = t + appeal.decision_hours
                self.blocked_until[r] = back
                self._clear(r)
                return True, True, back
            appealed = True
        else:
            appealed = False
        if draw(account, 2) < self.evasion.share:
            delay = self.evasion.delay
            z = float(special.ndtri(draw(account, 3)))
            back = t + 24.0 * delay.median_days * math.exp(delay.sigma * z)
            self.blocked_until[r] = back
            self.account[r] = self._next_account
            self._accounts_after.setdefault(int(self.person[r]), []).append(
                (back, self._next_account)
            )
            self._next_account += 1
            self.bans[r] = 0
            self.since[r] = back
            person = np.array([self.person[r]])
            if self.first_violation.get(person)[0] < math.inf:
                self.first_violation.put(person, np.array([math.inf]))
            self._clear(r)
            return appealed, False, back
        return appealed, False, math.inf

    def _clear(self, r: int) -> None:
        self.st_time[r] = -np.inf
        self.st_weight[r] = 0.0
        self.st_post[r] = -1

    def account_at(self, persons: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The account each person posted under at each time (a person's first
        account has the person's index as its id)."""
        out = np.asarray(persons, dtype=np.int64).copy()
        if not self._accounts_after:
            return out
        for i in np.flatnonzero(self.row.get(out) >= 0).tolist():
            for since, account in self._accounts_after.get(int(persons[i]), ()):
                if times[i] >= since:
                    out[i] = account
        return out

    def active_strikes(self, persons: np.ndarray, t: float) -> np.ndarray:
        """Active strikes of each person's current account at ``t``."""
        rows = self.row.get(persons)
        out = np.zeros(len(persons))
        seen = np.flatnonzero(rows >= 0)
        r = rows[seen]
        live = (self.st_time[r] > t - self._expiry) & (self.st_time[r] <= t)
        out[seen] = (self.st_weight[r] * live).sum(axis=1)
        return out
