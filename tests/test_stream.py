"""The synthetic stream: reproducible, and faithful to the scenario's rates."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tweak
from scipy import stats

from simulator.config import Scenario
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, SyntheticStream, hourly_rates, view_driven_times
from simulator.taxonomy import CLASS_INDEX, N_CLASSES, VIOLATING


def test_same_seed_same_posts_and_days_are_independent(quick_sampled: Scenario) -> None:
    a = SyntheticStream(quick_sampled, SeedTree(3)).generate_day(2, 0)
    b = SyntheticStream(quick_sampled, SeedTree(3)).generate_day(2, 0)
    c = SyntheticStream(quick_sampled, SeedTree(4)).generate_day(2, 0)
    np.testing.assert_array_equal(a.created_at, b.created_at)
    np.testing.assert_array_equal(a.reach, b.reach)
    assert len(a) != len(c) or not np.array_equal(a.created_at, c.created_at)
    assert a.created_at.min() >= 48 and a.created_at.max() < 72


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_daily_volume_matches_the_poisson_rate(quick_sampled: Scenario, seed: int) -> None:
    stream = SyntheticStream(quick_sampled, SeedTree(seed))
    rate = hourly_rates(quick_sampled)
    n = sum(len(stream.generate_day(d, 0)) for d in range(quick_sampled.days))
    expected = rate.sum()
    # A Poisson count: within 4 standard deviations.
    assert abs(n - expected) < 4 * np.sqrt(expected)


def test_surge_raises_volume_and_violating_share(quick_sampled: Scenario) -> None:
    stream = SyntheticStream(quick_sampled, SeedTree(7))
    days = [stream.generate_day(d, 0) for d in range(quick_sampled.days)]
    quiet, surge = Posts.concat(days[:4]), Posts.concat(days[5:6])
    share_quiet = VIOLATING[quiet.cls].mean()
    share_surge = VIOLATING[surge.cls].mean()
    # The quick scenario's surge multiplies the violating share by 4 for 48 hours.
    assert share_surge > 2.5 * share_quiet
    assert len(surge) > 1.2 * len(days[1])


def test_class_mix_matches_config(quick_sampled: Scenario) -> None:
    calm = tweak(quick_sampled, surges=[])
    posts = Posts.concat(
        [SyntheticStream(calm, SeedTree(11)).generate_day(d, 0) for d in range(calm.days)]
    )
    counts = np.bincount(posts.cls, minlength=N_CLASSES)
    expected = np.asarray(calm.class_shares()) * len(posts)
    chi2 = stats.chisquare(counts, expected)
    assert chi2.pvalue > 1e-4


@pytest.mark.parametrize("n", [1, 3])
def test_view_driven_event_times_follow_the_closed_form(n: int) -> None:
    """P(at least n events in a post's life) = P(Poisson(rho*R) >= n)."""
    rng = np.random.default_rng(5)
    size = 200_000
    reach = np.full(size, 400.0)
    posts = Posts(
        np.arange(size),
        np.zeros(size),
        np.zeros(size, dtype=np.int8),
        reach,
        np.full(size, np.log(2) / 6),
        np.zeros(size),
    )
    rho = 0.004  # 1.6 expected events in a lifetime
    times = view_driven_times(posts, np.full(size, rho), n, rng)
    p = stats.poisson.sf(n - 1, rho * 400.0)
    observed = np.isfinite(times).mean()
    assert abs(observed - p) < 4 * np.sqrt(p * (1 - p) / size)
    # Given an event happens, its age is below the half-life with the probability
    # implied by the intensity: P(N(6h) >= n) / P(N(inf) >= n).
    p6 = stats.poisson.sf(n - 1, rho * 200.0)
    early = (times[np.isfinite(times)] < 6).mean()
    assert abs(early - p6 / p) < 0.01


def test_violating_mask_matches_taxonomy() -> None:
    assert VIOLATING[CLASS_INDEX["violent_threat"]] and VIOLATING[CLASS_INDEX["incitement"]]
    assert not VIOLATING[CLASS_INDEX["violent_news"]] and not VIOLATING[CLASS_INDEX["benign"]]
