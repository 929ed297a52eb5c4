"""The account hook's shortcuts against their plain meaning.

Who wrote a post is drawn for many posts at once (grouped by follower tier and
class), and the untouched posts of blocked accounts a block at a time; both must
give exactly what the plain definitions give post by post. The book's per-person
columns keep only the persons concerned and must read as dense arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import tweak
from scipy import special

import simulator.accounts.hook as hook
from simulator.accounts.book import RING, _total
from simulator.accounts.population import TIERS, Population
from simulator.accounts.sparse import PersonColumn
from simulator.config import PlatformPolicy, Scenario
from simulator.engine import Simulation
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws, below
from simulator.stream.synthetic import Posts


def plain_authors(
    pop: Population,
    seeds: SeedTree,
    post_id: np.ndarray,
    cls: np.ndarray,
    z: np.ndarray,
    day: np.ndarray,
) -> np.ndarray:
    """Each post's author by the population's definition, one post at a time: a tier
    given the post's reach, then an account of the tier joined by the post's day
    (of the day's busiest tier when that one has none yet), by posting weight."""
    draws = KeyedDraws(seeds, "accounts", "authors")
    rho = pop.cfg.followers_reach_correlation
    violating = pop._violating
    weight = {v: pop.weight(np.arange(pop.size), violating=v) for v in (False, True)}
    out = np.empty(len(post_id), dtype=np.int64)
    for i in range(len(post_id)):
        u_tier, u_pick = draws.uniform(int(post_id[i]), 0), draws.uniform(int(post_id[i]), 1)
        latent = rho * np.nan_to_num(z[i]) + math.sqrt(1.0 - rho**2) * special.ndtri(u_tier)
        tier = int(np.searchsorted(pop._bounds, latent))
        joined = pop.join_day <= day[i]
        if not (joined & (pop.tier == tier)).any():
            tier = int(np.argmax([(joined & (pop.tier == k)).sum() for k in range(TIERS)]))
        members = np.flatnonzero(joined & (pop.tier == tier))
        cum = np.cumsum(weight[bool(violating[cls[i]])][members])
        pick = np.searchsorted(cum, u_pick * cum[-1], side="right")
        out[i] = members[min(pick, len(members) - 1)]
    return out


@pytest.mark.parametrize("users", [None, 9])  # 9 a day: tiers still empty on some days
@pytest.mark.parametrize("seed", range(3))
def test_authors_drawn_together_are_the_plain_draws(
    accounts_world: Scenario, users: int | None, seed: int
) -> None:
    world = accounts_world
    if users is not None:
        pop_cfg = world.population
        points = [p.model_copy(update={"users": users + i}) for i, p in
                  enumerate(pop_cfg.daily_active_users)]  # fmt: skip
        world = tweak(world, population__daily_active_users=[p.model_dump() for p in points])
    assert world.accounts is not None
    seeds = SeedTree(seed)
    pop = Population(world.accounts, world, seeds)
    if users is not None:
        assert (pop._joined == 0).any()  # the busiest tier stands in
    rng = np.random.default_rng(seed)
    n = 400
    ids = rng.choice(10**7, n, replace=False)
    cls = rng.integers(0, 5, n).astype(np.int8)
    z = rng.standard_normal(n)
    z[::17] = np.nan  # a class with median reach 0
    day = rng.integers(0, world.days + 2, n)  # past the horizon: everyone joined
    plain = plain_authors(pop, seeds, ids, cls, z, np.minimum(day, world.days - 1))
    drawn = pop.authors(ids, cls, z, day)
    assert drawn.dtype == np.int64
    np.testing.assert_array_equal(drawn, plain)


@pytest.mark.parametrize("seed", range(3))
def test_a_strikes_live_weight_is_numpys_sum(seed: int) -> None:
    """The book adds an account's live strike weights as Python numbers: the same
    float as numpy's ``.sum()`` of them, in order below 8 and pairwise from 8 on
    (weights that do not add exactly: 0.1, 0.3, 1e-3...)."""
    rng = np.random.default_rng(seed)
    for n in range(0, RING + 1):
        for _ in range(50):
            values = rng.choice([0.1, 0.3, 0.7, 1.0, 1e-3, 2.5e-7, 0.0], n).tolist()
            assert _total(values) == np.array(values, dtype=np.float64).sum()


@pytest.mark.parametrize("seed", range(3))
def test_integer_thresholds_decide_as_the_uniforms_do(seed: int) -> None:
    """``bits < below(p)`` is ``uniforms < p`` for every post, at the edges too: a
    probability equal to a post's own uniform (not below it), one float step above
    it (below), 0, 1, outside [0, 1] and NaN."""
    draws = KeyedDraws(SeedTree(seed), "accounts", "untouched")
    ids = np.arange(10**6, 10**6 + 2000)
    u, x = draws.uniforms(ids), draws.bits(ids)
    assert x.dtype == np.uint64 and (x < 2**53).all()
    rng = np.random.default_rng(seed)
    edges = np.array([0.0, -0.0, 1.0, -0.5, 1.5, np.nan, 2.0**-53, 1.0 - 2.0**-53])
    p = np.concatenate([u, np.nextafter(u, 1.0), np.nextafter(u, 0.0), rng.random(len(u)), edges])
    posts = np.resize(ids, len(p))
    u, x = draws.uniforms(posts), draws.bits(posts)
    with np.errstate(invalid="ignore"):
        expected = u < p
    np.testing.assert_array_equal(x < below(p), expected)
    assert not expected[: len(ids)].any() and expected[len(ids) : 2 * len(ids)].all()


@pytest.mark.parametrize("block", [1, 7, 4096, 1 << 16])
def test_untouched_posts_drawn_a_block_at_a_time_are_the_plain_draws(
    accounts_world: Scenario,
    jury_only: PlatformPolicy,
    monkeypatch: pytest.MonkeyPatch,
    block: int,
) -> None:
    policy = tweak(
        jury_only, accounts={"enabled": True, "ladder": [{"strikes": 1, "action": "ban"}]}
    )
    accounts = Simulation(accounts_world, policy, seed=4).accounts
    assert accounts is not None
    rng = np.random.default_rng(block)
    n, day = 5000, 3
    created = 24.0 * day + rng.uniform(-1.0, 25.0, n)  # a few outside the day: clipped
    posts = Posts(
        post_id=np.arange(10**6, 10**6 + n),
        created_at=created,
        cls=rng.integers(0, 5, n).astype(np.int8),
        reach=np.ones(n),
        decay=np.ones(n),
        score_u=rng.random(n),
    )
    touched = rng.random(n) < 0.1
    share = rng.random((24, 5)) * 0.3
    # the plain draw: one keyed uniform per untouched post against its hour and class
    rest = np.flatnonzero(~touched)
    hour = np.clip(created[rest].astype(np.int64) - 24 * day, 0, 23)
    u = KeyedDraws(SeedTree(4), "accounts", "untouched").uniforms(posts.post_id[rest])
    plain = rest[u < share[hour, posts.cls[rest]]]
    assert 0 < len(plain) < len(rest)
    monkeypatch.setattr(hook, "_BLOCK", block)
    np.testing.assert_array_equal(accounts._untouched_gone(posts, touched, share, day), plain)


@pytest.mark.parametrize("seed", range(4))
def test_a_sparse_person_column_reads_as_the_dense_one(seed: int) -> None:
    """The book's per-person columns keep only the persons concerned; updated in
    random batches (repeated persons, persons old and new), they read as a dense
    array updated the same way."""
    rng = np.random.default_rng(seed)
    persons = 500
    dense_min, dense_put = np.full(persons, np.inf), np.full(persons, -1, dtype=np.int64)
    least, rows = PersonColumn(np.inf, np.float64), PersonColumn(-1, np.int64)
    for _ in range(30):
        who = rng.integers(0, persons, rng.integers(0, 40))
        times = rng.uniform(0.0, 100.0, len(who)).round(1)  # ties too
        np.minimum.at(dense_min, who, times)
        least.minimum(who, times)
        distinct = rng.choice(persons, rng.integers(0, 10), replace=False)
        values = rng.integers(0, 1000, len(distinct))
        dense_put[distinct] = values
        rows.put(distinct, values)
        everyone = np.arange(persons)
        np.testing.assert_array_equal(least.get(everyone), dense_min)
        np.testing.assert_array_equal(rows.get(everyone), dense_put)
        one = int(rng.integers(0, persons))
        assert least.value(one) == dense_min[one]
    assert len(least) == np.isfinite(dense_min).sum() < persons
