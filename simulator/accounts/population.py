"""The authors: a population of accounts as arrays, and who wrote which post.

Every author ("person": the human behind one or more accounts, see
:mod:`simulator.accounts.book`) is a row in a few arrays, drawn once per
run from ``("accounts", "population")`` (the same under every policy):

* a posting rate ``activity``: log-normal with ``activity_sigma`` (2.1 puts
  80% of posts on the most active 10% of accounts);
* ``offender``: a ``offender_share`` of accounts are repeat offenders, whose
  propensity to post violating content is raised by the factor that gives
  them ``offender_post_share`` of violating posts (in expectation:
  ``r = P (1 - s) / (s (1 - P))``);
* a follower score ``a`` (standard normal; followers = median x
  exp(sigma a)), binned into :data:`TIERS` equal-count tiers (by rank: the
  median and spread of follower counts change no draw);
* ``join_day``: accounts present at the start have day 0; new ones join at
  the start of the day the daily active users reach a new high
  (``accounts_per_daily_user`` accounts per user).

A post's author is a pure function of the post (its id, class, reach and day):
two keyed uniforms (:class:`~simulator.stages.appeals.KeyedDraws`) pick a
follower tier given the post's reach and then an author within the tier, with
weight ``activity`` (times the offender factor for violating classes) among
the accounts joined by that day. Nothing per post is stored, and the answer
is the same whatever chunk, worker or stage asks.

Followers drive reach through the tier: an account's follower score and the
log reach of its posts are correlated (``followers_reach_correlation``, a
Gaussian copula), so the tier is drawn given the post's reach. The reach of
posts keeps the scenario's distribution exactly (the stream is unchanged);
what changes is which accounts the far-reaching posts come from.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from simulator.config.accounts import AccountPopulation
from simulator.config.scenario import Scenario
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stream.synthetic import _interp_users

TIERS = 8
"""Follower tiers (equal shares of accounts by follower count)."""
_Z_STEP = 0.004
_Z_TAIL = 12.0


def offender_factor(cfg: AccountPopulation) -> float:
    """How many times more likely a repeat offender's post is violating."""
    s, p = cfg.offender_share, cfg.offender_post_share
    return p * (1.0 - s) / (s * (1.0 - p))


def accounts_by_day(scenario: Scenario, ratio: float) -> np.ndarray:
    """Accounts joined by the start of each day: ``ratio`` x the highest daily
    active users so far (the users at each day's middle, interpolated)."""
    users = _interp_users(scenario, 24.0 * np.arange(scenario.days) + 12.0)
    return np.ceil(ratio * np.maximum.accumulate(users)).astype(np.int64).clip(min=TIERS)


class Population:
    """The authors (entry points: :meth:`authors`, :meth:`untouched_tier_shares`)."""

    def __init__(self, cfg: AccountPopulation, scenario: Scenario, seeds: SeedTree) -> None:
        self.cfg = cfg
        self._violating = scenario.taxonomy.violating
        self.joined_by_day = accounts_by_day(scenario, cfg.accounts_per_daily_user)
        n = int(self.joined_by_day[-1])
        self._seeds = seeds
        self.activity, self.offender, follower_score = self._drawn(n)
        self.factor = offender_factor(cfg)
        # (per person, only what the run reads again is kept: follower scores and
        # joining days are recomputed when asked, 8 bytes a person less)
        self._bounds = special.ndtri(np.arange(1, TIERS) / TIERS)
        self.tier = np.searchsorted(self._bounds, follower_score).astype(np.int8)
        del follower_score
        self._rho = cfg.followers_reach_correlation
        self._s = math.sqrt(1.0 - self._rho**2)
        # Per tier, its accounts in joining order and their cumulative weights
        # (legitimate classes: activity; violating: activity x offender factor).
        self._members = [np.flatnonzero(self.tier == k).astype(np.int32) for k in range(TIERS)]
        # Accounts of each tier joined by the start of each day, shape (TIERS, days):
        # what every author draw asks, looked up rather than searched. Accounts join
        # in index order: those joined by a day are the first ``joined_by_day``.
        self._joined = np.stack(
            [np.searchsorted(m, self.joined_by_day, side="left") for m in self._members]
        )
        self._cum = [
            (np.cumsum(self.activity[m]), np.cumsum(self.weight(m, violating=True)))
            for m in self._members
        ]
        self._draws = KeyedDraws(seeds, "accounts", "authors")

    def _drawn(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each account's activity, whether a repeat offender, and follower score."""
        cfg = self.cfg
        rng = self._seeds.rng("accounts", "population")
        activity = np.exp(cfg.activity_sigma * rng.standard_normal(n))
        offender = rng.random(n) < cfg.offender_share
        return activity, offender, rng.standard_normal(n).astype(np.float32)

    @property
    def follower_score(self) -> np.ndarray:
        """Each account's follower score (standard normal; its rank sets the tier)."""
        return self._drawn(self.size)[2]

    @property
    def join_day(self) -> np.ndarray:
        """The day each account joins (0: there from the start)."""
        persons = np.arange(self.size)
        return np.searchsorted(self.joined_by_day, persons, side="right").astype(np.int32)

    @property
    def size(self) -> int:
        return len(self.activity)

    def weight(self, persons: np.ndarray, violating: bool) -> np.ndarray:
        """Posting weight of ``persons`` for a violating or a legitimate class."""
        w = self.activity[persons]
        return w * np.where(self.offender[persons], self.factor, 1.0) if violating else w

    def members_by_day(self, tier: int, day: int) -> int:
        """Accounts of ``tier`` joined by the start of ``day``."""
        if day < 0:
            return 0
        return int(self._joined[tier, min(day, self._joined.shape[1] - 1)])

    def tier_weight(self, day: int, violating: bool) -> np.ndarray:
        """Total posting weight of each tier's accounts joined by ``day``."""
        out = np.zeros(TIERS)
        for k in range(TIERS):
            n = self.members_by_day(k, day)
            if n:
                out[k] = self._cum[k][1 if violating else 0][n - 1]
        return out

    def authors(
        self, post_id: np.ndarray, cls: np.ndarray, z: np.ndarray, day: np.ndarray
    ) -> np.ndarray:
        """The author (person index) of each post: ``z`` is the post's standardised
        log reach, ``day`` the day it was made."""
        out = np.empty(len(post_id), dtype=np.int64)
        if len(post_id) == 0:
            return out
        u_tier = self._draws.uniforms(post_id, 0)
        u_pick = self._draws.uniforms(post_id, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            latent = self._rho * np.nan_to_num(z) + self._s * special.ndtri(u_tier)
        tier = np.searchsorted(self._bounds, latent)
        # Each post draws among its tier's accounts joined by its day; a tier still
        # empty that day (a tiny world) lends its draws to the day's busiest tier.
        d = np.clip(day, 0, self._joined.shape[1] - 1)
        joined = self._joined[tier, d]
        empty = joined == 0
        if empty.any():
            busiest = np.argmax(self._joined[:, d[empty]], axis=0)
            tier[empty] = busiest
            joined[empty] = self._joined[busiest, d[empty]]
        # One search per (tier, violating) group over the tier's whole cumulative
        # weights: a target below the weight of the first ``joined`` accounts finds
        # the same account there as in those accounts alone (clipped like them).
        # The targets are searched in increasing order: each search then starts
        # where the last one ended, in memory the last one read (half the time of
        # random targets over a tier's hundreds of thousands of accounts).
        group = 2 * tier.astype(np.int8) + self._violating[cls]
        order = np.argsort(group, kind="stable")
        bounds = np.cumsum(np.bincount(group, minlength=2 * TIERS))
        for g, rows in enumerate(np.split(order, bounds[:-1])):
            if len(rows) == 0:
                continue
            k, v = divmod(g, 2)
            cum, nn = self._cum[k][v], joined[rows]
            target = u_pick[rows] * cum[nn - 1]
            up = np.argsort(target)
            rows, nn = rows[up], nn[up]
            pick = np.searchsorted(cum, target[up], side="right")
            out[rows] = self._members[k][np.minimum(pick, nn - 1)]
        return out

    def tier_given_reach(self, z: np.ndarray) -> np.ndarray:
        """P(tier | standardised log reach ``z``), shape ``(len(z), TIERS)``."""
        edges = np.concatenate([[-np.inf], self._bounds, [np.inf]])
        cdf = special.ndtr((edges[None, :] - self._rho * z[:, None]) / self._s)
        return np.asarray(np.diff(cdf, axis=1))

    def untouched_tier_shares(
        self, reports_needed: int, km: np.ndarray, sigma: float
    ) -> np.ndarray:
        """Per class, the tiers' shares of the posts no user report reaches, shape
        ``(classes, TIERS)``: ``P(tier | class, unreported)``, by quadrature over the
        reach (the score is drawn independently of the author, so it cancels)."""
        z = np.arange(-_Z_TAIL, _Z_TAIL + _Z_STEP, _Z_STEP)
        phi = np.exp(-0.5 * z * z)
        given = self.tier_given_reach(z)
        out = np.empty((self._violating.size, TIERS))
        for c in range(self._violating.size):
            unreported = np.ones_like(z)
            if reports_needed > 0 and km[c] > 0:
                unreported = special.gammaincc(reports_needed, km[c] * np.exp(sigma * z))
            dens = phi * unreported
            share = np.trapezoid(dens[:, None] * given, z, axis=0)
            out[c] = share / share.sum()
        return out


def standard_reach(
    reach: np.ndarray, cls: np.ndarray, median: np.ndarray, sigma: float
) -> np.ndarray:
    """The standard normal draw behind each post's reach (``reach = median x
    exp(sigma z)``); 0 where the class's median is 0."""
    m = median[cls]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(reach / m) / sigma
    return np.where(np.isfinite(z), z, 0.0)
