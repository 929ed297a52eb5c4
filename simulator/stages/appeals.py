"""Appeals: authors of removed posts ask for review; wrongly removed posts come back.

The scenario says how often authors appeal (more often when the removal was
wrong) and how soon; the policy says who hears appeals - the jury's or the
staff's queue, or a separate team. An appeal decided "keep" restores the post;
the time it was down is counted.

Whether and when a post's author appeals is a *keyed* draw: a hash of the
run's seed, the post id and the round, so the answer is the same whichever
chunk, queue event or order of calls asks for it (see :class:`KeyedDraws`).
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import AppealReview
from simulator.config.scenario import Appeals, Scenario
from simulator.queueing import TeamSpec
from simulator.seeding import SeedTree

__all__ = ["AppealStage", "KeyedDraws", "appeals_team", "below"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


class KeyedDraws:
    """Uniform draws that are pure functions of (stream key, post id, salt).

    SplitMix64 finalisation of the three, as in counter-based generators: no
    state, so a draw for a post does not depend on which other posts were
    drawn before it. Scalar (:meth:`uniform`) and vectorised
    (:meth:`uniforms`) versions give bit-identical results.
    """

    def __init__(self, seeds: SeedTree, *path: str | int) -> None:
        state = seeds.sequence(*path).generate_state(2, dtype=np.uint32)
        self._key = (int(state[0]) << 32 | int(state[1])) & _MASK

    def uniform(self, post_id: int, salt: int = 0) -> float:
        """One draw in [0, 1) for a post (and a salt such as a round number)."""
        z = (self._key ^ (post_id * _GOLDEN) ^ (salt * _M2)) & _MASK
        z = (z + _GOLDEN) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        z ^= z >> 31
        return (z >> 11) * 2.0**-53

    def uniforms(self, post_ids: np.ndarray, salt: int = 0) -> np.ndarray:
        """The same draws for many posts at once (in place on one copy: a day's
        untouched posts are millions)."""
        out = self.bits(post_ids, salt).astype(np.float64)
        out *= 2.0**-53
        return out

    def bits(self, post_ids: np.ndarray, salt: int = 0) -> np.ndarray:
        """The draws of :meth:`uniforms` as the 53-bit integers ``x`` they are
        ``x / 2**53`` of: ``uniform < p`` is ``x < ceil(p * 2**53)`` (see
        :func:`below`), which skips the conversion to floats."""
        u = np.uint64
        z = np.asarray(post_ids, dtype=np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            z *= u(_GOLDEN)
            z ^= u(self._key) ^ u((salt * _M2) & _MASK)
            z += u(_GOLDEN)
            t = z >> u(30)
            z ^= t
            z *= u(_M1)
            np.right_shift(z, u(27), out=t)
            z ^= t
            z *= u(_M2)
            np.right_shift(z, u(31), out=t)
            z ^= t
            z >>= u(11)
        return z


def below(p: np.ndarray) -> np.ndarray:
    """Integer thresholds for :meth:`KeyedDraws.bits`: ``x < below(p)`` exactly when
    the uniform ``x / 2**53 < p`` (a ``p`` below 0 or NaN acts as 0, above 1 as 1,
    as in the comparison of floats)."""
    scaled = np.where(p > 0.0, np.minimum(p, 1.0), 0.0) * 2.0**53  # exact: a power of 2
    return np.ceil(scaled).astype(np.uint64)


class AppealStage:
    """Who appeals a removal, and when (``inf``: no appeal)."""

    def __init__(self, cfg: Appeals, seeds: SeedTree) -> None:
        self._cfg = cfg
        self._draws = KeyedDraws(seeds, "appeals")

    @property
    def active(self) -> bool:
        return self._cfg.share_if_legitimate > 0 or self._cfg.share_if_violating > 0

    def appeal_times(
        self, post_ids: np.ndarray, violating: np.ndarray, removed_at: np.ndarray
    ) -> np.ndarray:
        """Time each removed post's author appeals; ``inf`` if they do not."""
        cfg = self._cfg
        share = np.where(violating, cfg.share_if_violating, cfg.share_if_legitimate)
        appeals = self._draws.uniforms(post_ids, 0) < share
        delay = -cfg.mean_delay_hours * np.log1p(-self._draws.uniforms(post_ids, 1))
        return np.where(appeals & np.isfinite(removed_at), removed_at + delay, np.inf)

    def appeal_time(self, post_id: int, violating: bool, removed_at: float) -> float:
        """The scalar version of :meth:`appeal_times` (used inside the queue loop)."""
        draws = self._draws
        return self.appeal_after(draws.uniform(post_id, 0), draws.uniform(post_id, 1), violating,
                                 removed_at)  # fmt: skip

    def uniforms(self, post_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two draws that decide whether and when each post's author appeals."""
        return self._draws.uniforms(post_ids, 0), self._draws.uniforms(post_ids, 1)

    def appeal_after(
        self, appeals: float, delay: float, violating: bool, removed_at: float
    ) -> float:
        """:meth:`appeal_time` from the post's two draws (see :meth:`uniforms`)."""
        cfg = self._cfg
        share = cfg.share_if_violating if violating else cfg.share_if_legitimate
        if not appeals < share:
            return math.inf
        return removed_at - cfg.mean_delay_hours * math.log1p(-delay)


def appeals_team(cfg: AppealReview, scenario: Scenario) -> TeamSpec:
    """A separate appeals team: ``reviewers`` on duty around the clock, one vote each."""
    return TeamSpec(
        name="appeals",
        servers=np.full(max(int(scenario.hours), 1), cfg.reviewers, dtype=np.int64),
        votes_per_case=1,
        votes_to_remove=1,
        review_minutes=60.0 / cfg.reviews_per_hour,
        accuracy=np.asarray(per_class(cfg.accuracy, scenario.taxonomy)),
        priority=cfg.priority,
    )
