"""Harmful views per hour, and the moment they first reach a line (the press
taking notice of a surge).

A violating post made at ``c`` with lifetime reach ``R`` and decay ``k`` is
viewed at ``R k exp(-k (s - c))`` an hour at time ``s`` while it is up. The
harmful view rate ``H(s)`` sums that over the violating posts up at ``s``
(a removal counts from its time, even if an appeal later reverses it).
Between two posts' creation times ``H`` only falls (every term decays, and
removals take terms away), so it can first reach a line only at the moment a
violating post is made: those moments are the only candidates.

:class:`HarmWatch` finds the crossing without looking ahead of the platform:
it evaluates an *upper bound* of ``H`` (posts whose removal is not known yet
count as up) at the candidates, so the true crossing is never earlier than the
first candidate above the line; the engine runs the platform up to that
candidate and the watch checks ``H`` there exactly. A candidate that fails
only moves the search on.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.enforcement.records import PlatformView

# exp() of at most this stays finite in float64 (limit ~709): how far apart in
# decay units the times evaluated against one reference time may be.
_SPAN = 500.0
# A post whose view rate fell below this share of the line is dropped: it can
# never matter again (rates only fall), and the watch stays small.
_NEGLIGIBLE = 1e-9


BLOCK = 1 << 20
"""Posts whose terms :func:`view_rates` computes at once."""


def view_rates(
    times: np.ndarray,
    created: np.ndarray,
    reach: np.ndarray,
    decay: np.ndarray,
    removed: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    block: int = BLOCK,
) -> np.ndarray:
    """``sum(reach * decay * exp(-decay (s - created)))`` over posts with ``created <=
    s < removed``, for each of the sorted ``times`` ``s``; over the posts ``rows``
    (positions in the columns; every post by default).

    Per decay value and against a reference time ``t0``, each post's term is
    ``exp(-k (s - t0)) * b`` with ``b = reach k exp(k (created - t0))``, so the
    sum over posts up at ``s`` is a difference of two running sums of ``b``:
    over posts made by ``s`` and over posts removed by ``s``.

    Only the orders (by creation, by removal) need every post at once; the
    terms are computed ``block`` posts at a time, so the platform can ask this
    of tens of millions of held violating posts without copying their columns.
    The result does not depend on ``block``.
    """
    out = np.zeros(len(times))
    if rows is None:
        rows = np.arange(len(created))
    if len(times) == 0 or len(rows) == 0:
        return out
    constant = decay.ndim == 1 and decay.strides == (0,)  # a held table's one decay
    columns = (created, reach, decay)
    for k in np.unique(decay[rows[:1]] if constant else decay[rows]):
        group = rows if constant else rows[decay[rows] == k]
        start = 0
        while start < len(times):
            t0 = float(times[start])
            stop = int(np.searchsorted(times, t0 + _SPAN / k, side="right"))
            seg = times[start:stop]
            made = group[created[group] <= seg[-1]]
            by_creation = made[np.argsort(created[made], kind="stable")]
            up = _running_sums(seg, t0, k, by_creation, created, block, *columns)
            del by_creation
            gone = made[np.isfinite(removed[made]) & (removed[made] <= seg[-1])]
            by_removal = gone[np.argsort(removed[gone], kind="stable")]
            up -= _running_sums(seg, t0, k, by_removal, removed, block, *columns)
            out[start:stop] += np.exp(-k * (seg - t0)) * np.maximum(up, 0.0)
            start = stop
    return out


def _running_sums(
    times: np.ndarray,
    t0: float,
    k: float,
    order: np.ndarray,
    key: np.ndarray,
    block: int,
    created: np.ndarray,
    reach: np.ndarray,
    decay: np.ndarray,
) -> np.ndarray:
    """For each of the sorted ``times`` ``s``: the running sum of the terms
    ``reach k exp(k (created - t0))`` of the posts ``order`` (sorted by ``key``)
    up to the last one with ``key <= s`` (0 if none).

    A block at a time: a cumulative sum is sequential, so carrying its last
    value into the next block gives the floats of one ``np.cumsum`` over all."""
    out = np.zeros(len(times))
    carry = np.zeros(1)
    for start in range(0, len(order), block):
        at = order[start : start + block]
        keys = key[at]
        sums = np.cumsum(
            np.concatenate([carry, (reach[at] * decay[at]) * np.exp(k * (created[at] - t0))])
        )
        # the times whose last post with key <= s is in this block
        lo = int(np.searchsorted(times, keys[0], side="left"))
        nxt = start + block
        hi = (
            len(times)
            if nxt >= len(order)
            else int(np.searchsorted(times, key[order[nxt]], side="left"))
        )
        out[lo:hi] = sums[np.searchsorted(keys, times[lo:hi], side="right")]
        carry = sums[-1:]
    return out


class HarmWatch:
    """When the harmful view rate of the posts it is shown first reaches ``line``."""

    def __init__(self, line: float) -> None:
        self._line = line
        self._ids = np.empty(0, dtype=np.int64)
        self._created = np.empty(0)
        self._reach = np.empty(0)  # as weighed by the host's attention
        self._decay = np.empty(0)
        self._verified = -math.inf  # H stayed below the line at every time up to here
        self._candidate: float | None = None  # cached; None: to be computed

    @property
    def line(self) -> float:
        return self._line

    def add(
        self, ids: np.ndarray, created: np.ndarray, reach: np.ndarray, decay: np.ndarray
    ) -> None:
        """Violating posts just made (their views start at creation)."""
        self._ids = np.concatenate([self._ids, ids])
        self._created = np.concatenate([self._created, created])
        self._reach = np.concatenate([self._reach, reach])
        self._decay = np.concatenate([self._decay, decay])
        self._candidate = None

    def rate(self, t: float, platform: PlatformView) -> float:
        """``H(t)`` with the removals known now (exact once the platform ran to ``t``)."""
        removed = platform.removed_at(self._ids)
        return float(view_rates(np.array([t]), self._created, self._reach, self._decay, removed)[0])

    def next_candidate(self, now: float, platform: PlatformView) -> float:
        """The earliest time after the last one checked at which ``H`` may reach the
        line (``inf``: not with the posts made so far)."""
        if self._candidate is None:
            self._prune(platform)
            times = np.unique(self._created[self._created > self._verified])
            removed = platform.removed_at(self._ids)
            upper = view_rates(times, self._created, self._reach, self._decay, removed)
            above = np.flatnonzero(upper >= self._line)
            if len(above):
                self._candidate = max(float(times[above[0]]), now)
            else:
                self._candidate = math.inf
                if len(times):
                    self._verified = float(times[-1])
        return self._candidate

    def crossed(self, t: float, platform: PlatformView) -> float | None:
        """At a candidate ``t`` (the platform run up to it): ``H(t)`` if it reached
        the line, else ``None`` (and the search moves on past ``t``)."""
        h = self.rate(t, platform)
        if h >= self._line:
            return h
        self._verified = t
        self._candidate = None
        return None

    def _prune(self, platform: PlatformView) -> None:
        """Drop posts that can no longer matter: removed, or viewed too slowly."""
        if not math.isfinite(self._verified) or len(self._ids) == 0:
            return
        t = self._verified
        removed = platform.removed_at(self._ids)
        age = np.maximum(t - self._created, 0.0)
        now_rate = (self._reach * self._decay) * np.exp(-self._decay * age)
        keep = (removed > t) & ((self._created > t) | (now_rate >= _NEGLIGIBLE * self._line))
        if not keep.all():
            self._ids, self._created = self._ids[keep], self._created[keep]
            self._reach, self._decay = self._reach[keep], self._decay[keep]
