"""The app stores' effect on new posts: new users stop arriving through a store
that delisted the platform, so the posts they would have made are never made."""

from __future__ import annotations

import math

import numpy as np

from simulator.config.scenario import Scenario
from simulator.enforcement.enforcer import Enforcer
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, _interp_users


class Delisting:
    """The app stores' effect on new posts (its entry point: :meth:`keep`).

    New users stop arriving through a store that delisted the platform, so
    daily active users stay at most where they were when it did; posts are
    thinned in proportion (a store's ``new_user_share`` of the lost growth).
    The posts never made are counted per hour and class.
    """

    def __init__(self, scenario: Scenario, enforcers: list[Enforcer], seeds: SeedTree) -> None:
        self._scenario = scenario
        self._stores = [e for e in enforcers if e.effect == "delist"]
        self._seeds = seeds
        self._not_made = np.zeros((int(scenario.hours) + 1, scenario.taxonomy.n_classes))
        self._day_rng: tuple[int, np.random.Generator] | None = None

    def take_effect(self, t: float) -> None:
        """Delistings due by ``t`` take effect (they do not stop the run)."""
        for store in self._stores:
            if store.suspension_at <= t:
                store.take_effect(store.suspension_at)

    def keep(self, posts: Posts, day: int) -> np.ndarray | None:
        """Which of a day's posts are still made (``None``: all of them).

        Uses the removals known when the day starts (scheduled ones included).
        A day may come in slices (in order): its uniforms come from one
        generator, drawn for every post once any removal is known, so the
        slices keep the posts the whole day would.
        """
        if self._scenario.population is None:
            return None  # a replayed log has no growth model to thin
        if not any(store.removal_periods for store in self._stores):
            return None
        if self._day_rng is None or self._day_rng[0] != day:
            self._day_rng = (day, self._seeds.rng("delist", day))
        u = self._day_rng[1].random(len(posts))
        t = posts.created_at
        lost = self._lost(t)
        if not lost.any():
            return None
        keep: np.ndarray = u >= lost
        gone = ~keep
        hist = self._not_made
        hours = np.clip(t[gone].astype(np.int64), 0, len(hist) - 1)
        np.add.at(hist, (hours, posts.cls[gone]), 1)
        return keep

    def _lost(self, t: np.ndarray) -> np.ndarray:
        """The share of posts at times ``t`` that are never made."""
        lost = np.zeros(len(t))
        for store in self._stores:
            for start, stop in store.removal_periods:
                inside = (t >= start) & (t < stop)
                if not inside.any():
                    continue
                base = _interp_users(self._scenario, np.array([start]))[0]
                users = _interp_users(self._scenario, t[inside])
                growth = np.clip(1.0 - base / np.maximum(users, 1e-9), 0.0, 1.0)
                lost[inside] += store.policy.new_user_share * growth
        return np.minimum(lost, 1.0)

    def keep_counts(self, counts: np.ndarray, day: int) -> np.ndarray:
        """Of posts only counted per (hour of ``day``, class), how many are still made.

        A post's creation time is uniform in its hour, so each is kept with the
        hour's mean kept share: a binomial, with the mean computed by adaptive
        quadrature split at the removal periods' ends (where the share jumps).
        """
        periods = [p for store in self._stores for p in store.removal_periods]
        if self._scenario.population is None or not periods:
            return counts
        from scipy import integrate  # only runs with a delisting get here

        lost = np.zeros(24)
        for i in range(24):
            h = 24.0 * day + i
            if not any(start < h + 1 and stop > h for start, stop in periods):
                continue
            inner = sorted({e for period in periods for e in period if h < e < h + 1})
            lost[i] = integrate.quad(
                lambda x: float(self._lost(np.array([x]))[0]),
                h,
                h + 1,
                points=inner or None,
                limit=200,
            )[0]
        if not lost.any():
            return counts
        kept = self._seeds.rng("delist", day, "counts").binomial(counts, 1.0 - lost[:, None])
        hours = np.minimum(24 * day + np.arange(24), len(self._not_made) - 1)
        np.add.at(self._not_made, hours, counts - kept)
        return np.asarray(kept, dtype=np.int64)

    def not_made_by_class(self, end: float) -> np.ndarray:
        """Posts never made before ``end``, per class."""
        return self._not_made[: math.ceil(end)].sum(axis=0)
