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


def view_rates(
    times: np.ndarray,
    created: np.ndarray,
    rate0: np.ndarray,
    decay: np.ndarray,
    removed: np.ndarray,
) -> np.ndarray:
    """``sum(rate0 * exp(-decay (s - created)))`` over posts with ``created <= s <
    removed``, for each of the sorted ``times`` ``s``.

    Per decay value and against a reference time ``t0``, each post's term is
    ``exp(-k (s - t0)) * b`` with ``b = rate0 exp(k (created - t0))``, so the
    sum over posts up at ``s`` is a difference of two running sums of ``b``:
    over posts made by ``s`` and over posts removed by ``s``.
    """
    out = np.zeros(len(times))
    if len(times) == 0 or len(created) == 0:
        return out
    for k in np.unique(decay):
        group = decay == k
        c, a, r = created[group], rate0[group], removed[group]
        start = 0
        while start < len(times):
            t0 = float(times[start])
            stop = int(np.searchsorted(times, t0 + _SPAN / k, side="right"))
            seg = times[start:stop]
            made = c <= seg[-1]
            cm, b = c[made], a[made] * np.exp(k * (c[made] - t0))
            rm = r[made]
            order = np.argsort(cm, kind="stable")
            by_made = np.concatenate([[0.0], np.cumsum(b[order])])
            gone = np.isfinite(rm) & (rm <= seg[-1])
            order_r = np.argsort(rm[gone], kind="stable")
            by_gone = np.concatenate([[0.0], np.cumsum(b[gone][order_r])])
            up = (
                by_made[np.searchsorted(cm[order], seg, side="right")]
                - by_gone[np.searchsorted(rm[gone][order_r], seg, side="right")]
            )
            out[start:stop] += np.exp(-k * (seg - t0)) * np.maximum(up, 0.0)
            start = stop
    return out


class HarmWatch:
    """When the harmful view rate of the posts it is shown first reaches ``line``."""

    def __init__(self, line: float) -> None:
        self._line = line
        self._ids = np.empty(0, dtype=np.int64)
        self._created = np.empty(0)
        self._rate0 = np.empty(0)
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
        self._rate0 = np.concatenate([self._rate0, reach * decay])
        self._decay = np.concatenate([self._decay, decay])
        self._candidate = None

    def rate(self, t: float, platform: PlatformView) -> float:
        """``H(t)`` with the removals known now (exact once the platform ran to ``t``)."""
        removed = platform.removed_at(self._ids)
        return float(view_rates(np.array([t]), self._created, self._rate0, self._decay, removed)[0])

    def next_candidate(self, now: float, platform: PlatformView) -> float:
        """The earliest time after the last one checked at which ``H`` may reach the
        line (``inf``: not with the posts made so far)."""
        if self._candidate is None:
            self._prune(platform)
            times = np.unique(self._created[self._created > self._verified])
            removed = platform.removed_at(self._ids)
            upper = view_rates(times, self._created, self._rate0, self._decay, removed)
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
        now_rate = self._rate0 * np.exp(-self._decay * age)
        keep = (removed > t) & ((self._created > t) | (now_rate >= _NEGLIGIBLE * self._line))
        if not keep.all():
            self._ids, self._created = self._ids[keep], self._created[keep]
            self._rate0, self._decay = self._rate0[keep], self._decay[keep]


BLOCK = 1 << 20
"""Posts whose terms :func:`view_rate_at` computes at once."""


def view_rate_at(
    t: float,
    rows: np.ndarray,
    created: np.ndarray,
    reach: np.ndarray,
    decay: np.ndarray,
    removed: np.ndarray,
    block: int = BLOCK,
) -> float:
    """``view_rates([t], created[rows], reach[rows] * decay[rows], decay[rows],
    removed[rows])[0]``, bit for bit, for posts made by ``t``: the same terms summed
    in the same order (by creation, then removals by time, a decay value at a
    time), with the terms computed ``block`` posts at a time.

    :func:`view_rates` copies a dozen columns of the posts it sums; at one time
    only the order needs every post at once. The platform asks this of tens of
    millions of held violating posts whenever an enforcer's rule trips.
    """
    total = 0.0
    made = rows[created[rows] <= t]
    if len(made) == 0:
        return total
    constant = decay.ndim == 1 and decay.strides == (0,)
    columns = (created, reach, decay)
    for k in np.unique(decay[:1] if constant else decay[made]):
        group = made if constant else made[decay[made] == k]
        by_creation = group[np.argsort(created[group], kind="stable")]
        by_made = _running_sum(t, k, by_creation, block, *columns)
        del by_creation
        gone = group[np.isfinite(removed[group]) & (removed[group] <= t)]
        by_removal = gone[np.argsort(removed[gone], kind="stable")]
        by_gone = _running_sum(t, k, by_removal, block, *columns)
        # as view_rates: exp(-k (t - t0)) with t0 = t, times the clipped difference
        total += float(np.exp(-k * (np.array([t]) - t))[0] * np.maximum(by_made - by_gone, 0.0))
    return total


def _running_sum(
    t: float,
    k: float,
    rows: np.ndarray,
    block: int,
    created: np.ndarray,
    reach: np.ndarray,
    decay: np.ndarray,
) -> float:
    """The last value of ``np.cumsum`` of the terms of ``rows`` (in that order), as
    :func:`view_rates` computes each term, a block at a time (a cumulative sum
    is sequential, so carrying it over gives the same float)."""
    carry: np.ndarray | None = None
    for start in range(0, len(rows), block):
        at = rows[start : start + block]
        c = created[at]
        b = (reach[at] * decay[at]) * np.exp(k * (c - t))
        if carry is not None:
            b = np.concatenate([carry, b])
        carry = np.cumsum(b)[-1:]
    return float(carry[0]) if carry is not None else 0.0
