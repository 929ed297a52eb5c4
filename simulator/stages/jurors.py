"""The volunteer jury as a population: who is in the pool, when they review, how well.

Everything here is drawn once, vectorised, at the start of a run; the review
queue then replays it event by event (:class:`simulator.queueing.JurorPool`).

* **Pool dynamics**, week by week: each week a share of the pool stops
  volunteering (binomial attrition) and new jurors join (Poisson recruitment
  proportional to the platform's daily active users), so the pool can grow
  with the platform or wither.
* **Sessions**: jurors come on duty as a Poisson process whose rate follows
  the hour of day and the weekday, scaled so that on average
  ``active_share`` of the pool is on duty when there is work; a session is a
  geometric number of reviews (mean ``session_reviews``).
* **Skill**: each juror's accuracy per class is a beta draw around the
  jury's accuracy, comonotone across classes (one skill quantile per juror).
* **Sympathy**: a share of jurors vote "remove" less often on the classes
  they sympathise with - lower recall on political violence.
"""

from __future__ import annotations

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import JurorPopulation, Jury
from simulator.config.scenario import Scenario
from simulator.queueing import JurorPool
from simulator.seeding import SeedTree
from simulator.stream.synthetic import _interp_users

__all__ = ["JurorPlan", "juror_accuracy", "plan_jurors"]


def _local_clock(scenario: Scenario, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of day (0-23) and weekday (0 = Monday) of each simulated hour."""
    start = scenario.start.replace(tzinfo=None)
    offset = start.hour + start.minute / 60.0
    absolute = np.arange(hours) + offset
    hod = (absolute % 24).astype(np.int64)
    weekday = (start.weekday() + (absolute // 24).astype(np.int64)) % 7
    return hod, weekday


def juror_accuracy(
    mean: np.ndarray,
    concentration: float | None,
    sympathetic_share: float,
    sympathy: np.ndarray,
    n: int,
    rng: np.random.Generator,
    violating: np.ndarray,
) -> np.ndarray:
    """Accuracy of ``n`` jurors per class, shape ``(n, classes)``.

    A juror's skill is one uniform quantile ``u``; their accuracy on class
    ``c`` is the beta(mean[c] * k, (1 - mean[c]) * k) quantile at ``u``, so
    the pool's mean accuracy is ``mean`` and a strong juror is strong on
    every class. Sympathetic jurors then vote "remove" on class ``c`` with
    probability reduced by the factor ``1 - sympathy[c]``.
    """
    skill = rng.random(n)
    sympathetic = rng.random(n) < sympathetic_share
    mean = np.asarray(mean, dtype=np.float64)
    acc = np.broadcast_to(mean, (n, mean.size)).copy()
    if concentration is not None:
        inner = (mean > 0) & (mean < 1)  # a beta with a or b = 0 is a point mass
        a = mean[inner] * concentration
        b = (1 - mean[inner]) * concentration
        from scipy import stats  # here, not at import: the CLI starts without scipy.stats

        acc[:, inner] = stats.beta.ppf(skill[:, None], a, b)
    # P(vote remove) = acc on violating classes, 1 - acc on legitimate ones
    p_remove = np.where(violating, acc, 1 - acc)
    p_remove[sympathetic] *= 1 - np.asarray(sympathy, dtype=np.float64)
    return np.clip(np.where(violating, p_remove, 1 - p_remove), 0.0, 1.0)


class JurorPlan:
    """The jury's population for one run: pool by week, sessions, accuracy.

    ``pool_by_week[w]`` is the number of volunteers during week ``w``;
    ``expected_on_duty[h]`` the mean number on duty in hour ``h`` when there
    is work; :attr:`pool` what the review queue replays.
    """

    def __init__(
        self,
        pool: JurorPool,
        pool_by_week: np.ndarray,
        joined: np.ndarray,
        left: np.ndarray,
        expected_on_duty: np.ndarray,
    ) -> None:
        self.pool = pool
        self.pool_by_week = pool_by_week
        self.joined = joined
        self.left = left
        self.expected_on_duty = expected_on_duty


def plan_jurors(cfg: Jury, scenario: Scenario, seeds: SeedTree) -> JurorPlan:
    """Draw the jury's population for a run (``cfg.population`` must be set)."""
    pop: JurorPopulation | None = cfg.population
    if pop is None:
        raise ValueError("plan_jurors: the jury has no `population` block")
    hours = int(scenario.hours)
    weeks = -(-hours // 168)
    hod, weekday = _local_clock(scenario, hours)

    # -- who is in the pool, week by week --------------------------------------------------
    rng = seeds.rng("jurors", "pool")
    # A replayed log has no user curve: no recruitment proportional to users.
    users = (
        _interp_users(scenario, 168.0 * np.arange(weeks) + 84.0)  # mid-week
        if scenario.population is not None
        else np.zeros(weeks)
    )
    active = list(range(cfg.pool_size))
    next_id = cfg.pool_size
    members: list[np.ndarray] = []
    joined, left = np.zeros(weeks, np.int64), np.zeros(weeks, np.int64)
    for w in range(weeks):  # weeks, not posts: a handful of iterations
        if w > 0:
            quitting = rng.random(len(active)) < pop.attrition_per_week
            left[w] = int(quitting.sum())
            active = [j for j, q in zip(active, quitting, strict=True) if not q]
            recruits = int(rng.poisson(pop.recruits_per_week_per_1000_users * users[w] / 1000.0))
            joined[w] = recruits
            active.extend(range(next_id, next_id + recruits))
            next_id += recruits
        members.append(np.asarray(active, dtype=np.int64))
    pool_by_week = np.array([len(m) for m in members], dtype=np.int64)

    accuracy = juror_accuracy(
        np.asarray(per_class(cfg.accuracy, scenario.taxonomy)),
        pop.accuracy_concentration,
        pop.sympathetic_share,
        np.asarray(per_class(pop.sympathy, scenario.taxonomy)),
        max(next_id, 1),
        seeds.rng("jurors", "accuracy"),
        scenario.taxonomy.violating,
    )

    # -- when they are on duty ---------------------------------------------------------------
    hp = pop.hourly_profile
    hourly = np.asarray(hp if hp is not None else scenario.daily_rhythm(), float)
    hourly = hourly / hourly.mean()
    daily = np.asarray(pop.weekday_profile, dtype=np.float64)
    daily = daily / daily.mean()
    week_of_hour = np.arange(hours) // 168
    on_duty = pool_by_week[week_of_hour] * cfg.active_share * hourly[hod] * daily[weekday]
    # Little's law: on duty = session rate x session length (while there is work)
    session_hours = pop.session_reviews / cfg.reviews_per_hour
    rate = on_duty / session_hours

    starts, jurors, reviews = [], [], []
    for w in range(weeks):  # one stream per week: drawing a later week shifts nothing earlier
        srng = seeds.rng("jurors", "sessions", w)
        sel = slice(168 * w, min(168 * (w + 1), hours))
        counts = srng.poisson(rate[sel])
        n = int(counts.sum())
        t = np.repeat(np.arange(hours)[sel].astype(np.float64), counts) + srng.random(n)
        t.sort()
        pool_w = members[w]
        who = pool_w[srng.integers(0, len(pool_w), n)] if len(pool_w) else np.empty(0, np.int64)
        if not len(pool_w):
            t = t[:0]
        starts.append(t)
        jurors.append(who)
        reviews.append(srng.geometric(min(1.0, 1.0 / pop.session_reviews), len(who)))
    pool = JurorPool(
        accuracy=accuracy,
        session_start=np.concatenate(starts),
        session_juror=np.concatenate(jurors),
        session_reviews=np.concatenate(reviews),
        idle_hours=pop.idle_minutes / 60.0,
    )
    return JurorPlan(pool, pool_by_week, joined, left, on_duty)
